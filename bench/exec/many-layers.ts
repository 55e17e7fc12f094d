// Synthetic programs with many layers, for the activation planner (src/exec/memplan.ts): valid integer
// programs of any length, in two shapes. Used by bench/exec/memplan.ts and the planner's tests.
//
//   chain   input → L−3 max pools (1×1, a chain) → flatten → dense: each activation is read by the next
//           layer only (two live at a time), like every feed-forward network;
//   fanout  input → K max pools all reading the input → a chain of adds that consumes them one by one:
//           activation j stays live until add j, so about K are live at once (the planner's worst case).

import { lastUse } from "../../src/exec/interpret.js";
import { deployedBytes } from "../../src/exec/memplan.js";
import type { Layer, Program, TensorSpec } from "../../src/ir/types.js";

const act = (shape: number[]): TensorSpec => ({ shape, bits: 8, signed: false, scale: 1 / 255 });

function head(hw: number, c: number): Layer[] {
  return [{ op: "input", name: "input", inputs: [], out: act([hw, hw, c]) }];
}

/** flatten + dense to 10 int16 logits after layer `from` (whose output is [hw, hw, c]). */
function tail(layers: Layer[], from: number, n: number): Program {
  layers.push({ op: "flatten", name: "flatten", inputs: [from], out: act([n]) });
  layers.push({
    op: "dense", name: "logits", inputs: [layers.length - 1], out: { shape: [10], bits: 16, signed: true, scale: 1 / 64 },
    wBits: 2, weights: new Int8Array(10 * n), wScale: new Float64Array(10).fill(0.01), bias: new Int32Array(10),
    rq: { m: new Int32Array(10).fill(2 ** 30), s: new Int32Array(10).fill(8), lo: -32767, hi: 32767 },
  });
  return { name: "many-layers", producer: "bench/exec/many-layers.ts", layers };
}

/** A valid program of exactly `L` layers (L ≥ 4) whose activations form a chain. */
export function chainProgram(L: number, hw = 4, c = 2): Program {
  const layers = head(hw, c);
  for (let i = 1; i <= L - 3; i++) layers.push({ op: "maxpool", name: `pool${i}`, inputs: [i - 1], out: act([hw, hw, c]), kernel: [1, 1], stride: [1, 1], padding: "valid" });
  return tail(layers, L - 3, hw * hw * c);
}

/** A valid program of 2K + 2 layers in which about K activations are live at once. */
export function fanoutProgram(K: number, hw = 4, c = 2): Program {
  const layers = head(hw, c);
  for (let j = 1; j <= K; j++) layers.push({ op: "maxpool", name: `pool${j}`, inputs: [0], out: act([hw, hw, c]), kernel: [1, 1], stride: [1, 1], padding: "valid" });
  let prev = 1;
  for (let j = 2; j <= K; j++) {
    layers.push({ op: "add", name: `add${j}`, inputs: [prev, j], out: act([hw, hw, c]), ma: 2 ** 29, mb: 2 ** 29, s: 30, lo: 0, hi: 255 });
    prev = layers.length - 1;
  }
  return tail(layers, prev, hw * hw * c);
}

/**
 * The activation planner as it was before (git 320690e): the same greedy by size, but every buffer tested
 * against every buffer placed before it, O(L²). The oracle of the planner's tests, the peer of its benchmark.
 */
export function naiveOffsets(p: Program, bytesOf: (spec: TensorSpec) => number = deployedBytes, align = 1): number[] {
  const L = p.layers.length;
  const owner = p.layers.map((_, i) => i);
  p.layers.forEach((l, i) => l.op === "flatten" && (owner[i] = owner[l.inputs[0]]));
  const last = lastUse(p);
  const sizes = new Array<number>(L).fill(0);
  const live: [number, number][] = p.layers.map((_, i) => [i, i]);
  for (let i = 0; i < L; i++) {
    if (owner[i] === i) sizes[i] = bytesOf(p.layers[i].out);
    live[owner[i]][1] = Math.max(live[owner[i]][1], last[i], i);
  }
  const order = owner.filter((o, i) => o === i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  const offsets = new Array<number>(L).fill(0);
  const placed: number[] = [];
  for (const b of order) {
    const conflicts = placed.filter((q) => live[q][0] <= live[b][1] && live[b][0] <= live[q][1]).sort((x, y) => offsets[x] - offsets[y]);
    let off = 0;
    for (const q of conflicts) {
      if (off + sizes[b] <= offsets[q]) break;
      off = Math.max(off, Math.ceil((offsets[q] + sizes[q]) / align) * align);
    }
    offsets[b] = off;
    placed.push(b);
  }
  return owner.map((o) => offsets[o]);
}
