// Which parts of a program need .qmodel format version 2 (DESIGN.md §3 "Imported models"). A program without
// any of these is a format-1 program: it is written as version 1, byte for byte as before. Every backend runs
// both versions; the simulator's WASM fast path (src/sim/chip/fastpath.ts) takes format 1 only.

import type { Program } from "./types.js";

/** One use of a format-2 feature: where (a field path as the .qmodel reader names it) and what. */
export interface Format2Use {
  field: string;
  what: string;
}

/** Every use of a format-2 feature in `p`, in layer order (empty for a format-1 program). */
export function format2Uses(p: Program): Format2Use[] {
  const out: Format2Use[] = [];
  p.layers.forEach((l, i) => {
    const use = (k: string, what: string) => out.push({ field: `layers[${i}].${k}`, what });
    const t = l.out;
    if (t.zero !== undefined && t.zero !== 0) use("out.zero", `zero point ${t.zero}`);
    if (t.fullRange) use("out.fullRange", "a full-range signed tensor");
    if (l.op === "input" && l.lut) use("lut", "an input lookup table");
    if ((l.op === "conv2d" || l.op === "dense") && l.wFullRange) use("wFullRange", "full-range weights");
    if ((l.op === "conv2d" || l.op === "maxpool" || l.op === "avgpool") && Array.isArray(l.padding)) use("padding", `explicit pads [${l.padding.join(", ")}]`);
  });
  return out;
}

/** The .qmodel version a program is written with: 2 when it uses any format-2 feature, else 1. */
export function formatVersion(p: Program): 1 | 2 {
  return format2Uses(p).length > 0 ? 2 : 1;
}
