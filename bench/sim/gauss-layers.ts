// The output-noise kernel's cost per accumulator on each mobilenetv2 layer, measured so that layers compare:
// each layer of NoisyWasmProgram (src/sim/chip/fastpath.ts) run with its raw kernels and im2col as no-ops (the
// draws and requant of gauss_requant_s16, the slab walk and the JS around it, on the accumulators there), CPU ns
// per accumulator, the layers INTERLEAVED round by round (the order reversed on odd rounds). noisy-layers.ts
// times layer after layer, so its per-layer figures also carry whatever drifts over the run: in session 30
// (gauss3) its gauss ns/acc put the first-timed layers 1.5–1.8× above the last, in either order of the layers
// (docs/RESULTS.md). --seq: that sequential order instead (each layer's rounds together, in the order given).
//
//   npx tsx bench/sim/gauss-layers.ts [--only NAME,…] [--rounds R] [--window MS] [--seq]

import { sizeOf } from "../../src/ir/types.js";
import { cpuMsPerCall, machine, quantile as q, opt } from "../kernels/common.js";
import { noisyMobilenet } from "./noisy-setup.js";

const n = 2;
const rounds = Number(opt("--rounds", "9"));
const win = Number(opt("--window", "20"));
const names = opt("--only", "stem,b1_dw,b2_expand,b3_expand,b3_dw,b8_expand,b12_expand,b15_expand,head").split(",");

const { nq } = await noisyMobilenet(4, n);
const kShipped = nq.k;
const noop = () => {};
const kGauss = { ...kShipped, gemm_s16_8c2_acc: noop, dwconv_s16_acc: noop, im2col_s16: noop };
const layers = nq.program.layers;
const runs = names.map((name) => {
  const i = layers.findIndex((l) => l.name === name);
  if (i < 0 || !nq.noise[i]) throw new Error(`--only: ${name} is not a noisy weight layer of mobilenetv2`);
  const l = layers[i];
  const pr = nq.engine.prepare(l, layers[l.inputs[0]].out);
  const f = () => {
    nq.k = kGauss;
    nq.weightLayer(l, pr, nq.noise[i]!, nq.base + nq.offsets[l.inputs[0]], n, nq.base + nq.offsets[i], 0);
    nq.k = kShipped;
  };
  return { name, shape: l.out.shape.join("x"), acc: n * sizeOf(l.out.shape), f, ns: [] as number[] };
});
const time = (r: (typeof runs)[number]) => {
  r.f(); // untimed: the window's first call would find the cache of the layer before it
  r.ns.push((cpuMsPerCall(r.f, win) * 1e6) / r.acc);
};
if (process.argv.includes("--seq")) for (const r of runs) for (let k = 0; k < rounds; k++) time(r);
else for (let k = 0; k < rounds; k++) for (const r of k % 2 ? [...runs].reverse() : runs) time(r);

console.log(machine());
console.log(`mobilenetv2 224 W4A4, output σ 0.3 on int8-systolic-16x16, ${n} images per call, raw kernels no-ops; ${rounds} rounds of ${win} ms windows, ${process.argv.includes("--seq") ? "layer after layer" : "layers interleaved"}; CPU ns per accumulator`);
for (const r of runs) console.log(`${r.name.padEnd(12)} ${r.shape.padEnd(12)} ${String(r.acc).padStart(8)}  median ${q(r.ns, 0.5).toFixed(2)}  quartiles ${q(r.ns, 0.25).toFixed(2)}–${q(r.ns, 0.75).toFixed(2)}`);
console.log(machine());
