// Training's eval quantizer, reproduced exactly (docs/CHECKPOINT.md, QuantizerSpec):
// q = roundHalfEven(clamp(fround(x / step), qmin, qmax)), as tf.round (ties to even) computes it in float32.
// Dividing two float32 values in float64 and rounding once to float32 gives the correctly rounded float32
// quotient (float64 has ≥ 2·24 + 2 bits; Figueroa, "When is double rounding innocuous?", SIGNUM 1995).

import type { QuantizerSpec } from "./types.js";

/** Round half to even, like tf.round and numpy.round. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go toward +∞
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Integer range of a quantizer: unsigned [0, 2^b − 1]; signed narrow [−(2^(b−1) − 1), 2^(b−1) − 1]; signed full
 * range (imported models) [−2^(b−1), 2^(b−1) − 1].
 */
export function quantRange(q: Pick<QuantizerSpec, "bits" | "signed" | "fullRange">): { qmin: number; qmax: number } {
  const qmax = q.signed ? 2 ** (q.bits - 1) - 1 : 2 ** q.bits - 1;
  return { qmin: q.signed ? (q.fullRange ? -qmax - 1 : -qmax) : 0, qmax };
}

/** The u8 input image as the integer program reads it: 8 bits, unsigned, step 1/255 (DESIGN.md §3). */
export const INPUT_PIXELS = { bits: 8, signed: false, step: 1 / 255 } as const;

/**
 * The one rule for "these two quantize alike": same bits, same signedness, steps that are the same float32
 * value, and (imported models) the same zero point and range kind. Checkpoints store steps as float32
 * (training computes in float32), while the IR's input scale is exactly 1/255; fround(1/255) and 1/255
 * differ by 2^-24 relative yet are one quantizer.
 */
export function sameQuantization(a: QuantLike, b: QuantLike): boolean {
  return a.bits === b.bits && a.signed === b.signed && Math.fround(a.step) === Math.fround(b.step) && (a.zero ?? 0) === (b.zero ?? 0) && !!a.fullRange === !!b.fullRange;
}

type QuantLike = { bits: number; signed: boolean; step: number; zero?: number; fullRange?: boolean };

/** The integer training's eval quantizer gives x (x and step are float32 values). */
export function quantizeValue(x: number, step: number, qmin: number, qmax: number): number {
  const v = Math.fround(Math.fround(x) / Math.fround(step));
  return roundHalfEven(v < qmin ? qmin : v > qmax ? qmax : v);
}
