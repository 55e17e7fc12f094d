// Static activation-memory plan: every activation of an integer program gets a fixed offset in one arena,
// chosen from liveness (a tensor lives from the layer that writes it to the last layer that reads it), so
// tensors whose lifetimes do not overlap share bytes. Flatten is a view of its input (no copy, no buffer).
// Greedy by size, largest first, at the lowest offset that fits (the "greedy by size" offset assignment
// of TFLite's memory planner, tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc).
// `nipq inspect` reports the plan's peak; the WASM program runner allocates exactly this arena.
//
// Cost: O(L log L) in the number of layers L, whatever the graph (docs/FORMAT.md). The greedy step only
// looks at the buffers that are live at the same time as the one it places, listed once by a sweep over
// the layers; that is O(L + P log W) for P such pairs and W buffers live at once. Feed-forward and
// residual networks have P ≈ L. A graph with more than PAIRS_PER_LAYER·L pairs (thousands of activations
// kept alive at once, which no real network has) is planned by interval colouring instead: each buffer
// takes a free slot when it becomes live (a min-heap of slot numbers), a slot is as large as its largest
// buffer, slots are stacked. Both plans never overlap two live buffers.

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
  /** Which placement made the offsets: "greedy-by-size", or "slots" for graphs with too many live pairs. */
  method: "greedy-by-size" | "slots";
}

/** Above this many pairs of simultaneously live buffers per layer, the greedy step gives way to slots. */
export const PAIRS_PER_LAYER = 64;

/** Bytes per element at its deployed width: ceil(bits / 8) (u8/s8 activations, s16 logits). */
export function deployedBytes(spec: TensorSpec): number {
  return sizeOf(spec.shape) * Math.ceil(spec.bits / 8);
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
  const buffers = owner.filter((o, i) => o === i); // ascending: a buffer's start is its own index
  const overlapping = overlaps(buffers, live, PAIRS_PER_LAYER * L);
  const offsets = new Array<number>(L).fill(0);
  const roundUp = (n: number) => Math.ceil(n / align) * align;
  if (overlapping) greedyBySize(buffers, sizes, overlapping, offsets, roundUp);
  else slots(buffers, sizes, live, offsets, roundUp);
  for (let i = 0; i < L; i++) offsets[i] = offsets[owner[i]];
  let peakBytes = 0;
  for (const b of buffers) peakBytes = Math.max(peakBytes, offsets[b] + sizes[b]);
  // The largest live sum, by a sweep over layer indices (+size at a buffer's first layer, −size after its last).
  const delta = new Array<number>(L + 1).fill(0);
  for (const b of buffers) {
    delta[live[b][0]] += sizes[b];
    delta[live[b][1] + 1] -= sizes[b];
  }
  let liveBytesBound = 0;
  for (let t = 0, sum = 0; t < L; t++) liveBytesBound = Math.max(liveBytesBound, (sum += delta[t]));
  return { owner, offsets, sizes, live, peakBytes, liveBytesBound, method: overlapping ? "greedy-by-size" : "slots" };
}

/**
 * For each buffer, the buffers live at the same time (both directions), by one sweep in start order;
 * null when there are more than `maxPairs` such pairs (counted first, in O(L)). O(L + pairs).
 */
function overlaps(buffers: number[], live: [number, number][], maxPairs: number): Map<number, number[]> | null {
  // Buffer b overlaps every earlier-starting buffer still live at its start: (live at start(b)) − 1 of them.
  const delta = new Array<number>(live.length + 1).fill(0);
  for (const b of buffers) {
    delta[live[b][0]]++;
    delta[live[b][1] + 1]--;
  }
  const liveAt: number[] = [];
  for (let t = 0, n = 0; t < live.length; t++) liveAt.push((n += delta[t]));
  let pairs = 0;
  for (const b of buffers) pairs += liveAt[live[b][0]] - 1;
  if (pairs > maxPairs) return null;
  const out = new Map<number, number[]>(buffers.map((b) => [b, []]));
  let active: number[] = [];
  for (const b of buffers) {
    const start = live[b][0];
    active = active.filter((a) => live[a][1] >= start); // each expired buffer leaves once
    for (const a of active) {
      out.get(a)!.push(b);
      out.get(b)!.push(a);
    }
    active.push(b);
  }
  return out;
}

/** TFLite's greedy by size: largest first, each at the lowest aligned offset clear of the live buffers placed. */
function greedyBySize(buffers: number[], sizes: number[], overlapping: Map<number, number[]>, offsets: number[], roundUp: (n: number) => number): void {
  const placed = new Set<number>();
  for (const b of [...buffers].sort((x, y) => sizes[y] - sizes[x] || x - y)) {
    const conflicts = overlapping.get(b)!.filter((q) => placed.has(q)).sort((x, y) => offsets[x] - offsets[y]);
    let off = 0;
    for (const q of conflicts) {
      if (off + sizes[b] <= offsets[q]) break;
      off = Math.max(off, roundUp(offsets[q] + sizes[q]));
    }
    offsets[b] = off;
    placed.add(b);
  }
}

/** Interval colouring: in start order each buffer takes the lowest free slot; slots are stacked by size. */
function slots(buffers: number[], sizes: number[], live: [number, number][], offsets: number[], roundUp: (n: number) => number): void {
  const slotOf = new Map<number, number>();
  const slotBytes: number[] = [];
  const busyUntil: number[] = []; // last layer of the buffer a busy slot holds
  const free = new MinHeap((s) => s);
  const busy = new MinHeap((s) => busyUntil[s]);
  for (const b of buffers) {
    while (busy.size && busyUntil[busy.peek()] < live[b][0]) free.push(busy.pop());
    const s = free.size ? free.pop() : slotBytes.push(0) - 1;
    slotOf.set(b, s);
    slotBytes[s] = Math.max(slotBytes[s], sizes[b]);
    busyUntil[s] = live[b][1];
    busy.push(s);
  }
  const base: number[] = [];
  for (let s = 0, off = 0; s < slotBytes.length; s++) {
    base.push(off);
    off = roundUp(off + slotBytes[s]);
  }
  for (const b of buffers) offsets[b] = base[slotOf.get(b)!];
}

/** A binary min-heap of items ordered by a numeric key (read when an item is pushed or moved). */
class MinHeap {
  private a: number[] = [];
  constructor(private readonly key: (item: number) => number) {}
  get size(): number {
    return this.a.length;
  }
  peek(): number {
    return this.a[0];
  }
  push(v: number): void {
    const { a, key } = this;
    let i = a.push(v) - 1;
    while (i > 0 && key(a[(i - 1) >> 1]) > key(a[i])) {
      [a[i], a[(i - 1) >> 1]] = [a[(i - 1) >> 1], a[i]];
      i = (i - 1) >> 1;
    }
  }
  pop(): number {
    const { a, key } = this;
    const top = a[0];
    const end = a.pop()!;
    if (a.length) {
      a[0] = end;
      for (let i = 0; ; ) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && key(a[l]) < key(a[m])) m = l;
        if (r < a.length && key(a[r]) < key(a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
