// The chip's requantization unit: the spec's y = clamp(requant(acc, m, s), lo, hi) (DESIGN.md §3) with
// the multiplier cut to the chip's bits and the chip's rounding. With 31 multiplier bits and "half-up"
// rounding it is exactly the reference `requantClamp` (src/kernels/reference/requant.ts).

import { NipqInputError } from "../../errors.js";
import { POW2, requant } from "../../kernels/reference/requant.js";

export type Rounding = "half-up" | "half-even" | "truncate";

const TWO15 = 32768; // 2^15

/**
 * The spec multiplier m ∈ [2^30, 2^31 − 1] cut to `bits` bits: m' = round(m / 2^d), d = 31 − bits (ties up),
 * s' = s − d; when rounding carries m' to 2^bits it becomes 2^(bits−1) with s' − 1. Throws when s' < 1 (the
 * chip cannot represent that multiplier).
 */
export function cutMultiplier(m: number, s: number, bits: number, layer = "layer"): { m: number; s: number } {
  const d = 31 - bits;
  if (d <= 0) return { m, s };
  let mm = Math.floor((m + 2 ** (d - 1)) / 2 ** d);
  let ss = s - d;
  if (mm >= 2 ** bits) {
    mm = 2 ** (bits - 1);
    ss -= 1;
  }
  if (ss < 1) throw new NipqInputError(`${layer}: requant shift ${s} leaves ${ss} < 1 after cutting the multiplier to ${bits} bits (requant.multiplierBits)`);
  return { m: mm, s: ss };
}

/** Non-negative remainder of an exact integer x (|x| < 2^52) modulo 2^k. */
function modPow2(x: number, k: number): number {
  const M = POW2[k];
  return ((x % M) + M) % M;
}

/**
 * Rounded a·m/2^s for an integer |a| ≤ 2^31, m ∈ [0, 2^31 − 1], s ∈ [1, 62], exact (same float64 split as
 * the reference `requant`: a·m = H·2^15 + r0 with 0 ≤ r0 < 2^15, |H| < 2^48).
 *  - half-up: floor((a·m + 2^(s−1)) / 2^s), the spec (ties toward +∞);
 *  - half-even: the same except that exact ties go to the even neighbour (IEEE round-half-even);
 *  - truncate: floor(a·m / 2^s) (a plain arithmetic shift, no rounding offset).
 */
export function requantRounded(a: number, m: number, s: number, rounding: Rounding): number {
  if (rounding === "half-up") return requant(a, m, s);
  const mh = Math.floor(m / TWO15);
  const ml = m - mh * TWO15;
  const p0 = a * ml;
  const q0 = Math.floor(p0 / TWO15);
  const r0 = p0 - q0 * TWO15;
  const H = a * mh + q0;
  if (rounding === "truncate") return (s >= 15 ? Math.floor(H / POW2[s - 15]) : H * POW2[15 - s] + Math.floor(r0 / POW2[s])) + 0; // + 0: no −0
  const r = requant(a, m, s);
  let tie: boolean;
  if (s >= 16) tie = r0 === 0 && modPow2(H, s - 15) === POW2[s - 16];
  else if (s === 15) tie = r0 === 16384;
  else tie = r0 % POW2[s] === POW2[s - 1];
  return (tie && modPow2(r, 1) === 1 ? r - 1 : r) + 0;
}

/** Per-channel chip multipliers of a layer (cut to `bits`). */
export function chipMultipliers(m: ArrayLike<number>, s: ArrayLike<number>, bits: number, layer: string): { m: Float64Array; s: Float64Array } {
  const om = new Float64Array(m.length);
  const os = new Float64Array(m.length);
  for (let i = 0; i < m.length; i++) {
    const c = cutMultiplier(m[i], s[i], bits, layer);
    om[i] = c.m;
    os[i] = c.s;
  }
  return { m: om, s: os };
}
