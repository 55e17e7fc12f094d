// Running one chip instance (one Monte-Carlo trial, or the clean chip) over images: the choice of the
// fastest execution path that gives the chip's integers exactly — the plain WASM program on the chip's
// weights, the WASM fast path with per-inference noise between the kernels (./fastpath.ts), or the
// plain-TS chip kernels (./kernels.ts, the definition) — and the count of correct predictions. Which
// paths a noise source allows is the noise table's (src/sim/noise/sources.ts). Draws are keyed by
// (seed, trial, image index), so any range of images and any batch size give the same numbers.

import { runProgram } from "../../exec/interpret.js";
import { classesOf, compileProgram, inputBytes, runBatched, type BatchOutput } from "../../exec/runner.js";
import { isWeightLayer, weightRange, type Layer, type Program, type WeightLayer } from "../../ir/types.js";
import { WasmKernels } from "../../kernels/wasm/backend.js";
import { WasmEngine } from "../../kernels/wasm/engine.js";
import { KernelsNotBuiltError } from "../../kernels/wasm/errors.js";
import type { HwModel } from "../hw/hwmodel.js";
import { WasmAnalogMac } from "./analogmac.js";
import { buildChip, type ChipInstance } from "./chip.js";
import { NoisyWasmProgram, fastPathEquivalent } from "./fastpath.js";
import { flipInputs, simKernels } from "./kernels.js";

/** Images (u8, each the program's input [H, W, C]) and their labels. */
export interface SimData {
  n: number;
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
}

/**
 * Whether a chip instance computes exactly what the spec kernels compute on its stored weights: digital,
 * every noise source on allows it (the noise table's `paths`: the per-chip weight-store faults), no
 * accumulator can overflow, requant multipliers uncut with the spec's half-up rounding, and every stored
 * weight still in the layer's range (narrow, or full with format 2's wFullRange). Then the WASM program runner
 * (src/exec/wasm-program.ts) executes the chip's weights: same integers, much faster.
 */
export function wasmEquivalent(chip: ChipInstance): boolean {
  if (chip.spec.kind !== "digital" || !chip.spec.specRequant) return false;
  if (!chip.sources.every((s) => s.paths.includes("wasm-program"))) return false;
  for (const [l, p] of chip.prep) {
    if (p.kind === "digital") {
      if (!p.exact) return false;
      const lo = weightRange(l as WeightLayer).lo;
      for (let i = 0; i < p.weights.length; i++) if (p.weights[i] < lo) return false;
    }
  }
  return true;
}

/** The program with a chip instance's stored weights in place of the lowered ones (what the WASM paths run). */
export function withChipWeights(program: Program, chip: ChipInstance): Program {
  const layers = program.layers.map((l): Layer => {
    const p = chip.prep.get(l);
    if (!isWeightLayer(l) || !p || p.kind !== "digital") return l;
    return { ...l, weights: Int8Array.from(p.weights) };
  });
  return { ...program, layers };
}

/**
 * useWasm false forces the plain-TS sim kernels (benchmarks and tests compare both); reuseEngines false gives every
 * chip run new WASM engines and drops the idle ones (see idleEngines).
 */
export const simOptions = { useWasm: true, reuseEngines: true };

/**
 * Runs one chip instance over the images [from, to) of the data (default all); returns their predictions
 * and how many match the labels.
 */
export function runChip(program: Program, chip: ChipInstance, data: SimData, batch = 64, from = 0, to = data.n): { correct: number; predictions: Int32Array } {
  const taken: [WasmEngine, boolean][] = [];
  try {
    const run = chipRunner(program, chip, batch, (sim) => {
      const e = takeEngine(sim);
      taken.push([e, sim]);
      return e;
    });
    // Input bit flips (the u8 pixels as stored on chip) before any path; keyed by the image's index.
    const { predictions } = runBatched(data.images, inputBytes(program), classesOf(program), batch, (imgs, nb, first) => run(flipInputs(chip, imgs, nb, first), nb, first), from, to);
    let correct = 0;
    for (let i = from; i < to; i++) if (predictions[i - from] === data.labels[i]) correct++;
    return { correct, predictions };
  } finally {
    for (const [e, sim] of taken) giveBack(e, sim);
  }
}

/**
 * The engines of the last chip run in this thread, one per build (the kernels' and the simulator's), recycled
 * (WasmEngine.recycle: the same integers as a new engine) for the next: new engines per trial cost a noisy
 * mobilenetv2 224 trial 30–50 ms more set-up and 2–7% more per image (docs/RESULTS.md, session 26). An idle
 * engine keeps the memory of the largest program it ran (tens of MB at 224×224) until the thread ends, or until
 * simOptions.reuseEngines is set false.
 */
const idleEngines = new Map<boolean, WasmEngine>();

/** An engine of the kernels' (sim false) or the simulator's build: the idle one, else a new one. */
function takeEngine(sim: boolean): WasmEngine {
  const e = idleEngines.get(sim);
  idleEngines.delete(sim);
  return e ?? new WasmEngine({ flavor: "auto", sim });
}

/** Returns an engine after a chip run: recycled and kept for the next (the last one per build), unless reuse is off. */
function giveBack(e: WasmEngine, sim: boolean): void {
  if (!simOptions.reuseEngines) return void idleEngines.clear();
  e.recycle();
  idleEngines.set(sim, e);
}

/**
 * The fastest execution path that computes this chip instance's integers exactly: the plain WASM program
 * on the chip's weights, the fast path with per-inference noise between the kernels, or the plain-TS sim
 * kernels (an analog chip's MACs on WASM there), on engines from `engine` (the caller's to recycle after the run:
 * prepared weights stay resident in an engine's memory until then). Without built kernels every path falls back
 * to plain TS.
 */
function chipRunner(program: Program, chip: ChipInstance, batch: number, engine: (sim: boolean) => WasmEngine): (images: Uint8Array, n: number, first: number) => BatchOutput {
  if (simOptions.useWasm && wasmEquivalent(chip)) {
    try {
      const runner = compileProgram(withChipWeights(program, chip), new WasmKernels(engine(false)), batch);
      return (images, n) => runner.run(images, n);
    } catch (e) {
      if (!(e instanceof KernelsNotBuiltError)) throw e;
    }
  }
  if (simOptions.useWasm && fastPathEquivalent(chip)) {
    try {
      const fast = new NoisyWasmProgram(chip, withChipWeights(program, chip), engine(true));
      return (images, n, first) => fast.run(images, n, first);
    } catch (e) {
      if (!(e instanceof KernelsNotBuiltError)) throw e;
    }
  }
  let analogMac: WasmAnalogMac | undefined;
  if (simOptions.useWasm && chip.hw.compute.kind === "analog") {
    try {
      analogMac = new WasmAnalogMac(engine(true));
    } catch (e) {
      if (!(e instanceof KernelsNotBuiltError)) throw e;
    }
  }
  const k = simKernels(chip, { analogMac });
  return (images, n, first) => {
    k.setFirstInference(first);
    return runProgram(program, k, images, n);
  };
}

/** Accuracy of one noisy trial (trial ≥ 0) or of the clean chip (null). */
export function runTrial(program: Program, hw: HwModel, data: SimData, seed: number, trial: number | null, batch = 64): number {
  const chip = buildChip(program, hw, seed, trial);
  return runChip(program, chip, data, batch).correct / data.n;
}
