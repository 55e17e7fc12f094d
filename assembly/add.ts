// Residual add (DESIGN.md §3): y = clamp(floor(((a − za)·ma + (b − zb)·mb + 2^(s−1)) / 2^s) + zy, lo, hi),
// one shared s; za, zb, zy are the zero points (0 in format 1).
// Exact in i64: |a − za|, |b − zb| ≤ 2^16 and ma, mb ≤ 2^31 − 1 give |(a − za)·ma + (b − zb)·mb| < 2^48,
// plus 2^(s−1) ≤ 2^61.
// The shared shift makes it a SIMD kernel: i64x2 lanes, `i64x2.shr_s` by one scalar amount.
// The TypeScript twin is addRequant/roundShift in src/kernels/reference/.

// @ts-ignore: decorator
@inline function addOne(a: i32, b: i32, ma: i64, mb: i64, rnd: i64, s: i64, zy: i64, lo: i64, hi: i64): i16 {
  let t = ((i64(a) * ma + i64(b) * mb + rnd) >> s) + zy;
  t = t < lo ? lo : t > hi ? hi : t;
  return i16(t);
}

/**
 * floor(t / 2^s) for the 4 lanes of t = a·ma + b·mb + k (i64), in i32 from t's two words: s ≥ 32, the high
 * words >> (s − 32); else (high << (32 − s)) | (low >>> s), the low 32 bits of the result. See add_s16_requant.
 */
// @ts-ignore: decorator
@inline function floorShift(av: v128, bv: v128, mav: v128, mbv: v128, kv: v128, s: i32): v128 {
  const t0 = i64x2.add(i64x2.add(i64x2.extmul_low_i32x4_s(av, mav), i64x2.extmul_low_i32x4_s(bv, mbv)), kv);
  const t1 = i64x2.add(i64x2.add(i64x2.extmul_high_i32x4_s(av, mav), i64x2.extmul_high_i32x4_s(bv, mbv)), kv);
  const hw = i32x4.shuffle(t0, t1, 1, 3, 5, 7);
  return s >= 32 ? i32x4.shr_s(hw, s - 32) : v128.or(i32x4.shl(hw, 32 - s), i32x4.shr_u(i32x4.shuffle(t0, t1, 0, 2, 4, 6), s));
}

/** a, b, y: i16 [count] (y may alias a or b); ma, mb ∈ [0, 2^31 − 1]; s ∈ [1, 62]. */
export function add_s16_requant(a: usize, b: usize, count: i32, ma: i32, mb: i32, s: i32, za: i32, zb: i32, zy: i32, lo: i32, hi: i32, y: usize): void {
  let i = 0;
  const rnd = i64(1) << i64(s - 1);
  if (ASC_FEATURE_SIMD && s >= 18 && s <= 46) {
    // The i32 form: the zero points and z_y folded into one i64 constant, then each result read from the
    // i64 sum's two words with i32 shifts (`i64x2.shr_s` by a variable count and the i64 compares of the
    // general form below cost V8 a sequence each on x86). With |a|, |b|, |za|, |zb| ≤ 2^15 and
    // ma, mb < 2^31, |zy| ≤ 2^15: t = a·ma + b·mb + (2^(s−1) + zy·2^s − za·ma − zb·mb) has
    // |t| < 2^48 + 2^(s−1) + 2^(s+15) < 2^62 for s ≤ 46, and floor(t / 2^s) = the result + zy before the clamp.
    // s ≥ 32: floor(t / 2^s) = hi(t) >> (s − 32), hi(t) = floor(t / 2^32) exact. s < 32: the low 32 bits of
    // floor(t / 2^s) are (hi(t) << (32 − s)) | (lo(t) >>> s), and |t / 2^s| < 2^(48−s) + 2^15 + 1 < 2^31 for
    // s ≥ 18, so those 32 bits are the whole signed result.
    const k = rnd + (i64(zy) << i64(s)) - i64(za) * i64(ma) - i64(zb) * i64(mb);
    const mav = i32x4.splat(ma);
    const mbv = i32x4.splat(mb);
    const kv = i64x2.splat(k);
    const lov = i32x4.splat(lo);
    const hiv = i32x4.splat(hi);
    for (; i + 8 <= count; i += 8) {
      const o = <usize>i << 1;
      const av = v128.load(a + o), bv = v128.load(b + o);
      const r0 = floorShift(i32x4.extend_low_i16x8_s(av), i32x4.extend_low_i16x8_s(bv), mav, mbv, kv, s);
      const r1 = floorShift(i32x4.extend_high_i16x8_s(av), i32x4.extend_high_i16x8_s(bv), mav, mbv, kv, s);
      v128.store(y + o, i16x8.narrow_i32x4_s(i32x4.min_s(i32x4.max_s(r0, lov), hiv), i32x4.min_s(i32x4.max_s(r1, lov), hiv)));
    }
  }
  if (ASC_FEATURE_SIMD) {
    const mav = i32x4.splat(ma);
    const mbv = i32x4.splat(mb);
    const rv = i64x2.splat(rnd);
    const zav = i32x4.splat(za);
    const zbv = i32x4.splat(zb);
    const zyv = i64x2.splat(i64(zy));
    const lov = i64x2.splat(i64(lo));
    const hiv = i64x2.splat(i64(hi));
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 1;
      const av = i32x4.sub(i32x4.extend_low_i16x8_s(v128.load64_zero(a + o)), zav);
      const bv = i32x4.sub(i32x4.extend_low_i16x8_s(v128.load64_zero(b + o)), zbv);
      let t0 = i64x2.add(i64x2.add(i64x2.extmul_low_i32x4_s(av, mav), i64x2.extmul_low_i32x4_s(bv, mbv)), rv);
      let t1 = i64x2.add(i64x2.add(i64x2.extmul_high_i32x4_s(av, mav), i64x2.extmul_high_i32x4_s(bv, mbv)), rv);
      t0 = i64x2.add(i64x2.shr_s(t0, s), zyv);
      t1 = i64x2.add(i64x2.shr_s(t1, s), zyv);
      t0 = v128.bitselect(lov, t0, i64x2.lt_s(t0, lov));
      t1 = v128.bitselect(lov, t1, i64x2.lt_s(t1, lov));
      t0 = v128.bitselect(hiv, t0, i64x2.gt_s(t0, hiv));
      t1 = v128.bitselect(hiv, t1, i64x2.gt_s(t1, hiv));
      const r = i32x4.shuffle(t0, t1, 0, 2, 4, 6); // low halves: the clamped values fit i16
      v128.store64_lane(y + o, i16x8.narrow_i32x4_s(r, r), 0);
    }
  }
  const ma64 = i64(ma), mb64 = i64(mb), s64 = i64(s), zy64 = i64(zy), lo64 = i64(lo), hi64 = i64(hi);
  for (; i < count; i++) {
    const o = <usize>i << 1;
    store<i16>(y + o, addOne(i32(load<i16>(a + o)) - za, i32(load<i16>(b + o)) - zb, ma64, mb64, rnd, s64, zy64, lo64, hi64));
  }
}
