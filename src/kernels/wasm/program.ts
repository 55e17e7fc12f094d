// Whole-program execution in linear memory: every layer prepared once, activations in one arena laid out
// by the static liveness plan (src/exec/memplan.ts), i16 elements. Only the u8 images go in and the int16
// logits come out; nothing is converted between layers. Same results as interpretLayers on the reference.

import { planActivations } from "../../exec/memplan.js";
import type { RunResult } from "../../exec/interpret.js";
import { argmaxRows } from "../reference/ops.js";
import { sizeOf, type Program } from "../../ir/types.js";
import { SLACK } from "./arena.js";
import type { WasmEngine } from "./engine.js";

export class WasmProgram {
  private readonly base: number;
  private readonly staging: number;
  private readonly offsets: number[];
  readonly arenaBytes: number;

  /** Prepares every layer of a valid program and allocates the arena for batches of up to maxBatch. */
  constructor(
    readonly engine: WasmEngine,
    readonly program: Program,
    readonly maxBatch: number,
  ) {
    const layers = program.layers;
    layers.forEach((l, i) => {
      if (i > 0 && l.op !== "flatten") engine.prepare(l, layers[l.inputs[0]].out);
    });
    const plan = planActivations(program, (spec) => maxBatch * sizeOf(spec.shape) * 2 + SLACK, 16);
    this.offsets = plan.offsets;
    this.arenaBytes = plan.peakBytes;
    this.base = engine.arena.alloc(plan.peakBytes, `the activations of ${program.name} for batch ${maxBatch}`);
    this.staging = engine.arena.alloc(maxBatch * sizeOf(layers[0].out.shape), `the input images of ${program.name}`);
  }

  /** Runs n ≤ maxBatch images (u8, n × input size) and returns the int16 logits and the predictions. */
  run(images: Uint8Array, n: number): RunResult {
    return this.runTimed(images, n);
  }

  /**
   * As run; with `times` (one slot per layer), adds each layer's wall-clock milliseconds to it — where the
   * time goes (bench/kernels/model.ts). Slot 0 is the u8 → i16 input conversion.
   */
  runTimed(images: Uint8Array, n: number, times?: Float64Array): RunResult {
    const { engine, program } = this;
    const layers = program.layers;
    if (n > this.maxBatch) throw new RangeError(`batch ${n} exceeds the prepared maximum ${this.maxBatch}`);
    const inSize = sizeOf(layers[0].out.shape);
    if (images.length !== n * inSize) throw new RangeError(`images: expected ${n * inSize} bytes for ${n} samples, found ${images.length}`);
    engine.arena.bytes().set(images, this.staging);
    const ptr = (i: number) => this.base + this.offsets[i];
    let t = times ? performance.now() : 0;
    let prev = 0; // the layer the time since t belongs to
    engine.k.u8_to_s16(this.staging, n * inSize, ptr(0));
    for (let i = 1; i < layers.length; i++) {
      const l = layers[i];
      if (l.op === "flatten") continue;
      if (times) {
        const now = performance.now();
        times[prev] += now - t;
        t = now;
        prev = i;
      }
      engine.exec(l, layers[l.inputs[0]].out, l.inputs.map(ptr), n, ptr(i), n * sizeOf(l.out.shape));
    }
    if (times) times[prev] += performance.now() - t;
    const out = layers[layers.length - 1].out;
    const classes = sizeOf(out.shape);
    const logits = Int16Array.from(engine.arena.i16(ptr(layers.length - 1), n * classes));
    return { n, classes, logits, predictions: argmaxRows(logits, n, classes) };
  }
}
