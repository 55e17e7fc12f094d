// The simulator at real network sizes (issue 16):
//   1. resnet18 224×224×3 (a `nipq init` program, W4A4 with 8-bit first/last as HAWQ-V3, 1000 classes) on every
//      shipped hw-model through the pieces Model.simulate and `nipq simulate` run (programCost, accuracyStudy,
//      simulateDoc): cycles, energy, memory, the layer that dominates, and a clean + 1 noisy trial on
//      synthetic images (the datasets on this branch are 28×28×1, and Model.simulate checks the shape);
//   2. a noisy mobilenetv2 ×1.0 224×224×3 W4A4 (per-chip weight noise, and weight + per-inference noise on the
//      digital array) against its noise-free WASM inference on the same images (target ≤ 2×).
// Programs are cached (bench/kernels/common.ts cachedInit), shared with bench/kernels/scale.ts.
//
//   npx tsx bench/sim/scale.ts [--json] [--images N]

import { loadModel, type Dataset } from "../../src/index.js";
import { sizeOf, type Program } from "../../src/ir/types.js";
import { classesOf, compileProgram, inputBytes, runBatched } from "../../src/exec/runner.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import { runTrial } from "../../src/sim/chip/run.js";
import { programCost } from "../../src/sim/hw/cost.js";
import { chipWarnings } from "../../src/sim/hw/resolve.js";
import { accuracyStudy } from "../../src/sim/study/study.js";
import { simulateDoc } from "../../src/report/simulate.js";
import { cachedInit, machine } from "../kernels/common.js";
import { images } from "../kernels/model.js";

const HW = ["int8-systolic-16x16", "lowbit-npu", "bitserial-edge", "analog-pcm-crossbar"];
const json = process.argv.includes("--json");
const ii = process.argv.indexOf("--images");
const N = ii > 0 ? Number(process.argv[ii + 1]) : 2;
const log = (s: string) => json || console.log(s);

/** N synthetic images for a program (labels 0: accuracy is meaningless for random weights; costs are not). */
function synthetic(p: Program, n: number): Dataset {
  const per = sizeOf(p.layers[0].out.shape);
  return { name: "synthetic", split: "test", n, height: 28, width: 28, images: images(n, per), labels: new Uint8Array(n), source: "bench/sim/scale.ts" } as unknown as Dataset;
}

const time = (f: () => unknown) => {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
};

const out: Record<string, unknown> = { machine: machine() };
log(machine());

// 1. resnet18 224 on every shipped hw-model.
const r18 = loadModel(await cachedInit("resnet18-224x224x3-1000-w4a4-fl8", { arch: "resnet18", bits: { w: 4, a: 4 }, firstLast: { w: 8, a: 8 }, seed: 1 }));
const data = synthetic(r18.program, N);
const sims = [];
for (const hw of HW) {
  const t0 = performance.now();
  const m = loadHwModel(hw).hw;
  const study = await accuracyStudy(r18.program, m, data, { trials: 1, workers: 1, batch: N, seed: 0 });
  const doc = simulateDoc(programCost(r18.program, m), study, { hw: m, hwFile: hw, model: "resnet18-224-w4a4", data: data.name, samples: N, seed: 0, seconds: 0, warnings: chipWarnings(r18.program, m) });
  const wall = (performance.now() - t0) / 1000;
  const layers = doc.layers as { name: string; cycles: number; energyMicroJ: number; macs: number }[];
  const top = layers.reduce((a, b) => (b.cycles > a.cycles ? b : a));
  const row = { hw, cycles: doc.cycles, energyMicroJ: doc.energyMicroJ, memory: doc.memory, layers: layers.length, topLayer: { name: top.name, cycles: top.cycles, share: top.cycles / doc.cycles }, seconds: wall, images: N, warnings: doc.warnings };
  sims.push(row);
  log(
    `resnet18 224 W4A4 (8-bit first/last) on ${hw}: ${doc.cycles.toLocaleString("en")} cycles, ${doc.energyMicroJ.toFixed(1)} µJ per image, ` +
      `${doc.memory.weightBytes.toLocaleString("en")} B weights, ${doc.memory.peakActivationBytes.toLocaleString("en")} B peak activations; ` +
      `slowest layer ${top.name} (${(100 * row.topLayer.share).toFixed(0)}% of the cycles); clean + 1 noisy trial on ${N} images in ${wall.toFixed(1)} s`,
  );
}
out.resnet18 = sims;

// 2. noisy mobilenetv2 vs noise-free WASM. A noisy trial first builds its chip (draws the weight noise of 3.4 M
// weights and prepares the kernels): a fixed cost per trial. Measured at two image counts, so that the per-image
// cost (the slope) is separated from it; interleaved, best of REPS each. 4 → 32 images and best of 5 (were 4 → 16,
// best of 3): a trial's set-up varies by ~10 ms from run to run, which moved the 12-image slope by ~0.06× (session 25,
// docs/RESULTS.md); bench/sim/noisy-ab.ts is the finer measure (CPU time, the chip built once).
const REPS = 5;
const mbFile = await cachedInit("mobilenetv2-224x224x3-1000-w4a4", { arch: "mobilenetv2", bits: { w: 4, a: 4 }, input: [224, 224, 3], classes: 1000, seed: 1 });
const mb = loadModel(mbFile).program;
const digital = loadHwModel("int8-systolic-16x16").hw;
const wNoise = withSet(digital, ["noise", "weightGaussian", "sigma"], 0.5);
const perInf = withSet(withSet(wNoise, ["noise", "activationBitFlip", "ber"], 1e-4), ["noise", "outputGaussian", "sigma"], 0.3);
const runs: [string, import("../../src/sim/hw/hwmodel.js").HwModel | null][] = [
  ["noise-free WASM", null],
  ["weight noise σ 0.5 LSB", wNoise],
  ["activation flips 1e-4 alone", withSet(digital, ["noise", "activationBitFlip", "ber"], 1e-4)],
  ["output σ 0.3 alone", withSet(digital, ["noise", "outputGaussian", "sigma"], 0.3)],
  ["weight σ + activation flips + output σ", perInf],
];
const counts = [4, 32];
const secs: number[][] = [];
for (const M of counts) {
  const md = synthetic(mb, M);
  const runner = compileProgram(mb, loadWasmKernels({ flavor: "auto" }), M);
  const fns = runs.map(([, hw]) => (hw ? () => runTrial(mb, hw, md, 1, 0, M) : () => runBatched(md.images, inputBytes(mb), classesOf(mb), M, (x, n) => runner.run(x, n))));
  fns.forEach((f) => f());
  const t = fns.map(() => Infinity);
  for (let r = 0; r < REPS; r++) fns.forEach((f, i) => (t[i] = Math.min(t[i], time(f))));
  secs.push(t);
  log(`mobilenetv2 224 W4A4, ${M} images: ` + runs.map(([what], i) => `${what} ${t[i].toFixed(2)} s${i ? ` (${(t[i] / t[0]).toFixed(2)}×)` : ""}`).join("; "));
}
const rows = runs.map(([what], k) => {
  const perImage = (secs[1][k] - secs[0][k]) / (counts[1] - counts[0]);
  return { what, perImageSeconds: perImage, fixedSeconds: secs[0][k] - counts[0] * perImage };
});
out.mobilenetv2 = { counts, seconds: secs, rows: rows.map((r) => ({ ...r, perImageRatio: r.perImageSeconds / rows[0].perImageSeconds })) };
log(
  `  per image (slope ${counts[0]}→${counts[1]} images; target ≤ 2× WASM): ` +
    rows.map((r, k) => `${r.what} ${(1000 * r.perImageSeconds).toFixed(1)} ms${k ? ` (${(r.perImageSeconds / rows[0].perImageSeconds).toFixed(2)}×, set-up ≈ ${r.fixedSeconds.toFixed(2)} s)` : ""}`).join("; "),
);
if (json) console.log(JSON.stringify(out, null, 2));
else console.log(machine());
