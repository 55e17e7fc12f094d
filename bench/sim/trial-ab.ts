// A noisy mobilenetv2 trial as bench/sim/scale.ts part 2 runs it — runTrial (src/sim/chip/run.ts): build the chip,
// choose the path, run the images — per image: the slope between 4 and 32 images, against the noise-free WASM
// inference (WasmProgram) on the same images, by this process's CPU time and by the wall clock, per round (the
// functions alternate; a round's order reverses every other round). Unlike bench/sim/noisy-ab.ts (one chip instance
// built once), each trial here builds its own chip and takes its engines as `nipq simulate`'s trials do (runChip), so
// what a trial pays per image beyond the kernels counts. With --b-tree DIR, B is another tree's runTrial (DIR/src,
// run by tsx, on its own build): A ÷ B per round. Prints medians (quartiles) of the per-round slopes' ratios.
//
//   npx tsx bench/sim/trial-ab.ts [--noise out|all] [--rounds R] [--b-tree DIR]
//
// --noise: out = output Gaussian σ 0.3 (out-lsb); all = weight σ 0.5 + activation flips 1e-4 + output σ 0.3.

import { resolve } from "node:path";
import { loadModel, type Dataset } from "../../src/index.js";
import { sizeOf } from "../../src/ir/types.js";
import { classesOf, compileProgram, inputBytes, runBatched } from "../../src/exec/runner.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import { runTrial } from "../../src/sim/chip/run.js";
import { cachedInit, cpuMs, machine, medianQuartiles, quantile as q, opt } from "../kernels/common.js";
import { images } from "../kernels/model.js";

const noise = opt("--noise", "out");
const rounds = Number(opt("--rounds", "10"));
const treeB = opt("--b-tree", "");
if (!["out", "all"].includes(noise) || !(rounds >= 1) || process.argv.includes("--help")) {
  console.error("usage: npx tsx bench/sim/trial-ab.ts [--noise out|all] [--rounds R] [--b-tree DIR]");
  process.exit(process.argv.includes("--help") ? 0 : 2);
}

const mb = loadModel(await cachedInit("mobilenetv2-224x224x3-1000-w4a4", { arch: "mobilenetv2", bits: { w: 4, a: 4 }, input: [224, 224, 3], classes: 1000, seed: 1 })).program;
const digital = loadHwModel("int8-systolic-16x16").hw;
const set = (hw: typeof digital, path: string, v: number) => withSet(hw, path.split("."), v);
const hw = noise === "out" ? set(digital, "noise.outputGaussian.sigma", 0.3) : set(set(set(digital, "noise.weightGaussian.sigma", 0.5), "noise.activationBitFlip.ber", 1e-4), "noise.outputGaussian.sigma", 0.3);
const trials: [string, typeof runTrial][] = [["A", runTrial]];
if (treeB) trials.push([`B (${treeB})`, (await import(resolve(treeB, "src/sim/chip/run.ts"))).runTrial]);
const per = sizeOf(mb.layers[0].out.shape);
const counts = [4, 32];
// Per count: the noise-free inference, then each tree's trial.
const fns = counts.map((M) => {
  const md = { n: M, images: images(M, per), labels: new Uint8Array(M) } as unknown as Dataset;
  const runner = compileProgram(mb, loadWasmKernels({ flavor: "auto" }), M);
  return [() => runBatched(md.images, inputBytes(mb), classesOf(mb), M, (x, n) => runner.run(x, n)), ...trials.map(([, run]) => () => run(mb, hw, md, 1, 0, M))];
});
fns.flat().forEach((f) => f()); // warm up: WASM tiers up per call
console.log(machine());
// slopes[k][clock][round]: ms per image of function k (0 noise-free, 1 A, 2 B), clock 0 CPU, 1 wall; setups: what
// is left at the smaller count (ms per trial).
const slopes = fns[0].map(() => [[] as number[], [] as number[]]);
const setups = fns[0].map(() => [[] as number[], [] as number[]]);
for (let r = 0; r < rounds; r++) {
  const t = counts.map(() => fns[0].map(() => [0, 0]));
  const order = fns[0].map((_, i) => i);
  for (const c of r % 2 ? [1, 0] : [0, 1])
    for (const i of r % 2 ? [...order].reverse() : order) {
      const w = performance.now();
      const u = cpuMs();
      fns[c][i]();
      t[c][i] = [cpuMs() - u, performance.now() - w];
    }
  fns[0].forEach((_, i) =>
    [0, 1].forEach((clock) => {
      const slope = (t[1][i][clock] - t[0][i][clock]) / (counts[1] - counts[0]);
      slopes[i][clock].push(slope);
      setups[i][clock].push(t[0][i][clock] - counts[0] * slope);
    }),
  );
}
const ratio = (a: number, b: number, clock: number) => slopes[a][clock].map((v, r) => v / slopes[b][clock][r]);
const what = noise === "out" ? "output σ 0.3" : "weight σ 0.5 + activation flips 1e-4 + output σ 0.3";
console.log(`mobilenetv2 224 W4A4, ${what} on int8-systolic-16x16: runTrial's per-image slope ${counts[0]} → ${counts[1]} images, ${rounds} rounds; medians (quartiles) of the per-round ratios`);
for (const [clock, name] of ["CPU", "wall"].entries()) {
  console.log(`  ${name}: ms per image noise-free ${q(slopes[0][clock], 0.5).toFixed(1)}` + trials.map(([t], i) => `, ${t} ${q(slopes[i + 1][clock], 0.5).toFixed(1)} (set-up ${q(setups[i + 1][clock], 0.5).toFixed(0)} ms per trial)`).join(""));
  trials.forEach(([t], i) => console.log(`    ${t} ÷ noise-free: ${medianQuartiles(ratio(i + 1, 0, clock))}`));
  if (trials.length === 2) console.log(`    A ÷ B: ${medianQuartiles(ratio(1, 2, clock))}`);
}
console.log(machine());
