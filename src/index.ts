// The public API of nipq-hw (the package's main module): load an integer program, run it on the reference
// or the WASM kernels, evaluate it on a dataset, simulate it on an accelerator model (clean and under
// noise) or sweep one hardware knob, and export it as an edge bundle. The same pieces the `nipq` commands
// use, with no CLI in between; errors a caller can fix are NipqInputError values with one-line messages.
//
//   import { loadModel } from "nipq-hw";
//   const model = loadModel("model.qmodel");
//   const { predictions } = model.run(images, { backend: "wasm" });
//
// Browsers and edge devices use the bundle's zero-dependency runtime instead (nipq export, docs/DEPLOY.md).

import { checkModelFitsData, dataFor, limitDataset, type Dataset } from "./data/index.js";
import { writeBundle, type BundleReport, type ExportOptions } from "./deploy/bundle.js";
import { NipqInputError } from "./errors.js";
import { runProgram } from "./exec/interpret.js";
import { readFileChecked } from "./fsutil.js";
import { MAX_BATCH } from "./limits.js";
import { decodeQModel } from "./ir/qmodel.js";
import { programStats, type LayerStats } from "./ir/stats.js";
import { sizeOf, type Program } from "./ir/types.js";
import { referenceKernels } from "./kernels/reference/backend.js";
import { loadWasmKernels } from "./kernels/wasm/backend.js";
import type { WasmFlavor } from "./kernels/wasm/loader.js";
import type { WasmProgram } from "./kernels/wasm/program.js";
import { programCost, type ProgramCost } from "./sim/cost.js";
import { loadHwModel, validateHwModel, type HwModel } from "./sim/hwmodel.js";
import type { SimData } from "./sim/simulate.js";
import { accuracyStudy, sweepStudy, varyDoc } from "./sim/study.js";
import { parseVary } from "./sim/sweep.js";

export { checkModelFitsData, dataFor, limitDataset, loadDataset, DATASET_NAMES, type Dataset } from "./data/index.js";
export { importOnnx, importOnnxFile, ImportError, type ImportOptions } from "./import/index.js";
export { writeBundle, BUDGETS, type BundleReport, type ExportOptions } from "./deploy/bundle.js";
export { DatasetError, NipqInputError, QModelFormatError, UsageError } from "./errors.js";
export { decodeQModel, encodeQModel } from "./ir/qmodel.js";
export { readQModel, writeQModel } from "./ir/io.js";
export { programStats, type LayerStats } from "./ir/stats.js";
export type { Layer, Program, TensorSpec } from "./ir/types.js";
export { lowerCheckpoint } from "./lower/index.js";
export { loadHwModel, SHIPPED_MODELS, type HwModel } from "./sim/hwmodel.js";
export type { ProgramCost } from "./sim/cost.js";
export type { TrialStats } from "./sim/simulate.js";

/** Kernels a model runs on: the plain-TS reference (the executable spec) or the WASM kernels. */
export type Backend = "reference" | "wasm";

/** Options of Model.run. */
export interface RunOptions {
  /** Default "reference". Both give identical integers (DESIGN.md §3). */
  backend?: Backend;
  /** WASM build: "auto" (default) picks SIMD when the engine supports it, else the scalar twin. */
  flavor?: WasmFlavor | "auto";
  /** Images per kernel call (default 64). */
  batch?: number;
}

/** int16 logits (n × classes, row-major) and the argmax of each row (lowest index on ties). */
export interface RunOutput {
  n: number;
  classes: number;
  logits: Int16Array;
  predictions: Int32Array;
  /** "reference", "wasm-simd" or "wasm-scalar". */
  backend: string;
}

/** Options of Model.evaluate. */
export interface EvaluateOptions extends RunOptions {
  /** Use only the first N test images. */
  limit?: number;
  /** images:DIR: scale images to the model's input instead of refusing other sizes. */
  resize?: boolean;
}

/** Accuracy over a dataset's test split (the keys of `nipq run --json`, plus the raw outputs). */
export interface Evaluation extends RunOutput {
  accuracy: number;
  samples: number;
  correct: number;
  imagesPerSecond: number;
  labels: Uint8Array | Uint16Array;
}

/** Options of Model.simulate and Model.sweep. */
export interface SimulateOptions {
  /** Monte-Carlo trials: noisy chip instances, each over the same images (default 10). */
  trials?: number;
  /** Seed of every random draw (default 0): the same seed gives the same numbers. */
  seed?: number;
  /** Use only the first N test images. */
  limit?: number;
  /** Worker threads for trials (default 1). */
  workers?: number;
  /** Images per batch (changes no number; default 64). */
  batch?: number;
  /** hw-model overrides `key=value` (dotted path), as `nipq simulate --set`; only with a named/path hw. */
  set?: string[];
  /** images:DIR: scale images to the model's input instead of refusing other sizes. */
  resize?: boolean;
}

/** The result of Model.simulate: the keys of `nipq simulate --json` (DESIGN.md §5). */
export interface SimulationResult {
  hw: string;
  bops: number;
  macs: number;
  memory: { weightBytes: number; peakActivationBytes: number; biasBytes: number };
  cycles: number;
  latencyMs: number;
  energyMicroJ: number;
  layers: ProgramCost["layers"];
  accuracy: { clean: number; noisy: { mean: number; std: number; ci95: number; trials: number; values: number[] } };
  noiseActive: boolean;
  samples: number;
  seed: number;
}

/** The result of Model.sweep: the keys of `nipq sweep --json` (DESIGN.md §5). */
export interface SweepResult {
  vary: { key: string; from: number; to: number; steps: number; scale: "linear" | "log"; spec: string };
  points: { value: number; mean: number; std: number; ci95: number; clean: number; values: number[] }[];
  hw: string;
  samples: number;
  trials: number;
  seed: number;
}

/** A dataset by name (DATASET_NAMES: "mnist", "npy:DIR", "cifar10:DIR", "images:DIR", …) or one already loaded; its test split. */
export type DataSource = string | Dataset;

/** The test split of `d` (its first `limit` samples) for model `m`, checked to fit its input shape and classes. */
function testData(m: Model, d: DataSource, o: { limit?: number; resize?: boolean }): Dataset {
  const facts = { input: m.inputShape, classes: m.classes, name: m.file };
  if (typeof d === "string") return dataFor(d, facts, o);
  const data = limitDataset(d, o.limit);
  checkModelFitsData(m.file, m.inputShape, data, m.classes);
  return data;
}

function resolveHw(hw: string | HwModel, set: string[] = []): HwModel {
  if (typeof hw === "string") return loadHwModel(hw, set).hw;
  if (set.length) throw new NipqInputError("simulate: `set` overrides need a hw-model name or path, not an object (edit the object instead)");
  return validateHwModel(hw, hw.name ?? "<hw-model>");
}

/** An integer program loaded from a .qmodel, ready to run, evaluate, simulate or export. */
export class Model {
  private wasm?: { runner: WasmProgram; flavor: WasmFlavor | "auto"; batch: number };

  /** Use loadModel(). */
  constructor(
    /** The validated integer program. */
    readonly program: Program,
    /** The .qmodel bytes as read. */
    readonly bytes: Uint8Array,
    /** Where it came from (a path, or "<memory>"). */
    readonly file: string,
  ) {}

  /** The name lowering gave it (e.g. "cnn-s-w4a4"). */
  get name(): string {
    return this.program.name;
  }

  /** Per-sample input shape [H, W, C]: u8 pixels. */
  get inputShape(): number[] {
    return this.program.layers[0].out.shape.slice();
  }

  /** Number of classes (int16 logits per image). */
  get classes(): number {
    return sizeOf(this.program.layers[this.program.layers.length - 1].out.shape);
  }

  /** Per-layer shapes, bits, MACs, BOPs and packed weight bytes, and totals (`nipq inspect`). */
  summary(): { layers: LayerStats[]; totals: { macs: number; bops: number; weightBytes: number; biasBytes: number } } {
    return programStats(this.program);
  }

  /**
   * Runs images (u8, n × H·W·C bytes, NHWC; n = images.length / (H·W·C)) and returns the int16 logits and
   * predictions. The WASM program is prepared once and kept for later calls.
   */
  run(images: Uint8Array, o: RunOptions = {}): RunOutput {
    const per = sizeOf(this.program.layers[0].out.shape);
    const n = images.length / per;
    if (!Number.isInteger(n)) throw new NipqInputError(`images: expected a multiple of ${per} bytes (${this.inputShape.join("×")} u8 per image), found ${images.length}`);
    const batch = o.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new NipqInputError(`batch: expected an integer in [1, ${MAX_BATCH}], found ${batch}`);
    const classes = this.classes;
    if ((o.backend ?? "reference") === "reference") {
      const logits = new Int16Array(n * classes);
      const predictions = new Int32Array(n);
      for (let b = 0; b < n; b += batch) {
        const nb = Math.min(batch, n - b);
        const r = runProgram(this.program, referenceKernels, images.subarray(b * per, (b + nb) * per), nb);
        logits.set(r.logits, b * classes);
        predictions.set(r.predictions, b);
      }
      return { n, classes, logits, predictions, backend: "reference" };
    }
    if (o.backend !== "wasm") throw new NipqInputError(`backend: expected reference or wasm, found ${JSON.stringify(o.backend)}`);
    const flavor = o.flavor ?? "auto";
    if (!this.wasm || this.wasm.flavor !== flavor || this.wasm.batch !== batch) {
      this.wasm = { runner: loadWasmKernels({ flavor }).compile(this.program, batch), flavor, batch };
    }
    const runner = this.wasm.runner;
    const logits = new Int16Array(n * classes);
    const predictions = new Int32Array(n);
    for (let b = 0; b < n; b += batch) {
      const nb = Math.min(batch, n - b);
      const r = runner.run(images.subarray(b * per, (b + nb) * per), nb);
      logits.set(r.logits, b * classes);
      predictions.set(r.predictions, b);
    }
    return { n, classes, logits, predictions, backend: `wasm-${runner.engine.flavor}` };
  }

  /** Accuracy on a dataset's test split (what `nipq run` reports). */
  evaluate(data: DataSource, o: EvaluateOptions = {}): Evaluation {
    const d = testData(this, data, o);
    const t0 = performance.now();
    const r = this.run(d.images, o);
    const seconds = (performance.now() - t0) / 1000;
    let correct = 0;
    for (let i = 0; i < d.n; i++) if (r.predictions[i] === d.labels[i]) correct++;
    return { ...r, accuracy: correct / d.n, samples: d.n, correct, imagesPerSecond: d.n / Math.max(seconds, 1e-9), labels: d.labels };
  }

  /**
   * Simulates the program on an accelerator model (a shipped name such as "lowbit-npu", a path to a
   * hw-model JSON, or a HwModel object): per-layer costs, then accuracy on the clean chip and over
   * `trials` noisy chip instances (mean, std, 95% CI). What `nipq simulate` does.
   */
  async simulate(hw: string | HwModel, data: DataSource, o: SimulateOptions = {}): Promise<SimulationResult> {
    const m = resolveHw(hw, o.set);
    const d: SimData = testData(this, data, o);
    const seed = o.seed ?? 0;
    const trials = o.trials ?? 10;
    const cost = programCost(this.program, m);
    const { clean, noisy: s, active } = await accuracyStudy(this.program, m, d, { seed, trials, workers: o.workers, batch: o.batch });
    return {
      hw: m.name,
      bops: cost.bops,
      macs: cost.macs,
      memory: { weightBytes: cost.memory.weightBytes, peakActivationBytes: cost.memory.peakActivationBytes, biasBytes: cost.memory.biasBytes },
      cycles: cost.cycles,
      latencyMs: cost.latencyMs,
      energyMicroJ: cost.energyMicroJ,
      layers: cost.layers,
      accuracy: { clean, noisy: { mean: s.mean, std: s.std, ci95: s.ci95, trials: s.trials, values: s.values } },
      noiseActive: active,
      samples: d.n,
      seed,
    };
  }

  /**
   * A robustness curve: accuracy (clean, and mean ± 95% CI over trials) at each value of one hw-model
   * knob, `vary` = "key=from:to:steps[:log]" (e.g. "noise.weightGaussian.sigma=0:1:5"). What `nipq sweep` does.
   */
  async sweep(hw: string | HwModel, data: DataSource, vary: string, o: SimulateOptions = {}): Promise<SweepResult> {
    const base = resolveHw(hw, o.set);
    const v = parseVary(vary, base);
    const d: SimData = testData(this, data, o);
    const seed = o.seed ?? 0;
    const trials = o.trials ?? 10;
    const points = await sweepStudy(this.program, base, v, d, { seed, trials, workers: o.workers, batch: o.batch });
    return { vary: varyDoc(v), points, hw: base.name, samples: d.n, trials, seed };
  }

  /** Writes the edge bundle (runtime .mjs, SIMD + scalar .wasm, this model, test images, index.html) atomically. */
  exportBundle(out: string, o: ExportOptions = {}): BundleReport {
    return writeBundle({ bytes: this.bytes, file: this.file }, out, o);
  }
}

/**
 * Loads and validates a .qmodel from a path or from its bytes. Throws NipqInputError (QModelFormatError
 * for a corrupt file: one line naming the file, the field, what was expected and what was found).
 */
export function loadModel(source: string | Uint8Array, name = typeof source === "string" ? source : "<memory>"): Model {
  const bytes = typeof source === "string" ? readFileChecked(source) : source;
  return new Model(decodeQModel(bytes, name), bytes, name);
}
