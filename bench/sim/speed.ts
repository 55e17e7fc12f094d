// Simulator speed (DESIGN.md §6; issue: noisy simulation on a digital chip ≤ 2× noise-free WASM inference on
// the same images; analog-crossbar throughput; trials over workers). All peers measured in this run.
//
//   npx tsx bench/sim/speed.ts [MODEL.qmodel] [--limit N]

import { readQModel } from "../../src/ir/io.js";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { classesOf, compileProgram, inputBytes, runBatched } from "../../src/exec/runner.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import type { runTrials } from "../../src/sim/study/trials.js";
import { runTrial, simOptions } from "../../src/sim/chip/run.js";

const args = process.argv.slice(2);
const model = args.find((a) => a.endsWith(".qmodel")) ?? "test/fixtures/cnn-s-w4a4-random.qmodel";
const li = args.indexOf("--limit");
const limit = li >= 0 ? Number(args[li + 1]) : 1000;
const program = readQModel(model);
const data = limitDataset(loadDataset("mnist", "test"), limit);
const time = (f: () => unknown) => {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
};
const best = (f: () => unknown, reps = 3) => Math.min(...Array.from({ length: reps }, () => time(f)));

const runner = compileProgram(program, loadWasmKernels({ flavor: "auto" }), 64);
const wasm = best(() => runBatched(data.images, inputBytes(program), classesOf(program), 64, (x, n) => runner.run(x, n)));
const digital = loadHwModel("int8-systolic-16x16").hw;
const wNoise = withSet(digital, ["noise", "weightGaussian", "sigma"], 0.5);
const simWeight = best(() => runTrial(program, wNoise, data, 1, 0));
// Per-inference sources, each alone and together (the WASM fast path, src/sim/chip/fastpath.ts).
const actOnly = best(() => runTrial(program, withSet(digital, ["noise", "activationBitFlip", "ber"], 1e-4), data, 1, 0));
const accOnly = best(() => runTrial(program, withSet(digital, ["noise", "accumulatorBitFlip", "ber"], 1e-4), data, 1, 0));
const outOnly = best(() => runTrial(program, withSet(digital, ["noise", "outputGaussian", "sigma"], 0.3), data, 1, 0));
const perInf = withSet(withSet(wNoise, ["noise", "activationBitFlip", "ber"], 1e-4), ["noise", "outputGaussian", "sigma"], 0.3);
const simPerInf = best(() => runTrial(program, perInf, data, 1, 0));
// A chip with 16-bit requant multipliers and 20-bit saturating accumulators (no overflow possible here).
const lowbit = withSet(withSet(loadHwModel("lowbit-npu").hw, ["noise", "activationBitFlip", "ber"], 1e-4), ["noise", "outputGaussian", "sigma"], 0.3);
const simLowbit = best(() => runTrial(program, lowbit, data, 1, 0));
// Half-even requant rounding (every weight layer through the chip's requant), with the output noise.
const halfEven = withSet(withSet(digital, ["requant", "rounding"], "half-even"), ["noise", "outputGaussian", "sigma"], 0.3);
const simHalfEven = best(() => runTrial(program, halfEven, data, 1, 0));
// bitserial-edge: 24-bit wrapping accumulators per K-tile of 16, 24-bit multipliers, with the output noise.
const bitserial = withSet(loadHwModel("bitserial-edge").hw, ["noise", "outputGaussian", "sigma"], 0.3);
const simBitserial = best(() => runTrial(program, bitserial, data, 1, 0));
// 12-bit wrapping accumulators: overflow happens (the fast path sign-extends the i32 sums; wrap is mod 2^12).
const wrap12 = withSet(withSet(digital, ["accumulator", "bits"], 12), ["noise", "activationBitFlip", "ber"], 1e-4);
const simWrap = best(() => runTrial(program, wrap12, data, 1, 0));
// 12-bit saturating accumulators, per K-tile of 16: overflow happens, the order matters (gemm_s16_sat_ktile).
const sat12 = withSet(withSet(withSet(digital, ["accumulator", "bits"], 12), ["accumulator", "overflow"], "saturate"), ["noise", "activationBitFlip", "ber"], 1e-4);
const simSat = best(() => runTrial(program, sat12, data, 1, 0));
// The plain-TS sim kernels (the definition the fast path is tested against) on the first 200 images.
const tsN = Math.min(200, data.n);
const tsData = { n: tsN, images: data.images.subarray(0, tsN * 784), labels: data.labels.subarray(0, tsN) };
simOptions.useWasm = false;
const simWeightTs = best(() => runTrial(program, wNoise, tsData, 1, 0), 1);
const simPerInfTs = best(() => runTrial(program, perInf, tsData, 1, 0), 1);
simOptions.useWasm = true;
const analogN = Math.min(200, data.n);
const small = { n: analogN, images: data.images.subarray(0, analogN * 784), labels: data.labels.subarray(0, analogN) };
const pcm = loadHwModel("analog-pcm-crossbar").hw;
const analog = best(() => runTrial(program, pcm, small, 1, 0), 2); // the MACs on WASM (src/sim/chip/analogmac.ts)
simOptions.useWasm = false;
const analogTs = best(() => runTrial(program, pcm, small, 1, 0), 1); // all plain TS
simOptions.useWasm = true;
// Trials over workers, through the compiled pool (dist/, built by `npm run build`) as `nipq simulate`
// runs it: from the TypeScript sources each worker would first load tsx and transpile the simulator.
const { runTrials: runTrialsBuilt } = (await import(new URL("../../dist/sim/study/trials.js", import.meta.url).href)) as { runTrials: typeof runTrials };
const trialsList = [0, 1, 2, 3, 4, 5, 6, 7];
const t1 = performance.now();
const acc1 = await runTrialsBuilt(program, perInf, data, 1, trialsList, 1);
const w1 = (performance.now() - t1) / 1000;
const t2 = performance.now();
const acc2 = await runTrialsBuilt(program, perInf, data, 1, trialsList, 2);
const w2 = (performance.now() - t2) / 1000;
if (acc1.some((a, i) => a !== acc2[i])) throw new Error("trials on 1 and 2 workers gave different accuracies");

const ips = (s: number, n = data.n) => (n / s).toFixed(0);
const row = (what: string, s: number, n = data.n) => console.log(`${what.padEnd(72)} ${s.toFixed(3)} s  ${ips(s, n).padStart(5)} img/s  ratio ${((s / n) / (wasm / data.n)).toFixed(2)}×`);
console.log(`model ${model}, ${data.n} mnist test images, best of 3 unless noted; ratio = time per image / noise-free WASM's (target ≤ 2×)`);
row("noise-free WASM inference (WasmProgram, batch 64)", wasm);
row("per-chip weight noise σ 0.5 LSB (WasmProgram on chip weights)", simWeight);
row("activation bit flips BER 1e-4 (fast path)", actOnly);
row("accumulator bit flips BER 1e-4 (fast path)", accOnly);
row("output Gaussian σ 0.3 out-LSB (fast path)", outOnly);
row("weight σ 0.5 + act flips 1e-4 + output σ 0.3 (fast path)", simPerInf);
row("lowbit-npu (16-bit multipliers), act flips + output σ 0.3 (fast path)", simLowbit);
row("half-even requant + output σ 0.3 (fast path)", simHalfEven);
row("bitserial-edge (24-bit wrap, 24-bit multipliers) + output σ 0.3 (fast path)", simBitserial);
row("12-bit wrapping accumulators (overflowing) + act flips 1e-4 (fast path)", simWrap);
row("12-bit saturating accumulators (overflowing) + act flips 1e-4 (fast path)", simSat);
row(`weight σ 0.5, plain-TS sim kernels, ${tsN} images, 1 run`, simWeightTs, tsN);
row(`weight + act flips + output noise, plain-TS, ${tsN} images, 1 run`, simPerInfTs, tsN);
console.log(`analog PCM crossbar (PCM + ADC noise), ${analogN} images, MACs on WASM (best of 2): ${analog.toFixed(3)} s  ${ips(analog, analogN)} img/s`);
console.log(`analog PCM crossbar (PCM + ADC noise), ${analogN} images, all plain TS (1 run):     ${analogTs.toFixed(3)} s  ${ips(analogTs, analogN)} img/s`);
console.log(`${trialsList.length} trials × ${data.n} images, per-inference noise (compiled pool): 1 worker ${w1.toFixed(2)} s, 2 workers ${w2.toFixed(2)} s (speed-up ${(w1 / w2).toFixed(2)}×, same accuracies)`);
