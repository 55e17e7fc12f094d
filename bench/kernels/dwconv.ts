// The depthwise kernel alone (issue 16), on the depthwise layers of mobilenetv2 ×1.0 at 224×224 (the `nipq init`
// program of bench/kernels/scale.ts, seed 1, cached as there): GMAC/s of `dwconv_s16_requant` per layer and over
// all of them, with the real prepared weights and requant parameters. With `--against DIR`, the same calls on an
// older build (DIR/nipq-simd.wasm, e.g. main's, built with `asc assembly/index.ts --target release --outFile …`)
// in alternating timing windows, so the machine's load falls on both alike; the two must write identical outputs.
// The dense convolutions' speed to compare with is in scale.ts's per-layer profile.
//
//   npx tsx bench/kernels/dwconv.ts [--json] [--bits 8/8|4/4] [--against DIR] [--shared-rq]

import { readQModel } from "../../src/ir/io.js";
import type { Conv2DLayer, TensorSpec } from "../../src/ir/types.js";
import { tensorRange } from "../../src/ir/types.js";
import { instantiateKernels, type KernelExports } from "../../src/kernels/wasm/loader.js";
import { prepareConv, type DepthwiseHost } from "../../src/kernels/wasm/prepare.js";
import { cachedInit, machine } from "./common.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const json = process.argv.includes("--json");
const [wb, ab] = (arg("--bits") ?? "8/8").split("/").map(Number);
const against = arg("--against");
/** --shared-rq: this build without its f64 requant and its i16 path (as main's build runs). */
const sharedRq = process.argv.includes("--shared-rq");

/** One layer's buffers in one instance's memory; `run` calls the kernel once. */
interface Placed {
  run: () => void;
  out: () => Int16Array;
}

/**
 * The layer's parameters as the engine lays them out (bias, m, s, pw at Cp-channel strides, then ps per 8
 * channels), padded and derived by `k`'s requant_params (the current build's: an older one may lack it).
 */
function paramsBlock(k: KernelExports, h: DepthwiseHost): { params: Int32Array; rf: number; a16: number; qs: number } {
  const Cp = h.Cp;
  const n = (29 * Cp) / 4;
  if (k.memory.buffer.byteLength < 65536 + n * 4) k.memory.grow(Math.ceil((65536 + n * 4 - k.memory.buffer.byteLength) / 65536));
  const v = new Int32Array(k.memory.buffer, 65536, n);
  v.set(h.bias);
  v.set(h.m, Cp);
  v.set(h.s, 2 * Cp);
  k.requant_params(65536, h.bias.length, Cp, h.rqBits);
  // The f64 multipliers after the block (17·Cp bytes in), where the layer's bound proves that requant exact.
  // and the i32 ones of the i16-accumulator path (25·Cp bytes in), as the engine prepares them.
  const rf = sharedRq ? 0 : (k.requant_f64_params?.(65536, h.bias.length, Cp, Math.max(-h.acc.min, h.acc.max), h.zy) ?? 0);
  const a16 = !sharedRq && h.acc.bits <= 16 ? 1 : 0;
  const qs = (a16 && k.requant_i32_params?.(65536, h.bias.length, Cp, h.acc.min, h.acc.max, h.zy, h.clamp.lo, h.clamp.hi)) || 0;
  return { params: new Int32Array(k.memory.buffer, 65536, n).slice(), rf: rf ? rf - 65536 : -1, a16, qs };
}

function place(k: KernelExports, h: DepthwiseHost, x: Int16Array, { params, rf, a16, qs }: { params: Int32Array; rf: number; a16: number; qs: number }): Placed {
  const g = h.geo;
  const yLen = g.OH * g.OW * g.C;
  const parts: ArrayLike<number>[] = [x, h.w, params];
  const bytes = [x.length * 2 + 16, h.w.length * 2, params.length * 4, yLen * 2];
  const need = bytes.reduce((a, b) => a + ((b + 15) & ~15), 65536);
  if (k.memory.buffer.byteLength < need) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
  const at: number[] = [];
  let p = 65536;
  for (const b of bytes) (at.push(p), (p += (b + 15) & ~15));
  parts.forEach((a, i) => {
    const view = a instanceof Int16Array ? new Int16Array(k.memory.buffer, at[i], a.length) : new Int32Array(k.memory.buffer, at[i], a.length);
    view.set(a as ArrayLike<number>);
  });
  const [px, pw_, pb, py] = at;
  const [pm, ps_, ppw, pps] = [1, 2, 3, 4].map((i) => pb + 4 * i * h.Cp);
  return {
    run: () =>
      k.dwconv_s16_requant(px, 1, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, pw_, h.Cp, pb, pm, ps_, ppw, pps, h.zx, h.zy, h.clamp.lo, h.clamp.hi, py, rf < 0 ? 0 : pb + rf, a16, qs ? pb + 25 * h.Cp : 0, qs),
    out: () => new Int16Array(k.memory.buffer, py, yLen).slice(),
  };
}

/** Seconds per call over one window: calls repeated for ≥ 20 ms. */
function time(run: () => void): number {
  const t0 = performance.now();
  let calls = 0;
  do {
    run();
    calls++;
  } while (performance.now() - t0 < 20);
  return (performance.now() - t0) / 1000 / calls;
}

async function main(): Promise<void> {
  const input: [number, number, number] = [224, 224, 3];
  const p = readQModel(await cachedInit(`mobilenetv2-${input.join("x")}-1000-w${wb}a${ab}`, { arch: "mobilenetv2", bits: { w: wb, a: ab }, input, classes: 1000, seed: 1 }));
  const kNew = instantiateKernels("simd").exports;
  const kOld = against ? instantiateKernels("simd", against).exports : undefined;
  const log = (s: string) => (json ? process.stderr.write(`${s}\n`) : console.log(s));
  log(machine());
  let seed = 1;
  const rows: { layer: string; shape: string; macs: number; gmacs: number; gmacsBefore?: number }[] = [];
  for (const l of p.layers) {
    if (l.op !== "conv2d" || l.groups === 1) continue;
    const xs: TensorSpec = p.layers[l.inputs[0]].out;
    const h = prepareConv(l as Conv2DLayer, xs) as DepthwiseHost;
    const g = h.geo;
    const { lo, hi } = tensorRange(xs);
    const x = Int16Array.from({ length: g.H * g.W * g.C }, () => lo + ((seed = (seed * 1103515245 + 12345) >>> 0) % (hi - lo + 1)));
    const macs = g.OH * g.OW * g.C * g.kh * g.kw;
    const params = paramsBlock(kNew, h);
    const a = place(kNew, h, x, params);
    const b = kOld ? place(kOld, h, x, params) : undefined;
    let tNew = Infinity, tOld = Infinity;
    for (let w = 0; w < 5; w++) {
      tNew = Math.min(tNew, time(a.run));
      if (b) tOld = Math.min(tOld, time(b.run));
    }
    const ya = a.out(), yb = b?.out();
    if (yb && ya.some((v, i) => v !== yb[i])) throw new Error(`layer ${l.name}: the two builds disagree`);
    const row = { layer: l.name, shape: `${g.H}×${g.W}×${g.C} ${g.kh}×${g.kw}/${g.sh}`, macs, gmacs: macs / tNew / 1e9, ...(b ? { gmacsBefore: macs / tOld / 1e9 } : {}) };
    rows.push(row);
    log(`${row.layer.padEnd(14)} ${row.shape.padEnd(20)} ${row.gmacs.toFixed(2)} GMAC/s` + (b ? `  (before ${row.gmacsBefore!.toFixed(2)}, ${(row.gmacs / row.gmacsBefore!).toFixed(2)}×)` : ""));
  }
  const macs = rows.reduce((s, r) => s + r.macs, 0);
  const sec = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + r.macs / f(r), 0);
  const total = macs / sec((r) => r.gmacs);
  const before = kOld ? macs / sec((r) => r.gmacsBefore!) : undefined;
  log(`all ${rows.length} depthwise layers W${wb}A${ab} (${(macs / 1e6).toFixed(1)} M MACs): ${total.toFixed(2)} GMAC/s` + (before ? ` (before ${before.toFixed(2)}, ${(total / before).toFixed(2)}×)` : ""));
  log(machine());
  if (json) console.log(JSON.stringify({ bits: `W${wb}A${ab}`, rows, gmacs: total, gmacsBefore: before }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
