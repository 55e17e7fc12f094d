// Static activation-memory plan: every activation of an integer program gets a fixed offset in one arena,
// chosen from liveness (a tensor lives from the layer that writes it to the last layer that reads it), so
// tensors whose lifetimes do not overlap share bytes. Flatten is a view of its input (no copy, no buffer).
// Greedy by size, largest first, at the lowest offset that fits (the "greedy by size" offset assignment
// of TFLite's memory planner, tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc).
// "Peak activation bytes" (`nipq inspect`, `nipq simulate`, the API) is this plan's peak with activations
// packed at their bits (peakActivationBytes); the WASM program runner plans its own arena with it (i16
// elements, micro-batches; see src/kernels/wasm/program.ts).

import { sizeOf, type Program, type TensorSpec } from "../ir/types.js";
import { lastUse } from "./interpret.js";

export interface ActivationPlan {
  /** For each layer, the layer whose buffer holds its output (itself, or the input of a flatten chain). */
  owner: number[];
  /** Byte offset of each layer's output within the arena (the owner's offset). */
  offsets: number[];
  /** Bytes of each buffer (0 for layers that own none). */
  sizes: number[];
  /** [first, last] layer index during which each owned buffer is live. */
  live: [number, number][];
  /** Arena bytes: max over buffers of offset + size. */
  peakBytes: number;
  /** Lower bound of any plan: the largest sum of simultaneously live buffers. */
  liveBytesBound: number;
}

/** Bytes of a tensor at a byte-aligned width: ceil(bits / 8) per element (u8/s8 activations, s16 logits). */
export function deployedBytes(spec: TensorSpec): number {
  return sizeOf(spec.shape) * Math.ceil(spec.bits / 8);
}

/** Bytes of an activation tensor packed at its bit width: ceil(elements·bits/8). */
export function packedActivationBytes(spec: TensorSpec): number {
  return Math.ceil((sizeOf(spec.shape) * spec.bits) / 8);
}

/** Peak activation bytes of one inference: the liveness plan with activations packed at their bits. */
export function peakActivationBytes(p: Program): number {
  return planActivations(p, packedActivationBytes).peakBytes;
}

/**
 * Plans one arena for the program's activations. `bytesOf` sizes a layer's output buffer (e.g. batch ×
 * elements × element bytes, plus kernel slack); offsets are multiples of `align`.
 */
export function planActivations(p: Program, bytesOf: (spec: TensorSpec, layer: number) => number = deployedBytes, align = 1): ActivationPlan {
  const L = p.layers.length;
  const owner = p.layers.map((_, i) => i);
  p.layers.forEach((l, i) => {
    if (l.op === "flatten") owner[i] = owner[l.inputs[0]];
  });
  const last = lastUse(p);
  const sizes = new Array<number>(L).fill(0);
  const live: [number, number][] = p.layers.map((_, i) => [i, i]);
  for (let i = 0; i < L; i++) {
    const o = owner[i];
    if (o === i) sizes[i] = bytesOf(p.layers[i].out, i);
    live[o][1] = Math.max(live[o][1], last[i], i);
  }
  const order = owner.filter((o, i) => o === i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const offsets = new Array<number>(L).fill(0);
  const placed: number[] = [];
  const overlaps = (a: number, b: number) => live[a][0] <= live[b][1] && live[b][0] <= live[a][1];
  for (const b of order) {
    const conflicts = placed.filter((q) => overlaps(q, b)).sort((x, y) => offsets[x] - offsets[y]);
    let off = 0;
    for (const q of conflicts) {
      if (off + sizes[b] <= offsets[q]) break;
      off = Math.max(off, Math.ceil((offsets[q] + sizes[q]) / align) * align);
    }
    offsets[b] = off;
    placed.push(b);
  }
  for (let i = 0; i < L; i++) offsets[i] = offsets[owner[i]];
  let peakBytes = 0;
  for (const b of placed) peakBytes = Math.max(peakBytes, offsets[b] + sizes[b]);
  let liveBytesBound = 0;
  for (let t = 0; t < L; t++) {
    let sum = 0;
    for (const b of placed) if (live[b][0] <= t && t <= live[b][1]) sum += sizes[b];
    liveBytesBound = Math.max(liveBytesBound, sum);
  }
  return { owner, offsets, sizes, live, peakBytes, liveBytesBound };
}
