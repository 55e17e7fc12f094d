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
import { checkBatch, classesOf, compileProgram, evaluate, imageCount, inputBytes, runBatched, type ProgramRunner } from "./exec/runner.js";
import { readFileChecked } from "./fsutil.js";
import { MAX_BATCH } from "./limits.js";
import { decodeQModel } from "./ir/qmodel.js";
import { programStats, type LayerStats } from "./ir/stats.js";
import type { Program } from "./ir/types.js";
import { referenceKernels } from "./kernels/reference/backend.js";
import { loadWasmKernels } from "./kernels/wasm/backend.js";
import type { WasmFlavor } from "./kernels/wasm/loader.js";
import { simulateDoc, type SimulateDoc } from "./report/simulate.js";
import { sweepDoc, type SweepDoc } from "./report/sweep.js";
import { programCost } from "./sim/hw/cost.js";
import { chipWarnings } from "./sim/hw/resolve.js";
import { loadHwModel, validateHwModel, type HwModel } from "./sim/hw/hwmodel.js";
import { accuracyStudy, STUDY_DEFAULTS, sweepStudy, type StudyOptions } from "./sim/study/study.js";
import { parseVary } from "./sim/study/vary.js";

export { checkModelFitsData, dataFor, limitDataset, loadDataset, DATASET_NAMES, type Dataset } from "./data/index.js";
export { importOnnx, importOnnxFile, ImportError, type ImportOptions } from "./import/index.js";
export { writeBundle, BUDGETS, type BundleReport, type ExportOptions } from "./deploy/bundle.js";
export { DatasetError, NipqInputError, QModelFormatError, UsageError } from "./errors.js";
export { decodeQModel, encodeQModel } from "./ir/qmodel.js";
export { readQModel, writeQModel } from "./ir/io.js";
export { programStats, type LayerStats } from "./ir/stats.js";
export type { Layer, Program, TensorSpec } from "./ir/types.js";
export { lowerCheckpoint } from "./lower/index.js";
export { loadHwModel, SHIPPED_MODELS, type HwModel } from "./sim/hw/hwmodel.js";
export type { ProgramCost } from "./sim/hw/cost.js";
export type { TrialStats } from "./sim/study/stats.js";

/** Kernels a model runs on: the plain-TS reference (the executable spec) or the WASM kernels. */
export type Backend = "reference" | "wasm";

/** Options of Model.run. */
export interface RunOptions {
  /** Default "reference". Both give identical integers (DESIGN.md §3). */
  backend?: Backend;
  /**
   * WASM build: "auto" (default) picks relaxed SIMD where the engine computes it right as started, else SIMD
   * where supported, else the scalar twin; "relaxed" on Node 20 sets the V8 flags it needs (README).
   */
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

/** Options of Model.simulate and Model.sweep; the defaults are `nipq simulate`'s (STUDY_DEFAULTS). */
export interface SimulateOptions {
  /** images:DIR: scale images to the model's input instead of refusing other sizes. */
  resize?: boolean;
  /** Monte-Carlo trials: noisy chip instances, each over the same images (default 10). */
  trials?: number;
  /** Seed of every random draw (default 0): the same seed gives the same numbers. */
  seed?: number;
  /** Use only the first N test images. */
  limit?: number;
  /** Worker threads for trials (default: one per core). */
  workers?: number;
  /** Images per batch (changes no number; default 64). */
  batch?: number;
  /** hw-model overrides `key=value` (dotted path), as `nipq simulate --set`; only with a named/path hw. */
  set?: string[];
}

/** The result of Model.simulate: the document `nipq simulate --json` prints (src/report/simulate.ts). */
export type SimulationResult = SimulateDoc;

/** The result of Model.sweep: the document `nipq sweep --json` prints (src/report/sweep.ts). */
export type SweepResult = SweepDoc;

/** A dataset by name ("mnist", "fashion-mnist", "idx:DIR") or one already loaded; its test split. */
export type DataSource = string | Dataset;

/** The test split of `d` (its first `limit` samples), checked to fit the model's input. */
function testData(m: Model, d: DataSource, o: { limit?: number; resize?: boolean }): Dataset {
  const facts = { input: m.inputShape, classes: m.classes, name: m.file };
  if (typeof d === "string") return dataFor(d, facts, o);
  const data = limitDataset(d, o.limit);
  checkModelFitsData(m.file, m.inputShape, data, m.classes);
  return data;
}

function resolveHw(hw: string | HwModel, set: string[] = []): { hw: HwModel; file: string | null } {
  if (typeof hw === "string") return loadHwModel(hw, set);
  if (set.length) throw new NipqInputError("simulate: `set` overrides need a hw-model name or path, not an object (edit the object instead)");
  return { hw: validateHwModel(hw, hw.name ?? "<hw-model>"), file: null };
}

/** The study options with the CLI's defaults filled in. */
function studyOf(o: SimulateOptions): StudyOptions {
  return { seed: o.seed ?? STUDY_DEFAULTS.seed, trials: o.trials ?? STUDY_DEFAULTS.trials, workers: o.workers ?? STUDY_DEFAULTS.workers, batch: o.batch ?? STUDY_DEFAULTS.batch };
}

/** An integer program loaded from a .qmodel, ready to run, evaluate, simulate or export. */
export class Model {
  private wasm?: { runner: ProgramRunner; flavor: WasmFlavor | "auto"; batch: number };

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
    return classesOf(this.program);
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
    const n = imageCount(this.program, images);
    const { runner, batch } = this.runner(o);
    const classes = this.classes;
    const r = runBatched(images, inputBytes(this.program), classes, batch, (x, nb) => runner.run(x, nb));
    return { n, classes, ...r, backend: runner.name };
  }

  /** The program prepared on the backend `o` names (the WASM program is kept for later calls). */
  private runner(o: RunOptions): { runner: ProgramRunner; batch: number } {
    const batch = checkBatch(o.batch ?? 64);
    const backend = o.backend ?? "reference";
    if (backend === "reference") return { runner: compileProgram(this.program, referenceKernels, batch), batch };
    if (backend !== "wasm") throw new NipqInputError(`backend: expected reference or wasm, found ${JSON.stringify(o.backend)}`);
    const flavor = o.flavor ?? "auto";
    if (!this.wasm || this.wasm.flavor !== flavor || this.wasm.batch !== batch) this.wasm = { runner: compileProgram(this.program, loadWasmKernels({ flavor }), batch), flavor, batch };
    return { runner: this.wasm.runner, batch };
  }

  /** Accuracy on a dataset's test split (what `nipq run` reports). */
  evaluate(data: DataSource, o: EvaluateOptions = {}): Evaluation {
    const d = testData(this, data, o);
    const { runner, batch } = this.runner(o);
    const r = evaluate(this.program, runner, d.images, d.labels, batch);
    return { ...r, n: d.n, classes: this.classes, backend: runner.name, accuracy: r.correct / d.n, samples: d.n, labels: d.labels };
  }

  /**
   * Simulates the program on an accelerator model (a shipped name such as "lowbit-npu", a path to a
   * hw-model JSON, or a HwModel object): per-layer costs, then accuracy on the clean chip and over
   * `trials` noisy chip instances (mean, std, 95% CI). What `nipq simulate` does.
   */
  async simulate(hw: string | HwModel, data: DataSource, o: SimulateOptions = {}): Promise<SimulationResult> {
    const { hw: m, file: hwFile } = resolveHw(hw, o.set);
    const d = testData(this, data, o);
    const so = studyOf(o);
    const cost = programCost(this.program, m);
    const t0 = performance.now();
    const study = await accuracyStudy(this.program, m, d, so);
    return simulateDoc(cost, study, { hw: m, hwFile, model: this.file, data: d.name, samples: d.n, seed: so.seed, seconds: (performance.now() - t0) / 1000, set: o.set, warnings: chipWarnings(this.program, m) });
  }

  /**
   * A robustness curve: accuracy (clean, and mean ± 95% CI over trials) at each value of one hw-model
   * knob, `vary` = "key=from:to:steps[:log]" (e.g. "noise.weightGaussian.sigma=0:1:5"). What `nipq sweep` does.
   */
  async sweep(hw: string | HwModel, data: DataSource, vary: string, o: SimulateOptions = {}): Promise<SweepResult> {
    const { hw: base, file: hwFile } = resolveHw(hw, o.set);
    const v = parseVary(vary, base);
    const d = testData(this, data, o);
    const so = studyOf(o);
    const points = await sweepStudy(this.program, base, v, d, so);
    return sweepDoc(v, points, { hw: base.name, hwFile, model: this.file, data: d.name, samples: d.n, trials: so.trials, seed: so.seed, set: o.set ?? [], warnings: chipWarnings(this.program, base) });
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
