// A hw-model resolved once for running programs on it: the derived defaults every part of the simulator
// used to work out for itself (the K-tile of the partial sums, the rounding as the kernels' mode, whether
// the requant is the spec's, which noise sources are on), and the check that a program's bit-widths are
// ones the chip runs.

import { NipqInputError } from "../../errors.js";
import { accumulatorBound } from "../../ir/accbound.js";
import { isWeightLayer, type Program } from "../../ir/types.js";
import { activeSources, type NoiseSource } from "../noise/sources.js";
import type { HwModel } from "./hwmodel.js";

/** The sim kernels' rounding modes (assembly/simnoise.ts requantClamp64). */
export const ROUNDING_MODE = { "half-up": 0, "half-even": 1, truncate: 2 } as const;

export interface ChipSpec {
  hw: HwModel;
  kind: "digital" | "analog";
  /**
   * Consecutive reduction terms per exact partial sum before the accumulator's overflow: 1 for
   * `per-mac`, else accumulator.kTile, by default the array's rows (digital). On an analog chip, the
   * crossbar tile's rows a K-tile maps onto: accumulator.kTile, by default compute.tileRows.
   */
  kTile: number;
  accBits: number;
  overflow: "wrap" | "saturate";
  /** The chip's rounding as the sim kernels' mode: 0 half up, 1 half even, 2 truncate. */
  roundingMode: 0 | 1 | 2;
  /** 31-bit multipliers and half-up rounding: the chip requantizes exactly as the spec (DESIGN.md §3). */
  specRequant: boolean;
  /** The noise sources the hw-model turns on (a noisy trial draws them; the clean chip none). */
  sources: NoiseSource[];
}

/** Resolves a (validated) hw-model's derived defaults, once. */
export function resolveChip(hw: HwModel): ChipSpec {
  const c = hw.compute;
  const acc = hw.accumulator;
  const kTile = c.kind === "analog" ? acc.kTile ?? c.tileRows : acc.partialSums === "per-mac" ? 1 : acc.kTile ?? c.rows;
  const roundingMode = ROUNDING_MODE[hw.requant.rounding];
  return {
    hw,
    kind: c.kind,
    kTile,
    accBits: acc.bits,
    overflow: acc.overflow,
    roundingMode,
    specRequant: hw.requant.multiplierBits >= 31 && roundingMode === 0,
    sources: activeSources(hw.noise, c.kind),
  };
}

/** Whether any noise source of the hw-model is on (else every trial equals the clean chip). */
export function noiseActive(hw: HwModel): boolean {
  return activeSources(hw.noise, hw.compute.kind).length > 0;
}

/** The widths a chip runs a layer at: the layer's own, or the next supported one when `promote`. */
function runWidth(bits: number, supported: number[], promote: boolean): number | null {
  if (supported.includes(bits)) return bits;
  if (!promote) return null;
  const up = supported.filter((b) => b >= bits).sort((a, b) => a - b);
  return up.length ? up[0] : null;
}

/**
 * Checks every weight layer's weight and input bits against the chip's supported precisions and returns
 * the widths each runs at (promoted when precision.promote). Unsupported → one NipqInputError naming every
 * layer that does not fit, and what it needs.
 */
export function checkPrecision(program: Program, hw: HwModel): Map<number, { w: number; a: number }> {
  const out = new Map<number, { w: number; a: number }>();
  const bad: string[] = [];
  program.layers.forEach((l, i) => {
    if (!isWeightLayer(l)) return;
    const a = program.layers[l.inputs[0]].out.bits;
    const w = runWidth(l.wBits, hw.precision.weightBits, hw.precision.promote);
    const ar = runWidth(a, hw.precision.activationBits, hw.precision.promote);
    const needs = [w === null ? `${l.wBits}-bit weights` : "", ar === null ? `${a}-bit input activations` : ""].filter(Boolean);
    if (needs.length) bad.push(`layer ${i} "${l.name}" (${needs.join(", ")})`);
    else out.set(i, { w: w!, a: ar! });
  });
  if (bad.length) {
    const p = hw.precision;
    throw new NipqInputError(
      `${hw.name}: ${bad.length === 1 ? "a layer uses a width" : `${bad.length} layers use widths`} it does not support: ${bad.join("; ")} ` +
        `(precision.weightBits: ${p.weightBits.join(", ")}; precision.activationBits: ${p.activationBits.join(", ")}${p.promote ? "" : "; --set precision.promote=true runs them on the next wider width"})`,
    );
  }
  return out;
}

/** A weight layer whose proven accumulator bound (src/ir/accbound.ts, `nipq inspect`'s acc bits) needs more bits than the chip has. */
export interface NarrowAccumulator {
  layer: number;
  name: string;
  /** Signed bits the layer's sums can need for inputs in range. */
  needBits: number;
}

/** Weight layers whose sums can exceed `accumulator.bits` for some input in range (pools sum exactly, outside the accumulator). */
export function narrowAccumulators(program: Program, hw: HwModel): NarrowAccumulator[] {
  const out: NarrowAccumulator[] = [];
  program.layers.forEach((l, i) => {
    if (!isWeightLayer(l)) return;
    const b = accumulatorBound(l, program.layers[l.inputs[0]].out)!;
    if (b.bits > hw.accumulator.bits) out.push({ layer: i, name: l.name, needBits: b.bits });
  });
  return out;
}

/**
 * The chip's warnings about a program, one line each (stderr, report.json `warnings`, report.html): today,
 * accumulators narrower than a layer's proven bound, whose sums then wrap or saturate and can take accuracy
 * down with them (e.g. `--set accumulator.bits=12` on the shipped model).
 */
export function chipWarnings(program: Program, hw: HwModel): string[] {
  const narrow = narrowAccumulators(program, hw);
  if (narrow.length === 0) return [];
  const a = hw.accumulator;
  return [
    `${hw.name}: ${a.bits}-bit accumulators are narrower than ${narrow.length === 1 ? "the proven bound of 1 layer" : `the proven bounds of ${narrow.length} layers`} ` +
      `(${narrow.map((n) => `${n.name} needs ${n.needBits}`).join(", ")}): sums beyond ${a.bits} bits ${a.overflow === "wrap" ? "wrap around" : "saturate"}, which can collapse accuracy`,
  ];
}
