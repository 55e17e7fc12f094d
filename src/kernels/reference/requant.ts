// The one fixed-point rounding of nipq-hw, in plain TypeScript (DESIGN.md §3). The AssemblyScript twin
// is `requantClamp` in assembly/requant.ts. Both are tested against a BigInt model of the definition.

const TWO15 = 32768; // 2^15

/**
 * POW2[k] = 2^k for k = 0 … 64, exact: a table lookup instead of `2 ** k` (Math.pow) on the per-element path.
 * Marked pure so a bundle that never reads it (the edge runtime) drops it.
 */
export const POW2 = /* @__PURE__ */ Float64Array.from({ length: 65 }, (_, k) => 2 ** k);

/**
 * requant(a, m, s) = floor((a·m + 2^(s−1)) / 2^s), ties toward +∞.
 *
 * Contract: a is an integer with |a| ≤ 2^31, m an integer in [0, 2^31 − 1], s an integer in [1, 62].
 * The result is exact whenever |result| < 2^53; beyond that (possible only for s < 10) it has the right
 * sign and a magnitude ≥ 2^52, so any clamp to a 32-bit range gives the exact clamped value.
 *
 * Exact split, no BigInt (the reference runs whole datasets): m = mh·2^15 + ml (mh < 2^16, ml < 2^15);
 * p1 = a·mh (|p1| < 2^47) and p0 = a·ml (|p0| < 2^46) are exact in float64. With
 * q0 = floor(p0 / 2^15), r0 = p0 − q0·2^15 ∈ [0, 2^15) and H = p1 + q0 (|H| < 2^48):
 * a·m = H·2^15 + r0. Then
 *  - s ≥ 16: a·m + 2^(s−1) = (H + 2^(s−16))·2^15 + r0 and r0/2^15 ∈ [0, 1) cannot carry past an integer
 *    multiple of 2^(s−15), so the result is floor((H + 2^(s−16)) / 2^(s−15)) — all terms exact.
 *  - s = 15: (H·2^15 + r0 + 2^14) / 2^15 = H + (r0 + 2^14)/2^15, floor = H + (r0 + 2^14 ≥ 2^15 ? 1 : 0).
 *  - s < 15: H·2^(15−s) + floor((r0 + 2^(s−1)) / 2^s), the first term an exact power-of-two scaling.
 */
export function requant(a: number, m: number, s: number): number {
  const mh = Math.floor(m / TWO15);
  const ml = m - mh * TWO15;
  const p1 = a * mh;
  const p0 = a * ml;
  const q0 = Math.floor(p0 / TWO15);
  const r0 = p0 - q0 * TWO15;
  const H = p1 + q0;
  if (s >= 16) return Math.floor((H + POW2[s - 16]) / POW2[s - 15]);
  if (s === 15) return H + (r0 + 16384 >= TWO15 ? 1 : 0);
  return H * POW2[15 - s] + Math.floor((r0 + POW2[s - 1]) / POW2[s]);
}

/** clamp(requant(a, m, s), lo, hi): the requantization every layer applies (DESIGN.md §3). Always exact. */
export function requantClamp(a: number, m: number, s: number, lo: number, hi: number): number {
  const r = requant(a, m, s);
  return r < lo ? lo : r > hi ? hi : r;
}

/** The definition, in BigInt: floor((a·m + 2^(s−1)) / 2^s). For tests and for values beyond 2^53. */
export function requantBig(a: bigint, m: bigint, s: bigint): bigint {
  const num = a * m + (1n << (s - 1n));
  // BigInt division truncates toward zero; make it floor.
  const d = 1n << s;
  const q = num / d;
  return num % d !== 0n && num < 0n ? q - 1n : q;
}

/**
 * floor((t + 2^(s−1)) / 2^s) for an exact integer t with |t| < 2^52 and s in [1, 62]: the rounding
 * shift of the residual add, whose t = a·ma + b·mb is exact in float64 for ≤ 16-bit inputs.
 * For s ≥ 54 the result is 0: t + 2^(s−1) lies strictly inside (0, 2^s).
 */
export function roundShift(t: number, s: number): number {
  if (s >= 54) return 0;
  return Math.floor((t + 2 ** (s - 1)) / 2 ** s);
}
