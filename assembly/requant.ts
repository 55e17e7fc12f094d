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
 * per channel; m0/m1: multipliers; zy: the output zero point, added before the clamp; lo ≤ hi: the clamp,
 * within i16 (an output tensor's range). Returns the 8 clamped results as i16x8.
 * Contract (checked at prepare from the accumulator bound: requant_params below for GEMM and depthwise
 * layers, src/kernels/wasm/prepare.ts sharedShift for the pools): every a·2^(S−s) fits i32 and every
 * result before the clamp, zy included, fits i32 (s ≥ accBits − 1, or ≥ accBits when zy ≠ 0), so the i64
 * lanes need one shift by the scalar S and the clamp can be done in i32.
 */
// @ts-ignore: decorator
@inline
export function requantClamp8Shared(a0: v128, a1: v128, pw0: v128, pw1: v128, m0: v128, m1: v128, S: i32, zy: i32, lo: i32, hi: i32): v128 {
  const b0 = i32x4.mul(a0, pw0);
  const b1 = i32x4.mul(a1, pw1);
  const l0 = i64x2.extmul_low_i32x4_s(b0, m0);
  const h0 = i64x2.extmul_high_i32x4_s(b0, m0);
  const l1 = i64x2.extmul_low_i32x4_s(b1, m1);
  const h1 = i64x2.extmul_high_i32x4_s(b1, m1);
  let q0: v128, q1: v128;
  if (S > 32) {
    // floor((v + 2^(S−1)) / 2^S) = floor(floor((v + 2^(S−1)) / 2^32) / 2^(S−32)), and as 2^(S−1) has no low
    // word, floor((v + 2^(S−1)) / 2^32) is the high word of v plus 2^(S−33) (|v| < 2^62: the high words hold
    // floor(v / 2^32) exactly, within ±2^30, so the sum does not wrap): the rounding and the shift in i32,
    // no i64 additions. `i64x2.shr_s` by a variable count has no x86 instruction before AVX-512 and costs V8
    // a sequence per vector.
    const rnd = i32x4.splat(1 << (S - 33));
    q0 = i32x4.shr_s(i32x4.add(i32x4.shuffle(l0, h0, 1, 3, 5, 7), rnd), S - 32);
    q1 = i32x4.shr_s(i32x4.add(i32x4.shuffle(l1, h1, 1, 3, 5, 7), rnd), S - 32);
  } else {
    // S ≤ 32: the rounding in i64 (it carries into the high word), then the low 32 bits of floor(v / 2^S):
    // (high word << (32 − S)) | (low word >>> S), by the contract all of the result (S = 32: the high word).
    const rnd = i64x2.splat(i64(1) << i64(S - 1));
    const v0l = i64x2.add(l0, rnd);
    const v0h = i64x2.add(h0, rnd);
    const v1l = i64x2.add(l1, rnd);
    const v1h = i64x2.add(h1, rnd);
    q0 = i32x4.shuffle(v0l, v0h, 1, 3, 5, 7);
    q1 = i32x4.shuffle(v1l, v1h, 1, 3, 5, 7);
    if (S < 32) {
      q0 = v128.or(i32x4.shl(q0, 32 - S), i32x4.shr_u(i32x4.shuffle(v0l, v0h, 0, 2, 4, 6), S));
      q1 = v128.or(i32x4.shl(q1, 32 - S), i32x4.shr_u(i32x4.shuffle(v1l, v1h, 0, 2, 4, 6), S));
    }
  }
  // The zero point, then the clamp after the saturating narrowing, in i16: lo and hi lie within i16, so a
  // value the narrowing saturated is clamped to the same bound as the unsaturated value would be.
  const zv = i32x4.splat(zy);
  const r = i16x8.narrow_i32x4_s(i32x4.add(q0, zv), i32x4.add(q1, zv));
  return i16x8.min_s(i16x8.max_s(r, i16x8.splat(i16(lo))), i16x8.splat(i16(hi)));
}

/**
 * The per-channel requant parameters of a GEMM or depthwise layer as its kernel reads them (./gemm.ts,
 * ./dwconv.ts), laid out once at prepare in one block at p: bias, m, s (Np i32 each, of which the host
 * wrote channels 0..N−1), then pw (Np i32) and ps (Np/8 i32), written here. Padded channels N..Np−1 get
 * bias 0, m = 2^30, s = 1, so a padded lane's requant is well defined (it is never stored). Per group of 8
 * channels the shared shift of the SIMD requant (requantClamp8Shared): S = max s over its channels, usable
 * when every channel has s ≥ accBits − 1 (the result within i32) and S − s ≤ 31 − accBits (a·2^(S−s)
 * within i32), for accumulators of accBits signed bits (src/kernels/wasm/prepare.ts requantBits); else 0,
 * the scalar requantClamp. pw = 2^(S − s) per channel of a group with S > 0, else 1. Here rather than in
 * TypeScript so that the edge runtime does not carry the loops (docs/DECISIONS.md "Runtime budget");
 * src/kernels/wasm/prepare.ts sharedShift is the rule's TypeScript statement (test/kernels/wasm.test.ts).
 */
export function requant_params(p: usize, N: i32, Np: i32, accBits: i32): void {
  const m = p + (<usize>Np << 2);
  const s = m + (<usize>Np << 2);
  const pw = s + (<usize>Np << 2);
  const ps = pw + (<usize>Np << 2);
  for (let c = N; c < Np; c++) {
    const o = <usize>c << 2;
    store<i32>(p + o, 0);
    store<i32>(m + o, 1 << 30);
    store<i32>(s + o, 1);
  }
  for (let j = 0; j < Np; j += 8) {
    const to = min(N, j + 8);
    let S = 0;
    for (let c = j; c < to; c++) S = max(S, load<i32>(s + (<usize>c << 2)));
    for (let c = j; c < to; c++) {
      const sc = load<i32>(s + (<usize>c << 2));
      if (sc < accBits - 1 || S - sc > 31 - accBits) {
        S = 0;
        break;
      }
    }
    store<i32>(ps + (<usize>(j >> 3) << 2), S);
    for (let c = j; c < j + 8; c++) store<i32>(pw + (<usize>c << 2), S > 0 && c < to ? 1 << (S - load<i32>(s + (<usize>c << 2))) : 1);
  }
}

/**
 * Shift of the fitted requant (requantFit8): a constant, so that the kernels shift by an immediate (a shift by a
 * variable count costs V8 a scalar-to-vector move and a two-uop shift per vector on x64).
 */
export const FIT_SHIFT = 20;

/**
 * The fitted requant of 8 channels (a re-expression of requantClamp for one layer's proven accumulator range, not
 * a second rounding): clamp(((a·M + B) >> FIT_SHIFT), lo, hi) in i32 lanes, with per-channel M and B that
 * requant_fit below found and checked to give clamp(requant(a, m, s) + zy, lo, hi) for every a in the range
 * (zy folded into B). a0/a1: accumulators of channels 0–3 / 4–7; M0/M1, B0/B1: the channels' M and B; lo ≤ hi
 * within i16. No i64 lanes: 2 multiplies, 2 adds, 2 shifts by an immediate per 8 outputs, against requantClamp8Shared's
 * 4 `i64x2.extmul` (each 2 unpacks and a pmuldq in V8 on x64), 2 shuffles and 2 variable-count shifts.
 */
// @ts-ignore: decorator
@inline
export function requantFit8(a0: v128, a1: v128, M0: v128, M1: v128, B0: v128, B1: v128, lo: i32, hi: i32): v128 {
  const q0 = i32x4.shr_s(i32x4.add(i32x4.mul(a0, M0), B0), FIT_SHIFT);
  const q1 = i32x4.shr_s(i32x4.add(i32x4.mul(a1, M1), B1), FIT_SHIFT);
  const r = i16x8.narrow_i32x4_s(q0, q1);
  return i16x8.min_s(i16x8.max_s(r, i16x8.splat(i16(lo))), i16x8.splat(i16(hi)));
}

/** The shared shift a GEMM's requant_fit raises S to where it can (requantClamp8Shared with a constant S: shifts by immediates). */
export const FIXED_S = 44;

/** Output levels (hi − lo) above which requant_fit does not try: at 8-bit outputs (255 levels) the fit was found for 0–8% of mobilenetv2's channels (docs/RESULTS.md, session 29). */
const FIT_MAX_LEVELS = 63;

/** requant(a, m, s) (./requantClamp's rounding, no clamp) in i64, for |a| ≤ 2^31. */
// @ts-ignore: decorator
@inline function rq64(a: i64, m: i32, s: i32): i64 {
  return (a * i64(m) + (i64(1) << i64(s - 1))) >> i64(s);
}

/** The smallest a in [amin, amax + 1] with requant(a, m, s) ≥ k (amax + 1 when there is none): requant is non-decreasing in a (m > 0). */
function fitThreshold(m: i32, s: i32, k: i64, amin: i64, amax: i64): i64 {
  let l = amin;
  let h = amax + 1;
  while (l < h) {
    const mid = (l + h) >> 1;
    if (rq64(mid, m, s) >= k) h = mid;
    else l = mid + 1;
  }
  return l;
}

/**
 * One channel's fitted requant: M and B (stored at out, out + 4) with clamp((a·M + B) >> FIT_SHIFT, lo, hi) =
 * clamp(requant(a, m, s) + zy, lo, hi) for every a in [amin, amax], and a·M + B within i32 there; false if no
 * candidate M (floor(m·2^FIT_SHIFT / 2^s) and its neighbours within 2) admits a B.
 * Why it is exact: both sides are non-decreasing in a (m, M > 0; the i32 value does not wrap), so they agree on
 * [amin, amax] iff for every output level L in (lo, hi] they pass L at the same a: with τ the smallest a with
 * requant(a) + zy ≥ L (found exactly, by bisection on the i64 requant), (a·M + B) >> FIT_SHIFT ≥ L must hold at
 * a = τ and fail at a = τ − 1 (or hold at amin when τ ≤ amin, fail at amax when τ > amax). Each of those is one
 * linear bound on B; B exists iff the bounds meet, and the i32 bounds at amin and amax join them.
 */
function fitChannel(m: i32, s: i32, zy: i32, lo: i32, hi: i32, amin: i64, amax: i64, out: usize): bool {
  const base = (i64(m) << FIT_SHIFT) >> i64(s);
  for (let d: i64 = 0; d < 5; d++) {
    const M = base + ((d & 1) ? (d + 1) >> 1 : -(d >> 1));
    if (M <= 0 || M > i64(i32.MAX_VALUE)) continue;
    let bl = i64(i32.MIN_VALUE) - amin * M; // a·M + B ≥ −2^31 at amin
    let bh = i64(i32.MAX_VALUE) - amax * M; // a·M + B ≤ 2^31 − 1 at amax
    for (let L = lo + 1; L <= hi && bl <= bh; L++) {
      const t = fitThreshold(m, s, i64(L - zy), amin, amax);
      const LT = i64(L) << FIT_SHIFT;
      if (t > amin) bh = min(bh, LT - (t - 1) * M - 1); // fails at t − 1
      if (t <= amax) bl = max(bl, LT - max(t, amin) * M); // holds at t (at amin when t ≤ amin)
    }
    if (bl <= bh) {
      store<i32>(out, i32(M));
      store<i32>(out, i32(bl), 4);
      return true;
    }
  }
  return false;
}

/**
 * After requant_params, for a GEMM layer (./gemm.ts) with accumulators in [amin, amax] of accBits signed bits
 * (requant_params' own), output zero point zy and clamp [lo, hi], three steps per 8-channel group:
 *  - a shared shift S > 0 is raised to FIXED_S where S ≤ FIXED_S and FIXED_S − s ≤ 31 − accBits for each channel
 *    (requantClamp8Shared's contract, unchanged; pw = 2^(FIXED_S − s)), so that the GEMM runs that form with S a
 *    constant (docs/RESULTS.md "Session 29": V8 then shifts by immediates);
 *  - for outputs of at most FIT_MAX_LEVELS + 1 levels, a group whose channels all have a fitted requant
 *    (fitChannel) gets it instead: ps = −1, M in its pw slots, B in its s slots (pw and s serve no other form of
 *    that group; m and bias stay);
 *  - a group not fitted whose channels all pass f64Channel's proof gets the f64 requant (requantClamp8F64At) instead:
 *    ps = PS_F64, f of channels 0–3 in its pw slots and of channels 4–7 in its s slots (32 bytes each).
 * GEMM layers only: depthwise layers and pools keep requant_params' S. Only on the SIMD builds (the scalar build
 * keeps requantClamp everywhere).
 */
export function requant_fit(p: usize, N: i32, Np: i32, amin: i32, amax: i32, zy: i32, lo: i32, hi: i32, accBits: i32): void {
  if (!ASC_FEATURE_SIMD) return;
  const m = p + (<usize>Np << 2);
  const s = m + (<usize>Np << 2);
  const pw = s + (<usize>Np << 2);
  const ps = pw + (<usize>Np << 2);
  // The shared shift raised to FIXED_S where the contract still holds (S' − s ≤ 31 − accBits for every channel; s
  // itself unchanged): the GEMM's requant then shifts by an immediate (requantStore8, tile4x8_c16_requant).
  for (let j = 0; j < Np; j += 8) {
    const S = load<i32>(ps + (<usize>(j >> 3) << 2));
    if (S <= 0 || S > FIXED_S) continue;
    const to = min(N, j + 8);
    let ok = true;
    for (let c = j; c < to; c++) if (FIXED_S - load<i32>(s + (<usize>c << 2)) > 31 - accBits) ok = false;
    if (!ok) continue;
    for (let c = j; c < to; c++) store<i32>(pw + (<usize>c << 2), 1 << (FIXED_S - load<i32>(s + (<usize>c << 2))));
    store<i32>(ps + (<usize>(j >> 3) << 2), FIXED_S);
  }
  const mb = memory.data(64); // M, B (or f) of the group's 8 channels until all pass
  for (let j = 0; j < Np && hi - lo <= FIT_MAX_LEVELS && (gemmForms & 1); j += 8) {
    const to = min(N, j + 8);
    let ok = true;
    for (let c = j; c < j + 8 && ok; c++) {
      const o = mb + (<usize>(c - j) << 3);
      if (c >= to) {
        store<i64>(o, 0); // padded channel: M = B = 0 (never stored)
        continue;
      }
      ok = fitChannel(load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), zy, lo, hi, i64(amin), i64(amax), o);
    }
    if (!ok) continue;
    for (let c = j; c < j + 8; c++) {
      const o = mb + (<usize>(c - j) << 3);
      store<i32>(pw + (<usize>c << 2), load<i32>(o));
      store<i32>(s + (<usize>c << 2), load<i32>(o, 4));
    }
    store<i32>(ps + (<usize>(j >> 3) << 2), -1);
  }
  // The f64 form for the groups not fitted, where every channel's proof holds (f64Channel): f of channels 0–3 in
  // the pw slots, of channels 4–7 in the s slots (32 bytes each), ps = PS_F64.
  for (let j = 0; j < Np && (gemmForms & 2); j += 8) {
    if (load<i32>(ps + (<usize>(j >> 3) << 2)) < 0) continue;
    const to = min(N, j + 8);
    let ok = true;
    for (let c = j; c < j + 8 && ok; c++) {
      const f = c < to ? f64Channel(load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), zy, lo, hi, i64(amin), i64(amax)) : 0;
      store<f64>(mb + (<usize>(c - j) << 3), f);
      ok = c >= to || f > 0;
    }
    if (!ok) continue;
    memory.copy(pw + (<usize>j << 2), mb, 32);
    memory.copy(s + (<usize>j << 2), mb + 32, 32);
    store<i32>(ps + (<usize>(j >> 3) << 2), PS_F64);
  }
}

/** ps of a GEMM group on the f64 requant (requantClamp8F64At; requant_fit, f64Channel). */
export const PS_F64 = -2;

/** The forms requant_fit may give GEMM groups: bit 0 the fitted requant, bit 1 the f64 requant (default both). */
let gemmForms = 3;

/**
 * Sets the forms requant_fit may give the GEMM layers prepared after the call: bit 0 the fitted requant (requantFit8),
 * bit 1 the f64 requant (requantClamp8F64At); the default is 3 (both; the fit first). For tests — of the shared-shift
 * and scalar forms on layers the f64 form would take (1), of the f64 rule on few-level clamps the fit would take (2) —
 * and for A/B measurements of one build. The edge runtime never calls it.
 */
export function requant_gemm_forms(mask: i32): void {
  gemmForms = mask;
}

/**
 * One GEMM channel's f = m·2^−s for requantClamp8F64At, when that gives clamp(requant(a, m, s) + zy, lo, hi) for every
 * accumulator a in [amin, amax]; else 0. With g(a) the form's value before its clamp (the low 32 bits of
 * fl(fl(a·f) + MAGIC + zy)) the proof has three parts:
 *  1. g is non-decreasing on all of [amin, amax], exact or not: converting a is exact, fl(a·f) and the magic add
 *     round monotonically (f > 0), and while |fl(a·f) + zy| < 2^31 the sum lies in [2^52, 2^53), whose bit patterns
 *     rise with the value and whose low 32 bits are zy + round(fl(a·f)) in two's complement — checked here as
 *     B·m/2^s + 2 + |zy| < 2^31 with B = max(|amin|, |amax|). The saturating narrowing to i16 is monotone too.
 *  2. g(a) = requant(a) + zy on [a1, a2], with a1 the last a whose exact output is ≤ lo (τ(lo + 1) − 1, τ(L) the
 *     first a with requant(a) + zy ≥ L, by bisection on the exact i64 requant as fitThreshold) and a2 = τ(hi), both
 *     cut to [amin, amax]: there |a|·m < 2^51 (checked) makes a·f exact, the magic add rounds it to nearest, and
 *     round-to-nearest equals requant's floor(t + ½) unless t is a half-integer — a·m ≡ 2^(s−1) mod 2^s, i.e. a an
 *     odd multiple of 2^(s−1−v2(m)) — and no such a lies in [a1, a2] (checked).
 *  3. Outside [a1, a2] both sides clamp to the same bound: below a1, g(a) ≤ g(a1) = requant(a1) + zy ≤ lo, and the
 *     exact value is ≤ lo too; above a2 likewise ≥ hi.
 * So the layer's accumulator bound only has to be exact-safe where the output is not saturated: about 2^(s+9) for
 * 8-bit outputs, where requant_f64_params' B·m < 2^51 refuses every GEMM with K ≥ 48 (docs/RESULTS.md "Session 30").
 */
function f64Channel(m: i32, s: i32, zy: i32, lo: i32, hi: i32, amin: i64, amax: i64): f64 {
  if (m <= 0 || s < 1 || s > 62 || lo > hi || amin > amax) return 0;
  const B = max(-amin, amax);
  if ((B * i64(m) >> i64(s)) + 2 + i64(abs(zy)) >= i64(1) << 31) return 0;
  const a1 = max(amin, fitThreshold(m, s, i64(lo) + 1 - i64(zy), amin, amax) - 1);
  const a2 = min(amax, fitThreshold(m, s, i64(hi) - i64(zy), amin, amax));
  if (a1 <= a2) {
    if (max(-a1, a2) * i64(m) >= i64(1) << 51) return 0;
    const k = s - 1 - i32(ctz(m));
    if (k >= 0 && k < 32) {
      // The least odd multiple of 2^k that is ≥ a1 (a1 ≥ −2^31: no overflow).
      let u = a1 >> i64(k);
      if (u << i64(k) < a1) u++;
      if (!(u & 1)) u++;
      if (u << i64(k) <= a2) return 0;
    }
  }
  return f64(m) * reinterpret<f64>(i64(1023 - s) << 52);
}

/** 1.5·2^52 = 6755399441055744: added to an f64 |v| < 2^51, the sum's low mantissa bits are round-to-nearest-even(v) (two's complement). */
export const MAGIC: f64 = 6755399441055744.0;

/**
 * requantClamp for 8 channels through f64 lanes, where the layer's accumulator bound B proves it exact
 * (requant_f64_params writes f = m·2^−s per channel only then): t = a·f is exactly a·m/2^s (|a·m| ≤ B·m < 2^51,
 * so the integer a·m and its power-of-two scaling are exact); adding k = 1.5·2^52 + zy rounds t to the nearest
 * integer, ties to even (the sum lies in [2^52, 2^53), where the spacing is 1) and leaves zy + round(t) in the low
 * 32 bits of the sum (|round(t) + zy| < 2^31 by the bound). round(t) = floor(t + ½) = requant(a, m, s) unless t is
 * a half-integer, which the bound rules out: a·m ≡ 2^(s−1) mod 2^s needs v2(a) = s − 1 − v2(m), i.e. |a| ≥
 * 2^(s−1−v2(m)) > B. No i64 multiply, no variable shift: a convert, a multiply and an add per 2 channels.
 * a0/a1: accumulators of channels 0–3 / 4–7; f: their 8 f64 multipliers; k: f64x2.splat(MAGIC + zy).
 */
// @ts-ignore: decorator
@inline
export function requantClamp8F64(a0: v128, a1: v128, f: usize, k: v128, lo: i32, hi: i32): v128 {
  return requantClamp8F64At(a0, a1, f, f + 32, k, lo, hi);
}

/** requantClamp8F64 with the multipliers of channels 0–3 at f0 and of channels 4–7 at f1 (32 bytes each; the GEMMs' layout, requant_fit). */
// @ts-ignore: decorator
@inline
export function requantClamp8F64At(a0: v128, a1: v128, f0: usize, f1: usize, k: v128, lo: i32, hi: i32): v128 {
  const d0 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(a0), v128.load(f0)), k);
  const d1 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(a0, a0, 2, 3, 2, 3)), v128.load(f0, 16)), k);
  const d2 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(a1), v128.load(f1)), k);
  const d3 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(a1, a1, 2, 3, 2, 3)), v128.load(f1, 16)), k);
  const r = i16x8.narrow_i32x4_s(i32x4.shuffle(d0, d1, 0, 2, 4, 6), i32x4.shuffle(d2, d3, 0, 2, 4, 6));
  return i16x8.min_s(i16x8.max_s(r, i16x8.splat(i16(lo))), i16x8.splat(i16(hi)));
}

/**
 * The f64 multipliers of requantClamp8F64 for a layer whose parameter block at p (requant_params' layout: bias,
 * m, s, pw, ps: 16.5·Np bytes) has N channels padded to Np, written after it at p + 17·Np bytes (Np f64, 8-byte
 * aligned as Np is a multiple of 8; the host allocates 29·Np bytes, the i32 block of requant_i32_params last), when every channel passes requantClamp8F64's proof for accumulators |a| ≤ B and the output zero
 * point zy: B·m < 2^51, |requant| + |zy| < 2^31 − 1, and no tie (2^(s−1−v2(m)) > B). Returns the pointer, or 0
 * (the layer keeps requantClamp8Shared / requantClamp) when a channel fails. Padded channels get f = 0.
 */
export function requant_f64_params(p: usize, N: i32, Np: i32, B: f64, zy: i32): usize {
  const m = p + (<usize>Np << 2);
  const s = m + (<usize>Np << 2);
  const f = p + <usize>Np * 17;
  if (!(B >= 0 && B < 2147483648.0)) return 0;
  const b = i64(B);
  for (let c = 0; c < N; c++) {
    const mc = load<i32>(m + (<usize>c << 2));
    const sc = load<i32>(s + (<usize>c << 2));
    if (mc <= 0 || sc < 1 || sc > 62) return 0;
    const bm = b * i64(mc);
    if (bm >= i64(1) << 51) return 0;
    if ((bm >> i64(sc)) + 1 + i64(abs(zy)) >= i64(0x7fffffff)) return 0;
    const k = sc - 1 - i32(ctz(mc));
    if (k >= 0 && k < 31 && i64(1) << i64(k) <= b) return 0;
    store<f64>(f + (<usize>c << 3), f64(mc) * reinterpret<f64>(i64(1023 - sc) << 52));
  }
  for (let c = N; c < Np; c++) store<f64>(f + (<usize>c << 3), 0);
  return f;
}

/**
 * requantClamp for 8 channels with an i32 multiplier m' and one shift S ≤ 30 per layer, where requant_i32_params
 * has checked it against the exact requant for every accumulator the layer's bound allows: clamp(floor((a·m' +
 * rnd) / 2^S)) with rnd = 2^(S−1) + zy·2^S (the zero point folded in), every term within i32 (checked there).
 * q: the 8 channels' m'.
 */
// @ts-ignore: decorator
@inline
export function requantClamp8I32(a0: v128, a1: v128, q: usize, rnd: v128, S: i32, lo: i32, hi: i32): v128 {
  const r0 = i32x4.shr_s(i32x4.add(i32x4.mul(a0, v128.load(q)), rnd), S);
  const r1 = i32x4.shr_s(i32x4.add(i32x4.mul(a1, v128.load(q, 16)), rnd), S);
  const r = i16x8.narrow_i32x4_s(r0, r1);
  return i16x8.min_s(i16x8.max_s(r, i16x8.splat(i16(lo))), i16x8.splat(i16(hi)));
}

/**
 * The i32 multipliers of requantClamp8I32 for a layer whose accumulators lie in [amin, amax] (its proven bound)
 * and whose parameter block at p (requant_params' layout, N channels padded to Np) is followed by the f64 block
 * (requant_f64_params) and then Np i32 at p + 25·Np bytes, written here. S is the largest shift ≤ 30 with
 * B·(m'+1) + 2^(S−1) + |zy|·2^S < 2^31 (B = max |a|, m' ≈ m·2^(S−s)) for every channel; per channel m' is
 * ⌊m·2^(S−s)⌋ or one more, the first whose clamp(requant' + zy, lo, hi) equals clamp(requant(a, m, s) + zy, lo, hi)
 * for every a in [amin, amax] — an exhaustive check, so only for (amax − amin + 1)·N ≤ 2^22. Returns S, or 0 (the
 * layer keeps the other requants) when no S or no m' passes. Padded channels get m' = 0.
 */
export function requant_i32_params(p: usize, N: i32, Np: i32, amin: i32, amax: i32, zy: i32, lo: i32, hi: i32): i32 {
  const m = p + (<usize>Np << 2);
  const s = m + (<usize>Np << 2);
  const q = p + <usize>Np * 25;
  if (amin > amax || i64(amax - amin + 1) * i64(N) > i64(1) << 22) return 0;
  const B = i64(max(abs(amin), abs(amax)));
  let S = 30;
  for (; S >= 1; S--) {
    let ok = true;
    for (let c = 0; c < N && ok; c++) {
      const mc = i64(load<i32>(m + (<usize>c << 2)));
      const d = S - load<i32>(s + (<usize>c << 2));
      const mq = d >= 0 ? (d < 31 ? mc << i64(d) : i64(1) << 31) : mc >> i64(-d);
      ok = mq < i64(1) << 31 && B * (mq + 1) + (i64(1) << i64(S - 1)) + i64(abs(zy)) * (i64(1) << i64(S)) < i64(1) << 31;
    }
    if (ok) break;
  }
  if (S < 1) return 0;
  const rnd = (i64(1) << i64(S - 1)) + i64(zy) * (i64(1) << i64(S));
  for (let c = 0; c < N; c++) {
    const mc = load<i32>(m + (<usize>c << 2));
    const sc = load<i32>(s + (<usize>c << 2));
    const d = S - sc;
    const m0 = d >= 0 ? i64(mc) << i64(d) : i64(mc) >> i64(-d);
    let found = false;
    for (let mq = m0; mq <= m0 + 1 && !found; mq++) {
      found = true;
      for (let a = amin; a <= amax; a++) {
        const want = requantClamp(a, mc, sc, zy, lo, hi);
        let got = i32((i64(a) * mq + rnd) >> i64(S));
        got = got < lo ? lo : got > hi ? hi : got;
        if (got != want) {
          found = false;
          break;
        }
      }
      if (found) store<i32>(q + (<usize>c << 2), i32(mq));
    }
    if (!found) return 0;
  }
  for (let c = N; c < Np; c++) store<i32>(q + (<usize>c << 2), 0);
  return S;
}
