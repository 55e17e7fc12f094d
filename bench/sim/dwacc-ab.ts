// The simulator's raw depthwise kernel alone (assembly/dwconv.ts dwconv_s16_acc), two builds A/B in one process:
// every depthwise layer of mobilenetv2 on random inputs in the layer's input range, called as gaussSlabs calls it
// (one image, slabs of slabPixels(nPix, C, 4, 1) pixels into one accumulator buffer) with a16 as the fast path
// sets it (the layer's accumulator bound within [−2^15, 2^15)); the two builds alternate in short windows, and the
// raw accumulators are checked identical. Prints CPU µs per image per layer (medians) and the per-round ratio A ÷ B
// of the sum over layers (median and quartiles).
//
// --no-a16-a / --no-a16-b: that side always takes the i32 taps (a16 = 0), e.g. to weigh the i16 taps within one build.
//
//   npx tsx bench/sim/dwacc-ab.ts --b DIR [--a DIR] [--bits 4|8] [--rounds R] [--window MS] [--no-a16-a] [--no-a16-b]

import { readQModel } from "../../src/ir/io.js";
import { weightAccBound } from "../../src/ir/accbound.js";
import { isWeightLayer, sizeOf, tensorRange } from "../../src/ir/types.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import { slabOptions, slabPixels } from "../../src/sim/chip/fastpath.js";
import { cachedInit, cpuMsPerCall, machine, quantile as q, opt } from "../kernels/common.js";

const bits = Number(opt("--bits", "4"));
const rounds = Number(opt("--rounds", "20"));
const windowMs = Number(opt("--window", "20"));
const dirs = [opt("--a", ""), opt("--b", "")];
const noA16 = [process.argv.includes("--no-a16-a"), process.argv.includes("--no-a16-b")];
if (!dirs[1]) {
  console.error("usage: npx tsx bench/sim/dwacc-ab.ts --b DIR [--a DIR] [--bits 4|8] [--rounds R] [--window MS] [--no-a16-a] [--no-a16-b]");
  process.exit(2);
}

interface DwAcc {
  dwconv_s16_acc(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, w: number, Cp: number, bias: number, p0: number, p1: number, y: number, a16: number): void;
}

const p = readQModel(await cachedInit(`mobilenetv2-224x224x3-1000-w${bits}a${bits}`, { arch: "mobilenetv2", bits: { w: bits, a: bits }, input: [224, 224, 3], classes: 1000, seed: 1 }));
const engines = dirs.map((d) => new WasmEngine({ flavor: "simd", sim: true, ...(d ? { buildDir: d } : {}) }));
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);

const layers: { name: string; calls: (() => void)[]; check: () => Int32Array[] }[] = [];
for (const l of p.layers) {
  if (!isWeightLayer(l) || l.op !== "conv2d") continue;
  const xs = p.layers[l.inputs[0]].out;
  const r = tensorRange(xs);
  const x = Int16Array.from({ length: sizeOf(xs.shape) }, () => r.lo + Math.floor(rnd() * (r.hi - r.lo + 1)));
  const a16 = weightAccBound(l.weights, l.bias, r).bits <= 16 ? 1 : 0;
  const per = engines.map((e, side) => {
    const a16s = noA16[side] ? 0 : a16;
    const pr = e.prepare(l, xs);
    if (pr.kind !== "depthwise") return null;
    const g = pr.geo;
    const xp = e.arena.putI16(x, "bench", x.length + 8);
    const nPix = g.OH * g.OW;
    const slab = slabPixels(nPix, g.C, 4, 1);
    const acc = e.arena.alloc(slab * g.C * 4 + 64, "bench");
    const out = e.arena.alloc(nPix * g.C * 4, "bench");
    const k = e.k as unknown as DwAcc;
    const run = (keep: boolean) => {
      for (let p0 = 0; p0 < nPix; p0 += slab) {
        const np = Math.min(slab, nPix - p0);
        k.dwconv_s16_acc(xp, 1, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, pr.w, pr.Cp, pr.bias, p0, p0 + np, keep ? out + p0 * g.C * 4 : acc, a16s);
      }
    };
    return { call: () => run(false), check: () => (run(true), Int32Array.from(i32View(e.arena, out, nPix * g.C))) };
  });
  if (!per[0] || !per[1]) continue;
  layers.push({ name: `${l.name}${a16 ? " (i16)" : ""}`, calls: per.map((c) => c!.call), check: () => per.map((c) => c!.check()) });
}

for (const l of layers) {
  const [a, b] = l.check();
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error(`${l.name}: A and B accumulators differ`);
}
const times = layers.map(() => [[], []] as number[][]);
const ratio: number[] = [];
for (let r = 0; r < rounds; r++) {
  const sums = [0, 0];
  for (const [j, l] of layers.entries())
    for (const i of r % 2 ? [1, 0] : [0, 1]) {
      l.calls[i]();
      const t = cpuMsPerCall(l.calls[i], windowMs);
      times[j][i].push(t);
      sums[i] += t;
    }
  ratio.push(sums[0] / sums[1]);
}
console.log(machine());
console.log(`mobilenetv2 W${bits}A${bits} depthwise raw accumulators (dwconv_s16_acc, slabs of ${slabOptions.elements}), ${rounds} rounds of ${windowMs} ms windows; A: ${dirs[0] || "build/"}${noA16[0] ? " (no a16)" : ""}, B: ${dirs[1]}${noA16[1] ? " (no a16)" : ""}; CPU µs per image (medians)`);
for (const [j, l] of layers.entries()) console.log(`  ${l.name.padEnd(16)} A ${(1000 * q(times[j][0], 0.5)).toFixed(0).padStart(5)}  B ${(1000 * q(times[j][1], 0.5)).toFixed(0).padStart(5)}  A÷B ${(q(times[j][0], 0.5) / q(times[j][1], 0.5)).toFixed(3)}`);
console.log(`  sum A ÷ B per round: median ${q(ratio, 0.5).toFixed(3)} (quartiles ${q(ratio, 0.25).toFixed(3)}–${q(ratio, 0.75).toFixed(3)})`);
console.log(machine());
