// Static activation-memory plan: every activation of an integer program gets a fixed offset in one arena,
// chosen from liveness (a tensor lives from the layer that writes it to the last layer that reads it), so
// tensors whose lifetimes do not overlap share bytes. Flatten is a view of its input (no copy, no buffer).
// Greedy by size, largest first, at the lowest offset that fits (the "greedy by size" offset assignment
// of TFLite's memory planner, tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc).
// "Peak activation bytes" (`nipq inspect`, `nipq simulate`, the API) is this plan's peak with activations
// packed at their bits (peakActivationBytes); the WASM program runner plans its own arena with it (i16
// elements, micro-batches; see src/exec/wasm-program.ts).
//
// Cost: O(L log L) in the number of layers L, whatever the graph (docs/FORMAT.md). The greedy step only
// looks at the buffers that are live at the same time as the one it places, listed once by a sweep over
// the layers: O(L log L + P log W) for P such pairs and W buffers live at once, with P ≤ 64·L there.
// Feed-forward and residual networks have P ≈ L. A graph with more than PAIRS_PER_LAYER·L pairs (thousands of activations
// kept alive at once, which no real network has) is planned by interval colouring instead, in O(L): each
// buffer takes a free slot when it becomes live, a slot is as large as its largest buffer, slots are
// stacked. Both plans never overlap two live buffers.

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
  /** Which placement made the offsets: "greedy-by-size", or "slots" for graphs with too many live pairs. */
  method: "greedy-by-size" | "slots";
}

/** Above this many pairs of simultaneously live buffers per layer, the greedy step gives way to slots. */
export const PAIRS_PER_LAYER = 64;

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
 * Plans one arena for the program's activations. `bytesOf` sizes a layer's output buffer (deployedBytes, or
 * batch × elements × element bytes plus kernel slack); offsets are multiples of `align`.
 */
export function planActivations(p: Program, bytesOf: (spec: TensorSpec, layer: number) => number, align = 1): ActivationPlan {
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
  const buffers = owner.filter((o, i) => o === i); // ascending: a buffer's start is its own index
  // The pairs of buffers live at the same time, by one sweep in start order: each buffer meets the earlier
  // ones still live at its start (an expired buffer leaves the active list once). Counted first, listed
  // only when there are at most PAIRS_PER_LAYER·L of them.
  const sweep = (meet?: (a: number, b: number) => void): boolean => {
    let active: number[] = [];
    let pairs = 0;
    for (const b of buffers) {
      active = active.filter((a) => live[a][1] >= live[b][0]);
      if ((pairs += active.length) > PAIRS_PER_LAYER * L) return false;
      if (meet) for (const a of active) meet(a, b);
      active.push(b);
    }
    return true;
  };
  const offsets = new Array<number>(L).fill(0);
  const roundUp = (n: number) => Math.ceil(n / align) * align;
  const greedy = sweep();
  if (greedy) {
    const overlapping: number[][] = buffers.map(() => []); // indexed by owner through `slot`
    const slot: number[] = [];
    buffers.forEach((b, k) => (slot[b] = k));
    sweep((a, b) => (overlapping[slot[a]].push(b), overlapping[slot[b]].push(a)));
    greedyBySize(buffers, sizes, (b) => overlapping[slot[b]], offsets, roundUp);
  } else slots(buffers, sizes, live, offsets, roundUp);
  for (let i = 0; i < L; i++) offsets[i] = offsets[owner[i]];
  let peakBytes = 0;
  for (const b of buffers) peakBytes = Math.max(peakBytes, offsets[b] + sizes[b]);
  return { owner, offsets, sizes, live, peakBytes, method: greedy ? "greedy-by-size" : "slots" };
}

/**
 * Lower bound of any plan's arena: the largest sum of simultaneously live buffers (how good a plan is;
 * kept out of planActivations so the edge runtime does not carry it). A sweep over layer indices: +size at
 * a buffer's first layer, −size after its last.
 */
export function liveBytesBound(plan: ActivationPlan): number {
  const L = plan.owner.length;
  const delta = new Array<number>(L + 1).fill(0);
  plan.owner.forEach((o, b) => {
    if (o !== b) return;
    delta[plan.live[b][0]] += plan.sizes[b];
    delta[plan.live[b][1] + 1] -= plan.sizes[b];
  });
  let bound = 0;
  for (let t = 0, sum = 0; t < L; t++) bound = Math.max(bound, (sum += delta[t]));
  return bound;
}

/** TFLite's greedy by size: largest first, each at the lowest aligned offset clear of the live buffers placed. */
function greedyBySize(buffers: number[], sizes: number[], overlapping: (b: number) => number[], offsets: number[], roundUp: (n: number) => number): void {
  const placed = new Set<number>();
  for (const b of [...buffers].sort((x, y) => sizes[y] - sizes[x] || x - y)) {
    const conflicts = overlapping(b).filter((q) => placed.has(q)).sort((x, y) => offsets[x] - offsets[y]);
    let off = 0;
    for (const q of conflicts) {
      if (off + sizes[b] <= offsets[q]) break;
      off = Math.max(off, roundUp(offsets[q] + sizes[q]));
    }
    offsets[b] = off;
    placed.add(b);
  }
}

/**
 * Interval colouring: in start order each buffer takes a free slot (the one freed last) or a new one; a
 * slot is freed after the last layer of its buffer; slots are stacked, each as large as its largest buffer.
 */
function slots(buffers: number[], sizes: number[], live: [number, number][], offsets: number[], roundUp: (n: number) => number): void {
  const slotOf: number[] = [];
  const slotBytes: number[] = [];
  const free: number[] = [];
  const freedAfter: number[][] = []; // freedAfter[t]: the slots whose buffer is last live at layer t
  let t = 0;
  for (const b of buffers) {
    for (; t < live[b][0]; t++) for (const s of freedAfter[t] ?? []) free.push(s);
    const s = free.length ? free.pop()! : slotBytes.push(0) - 1;
    slotOf[b] = s;
    slotBytes[s] = Math.max(slotBytes[s], sizes[b]);
    (freedAfter[live[b][1]] ??= []).push(s);
  }
  const base: number[] = [];
  for (let s = 0, off = 0; s < slotBytes.length; s++) {
    base.push(off);
    off = roundUp(off + slotBytes[s]);
  }
  for (const b of buffers) offsets[b] = base[slotOf[b]];
}
