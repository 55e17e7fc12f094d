// Requantization, the one fixed-point rounding of nipq-hw (DESIGN.md §3).
//
// requant(a, m, s) = floor((a·m + 2^(s−1)) / 2^s), exact, with an i64 intermediate:
// |a| < 2^31 and m ≤ 2^31 − 1 give |a·m| < 2^62, and 2^(s−1) ≤ 2^61, so the sum fits in i64.
// `>>` on i64 is an arithmetic shift, i.e. floor division by 2^s (ties round toward +∞).
// The TypeScript twin is `requant` in src/kernels/reference/requant.ts; both are tested against BigInt.

/** Exact requantization of one accumulator, then the clamp to [lo, hi]. */
// @ts-ignore: decorator
@inline
export function requantClamp(a: i32, m: i32, s: i32, lo: i32, hi: i32): i32 {
  const r = (i64(a) * i64(m) + (i64(1) << i64(s - 1))) >> i64(s);
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
    store<i32>(out + (<usize>i << 2), requantClamp(load<i32>(acc + (<usize>i << 2)), mi, si, lo, hi));
    c++;
    if (c == channels) c = 0;
  }
}
