// Dyadic multipliers (DESIGN.md §3): a positive real multiplier r becomes m·2^−s with m ∈ [2^30, 2^31 − 1]
// and s ∈ [1, 62], so requant needs only an integer multiply and a rounding shift. Same normalization as
// TFLite's QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc), with a positive shift.

import { NipqInputError } from "../errors.js";

/** The closest m·2^−s to r with m in [2^30, 2^31 − 1]; throws when s would leave [1, 62]. */
export function dyadic(r: number, what = "multiplier"): { m: number; s: number } {
  if (!(r > 0) || !Number.isFinite(r)) throw new NipqInputError(`${what}: expected a finite multiplier > 0, found ${r}`);
  let s = 30 - Math.floor(Math.log2(r));
  // log2 may be off by one near powers of two; normalize so that r·2^s ∈ [2^30, 2^31).
  while (r * 2 ** s >= 2 ** 31) s--;
  while (r * 2 ** s < 2 ** 30) s++;
  let m = Math.round(r * 2 ** s); // exact power-of-two scaling, then round to nearest
  if (m === 2 ** 31) {
    m = 2 ** 30;
    s--;
  }
  if (s < 1 || s > 62) throw new NipqInputError(`${what}: expected a real multiplier in [2^-31, 2^30] (shift 1..62), found ${r}`);
  return { m, s };
}
