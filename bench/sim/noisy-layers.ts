// Where a noisy mobilenetv2 image's extra time goes, per weight layer, by CPU time: each layer of
// NoisyWasmProgram (src/sim/chip/fastpath.ts) run alone in short windows on the activations a full run left in
// linear memory, (a) as shipped, (b) with gauss_requant_s16 a no-op (the raw kernels, im2col and the JS around
// them), (c) with the raw kernels and im2col no-ops (the draws and requant on whatever accumulators are there),
// against (d) the same layer of the noise-free WasmProgram (engine.exec). full − raw − gauss is the interference
// (cache, the slab walk). The windows of one layer are interleaved per round; medians over rounds. A layer run
// alone finds its input warm in cache for both programs alike (and each window starts after one untimed call);
// the totals are a guide, noisy-ab.ts the measure. (c) reads the accumulators the last call left: this layer's.
//
// With --slabs A,B,…: instead, each layer as shipped with slabs of A, B, … accumulators (slabOptions.elements),
// CPU µs per image of each and the best. --images: NoisyWasmProgram's micro-batch too. --build DIR: the simulator
// build DIR/nipq-sim-simd.wasm instead of this tree's build/ (another tree's kernels, one run after the other:
// for A/B, alternate the runs).
//
//   npx tsx bench/sim/noisy-layers.ts [--bits 4|8] [--images N] [--rounds R] [--window MS] [--slab N] [--slabs A,B,…] [--top K] [--only NAME,…] [--build DIR] [--reverse]

import { isWeightLayer, sizeOf } from "../../src/ir/types.js";
import { WasmProgram } from "../../src/exec/wasm-program.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { slabOptions } from "../../src/sim/chip/fastpath.js";
import { cpuMsPerCall, machine, opt } from "../kernels/common.js";
import { noisyMobilenet } from "./noisy-setup.js";

const bits = Number(opt("--bits", "4"));
const n = Number(opt("--images", "2"));
const rounds = Number(opt("--rounds", "7"));
const win = Number(opt("--window", "15"));
const top = Number(opt("--top", "60"));
const only = opt("--only", "").split(",").filter(Boolean);
slabOptions.elements = Number(opt("--slab", String(slabOptions.elements)));

const buildDir = opt("--build", "");
const { p, x, noisy, nq } = await noisyMobilenet(bits, n, buildDir);
const cleanEngine = loadWasmKernels({ flavor: "auto" }).engine;
const clean = new WasmProgram(cleanEngine, p, n);
clean.run(x, n);
const cq = clean as unknown as { base: number; offsets: number[] };
const kShipped = nq.k;
const noop = () => {};
const kRaw = { ...kShipped, gauss_requant_s16: noop };
const kGauss = { ...kShipped, gemm_s16_8c2_acc: noop, dwconv_s16_acc: noop, im2col_s16: noop };
const layers = nq.program.layers;
const cLayers = p.layers;

/** --slabs: the slab options of each variant. */
const slabs = opt("--slabs", "").split(",").filter(Boolean).map((v) => ({ elements: Number(v) }));
const shipped = { ...slabOptions };
/** The variants timed per layer (after the noise-free layer). */
const heads = slabs.length ? slabs.map((o) => `slab ${o.elements}`) : ["full", "raw", "gauss"];

interface Row { name: string; what: string; acc: number; ms: number[][] }
const rows: Row[] = [];
// --reverse: the layers timed last to first. Layer after layer, the per-layer figures also carry what drifts over
// the run (docs/RESULTS.md, session 30 gauss3: the first-timed layers 1.5–1.8× slower, in either order); compare
// layers from both orders, or with gauss-layers.ts (interleaved).
const order = Array.from({ length: layers.length - 1 }, (_, j) => j + 1);
if (process.argv.includes("--reverse")) order.reverse();
for (const i of order) {
  const l = layers[i];
  if (!isWeightLayer(l) || !nq.noise[i] || (only.length && !only.includes(l.name))) continue;
  const xs = layers[l.inputs[0]].out;
  const pr = nq.engine.prepare(l, xs);
  const ln = nq.noise[i]!;
  const nptr = (j: number) => nq.base + nq.offsets[j];
  const cptr = (j: number) => cq.base + cq.offsets[j];
  const cl = cLayers[i];
  const run = (k: object, o: Partial<typeof slabOptions>) => () => {
    nq.k = k;
    Object.assign(slabOptions, o);
    nq.weightLayer(l, pr, ln, nptr(l.inputs[0]), n, nptr(i), 0);
    nq.k = kShipped;
    Object.assign(slabOptions, shipped);
  };
  const fns = [
    () => cleanEngine.exec(cl, cl.inputs.map((j) => cLayers[j].out), cl.inputs.map(cptr), n, cptr(i), n * sizeOf(cl.out.shape)),
    ...(slabs.length ? slabs.map((o) => run(kShipped, o)) : [run(kShipped, shipped), run(kRaw, shipped), run(kGauss, shipped)]),
  ];
  const what = pr.kind === "conv-gemm" ? (pr.direct ? "1x1" : "im2col") : pr.kind;
  const row: Row = { name: l.name, what: `${what} ${l.out.shape.join("x")}`, acc: sizeOf(l.out.shape), ms: fns.map(() => []) };
  rows.push(row);
  for (const f of fns) for (let w = 0; w < 3; w++) f();
  for (let r = 0; r < rounds; r++) {
    const order = fns.map((_, j) => j);
    if (r % 2) order.reverse();
    for (const j of order) {
      fns[j](); // untimed: the window's first call would find the cache of the variant before it
      row.ms[j].push(cpuMsPerCall(fns[j], win) / n);
    }
  }
}
noisy.run(x, n, 0); // leave the program as a run leaves it

const med = (xs: number[]) => [...xs].sort((u, v) => u - v)[Math.floor((xs.length - 1) / 2)];
const us = (v: number, w = 7) => (v * 1e3).toFixed(0).padStart(w);
console.log(machine());
console.log(`mobilenetv2 224 W${bits}A${bits}, output σ 0.3 on int8-systolic-16x16, ${n} images per call, ${rounds} rounds of ${win} ms windows; simulator build ${buildDir || "build/"}; CPU µs per image (medians)`);
const tot = heads.map(() => 0);
let clean0 = 0;
const lines = rows.map((r) => {
  const [c, ...v] = r.ms.map(med);
  clean0 += c;
  v.forEach((t, j) => (tot[j] += t));
  const head = `${r.name.padEnd(15)} ${r.what.padEnd(22)} ${String(r.acc).padStart(8)} ${us(c)}`;
  if (slabs.length) {
    const best = v.indexOf(Math.min(...v));
    return { key: v[0] - c, s: `${head} ${v.map((t) => us(t, 13)).join("")}   best ${heads[best]} (${(v[best] / c).toFixed(2)}×)` };
  }
  const [f, rw, g] = v;
  return { key: f - c, s: `${head} ${us(f)} ${us(rw)} ${us(g)} ${us(f - rw - g)} ${(f / c).toFixed(2).padStart(10)} ${(rw / c).toFixed(2).padStart(9)} ${((rw * 1e6) / r.acc).toFixed(2).padStart(6)} ${((g * 1e6) / r.acc).toFixed(2).padStart(6)}` };
});
console.log(`${"layer".padEnd(15)} ${"kind, shape".padEnd(22)} ${"acc/img".padStart(8)} ${"clean".padStart(7)} ` + (slabs.length ? heads.map((h) => h.padStart(13)).join("") : "   full     raw   gauss  interf full/clean raw/clean ns/acc(raw, gauss)"));
for (const l of [...lines].sort((a, b) => b.key - a.key).slice(0, top)) console.log(l.s);
const x0 = (t: number) => `${t.toFixed(2)} ms (${(t / clean0).toFixed(3)}×)`;
if (slabs.length) console.log(`total weight layers: clean ${clean0.toFixed(2)} ms; ` + heads.map((h, j) => `${h} ${x0(tot[j])}`).join(", "));
else {
  const [f, rw, g] = tot;
  console.log(`total weight layers: clean ${clean0.toFixed(2)} ms, full ${x0(f)}, raw ${x0(rw)}, gauss ${x0(g)}, interference ${x0(f - rw - g)}` + "  [sorted by full − clean]");
}
console.log(machine());
