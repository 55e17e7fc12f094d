// Requantization, the one fixed-point rounding of nipq-hw (DESIGN.md §3).
//
// requant(a, m, s) = floor((a·m + 2^(s−1)) / 2^s), exact, with an i64 intermediate:
// |a| < 2^31 and m ≤ 2^31 − 1 give |a·m| < 2^62, and 2^(s−1) ≤ 2^61, so the sum fits in i64.
// `>>` on i64 is an arithmetic shift, i.e. floor division by 2^s (ties round toward +∞).
// The TypeScript twin is `requant` in src/kernels/reference/requant.ts; both are tested against BigInt.

/** Exact requantization of one accumulator, plus the output zero point zy, then the clamp to [lo, hi]. */
// @ts-ignore: decorator
@inline
export function requantClamp(a: i32, m: i32, s: i32, zy: i32, lo: i32, hi: i32): i32 {
  const r = ((i64(a) * i64(m) + (i64(1) << i64(s - 1))) >> i64(s)) + i64(zy);
  return r < i64(lo) ? lo : r > i64(hi) ? hi : i32(r);
}

/**
 * Requantizes `n` accumulators in place, per channel: element i uses channel i % channels.
 * acc: i32[n]; m: i32[channels]; s: i32[channels]; out: i32[n] (may alias acc).
 */
export function requant_i32_perchannel(
  acc: usize, out: usize, n: i32, channels: i32,
  m: usize, s: usize, lo: i32, hi: i32,
): void {
  let c = 0;
  for (let i = 0; i < n; i++) {
    const mi = load<i32>(m + (<usize>c << 2));
    const si = load<i32>(s + (<usize>c << 2));
    store<i32>(out + (<usize>i << 2), requantClamp(load<i32>(acc + (<usize>i << 2)), mi, si, 0, lo, hi));
    c++;
    if (c == channels) c = 0;
  }
}

/**
 * The SIMD form of requantClamp for 8 channels sharing one shift S (a re-expression, not a second
 * rounding): requant(a, m, s) = floor((a·2^(S−s)·m + 2^(S−1)) / 2^S), multiplying numerator and
 * denominator of the definition by 2^(S−s). a0/a1: accumulators of channels 0–3 / 4–7; pw0/pw1: 2^(S−s)
 * per channel; m0/m1: multipliers; zy: the output zero point, added before the clamp. Returns the 8
 * clamped results as i16x8.
 * Contract (checked by the host's prepare step from the accumulator bound, src/kernels/wasm/prepare.ts
 * sharedShift): every a·2^(S−s) fits i32 and every result before the clamp, zy included, fits i32
 * (s ≥ accBits − 1, or ≥ accBits when zy ≠ 0), so the i64 lanes need one shift by the scalar S and
 * the clamp can be done in i32.
 */
// @ts-ignore: decorator
@inline
export function requantClamp8Shared(a0: v128, a1: v128, pw0: v128, pw1: v128, m0: v128, m1: v128, S: i32, zy: i32, lo: i32, hi: i32): v128 {
  const rnd = i64x2.splat(i64(1) << i64(S - 1));
  const b0 = i32x4.mul(a0, pw0);
  const b1 = i32x4.mul(a1, pw1);
  const l0 = i64x2.add(i64x2.extmul_low_i32x4_s(b0, m0), rnd);
  const h0 = i64x2.add(i64x2.extmul_high_i32x4_s(b0, m0), rnd);
  const l1 = i64x2.add(i64x2.extmul_low_i32x4_s(b1, m1), rnd);
  const h1 = i64x2.add(i64x2.extmul_high_i32x4_s(b1, m1), rnd);
  let q0: v128, q1: v128;
  if (S >= 32) {
    // floor(v / 2^S) = floor(floor(v / 2^32) / 2^(S−32)): the high i32 words (|v| < 2^63, so they hold
    // floor(v / 2^32) exactly), then one i32 shift; `i64x2.shr_s` by a variable count has no x86 instruction
    // before AVX-512 and costs V8 a sequence per vector.
    q0 = i32x4.shr_s(i32x4.shuffle(l0, h0, 1, 3, 5, 7), S - 32);
    q1 = i32x4.shr_s(i32x4.shuffle(l1, h1, 1, 3, 5, 7), S - 32);
  } else {
    // S < 32: the low 32 bits of floor(v / 2^S) are (high word << (32 − S)) | (low word >>> S), and by the
    // contract the result fits i32, so they are all of it: i32 shifts again instead of `i64x2.shr_s`.
    q0 = v128.or(i32x4.shl(i32x4.shuffle(l0, h0, 1, 3, 5, 7), 32 - S), i32x4.shr_u(i32x4.shuffle(l0, h0, 0, 2, 4, 6), S));
    q1 = v128.or(i32x4.shl(i32x4.shuffle(l1, h1, 1, 3, 5, 7), 32 - S), i32x4.shr_u(i32x4.shuffle(l1, h1, 0, 2, 4, 6), S));
  }
  const lov = i32x4.splat(lo);
  const hiv = i32x4.splat(hi);
  const zv = i32x4.splat(zy);
  const r0 = i32x4.min_s(i32x4.max_s(i32x4.add(q0, zv), lov), hiv);
  const r1 = i32x4.min_s(i32x4.max_s(i32x4.add(q1, zv), lov), hiv);
  return i16x8.narrow_i32x4_s(r0, r1); // values already within [lo, hi] ⊂ i16: no saturation happens
}
