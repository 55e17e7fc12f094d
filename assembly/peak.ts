// The register-resident peak of `i32x4.dot_i16x8_s` (+ `i32x4.add`), the roofline the GEMM benchmark
// compares against: 8 independent accumulator chains, operands never leave registers, no loads.

/** Runs `iters` × 8 dot+add pairs (64 MACs per pair... 8 MACs per dot) and returns a checksum. */
export function dot_i16x8_peak(iters: i32, seed: i32): i32 {
  if (ASC_FEATURE_SIMD) {
    const a = i16x8.splat(i16(seed));
    const b = i16x8.splat(i16(seed + 1));
    const c = i16x8.splat(i16(seed + 2));
    let s0 = i32x4.splat(0), s1 = i32x4.splat(1), s2 = i32x4.splat(2), s3 = i32x4.splat(3);
    let s4 = i32x4.splat(4), s5 = i32x4.splat(5), s6 = i32x4.splat(6), s7 = i32x4.splat(7);
    for (let i = 0; i < iters; i++) {
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(a, b));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(a, c));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(b, c));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(b, a));
      s4 = i32x4.add(s4, i32x4.dot_i16x8_s(c, a));
      s5 = i32x4.add(s5, i32x4.dot_i16x8_s(c, b));
      s6 = i32x4.add(s6, i32x4.dot_i16x8_s(a, a));
      s7 = i32x4.add(s7, i32x4.dot_i16x8_s(c, c));
    }
    const t = i32x4.add(i32x4.add(i32x4.add(s0, s1), i32x4.add(s2, s3)), i32x4.add(i32x4.add(s4, s5), i32x4.add(s6, s7)));
    return i32x4.extract_lane(t, 0) ^ i32x4.extract_lane(t, 3);
  }
  let t = 0;
  for (let i = 0; i < iters; i++) t += seed * (seed + 1) * 64;
  return t;
}
