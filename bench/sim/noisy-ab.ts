// The per-image cost of a noisy mobilenetv2 on the simulator's fast path against its noise-free WASM inference,
// by CPU time, for a loaded machine (the wall-clock slope of bench/sim/scale.ts part 2 moves a lot under load):
// one chip instance (trial 0, built once: the per-trial set-up is not in the figure) runs the same images on
// NoisyWasmProgram (src/sim/chip/fastpath.ts) and the noise-free WasmProgram in short alternating windows, each
// timed by this process's CPU time (single-threaded: the time other processes held the core drops out). Prints
// the median and quartiles of the per-round ratio noisy ÷ noise-free. With --b DIR, a second simulator build
// (DIR/nipq-sim-simd.wasm, e.g. main's, built with `asc assembly/sim.ts --target release --outFile
// DIR/nipq-sim-simd.wasm`) runs the same chip too: its ratio, and A ÷ B per round; both builds must give
// identical logits (unless --timing-only: B draws other numbers, e.g. another generator, and only the times
// compare), and export the kernels with this tree's signatures (else run each tree's own bench).
// --b-slab E and --b-micro M make a B of the same build (or of --b DIR) with another slab size or micro-batch (a
// change of this tree's JS A/B in one process): B's slab size is set around each of its calls. --b-tree DIR
// makes B another tree's NoisyWasmProgram and WasmEngine (DIR/src, run by tsx; its build DIR/build; its own slab
// options; micro-batch --b-micro, else 2): a JS change against the tree before it, in one process.
//
//   npx tsx bench/sim/noisy-ab.ts [--noise out|all|weight|flips] [--bits 4|8] [--images N] [--rounds R] [--a DIR] [--b DIR]
//     [--slab E] [--micro M] [--b-slab E] [--b-micro M] [--b-tree DIR] [--timing-only]
//
// --noise: out = output Gaussian σ 0.3 (out-lsb); all = weight σ 0.5 + activation flips 1e-4 + output σ 0.3
// (bench/sim/scale.ts's rows); --a: the build under test (default: this tree's build/); --slab E: accumulators per
// slab of the output noise (slabOptions.elements of src/sim/chip/fastpath.ts); --micro: NoisyWasmProgram's
// micro-batch (NOISY_MICRO_BATCH).

import { readQModel } from "../../src/ir/io.js";
import { sizeOf } from "../../src/ir/types.js";
import { WasmProgram } from "../../src/exec/wasm-program.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { NOISY_MICRO_BATCH, NoisyWasmProgram, fastPathEquivalent, slabOptions } from "../../src/sim/chip/fastpath.js";
import { flipInputs } from "../../src/sim/chip/kernels.js";
import { withChipWeights } from "../../src/sim/chip/run.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { cachedInit, cpuMsPerCall, machine, quantile as q, opt } from "../kernels/common.js";
import { images } from "../kernels/model.js";

const noise = opt("--noise", "out");
const bits = Number(opt("--bits", "4"));
const n = Number(opt("--images", "2"));
const rounds = Number(opt("--rounds", "40"));
const dirA = opt("--a", "");
const dirB = opt("--b", "");
const treeB = opt("--b-tree", "");
const slabA = { ...slabOptions, elements: Number(opt("--slab", String(slabOptions.elements))) };
const slabB = { ...slabOptions, elements: Number(opt("--b-slab", String(slabA.elements))) };
const microA = Number(opt("--micro", String(NOISY_MICRO_BATCH)));
// The other tree may predate NOISY_MICRO_BATCH: its default, 2, spelled out.
const microB = Number(opt("--b-micro", treeB ? "2" : String(microA)));
if (treeB && process.argv.includes("--b-slab")) {
  console.error("noisy-ab.ts: --b-slab sets this tree's slabOptions, which --b-tree's program does not read: leave it out with --b-tree");
  process.exit(2);
}
const twoJs = process.argv.includes("--b-slab") || process.argv.includes("--b-micro") || !!treeB;
const ok = (o: typeof slabOptions) => o.elements >= 1;
if (!["out", "all", "weight", "flips"].includes(noise) || ![4, 8].includes(bits) || !(n >= 1) || !(rounds >= 1) || !ok(slabA) || !ok(slabB) || !(microA >= 1) || !(microB >= 1)) {
  console.error("usage: npx tsx bench/sim/noisy-ab.ts [--noise out|all|weight|flips] [--bits 4|8] [--images N] [--rounds R] [--a DIR] [--b DIR] [--slab E] [--micro M] [--b-slab E] [--b-micro M] [--b-tree DIR] [--timing-only]");
  process.exit(2);
}

const p = readQModel(await cachedInit(`mobilenetv2-224x224x3-1000-w${bits}a${bits}`, { arch: "mobilenetv2", bits: { w: bits, a: bits }, input: [224, 224, 3], classes: 1000, seed: 1 }));
const digital = loadHwModel("int8-systolic-16x16").hw;
const set = (hw: HwModel, path: string, v: number) => withSet(hw, path.split("."), v);
const hw =
  noise === "out" ? set(digital, "noise.outputGaussian.sigma", 0.3)
  : noise === "weight" ? set(digital, "noise.weightGaussian.sigma", 0.5)
  : noise === "flips" ? set(digital, "noise.activationBitFlip.ber", 1e-4)
  : set(set(set(digital, "noise.weightGaussian.sigma", 0.5), "noise.activationBitFlip.ber", 1e-4), "noise.outputGaussian.sigma", 0.3);
const chip = buildChip(p, hw, 1, 0);
if (!fastPathEquivalent(chip)) throw new Error("this chip instance does not take the fast path");
const x = flipInputs(chip, images(n, sizeOf(p.layers[0].out.shape)), n, 0);
const chipProgram = withChipWeights(p, chip);
const clean = new WasmProgram(loadWasmKernels({ flavor: "auto" }).engine, p, n);
const builds = dirB || twoJs ? [dirA, dirB || dirA] : [dirA];
const noisy = builds.map((d, i) => (i && treeB ? null : new NoisyWasmProgram(chip, chipProgram, new WasmEngine({ flavor: "simd", sim: true, ...(d ? { buildDir: d } : {}) }), i ? microB : microA)));
if (treeB) {
  const { resolve } = await import("node:path");
  const fp = await import(resolve(treeB, "src/sim/chip/fastpath.ts"));
  const en = await import(resolve(treeB, "src/kernels/wasm/engine.ts"));
  noisy[1] = new fp.NoisyWasmProgram(chip, chipProgram, new en.WasmEngine({ flavor: "simd", sim: true, buildDir: dirB || resolve(treeB, "build") }), microB);
}
const slabs = [slabA, slabB];
const runNoisy = (i: number) => {
  Object.assign(slabOptions, slabs[i]);
  return noisy[i]!.run(x, n, 0);
};
const outs = noisy.map((_, i) => runNoisy(i).logits);
const timingOnly = process.argv.includes("--timing-only");
if (outs.length === 2 && !timingOnly && outs[0].some((v, i) => v !== outs[1][i])) throw new Error("A and B give different logits");

const window = (f: () => void) => cpuMsPerCall(f, 100);
const fns = [() => clean.run(x, n), ...noisy.map((_, i) => () => runNoisy(i))];
for (const f of fns) for (let i = 0; i < 3; i++) f(); // warm up: WASM tiers up per call, and a first round in the baseline tier would count
console.log(machine());
const ratios: number[][] = noisy.map(() => []);
const ab: number[] = [];
const ms: number[][] = fns.map(() => []);
for (let r = 0; r < rounds; r++) {
  const order = fns.map((_, i) => i);
  if (r % 2) order.reverse();
  const t = fns.map(() => 0);
  for (const i of order) t[i] = window(fns[i]);
  t.forEach((v, i) => ms[i].push(v / n));
  noisy.forEach((_, i) => ratios[i].push(t[i + 1] / t[0]));
  if (noisy.length === 2) ab.push(t[1] / t[2]);
}
const fmt = (xs: number[]) => `median ${q(xs, 0.5).toFixed(3)} (quartiles ${q(xs, 0.25).toFixed(3)}–${q(xs, 0.75).toFixed(3)})`;
const what = { out: "output σ 0.3", all: "weight σ 0.5 + activation flips 1e-4 + output σ 0.3", weight: "weight σ 0.5", flips: "activation flips 1e-4" }[noise];
const how = (i: number) => (i && treeB ? `tree ${treeB}, its slabs` : `${builds[i] || "build/"}, slabs of ${slabs[i].elements}`) + `, micro ${i ? microB : microA}`;
console.log(`mobilenetv2 224 W${bits}A${bits}, ${what} on int8-systolic-16x16, ${n} images per call, ${rounds} rounds; A: ${how(0)}` + (noisy.length > 1 ? `; B: ${how(1)}` : ""));
console.log(`  CPU ms per image: noise-free ${q(ms[0], 0.5).toFixed(1)}` + noisy.map((_, i) => `, noisy ${i ? "B" : "A"} ${q(ms[i + 1], 0.5).toFixed(1)}`).join(""));
noisy.forEach((_, i) => console.log(`  noisy ${i ? "B" : "A"} ÷ noise-free: ${fmt(ratios[i])}`));
if (ab.length) console.log(`  A ÷ B: ${fmt(ab)}`);
console.log(machine());
