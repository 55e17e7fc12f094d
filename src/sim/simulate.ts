// Monte-Carlo simulation of an integer program on a chip: the clean chip (chip semantics, no noise) once,
// then `trials` noisy chip instances, each over the same images. Accuracy per trial, and mean, std and
// the 95% confidence half-width over trials. Trials run in-process or spread over worker threads
// (src/sim/pool.ts); the RNG keys make the numbers independent of batch size and worker count.

import { interpretLayers } from "../exec/interpret.js";
import { isWeightLayer, sizeOf, type Layer, type Program } from "../ir/types.js";
import { loadWasmKernels } from "../kernels/wasm/backend.js";
import { argmaxRows } from "../kernels/reference/ops.js";
import { buildChip, noiseActive, type ChipInstance } from "./chip.js";
import type { HwModel } from "./hwmodel.js";
import { flipInputs, simKernels } from "./kernels.js";
import { NoisyWasmProgram, fastPathEquivalent } from "./wasmsim.js";
import { WasmAnalogMac } from "./wasmanalog.js";
import { WasmEngine } from "../kernels/wasm/engine.js";
import { KernelsNotBuiltError } from "../kernels/wasm/errors.js";

/** Images and labels to simulate on (u8, n × 784 for the shipped datasets). */
export interface SimData {
  n: number;
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
}

/**
 * Whether a chip instance computes exactly what the spec kernels compute on its stored weights: digital,
 * no accumulator can overflow, requant multipliers uncut with the spec's half-up rounding, no per-inference
 * noise, and every stored weight still in the narrow range the WASM weight containers assume. Then the
 * WASM program runner (src/kernels/wasm/program.ts) executes the chip's weights: same integers, much faster.
 */
export function wasmEquivalent(chip: ChipInstance): boolean {
  const hw = chip.hw;
  if (hw.compute.kind !== "digital" || hw.requant.rounding !== "half-up" || hw.requant.multiplierBits < 31) return false;
  const n = hw.noise;
  if (chip.trial !== null && ((n.activationBitFlip?.ber ?? 0) > 0 || (n.accumulatorBitFlip?.ber ?? 0) > 0 || (n.outputGaussian?.sigma ?? 0) > 0)) return false;
  for (const [l, p] of chip.prep) {
    if (p.kind === "digital") {
      if (!p.exact) return false;
      const lo = -(2 ** ((l as { wBits: number }).wBits - 1) - 1);
      for (let i = 0; i < p.weights.length; i++) if (p.weights[i] < lo) return false;
    }
  }
  return true;
}

/** The program with a chip instance's stored weights in place of the lowered ones. */
function withChipWeights(program: Program, chip: ChipInstance): Program {
  const layers = program.layers.map((l): Layer => {
    const p = chip.prep.get(l);
    if (!isWeightLayer(l) || !p || p.kind !== "digital") return l;
    return { ...l, weights: Int8Array.from(p.weights) };
  });
  return { ...program, layers };
}

/** Set false to force the plain-TS sim kernels (benchmarks and tests compare both). */
export const simOptions = { useWasm: true };

/** Runs one chip instance over the data; returns the predictions and the int16 logits' argmax count correct. */
export function runChip(program: Program, chip: ChipInstance, data: SimData, batch = 64): { correct: number; predictions: Int32Array } {
  const per = data.images.length / data.n;
  const predictions = new Int32Array(data.n);
  const classes = sizeOf(program.layers[program.layers.length - 1].out.shape);
  if (simOptions.useWasm && wasmEquivalent(chip)) {
    let runner: ReturnType<ReturnType<typeof loadWasmKernels>["compile"]> | undefined;
    try {
      // A fresh engine per chip: prepared weights stay resident in an engine's memory for its lifetime.
      runner = loadWasmKernels({ flavor: "auto" }).compile(withChipWeights(program, chip), batch);
    } catch {
      runner = undefined; // kernels not built: the plain-TS path below gives the same integers
    }
    if (runner) {
      for (let b0 = 0; b0 < data.n; b0 += batch) {
        const nb = Math.min(batch, data.n - b0);
        predictions.set(runner.run(data.images.subarray(b0 * per, (b0 + nb) * per), nb).predictions, b0);
      }
      return { correct: countCorrect(predictions, data), predictions };
    }
  }
  if (simOptions.useWasm && fastPathEquivalent(chip)) {
    let fast: NoisyWasmProgram | undefined;
    try {
      // A fresh engine per chip, as above; per-inference noise is applied between the kernels.
      fast = new NoisyWasmProgram(chip, withChipWeights(program, chip), new WasmEngine({ flavor: "auto", sim: true }));
    } catch (e) {
      if (!(e instanceof KernelsNotBuiltError)) throw e;
    }
    if (fast) {
      for (let b0 = 0; b0 < data.n; b0 += batch) {
        const nb = Math.min(batch, data.n - b0);
        predictions.set(fast.run(flipInputs(chip, data.images.subarray(b0 * per, (b0 + nb) * per), nb, b0), nb, b0).predictions, b0);
      }
      return { correct: countCorrect(predictions, data), predictions };
    }
  }
  // The plain-TS sim kernels; an analog chip's MACs on WASM (same operations, same order: same numbers).
  let analogMac: WasmAnalogMac | undefined;
  if (simOptions.useWasm && chip.hw.compute.kind === "analog") {
    try {
      analogMac = new WasmAnalogMac(new WasmEngine({ flavor: "auto", sim: true }));
    } catch (e) {
      if (!(e instanceof KernelsNotBuiltError)) throw e;
    }
  }
  const k = simKernels(chip, { analogMac });
  for (let b0 = 0; b0 < data.n; b0 += batch) {
    const nb = Math.min(batch, data.n - b0);
    k.setFirstInference(b0);
    const imgs = flipInputs(chip, data.images.subarray(b0 * per, (b0 + nb) * per), nb, b0);
    const [out] = interpretLayers(program, k, imgs, nb).slice(-1);
    predictions.set(argmaxRows(out.data, nb, classes), b0);
  }
  return { correct: countCorrect(predictions, data), predictions };
}

function countCorrect(predictions: Int32Array, data: SimData): number {
  let correct = 0;
  for (let i = 0; i < data.n; i++) if (predictions[i] === data.labels[i]) correct++;
  return correct;
}

/** Accuracy of one noisy trial (trial ≥ 0) or of the clean chip (null). */
export function runTrial(program: Program, hw: HwModel, data: SimData, seed: number, trial: number | null, batch = 64): number {
  const chip = buildChip(program, hw, seed, trial);
  return runChip(program, chip, data, batch).correct / data.n;
}

/** Two-sided 97.5% quantiles of Student's t for df = 1…30 (beyond: the normal 1.96). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Summary of per-trial accuracies: mean, sample std (n − 1), and the 95% CI half-width t·std/√n. */
export interface TrialStats {
  mean: number;
  std: number;
  /** Half-width of the 95% confidence interval of the mean: the mean lies in mean ± ci95. */
  ci95: number;
  trials: number;
  values: number[];
}

export function trialStats(values: number[]): TrialStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const t = n > 1 ? (n - 1 <= 30 ? T975[n - 2] : 1.96) : 0;
  return { mean, std, ci95: n > 1 ? (t * std) / Math.sqrt(n) : 0, trials: n, values };
}

export { noiseActive };
