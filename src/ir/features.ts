// Which parts of a program need .qmodel format version 2 (DESIGN.md §3 "Imported models"), and the one guard
// that keeps them away from executors that do not implement them yet. A program without any of these is a
// format-1 program: it is written as version 1, byte for byte as before, and every backend runs it.

import { NipqInputError } from "../errors.js";
import type { Program, TensorSpec } from "./types.js";

/** One use of a format-2 feature: where (a field path as the .qmodel reader names it) and what. */
export interface Format2Use {
  field: string;
  what: string;
}

function tensorUses(f: string, t: TensorSpec, out: Format2Use[]): void {
  if (t.zero !== undefined && t.zero !== 0) out.push({ field: `${f}.zero`, what: `zero point ${t.zero}` });
  if (t.fullRange) out.push({ field: `${f}.fullRange`, what: "a full-range signed tensor" });
}

/** Every use of a format-2 feature in `p`, in layer order (empty for a format-1 program). */
export function format2Uses(p: Program): Format2Use[] {
  const out: Format2Use[] = [];
  p.layers.forEach((l, i) => {
    const f = `layers[${i}]`;
    tensorUses(`${f}.out`, l.out, out);
    if (l.op === "input" && l.lut) out.push({ field: `${f}.lut`, what: "an input lookup table" });
    if ((l.op === "conv2d" || l.op === "dense") && l.wFullRange) out.push({ field: `${f}.wFullRange`, what: "full-range weights" });
    if ((l.op === "conv2d" || l.op === "maxpool" || l.op === "avgpool") && Array.isArray(l.padding)) out.push({ field: `${f}.padding`, what: `explicit pads [${l.padding.join(", ")}]` });
  });
  return out;
}

/** The .qmodel version a program is written with: 2 when it uses any format-2 feature, else 1. */
export function formatVersion(p: Program): 1 | 2 {
  return format2Uses(p).length > 0 ? 2 : 1;
}

/**
 * The guard of the executors that run format-1 programs only (the simulator) until they implement format 2
 * (issue 15b): throws a one-line NipqInputError (CLI exit 2) naming the
 * first format-2 feature, instead of letting them miscompute. `who` names the executor, `file` the model.
 */
export function requireFormat1(p: Program, who: string, file = p.name): void {
  const uses = format2Uses(p);
  if (uses.length === 0) return;
  const u = uses[0];
  const layer = p.layers[Number(/^layers\[(\d+)\]/.exec(u.field)![1])];
  const more = uses.length > 1 ? ` (and ${uses.length - 1} more format-2 feature${uses.length > 2 ? "s" : ""})` : "";
  throw new NipqInputError(`${file}: ${who} cannot run .qmodel format 2 yet (issue 15b): layer "${layer.name}" has ${u.what} (${u.field})${more}; use the reference backend`);
}
