// Running a whole program over many images: the one batching loop every front end uses (`nipq run`, the
// API, the simulator's execution paths, the pool's jobs), and the choice of whole-program runner for a
// backend — WasmProgram (./wasm-program.ts) for the WASM kernels, the interpreter (./interpret.ts) for
// any other LayerKernels.

import { NipqInputError } from "../errors.js";
import { sizeOf, type Program } from "../ir/types.js";
import { MAX_BATCH } from "../limits.js";
import type { LayerKernels } from "../kernels/backend.js";
import { WasmKernels } from "../kernels/wasm/backend.js";
import { checkImageBytes, runProgram, type RunResult } from "./interpret.js";
import { WasmProgram } from "./wasm-program.js";

/** int16 logits (n × classes; any integer array holding them) and the argmax of each row. */
export interface BatchOutput {
  logits: ArrayLike<number>;
  predictions: Int32Array;
}

/** A program prepared on a backend: runs batches of up to its maximum. */
export interface ProgramRunner {
  /** The backend's name ("reference", "wasm-simd", …). */
  readonly name: string;
  run(images: Uint8Array, n: number): RunResult;
}

/**
 * Prepares `program` on `kernels` for batches of up to `maxBatch` images: the WASM kernels get the
 * whole-program runner in linear memory (prepared once, activations never leave the arena), any other
 * backend the interpreter.
 */
export function compileProgram(program: Program, kernels: LayerKernels, maxBatch: number): ProgramRunner {
  if (kernels instanceof WasmKernels) {
    const w = new WasmProgram(kernels.engine, program, maxBatch);
    const run = (images: Uint8Array, n: number) => {
      if (n > maxBatch) throw new RangeError(`batch ${n} exceeds the prepared maximum ${maxBatch}`);
      checkImageBytes(program, images, n);
      return w.run(images, n);
    };
    return { name: kernels.name, run };
  }
  return { name: kernels.name, run: (images, n) => runProgram(program, kernels, images, n) };
}

/** Bytes per image the program reads (its input layer's [H, W, C], u8). */
export function inputBytes(program: Program): number {
  return sizeOf(program.layers[0].out.shape);
}

/** Logits per image the program writes (its last layer's length). */
export function classesOf(program: Program): number {
  return sizeOf(program.layers[program.layers.length - 1].out.shape);
}

/**
 * The number of images in `images` for `program`, or a NipqInputError when the bytes are not a whole
 * number of the program's inputs (`what` names the source in the message).
 */
export function imageCount(program: Program, images: Uint8Array, what = "images"): number {
  const per = inputBytes(program);
  const n = images.length / per;
  if (!Number.isInteger(n)) throw new NipqInputError(`${what}: expected a multiple of ${per} bytes (${program.layers[0].out.shape.join("×")} u8 per image, the model's input), found ${images.length}`);
  return n;
}

/** `batch` when it is an integer in [1, MAX_BATCH], else a NipqInputError. */
export function checkBatch(batch: number): number {
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new NipqInputError(`batch: expected an integer in [1, ${MAX_BATCH}], found ${batch}`);
  return batch;
}

/** The batches [first, first + n) of at most `batch` images that cover [from, to). */
export function batchRanges(from: number, to: number, batch: number): { first: number; n: number }[] {
  checkBatch(batch);
  const out: { first: number; n: number }[] = [];
  for (let b = from; b < to; b += batch) out.push({ first: b, n: Math.min(batch, to - b) });
  return out;
}

/**
 * Runs `run` on every batch of the images of [from, to) (default: all of them; `first` is the image's index in
 * `images`, which the simulator keys its per-inference draws by) and gathers the logits and predictions in
 * image order. `images` holds `per` bytes per image.
 */
export function runBatched(images: Uint8Array, per: number, classes: number, batch: number, run: (images: Uint8Array, n: number, first: number) => BatchOutput, from = 0, to = images.length / per): { logits: Int16Array; predictions: Int32Array } {
  const logits = new Int16Array((to - from) * classes);
  const predictions = new Int32Array(to - from);
  for (const { first, n } of batchRanges(from, to, batch)) {
    const r = run(images.subarray(first * per, (first + n) * per), n, first);
    logits.set(r.logits, (first - from) * classes);
    predictions.set(r.predictions, first - from);
  }
  return { logits, predictions };
}

/** A prepared program's outputs over labelled images, how many are right, and how fast it went. */
export interface Evaluated {
  logits: Int16Array;
  predictions: Int32Array;
  correct: number;
  imagesPerSecond: number;
}

/** Runs `runner` (prepared for batches of `batch`) over every image and counts the predictions equal to the labels. */
export function evaluate(program: Program, runner: ProgramRunner, images: Uint8Array, labels: Uint8Array | Uint16Array, batch: number): Evaluated {
  const t0 = performance.now();
  const r = runBatched(images, inputBytes(program), classesOf(program), batch, (x, n) => runner.run(x, n));
  const seconds = (performance.now() - t0) / 1000;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (r.predictions[i] === labels[i]) correct++;
  return { ...r, correct, imagesPerSecond: labels.length / Math.max(seconds, 1e-9) };
}
