// The register-resident peak of `i32x4.dot_i16x8_s` (+ `i32x4.add`), the roofline the GEMM benchmark
// compares against: independent accumulator chains, operands never leave registers, no memory traffic.
// Each chain feeds its own accumulator back as the dot's first operand (s = s + dot(s, b)), so the
// compiler can neither hoist the dot out of the loop nor merge two chains (a loop-invariant
// dot(a, b) was hoisted/CSE'd by V8 and overstated the peak). How many chains saturate the CPU depends on
// dot latency × throughput, so there are two shapes; the benchmark reports the faster.

/** Runs `iters` iterations of `chains` (8 or 12) dot+add pairs, 8 MACs per dot; returns a checksum. */
export function dot_i16x8_peak(iters: i32, seed: i32, chains: i32): i32 {
  if (!ASC_FEATURE_SIMD) {
    let t = 0;
    for (let i = 0; i < iters; i++) t += seed * (seed + 1) * 64;
    return t;
  }
  const b = i16x8.splat(i16(seed | 1));
  let s0 = i32x4.splat(0), s1 = i32x4.splat(1), s2 = i32x4.splat(2), s3 = i32x4.splat(3);
  let s4 = i32x4.splat(4), s5 = i32x4.splat(5), s6 = i32x4.splat(6), s7 = i32x4.splat(7);
  let s8 = i32x4.splat(8), s9 = i32x4.splat(9), s10 = i32x4.splat(10), s11 = i32x4.splat(11);
  if (chains == 8) {
    for (let i = 0; i < iters; i++) {
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(s0, b));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(s1, b));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(s2, b));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(s3, b));
      s4 = i32x4.add(s4, i32x4.dot_i16x8_s(s4, b));
      s5 = i32x4.add(s5, i32x4.dot_i16x8_s(s5, b));
      s6 = i32x4.add(s6, i32x4.dot_i16x8_s(s6, b));
      s7 = i32x4.add(s7, i32x4.dot_i16x8_s(s7, b));
    }
  } else {
    for (let i = 0; i < iters; i++) {
      s0 = i32x4.add(s0, i32x4.dot_i16x8_s(s0, b));
      s1 = i32x4.add(s1, i32x4.dot_i16x8_s(s1, b));
      s2 = i32x4.add(s2, i32x4.dot_i16x8_s(s2, b));
      s3 = i32x4.add(s3, i32x4.dot_i16x8_s(s3, b));
      s4 = i32x4.add(s4, i32x4.dot_i16x8_s(s4, b));
      s5 = i32x4.add(s5, i32x4.dot_i16x8_s(s5, b));
      s6 = i32x4.add(s6, i32x4.dot_i16x8_s(s6, b));
      s7 = i32x4.add(s7, i32x4.dot_i16x8_s(s7, b));
      s8 = i32x4.add(s8, i32x4.dot_i16x8_s(s8, b));
      s9 = i32x4.add(s9, i32x4.dot_i16x8_s(s9, b));
      s10 = i32x4.add(s10, i32x4.dot_i16x8_s(s10, b));
      s11 = i32x4.add(s11, i32x4.dot_i16x8_s(s11, b));
    }
  }
  const t = i32x4.add(
    i32x4.add(i32x4.add(i32x4.add(s0, s1), i32x4.add(s2, s3)), i32x4.add(i32x4.add(s4, s5), i32x4.add(s6, s7))),
    i32x4.add(i32x4.add(s8, s9), i32x4.add(s10, s11)),
  );
  return i32x4.extract_lane(t, 0) ^ i32x4.extract_lane(t, 3);
}
