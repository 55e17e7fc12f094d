// Executes an integer program over a batch of u8 images on any LayerKernels backend. Activations that no
// later layer reads are dropped as soon as their last reader has run (liveness from the program order).

import type { Activation, LayerKernels } from "../kernels/backend.js";
import { sizeOf, type Program } from "../ir/types.js";
import { argmaxRows, inputTensor } from "../kernels/reference/ops.js";
import { MemoryLimitError } from "../errors.js";
import { MAX_ACTIVATION_BYTES } from "../limits.js";

/** The result of running a program: the output integers (int16 logits) and argmax predictions. */
export interface RunResult {
  n: number;
  classes: number;
  logits: Int16Array;
  predictions: Int32Array;
}

/** For each layer, the index of the last layer that reads its output (itself if none). */
export function lastUse(program: Program): number[] {
  const last = program.layers.map((_, i) => i);
  program.layers.forEach((l, i) => l.inputs.forEach((j) => (last[j] = Math.max(last[j], i))));
  return last;
}

/**
 * Checks before a batch runs that its activations fit MAX_ACTIVATION_BYTES (as the WASM engine's arena
 * does): int32 elements, every activation live from its layer to its last reader (all of them with
 * `keepAll`), plus one more output-sized buffer while a layer runs (the accumulators before requant).
 * Throws MemoryLimitError naming the first layer that does not fit.
 */
export function checkActivationMemory(program: Program, n: number, keepAll = false, limit = MAX_ACTIVATION_BYTES): void {
  const layers = program.layers;
  const last = lastUse(program);
  const bytes = layers.map((l) => n * sizeOf(l.out.shape) * 4); // a flatten is a view: counted once, its input dropped
  let live = bytes[0];
  for (let i = 1; i < layers.length; i++) {
    const need = live + (layers[i].op === "flatten" ? 0 : 2 * bytes[i]);
    if (need > limit) throw new MemoryLimitError(`layers[${i}] "${layers[i].name}"`, need, limit, n);
    live += bytes[i];
    if (!keepAll) for (const j of layers[i].inputs) if (last[j] === i) live -= bytes[j];
  }
}

/** A RangeError unless `images` holds exactly n of the program's inputs (a caller's mistake, not bad input). */
export function checkImageBytes(program: Program, images: Uint8Array, n: number): void {
  const expect = n * sizeOf(program.layers[0].out.shape);
  if (images.length !== expect) throw new RangeError(`images: expected ${expect} bytes for ${n} samples, found ${images.length}`);
}

/**
 * Runs `program` over n images (u8, n × H × W × C as the input layer's shape) and returns every layer's
 * output when `keepAll`, else only the final one. The program must be valid (see validateProgram).
 */
export function interpretLayers(program: Program, k: LayerKernels, images: Uint8Array, n: number, keepAll = false): Activation[] {
  const layers = program.layers;
  const input = layers[0];
  checkImageBytes(program, images, n);
  checkActivationMemory(program, n, keepAll);
  const acts: (Activation | undefined)[] = new Array(layers.length);
  acts[0] = { n, spec: input.out, data: inputTensor(images, input.out.shape[2], input.op === "input" ? input.lut : undefined) };
  const last = lastUse(program);
  for (let i = 1; i < layers.length; i++) {
    const l = layers[i];
    const x = acts[l.inputs[0]]!;
    let data: Int32Array;
    switch (l.op) {
      case "conv2d": data = k.conv2d(l, x); break;
      case "dense": data = k.dense(l, x); break;
      case "maxpool": data = k.maxpool(l, x); break;
      case "avgpool": data = k.avgpool(l, x); break;
      case "gap": data = k.gap(l, x); break;
      case "add": data = k.add(l, x, acts[l.inputs[1]]!); break;
      case "flatten": data = x.data; break;
      case "input": throw new Error(`layers[${i}]: a second input layer`);
    }
    acts[i] = { n, spec: l.out, data };
    if (!keepAll) for (const j of l.inputs) if (last[j] === i) acts[j] = undefined;
  }
  return keepAll ? (acts as Activation[]) : [acts[layers.length - 1]!];
}

/** Runs a program over a batch and returns int16 logits and predictions. */
export function runProgram(program: Program, k: LayerKernels, images: Uint8Array, n: number): RunResult {
  const [out] = interpretLayers(program, k, images, n).slice(-1);
  const classes = sizeOf(out.spec.shape);
  return { n, classes, logits: Int16Array.from(out.data), predictions: argmaxRows(out.data, n, classes) };
}
