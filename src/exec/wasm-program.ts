// Whole-program execution in linear memory on the WASM engine (src/kernels/wasm/engine.ts): every layer prepared once, activations in one arena laid out
// by the static liveness plan (src/exec/memplan.ts), i16 elements. Only the u8 images go in and the int16
// logits come out; nothing is converted between layers. Same results as interpretLayers on the reference.

import { planActivations } from "./memplan.js";
import type { RunResult } from "./interpret.js";
import { argmaxRows, inputTensor } from "../kernels/reference/ops.js";
import { sizeOf, type Program } from "../ir/types.js";
import { SLACK } from "../kernels/wasm/arena.js";
import type { KernelEngine } from "../kernels/wasm/engine.js";

/**
 * Images run through the whole network at a time. A batch is processed in micro-batches, so the
 * activation arena is sized for 2 images whatever --batch is (cnn-s: 125 KB instead of 4 MB at batch 64)
 * and stays cache-resident. Speed: micro-batches of 1, 2, 4 and 64 measured equal within this machine's
 * noise on cnn-s (docs/RESULTS.md). Results do not depend on it: every op is per sample.
 */
export const MICRO_BATCH = 2;

export class WasmProgram {
  private readonly micro: number;
  private readonly base: number;
  private readonly staging: number;
  private readonly offsets: number[];
  readonly arenaBytes: number;

  /**
   * Prepares every layer of a valid program and allocates the arena for micro-batches of min(maxBatch,
   * microBatch) images. run() takes batches of any size; the batch limit and the images' length are the
   * callers' to check (src/exec/runner.ts compileProgram, the edge runtime's predict).
   */
  constructor(
    readonly engine: KernelEngine,
    readonly program: Program,
    maxBatch: number,
    microBatch = MICRO_BATCH,
  ) {
    engine.pinned = true;
    const layers = program.layers;
    layers.forEach((l, i) => {
      if (i > 0 && l.op !== "flatten") engine.prepare(l, layers[l.inputs[0]].out);
    });
    this.micro = Math.min(maxBatch, microBatch);
    const plan = planActivations(program, (spec) => this.micro * sizeOf(spec.shape) * 2 + SLACK, 16);
    this.offsets = plan.offsets;
    this.arenaBytes = plan.peakBytes;
    this.base = engine.arena.alloc(plan.peakBytes, `the activations of ${program.name} for batch ${this.micro}`);
    this.staging = engine.arena.alloc(this.micro * sizeOf(layers[0].out.shape), `the input images of ${program.name}`);
  }

  /**
   * Runs n images (u8, n × input size) and returns the int16 logits and the predictions. (Where the time
   * goes, bench/kernels/model.ts times each layer's engine.exec: no hook here, which the edge runtime
   * would carry.)
   */
  run(images: Uint8Array, n: number): RunResult {
    const layers = this.program.layers;
    const inSize = sizeOf(layers[0].out.shape);
    const classes = sizeOf(layers[layers.length - 1].out.shape);
    const logits = new Int16Array(n * classes);
    for (let b = 0; b < n; b += this.micro) {
      const nb = Math.min(this.micro, n - b);
      logits.set(this.runMicro(images.subarray(b * inSize, (b + nb) * inSize), nb), b * classes);
    }
    return { n, classes, logits, predictions: argmaxRows(logits, n, classes) };
  }

  /** One micro-batch (n ≤ this.micro) through every layer; returns its int16 logits. */
  private runMicro(images: Uint8Array, n: number): Int16Array {
    const { engine, program } = this;
    const layers = program.layers;
    const inSize = sizeOf(layers[0].out.shape);
    const ptr = (i: number) => this.base + this.offsets[i];
    const input = layers[0];
    // Format 2's input table maps each channel's u8 pixel to the first quantized value (DESIGN.md §3).
    if (input.op === "input" && input.lut) engine.arena.i16(ptr(0), n * inSize).set(inputTensor(images, input.out.shape[2], input.lut));
    else {
      engine.arena.bytes().set(images, this.staging);
      engine.k.u8_to_s16(this.staging, n * inSize, ptr(0));
    }
    for (let i = 1; i < layers.length; i++) {
      const l = layers[i];
      if (l.op === "flatten") continue;
      engine.exec(l, l.inputs.map((j) => layers[j].out), l.inputs.map(ptr), n, ptr(i), n * sizeOf(l.out.shape));
    }
    const classes = sizeOf(layers[layers.length - 1].out.shape);
    return Int16Array.from(engine.arena.i16(ptr(layers.length - 1), n * classes));
  }
}
