// Depthwise conv2d (groups = C = outC): each channel convolved with its own kh×kw filter, then the
// per-channel requantization. NHWC keeps channels contiguous, so SIMD runs across channels, 8 per step.
// 3×3 kernels (mobilenet's) take dw3x3Row: tap pairs on `i32x4.dot_i16x8_s`, the zero point folded into the
// bias, unchecked interior columns; other sizes take dwPixel's clipped window with i16 products widened by
// `i32x4.extmul_{low,high}_i16x8_s` (exact: |x·w| < 2^15·2^7).

import { MAGIC, requantClamp, requantClamp8F64, requantClamp8I32, requantClamp8Shared } from "./requant";

// @ts-ignore: decorator
@inline function rqStore(acc: i32, yp: usize, c: i32, C: i32, m: usize, s: usize, zy: i32, lo: i32, hi: i32): void {
  if (c < C) store<i16>(yp + (<usize>c << 1), i16(requantClamp(acc, load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), zy, lo, hi)));
}

/** Stores the lanes of an i16x8 whose channels c..c+7 are < C (the last, partial group). */
// @ts-ignore: decorator
@inline function storeLanes(v: v128, yp: usize, c: i32, C: i32): void {
  const p = yp + (<usize>c << 1);
  store<i16>(p, i16x8.extract_lane_s(v, 0));
  if (c + 1 < C) store<i16>(p, i16x8.extract_lane_s(v, 1), 2);
  if (c + 2 < C) store<i16>(p, i16x8.extract_lane_s(v, 2), 4);
  if (c + 3 < C) store<i16>(p, i16x8.extract_lane_s(v, 3), 6);
  if (c + 4 < C) store<i16>(p, i16x8.extract_lane_s(v, 4), 8);
  if (c + 5 < C) store<i16>(p, i16x8.extract_lane_s(v, 5), 10);
  if (c + 6 < C) store<i16>(p, i16x8.extract_lane_s(v, 6), 12);
}

/**
 * x: i16 [n][H][W][C] (plus ≥ 16 bytes of readable slack after it); w: i16 [kh·kw][Cp] (Cp = C rounded up
 * to 8, zero-padded); bias, m, s, pw: i32 [Cp]; ps: i32 [Cp/8], the shared shift of each 8 channels for the
 * SIMD requant (0: scalar requantClamp; see requantClamp8Shared); y: i16 [n][OH][OW][C]. zx: the input's
 * zero point: dwPixel subtracts it on load (|x − zx| ≤ 255 for the 2..8-bit inputs, exact in i16), so the
 * taps the window skips at the border are the real 0; dw3x3Row folds −zx·Σw into the bias and reads zx for a
 * padded tap. zy: the output zero point, added before the clamp. rf: 0, or the f64 multipliers of
 * requantClamp8F64 (f64 [Cp], from requant_f64_params: the layer's bound proves that requant exact), which then
 * replaces the shared-shift one (last, so that an older build called with it ignores it).
 */
export function dwconv_s16_requant(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, pw: usize, ps: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, y: usize, rf: usize, a16: i32, q: usize, qs: i32): void {
  dwCore(x, n, H, W, C, kh, kw, sh, sw, pt, pl, OH, OW, w, Cp, bias, m, s, pw, ps, rf, zx, zy, lo, hi, 0, OH * OW, y, a16, q, qs);
}

/**
 * The same depthwise conv without the requantization, for the simulator (src/sim/chip/fastpath.ts), on the
 * output pixels p0 … p1 − 1 (row-major, 0 ≤ p0 ≤ p1 ≤ OH·OW; a range may start and end mid-row) of each of
 * the n images: y receives their raw accumulators bias[c] + Σ x·w as i32 [n][p1 − p0][C]. The simulator takes
 * one image's pixels a cache-sized slab at a time, then the noise on them. Operands as dwconv_s16_requant
 * (no zero point: the simulator's fast path takes format-1 programs). a16 = 1: every accumulator of the layer
 * over the inputs it can see lies in [−2^15, 2^15) (the caller's proven bound), so 3×3 kernels take the i16
 * taps (dwRaw16Body, dw3x3Row16Raw), each sum widened once to i32 on store; 0 (or an older caller that omits it): i32 taps.
 */
export function dwconv_s16_acc(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, p0: i32, p1: i32, y: usize, a16: i32): void {
  // 3×3 with i16 taps: a body of its own (dwRaw16Body); else dwBody inlined with raw a constant: no requant branch in
  // the loops. dwBody reads a16 only for 3×3 kernels, which with a16 ≠ 0 never reach it here: 0 keeps its i16 rows
  // (dw3x3Row16, the requant export's) out of this function.
  if (ASC_FEATURE_SIMD && kh == 3 && kw == 3 && a16 != 0) {
    dwRaw16Body(x, n, H, W, C, sh, sw, pt, pl, OH, OW, w, Cp, bias, p0, p1, y);
    return;
  }
  dwBody(x, n, H, W, C, kh, kw, sh, sw, pt, pl, OH, OW, w, Cp, bias, 0, 0, 0, 0, 0, 0, 0, 0, 0, p0, p1, y, true, 0, 0, 0);
}

/**
 * dwconv_s16_acc's 3×3 kernel with i16 taps (a16 = 1): dwBody's 3×3 geometry with dw3x3Row16's rows for raw = true
 * and no zero point (dw3x3Row16Raw), in a function of its own, which only the simulator's build compiles (the edge
 * build's dwCore, which shares dwBody, stays as it was).
 */
function dwRaw16Body(x: usize, n: i32, H: i32, W: i32, C: i32, sh: i32, sw: i32, pt: i32, pl: i32, OH: i32, OW: i32,
  w: usize, Cp: i32, bias: usize, p0: i32, p1: i32, y: usize): void {
  const wTap = <usize>Cp << 1;
  const ypx = <usize>C << 2;
  let yp = y;
  // As dwBody: the unchecked columns [oxa, oxb) and the masked left / right columns (−1: none).
  const oxa = dwColA(OW, sw, pl);
  const oxb = dwColB(oxa, OW, W, sw, pl);
  const oxL = dwColL(oxa, W, sw, pl);
  const oxR = dwColR(oxb, W, sw, pl);
  for (let bi = 0; bi < n; bi++) {
    const xb = x + (<usize>(bi * H * W * C) << 1);
    for (let p = p0; p < p1; ) {
      const oy = p / OW;
      const ox0 = p - oy * OW;
      const ox1 = min(OW, p1 - oy * OW);
      const iy = oy * sh - pt;
      const top = iy == -1 && H >= 2;
      const bot = iy >= 0 && iy + 2 == H;
      const fast = top || bot || (iy >= 0 && iy + 3 <= H);
      const a = fast ? max(oxa, ox0) : ox1;
      const b = fast ? min(oxb, ox1) : ox1;
      dw3x3Row16Raw(xb, yp - <usize>ox0 * ypx, iy, top, bot, H, W, C, sw, pl, ox0, ox1, a, b, fast ? oxL : -1, fast ? oxR : -1, w, wTap, bias);
      yp += <usize>(ox1 - ox0) * ypx;
      p += ox1 - ox0;
    }
  }
}

/**
 * dw3x3Row16 with raw = true and zx = 0 (the simulator's fast path takes format-1 programs: no zero point), for
 * dwRaw16Body: the same sums, widened to i32 and stored. A whole group's interior (c + 8 ≤ C) stores its 8 sums with
 * two unconditional stores (dw3x3Row16 goes through emit8's raw storeAcc4, which tests for a partial group per pixel);
 * at stride 1, two pixels per step, each of a row's columns j … j + 3 loaded once for both (12 loads per 2 pixels, not
 * 18; one loaded vector live at a time beside the 9 weights, the bias and the 2 sums). The sums wrap in i16 in another
 * order than mac9's: exact all the same (the layer's bound keeps every sum in i16). Measured with
 * bench/sim/dwacc-ab.ts: this function ~10% faster than dw3x3Row16 inlined in dwconv_s16_acc, the pairs another ~4%
 * (docs/RESULTS.md "Session 31: rawside"); the pairs inside dwconv_s16_acc's large function had measured 3% slower.
 */
// @ts-ignore: decorator
@inline function dw3x3Row16Raw(xb: usize, yr: usize, iy: i32, top: bool, bot: bool, H: i32, W: i32, C: i32, sw: i32, pl: i32,
  ox0: i32, ox1: i32, a: i32, b: i32, oxl: i32, oxr: i32, w: usize, wTap: usize, bias: usize): void {
  const PS = <usize>C << 1;
  const RS = <usize>W * PS;
  const step = <usize>sw * PS;
  const ystep = <usize>C << 2;
  const o0: usize = top ? RS : 0;
  const o2: usize = bot ? RS : 2 * RS;
  const zero = i16x8.splat(0);
  for (let c = 0; c < C; c += 8) {
    const wc = w + (<usize>c << 1);
    let w0 = v128.load(wc), w1 = v128.load(wc + wTap), w2 = v128.load(wc + 2 * wTap);
    const w3 = v128.load(wc + 3 * wTap), w4 = v128.load(wc + 4 * wTap), w5 = v128.load(wc + 5 * wTap);
    let w6 = v128.load(wc + 6 * wTap), w7 = v128.load(wc + 7 * wTap), w8 = v128.load(wc + 8 * wTap);
    if (top) {
      w0 = zero;
      w1 = zero;
      w2 = zero;
    }
    if (bot) {
      w6 = zero;
      w7 = zero;
      w8 = zero;
    }
    // The low 16 bits of each i32 bias (modulo 2^16, as the sums).
    const bc = bias + (<usize>c << 2);
    const bv = i8x16.shuffle(v128.load(bc), v128.load(bc, 16), 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
    for (let ox = ox0; ox < ox1; ox++) {
      if (ox == a) {
        const xw = xb + (<usize>((iy * W + ox * sw - pl) * C + c) << 1);
        let x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
        let yp = yr + <usize>ox * ystep;
        if (c + 8 <= C) {
          let yc = yp + (<usize>c << 2);
          if (sw == 1)
            for (; ox + 2 <= b; ox += 2) {
              // Two pixels: a row's columns j … j + 3 each loaded once for both.
              let t = v128.load(x0);
              let s = i16x8.add(bv, i16x8.mul(t, w0));
              t = v128.load(x0 + PS);
              s = i16x8.add(s, i16x8.mul(t, w1));
              let u = i16x8.add(bv, i16x8.mul(t, w0));
              t = v128.load(x0 + 2 * PS);
              s = i16x8.add(s, i16x8.mul(t, w2));
              u = i16x8.add(u, i16x8.mul(t, w1));
              u = i16x8.add(u, i16x8.mul(v128.load(x0 + 3 * PS), w2));
              t = v128.load(x1);
              s = i16x8.add(s, i16x8.mul(t, w3));
              t = v128.load(x1 + PS);
              s = i16x8.add(s, i16x8.mul(t, w4));
              u = i16x8.add(u, i16x8.mul(t, w3));
              t = v128.load(x1 + 2 * PS);
              s = i16x8.add(s, i16x8.mul(t, w5));
              u = i16x8.add(u, i16x8.mul(t, w4));
              u = i16x8.add(u, i16x8.mul(v128.load(x1 + 3 * PS), w5));
              t = v128.load(x2);
              s = i16x8.add(s, i16x8.mul(t, w6));
              t = v128.load(x2 + PS);
              s = i16x8.add(s, i16x8.mul(t, w7));
              u = i16x8.add(u, i16x8.mul(t, w6));
              t = v128.load(x2 + 2 * PS);
              s = i16x8.add(s, i16x8.mul(t, w8));
              u = i16x8.add(u, i16x8.mul(t, w7));
              u = i16x8.add(u, i16x8.mul(v128.load(x2 + 3 * PS), w8));
              v128.store(yc, i32x4.extend_low_i16x8_s(s));
              v128.store(yc, i32x4.extend_high_i16x8_s(s), 16);
              v128.store(yc + ystep, i32x4.extend_low_i16x8_s(u));
              v128.store(yc + ystep, i32x4.extend_high_i16x8_s(u), 16);
              x0 += 2 * PS;
              x1 += 2 * PS;
              x2 += 2 * PS;
              yc += 2 * ystep;
            }
          for (; ox < b; ox++) {
            let s = i16x8.add(bv, i16x8.mul(v128.load(x0), w0));
            let e = i16x8.mul(v128.load(x0 + PS), w1);
            s = i16x8.add(s, i16x8.mul(v128.load(x0 + 2 * PS), w2));
            e = i16x8.add(e, i16x8.mul(v128.load(x1), w3));
            s = i16x8.add(s, i16x8.mul(v128.load(x1 + PS), w4));
            e = i16x8.add(e, i16x8.mul(v128.load(x1 + 2 * PS), w5));
            s = i16x8.add(s, i16x8.mul(v128.load(x2), w6));
            e = i16x8.add(e, i16x8.mul(v128.load(x2 + PS), w7));
            s = i16x8.add(s, i16x8.mul(v128.load(x2 + 2 * PS), w8));
            s = i16x8.add(s, e);
            v128.store(yc, i32x4.extend_low_i16x8_s(s));
            v128.store(yc, i32x4.extend_high_i16x8_s(s), 16);
            x0 += step;
            x1 += step;
            x2 += step;
            yc += ystep;
          }
        } else {
          for (; ox < b; ox++) {
            mac9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
              v128.load(x2), v128.load(x2 + PS), v128.load(x2 + 2 * PS), w0, w1, w2, w3, w4, w5, w6, w7, w8, bv,
              yp, c, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, true);
            x0 += step;
            x1 += step;
            x2 += step;
            yp += ystep;
          }
        }
        if (ox == ox1) break;
      }
      const ix = ox * sw - pl;
      const xw = xb + (<usize>((iy * W + ix) * C + c) << 1);
      const x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
      const yp = yr + <usize>ox * ystep;
      if (ox == oxl) {
        // Window column 0 left of x: taps 0, 3, 6 zero, their loads from column 1.
        mac9(v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1 + PS), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
          v128.load(x2 + PS), v128.load(x2 + PS), v128.load(x2 + 2 * PS), zero, w1, w2, zero, w4, w5, zero, w7, w8, bv,
          yp, c, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, true);
      } else if (ox == oxr) {
        // Window column 2 right of x: taps 2, 5, 8 zero, their loads from column 1.
        mac9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + PS),
          v128.load(x2), v128.load(x2 + PS), v128.load(x2 + PS), w0, w1, zero, w3, w4, zero, w6, w7, zero, bv,
          yp, c, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, true);
      } else {
        const zxv = zero;
        mac9(tapOr(xb, iy, ix, H, W, C, c, zxv), tapOr(xb, iy, ix + 1, H, W, C, c, zxv), tapOr(xb, iy, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 1, ix, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 2, ix, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 2, H, W, C, c, zxv),
          w0, w1, w2, w3, w4, w5, w6, w7, w8, bv, yp, c, C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, true);
      }
    }
  }
}

/** Stores the i32 lanes of channels c..c+3 that are < C at yp (i32 elements). */
// @ts-ignore: decorator
@inline function storeAcc4(v: v128, yp: usize, c: i32, C: i32): void {
  const p = yp + (<usize>c << 2);
  if (c + 4 <= C) {
    v128.store(p, v);
    return;
  }
  if (c < C) store<i32>(p, i32x4.extract_lane(v, 0));
  if (c + 1 < C) store<i32>(p, i32x4.extract_lane(v, 1), 4);
  if (c + 2 < C) store<i32>(p, i32x4.extract_lane(v, 2), 8);
}

/** Requantizes (or, `raw`, stores as i32) the accumulators a0|a1 of channels c..c+7 (< C) of the pixel at yp. */
// @ts-ignore: decorator
@inline function emit8(a0: v128, a1: v128, yp: usize, c: i32, C: i32, m: usize, s: usize, pw: usize, ps: usize, rf: usize,
  zy: i32, lo: i32, hi: i32, raw: bool): void {
  if (raw) {
    storeAcc4(a0, yp, c, C);
    storeAcc4(a1, yp, c + 4, C);
    return;
  }
  if (rf != 0) {
    const out = requantClamp8F64(a0, a1, rf + (<usize>c << 3), f64x2.splat(MAGIC + f64(zy)), lo, hi);
    if (c + 8 <= C) v128.store(yp + (<usize>c << 1), out);
    else storeLanes(out, yp, c, C);
    return;
  }
  const S = load<i32>(ps + (<usize>(c >> 3) << 2));
  if (S > 0) {
    const cb = <usize>c << 2;
    const out = requantClamp8Shared(a0, a1, v128.load(pw + cb), v128.load(pw + cb, 16), v128.load(m + cb), v128.load(m + cb, 16), S, zy, lo, hi);
    if (c + 8 <= C) v128.store(yp + (<usize>c << 1), out);
    else storeLanes(out, yp, c, C);
    return;
  }
  rqStore(i32x4.extract_lane(a0, 0), yp, c, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a0, 1), yp, c + 1, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a0, 2), yp, c + 2, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a0, 3), yp, c + 3, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a1, 0), yp, c + 4, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a1, 1), yp, c + 5, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a1, 2), yp, c + 6, C, m, s, zy, lo, hi);
  rqStore(i32x4.extract_lane(a1, 3), yp, c + 7, C, m, s, zy, lo, hi);
}

/** Interleaves the low (channels 0..3) i16 lanes of a and b: a0 b0 a1 b1 a2 b2 a3 b3, the pairs `dot_i16x8_s` sums. */
// @ts-ignore: decorator
@inline function zipLo(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
}

/** The same for the high lanes (channels 4..7). */
// @ts-ignore: decorator
@inline function zipHi(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
}

/** The input vector of channels c.. at (iy, ix) when inside x, else zx (whose x − zx is the real 0 of a padded tap). */
// @ts-ignore: decorator
@inline function tapOr(xb: usize, iy: i32, ix: i32, H: i32, W: i32, C: i32, c: i32, zxv: v128): v128 {
  return <u32>iy < <u32>H && <u32>ix < <u32>W ? v128.load(xb + (<usize>((iy * W + ix) * C + c) << 1)) : zxv;
}

/** Σ over the 9 taps x0..x8 of channels c..c+7 with the interleaved weight pairs p*l/p*h, onto b0|b1; then emit8. */
// @ts-ignore: decorator
@inline function dot9(x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128, x8: v128,
  p0l: v128, p0h: v128, p1l: v128, p1h: v128, p2l: v128, p2h: v128, p3l: v128, p3h: v128, p4l: v128, p4h: v128,
  b0: v128, b1: v128, yp: usize, c: i32, C: i32, m: usize, s: usize, pw: usize, ps: usize, rf: usize, zy: i32, lo: i32, hi: i32, raw: bool): void {
  let a0 = i32x4.add(b0, i32x4.dot_i16x8_s(zipLo(x0, x1), p0l));
  let a1 = i32x4.add(b1, i32x4.dot_i16x8_s(zipHi(x0, x1), p0h));
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(zipLo(x2, x3), p1l));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(zipHi(x2, x3), p1h));
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(zipLo(x4, x5), p2l));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(zipHi(x4, x5), p2h));
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(zipLo(x6, x7), p3l));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(zipHi(x6, x7), p3h));
  a0 = i32x4.add(a0, i32x4.dot_i16x8_s(zipLo(x8, x8), p4l));
  a1 = i32x4.add(a1, i32x4.dot_i16x8_s(zipHi(x8, x8), p4h));
  emit8(a0, a1, yp, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
}

/** i32x4 mask keeping the second tap of each interleaved weight pair (the odd i16 lanes): 0xffff0000 = −65,536. */
const KEEP_ODD: i32 = -65536;
/** i32x4 mask keeping the first tap of each pair (the even i16 lanes): 0x0000ffff = 65,535. */
const KEEP_EVEN: i32 = 65535;

/** b − zx·Σw over the taps of the weight pairs q0..q4 (dot(zx, pair) = zx·(wa + wb)): the bias with the zero point folded in. */
// @ts-ignore: decorator
@inline function fold5(b: v128, zxv: v128, q0: v128, q1: v128, q2: v128, q3: v128, q4: v128): v128 {
  const t = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(zxv, q0), i32x4.dot_i16x8_s(zxv, q1)), i32x4.add(i32x4.dot_i16x8_s(zxv, q2), i32x4.dot_i16x8_s(zxv, q3)));
  return i32x4.sub(b, i32x4.add(t, i32x4.dot_i16x8_s(zxv, q4)));
}

/** zipLo (h = 0) or zipHi (h = 1) of a and b; h a constant at each inlined call. */
// @ts-ignore: decorator
@inline function zipH(h: i32, a: v128, b: v128): v128 {
  return h == 0 ? zipLo(a, b) : zipHi(a, b);
}

/**
 * runF64Half for stride 1, the pairs shared between neighbouring outputs: V_j = (x[r0][j], x[r1][j]) meets the
 * weight pairs (w0,w3), (w1,w4), (w2,w5) of the outputs j, j − 1, j − 2, and H_j = (x[r2][j], x[r2][j+1]) meets
 * (w6,w7) of output j and (0,w8) of output j − 1; so each output makes 2 interleaves from 3 loads (V_{o+2}, H_{o+1})
 * instead of 5 from 9, and the same 5 `dot_i16x8_s`. q03..q08: those pairs' low (h = 0) or high halves, the rows'
 * masks applied (weights zeroed). x0..x2: window rows 0..2 at column ox (the group's channels), n ≥ 1 outputs.
 */
// @ts-ignore: decorator
@inline function runF64HalfS1(h: i32, x0: usize, x1: usize, x2: usize, PS: usize, yp: usize, ystep: usize, n: i32,
  q03: v128, q14: v128, q25: v128, q67: v128, q08: v128, bv: v128, f: usize, zy: i32, lo: i32, hi: i32): void {
  const k = f64x2.splat(MAGIC + f64(zy));
  const lov = i16x8.splat(i16(lo));
  const hiv = i16x8.splat(i16(hi));
  let v0 = zipH(h, v128.load(x0), v128.load(x1));
  let v1 = zipH(h, v128.load(x0 + PS), v128.load(x1 + PS));
  let t = v128.load(x2 + PS);
  let h0 = zipH(h, v128.load(x2), t);
  x0 += 2 * PS;
  x1 += 2 * PS;
  x2 += 2 * PS;
  for (let i = 0; i < n; i++) {
    const v2 = zipH(h, v128.load(x0), v128.load(x1));
    const u = v128.load(x2);
    const h1 = zipH(h, t, u);
    let a = i32x4.add(bv, i32x4.dot_i16x8_s(v0, q03));
    a = i32x4.add(a, i32x4.dot_i16x8_s(v1, q14));
    a = i32x4.add(a, i32x4.dot_i16x8_s(v2, q25));
    a = i32x4.add(a, i32x4.dot_i16x8_s(h0, q67));
    a = i32x4.add(a, i32x4.dot_i16x8_s(h1, q08));
    const d0 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(a), v128.load(f)), k);
    const d1 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(a, a, 2, 3, 2, 3)), v128.load(f, 16)), k);
    const r = i32x4.shuffle(d0, d1, 0, 2, 4, 6);
    v128.store64_lane(yp, i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(r, r), lov), hiv), 0);
    v0 = v1;
    v1 = v2;
    h0 = h1;
    t = u;
    x0 += PS;
    x1 += PS;
    x2 += PS;
    yp += ystep;
  }
}

/**
 * The interior run [ox, b) of one 4-channel half (h = 0: channels c..c+3, the low lanes; 1: c+4..c+7) of a whole group
 * (c + 8 ≤ C; x0..x2 at the group's channels in window rows 0..2, yp at its channel c) with the f64 requant: per pixel 5 interleaves, 5 `dot_i16x8_s`, then requantClamp8F64's steps on 4 lanes
 * and one 8-byte store. Half the group at a time keeps the loop's invariants (5 weight pairs, the bias, the f64
 * constant, lo, hi) within x64's 16 vector registers; with both halves in one loop V8 spilled them.
 */
// @ts-ignore: decorator
@inline function runF64Half(h: i32, x0: usize, x1: usize, x2: usize, PS: usize, step: usize, yp: usize, ystep: usize, n: i32,
  q0: v128, q1: v128, q2: v128, q3: v128, q4: v128, bv: v128, f: usize, zy: i32, lo: i32, hi: i32): void {
  const k = f64x2.splat(MAGIC + f64(zy));
  const lov = i16x8.splat(i16(lo));
  const hiv = i16x8.splat(i16(hi));
  const f0 = v128.load(f), f1 = v128.load(f, 16);
  for (let i = 0; i < n; i++) {
    let a: v128;
    if (h == 0) {
      a = i32x4.add(bv, i32x4.dot_i16x8_s(zipLo(v128.load(x0), v128.load(x0 + PS)), q0));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipLo(v128.load(x0 + 2 * PS), v128.load(x1)), q1));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipLo(v128.load(x1 + PS), v128.load(x1 + 2 * PS)), q2));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipLo(v128.load(x2), v128.load(x2 + PS)), q3));
      const t8 = v128.load(x2 + 2 * PS);
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipLo(t8, t8), q4));
    } else {
      a = i32x4.add(bv, i32x4.dot_i16x8_s(zipHi(v128.load(x0), v128.load(x0 + PS)), q0));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipHi(v128.load(x0 + 2 * PS), v128.load(x1)), q1));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipHi(v128.load(x1 + PS), v128.load(x1 + 2 * PS)), q2));
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipHi(v128.load(x2), v128.load(x2 + PS)), q3));
      const t8 = v128.load(x2 + 2 * PS);
      a = i32x4.add(a, i32x4.dot_i16x8_s(zipHi(t8, t8), q4));
    }
    const d0 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(a), f0), k);
    const d1 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(i32x4.shuffle(a, a, 2, 3, 2, 3)), f1), k);
    const r = i32x4.shuffle(d0, d1, 0, 2, 4, 6);
    v128.store64_lane(yp, i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(r, r), lov), hiv), 0);
    x0 += step;
    x1 += step;
    x2 += step;
    yp += ystep;
  }
}

/**
 * Columns ox0 … ox1 − 1 of output row oy of a 3×3 depthwise conv (SIMD). Per 8 channels, the 9 taps are taken in pairs
 * (t0,t1) (t2,t3) (t4,t5) (t6,t7) (t8,t8): the two input vectors are interleaved channel by channel and
 * multiplied with the equally interleaved weights by `i32x4.dot_i16x8_s`, 2 MACs per lane; the pair (t8,t8)
 * meets the weights (w8, 0). The weight pairs are built once per row and 8 channels. The zero point is folded
 * into the bias: Σ (x − zx)·w = Σ x·w − zx·Σ w (exact in wrapping i32, as the accumulator itself is), so the
 * loads need no subtraction (and when zx = 0 the fold is skipped).
 * Borders without checks (`same` padding: at most one padded row or column on a side): a row whose window row 0
 * lies above x (iy = −1) or row 2 below it (iy + 2 = H) has those three taps' weights zeroed in its pairs and their
 * loads redirected to window row 1; likewise the column whose window starts at ix = −1 or ends at ix + 2 = W, per
 * pixel. A zeroed tap contributes 0 whatever it loads, and the fold sums only the weights left, so such a pixel is
 * exact with the interior's arithmetic. Columns [oxa, oxb) have their whole window inside x horizontally. Other
 * windows (padding ≥ 2, an input 1 wide or 1 high) check each tap (tapOr): a padded tap whose weight is still
 * there reads zx, which the fold cancels. yr: y at (oy, 0) (column ox is stored at yr + ox·(bytes per pixel)). The
 * row's geometry comes from dwBody: iy = oy·sh − pt, top / bot (window row 0 / 2 masked), the unchecked columns
 * [a, b) and the masked left / right columns oxl / oxr (−1: none).
 */
// @ts-ignore: decorator
@inline function dw3x3Row(xb: usize, yr: usize, iy: i32, top: bool, bot: bool, H: i32, W: i32, C: i32, sw: i32, pl: i32,
  ox0: i32, ox1: i32, a: i32, b: i32, oxl: i32, oxr: i32, w: usize, wTap: usize, bias: usize, m: usize, s: usize, pw: usize, ps: usize, rf: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, raw: bool): void {
  const PS = <usize>C << 1;
  const RS = <usize>W * PS;
  const step = <usize>sw * PS;
  const ystep = raw ? <usize>C << 2 : <usize>C << 1;
  // Window rows 0 and 2 as byte offsets from row iy (a masked one reads row 1).
  const o0: usize = top ? RS : 0;
  const o2: usize = bot ? RS : 2 * RS;
  const zxv = i16x8.splat(i16(zx));
  const zero = i16x8.splat(0);
  const odd = i32x4.splat(KEEP_ODD);
  const even = i32x4.splat(KEEP_EVEN);
  for (let c = 0; c < C; c += 8) {
    const wc = w + (<usize>c << 1);
    const w0 = v128.load(wc), w1 = v128.load(wc + wTap), w2 = v128.load(wc + 2 * wTap);
    const w3 = v128.load(wc + 3 * wTap), w4 = v128.load(wc + 4 * wTap), w5 = v128.load(wc + 5 * wTap);
    const w6 = v128.load(wc + 6 * wTap), w7 = v128.load(wc + 7 * wTap), w8 = v128.load(wc + 8 * wTap);
    let p0l = zipLo(w0, w1), p0h = zipHi(w0, w1), p1l = zipLo(w2, w3), p1h = zipHi(w2, w3);
    const p2l = zipLo(w4, w5), p2h = zipHi(w4, w5);
    let p3l = zipLo(w6, w7), p3h = zipHi(w6, w7), p4l = zipLo(w8, zero), p4h = zipHi(w8, zero);
    if (top) {
      // Taps 0, 1, 2 above x.
      p0l = zero;
      p0h = zero;
      p1l = v128.and(p1l, odd);
      p1h = v128.and(p1h, odd);
    }
    if (bot) {
      // Taps 6, 7, 8 below x.
      p3l = zero;
      p3h = zero;
      p4l = zero;
      p4h = zero;
    }
    let b0 = v128.load(bias + (<usize>c << 2));
    let b1 = v128.load(bias + (<usize>c << 2), 16);
    if (zx != 0) {
      b0 = fold5(b0, zxv, p0l, p1l, p2l, p3l, p4l);
      b1 = fold5(b1, zxv, p0h, p1h, p2h, p3h, p4h);
    }
    for (let ox = ox0; ox < ox1; ox++) {
      if (ox == a) {
        // The interior: every tap inside x (or masked), no checks.
        const xw = xb + (<usize>((iy * W + ox * sw - pl) * C + c) << 1);
        let x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
        let yp = yr + <usize>ox * ystep;
        // Whole groups with the f64 requant: loops of their own, one half of the channels at a time (runF64Half,
        // runF64HalfS1), with no branch on the requant form in them (with one, V8 spilled the 9 loaded taps and reloaded
        // the pairs around it). A last partial group takes dot9.
        if (!raw && rf != 0 && c + 8 <= C && ox < b) {
          const fc = rf + (<usize>c << 3);
          const yc = yp + (<usize>c << 1);
          if (sw == 1) {
            // The row's masks on the single weights, then the shared pairs (runF64HalfS1).
            const m0 = top ? zero : w0, m1 = top ? zero : w1, m2 = top ? zero : w2;
            const m6 = bot ? zero : w6, m7 = bot ? zero : w7, m8 = bot ? zero : w8;
            runF64HalfS1(0, x0, x1, x2, PS, yc, ystep, b - ox, zipLo(m0, w3), zipLo(m1, w4), zipLo(m2, w5), zipLo(m6, m7), zipLo(zero, m8), b0, fc, zy, lo, hi);
            runF64HalfS1(1, x0, x1, x2, PS, yc + 8, ystep, b - ox, zipHi(m0, w3), zipHi(m1, w4), zipHi(m2, w5), zipHi(m6, m7), zipHi(zero, m8), b1, fc + 32, zy, lo, hi);
          } else {
            runF64Half(0, x0, x1, x2, PS, step, yc, ystep, b - ox, p0l, p1l, p2l, p3l, p4l, b0, fc, zy, lo, hi);
            runF64Half(1, x0, x1, x2, PS, step, yc + 8, ystep, b - ox, p0h, p1h, p2h, p3h, p4h, b1, fc + 32, zy, lo, hi);
          }
          ox = b;
        } else {
          for (; ox < b; ox++) {
            dot9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
              v128.load(x2), v128.load(x2 + PS), v128.load(x2 + 2 * PS), p0l, p0h, p1l, p1h, p2l, p2h, p3l, p3h, p4l, p4h,
              b0, b1, yp, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
            x0 += step;
            x1 += step;
            x2 += step;
            yp += ystep;
          }
        }
        if (ox == ox1) break;
      }
      const ix = ox * sw - pl;
      const xw = xb + (<usize>((iy * W + ix) * C + c) << 1);
      const x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
      if (ox == oxl) {
        // Window column 0 left of x: taps 0, 3, 6 masked, their loads from column 1.
        const l0l = v128.and(p0l, odd), l0h = v128.and(p0h, odd), l1l = v128.and(p1l, even), l1h = v128.and(p1h, even);
        const l3l = v128.and(p3l, odd), l3h = v128.and(p3h, odd);
        const c0 = zx != 0 ? fold5(v128.load(bias + (<usize>c << 2)), zxv, l0l, l1l, p2l, l3l, p4l) : b0;
        const c1 = zx != 0 ? fold5(v128.load(bias + (<usize>c << 2), 16), zxv, l0h, l1h, p2h, l3h, p4h) : b1;
        dot9(v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1 + PS), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
          v128.load(x2 + PS), v128.load(x2 + PS), v128.load(x2 + 2 * PS), l0l, l0h, l1l, l1h, p2l, p2h, l3l, l3h, p4l, p4h,
          c0, c1, yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
      } else if (ox == oxr) {
        // Window column 2 right of x: taps 2, 5, 8 masked, their loads from column 1.
        const r1l = v128.and(p1l, odd), r1h = v128.and(p1h, odd), r2l = v128.and(p2l, even), r2h = v128.and(p2h, even);
        const c0 = zx != 0 ? fold5(v128.load(bias + (<usize>c << 2)), zxv, p0l, r1l, r2l, p3l, zero) : b0;
        const c1 = zx != 0 ? fold5(v128.load(bias + (<usize>c << 2), 16), zxv, p0h, r1h, r2h, p3h, zero) : b1;
        dot9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + PS),
          v128.load(x2), v128.load(x2 + PS), v128.load(x2 + PS), p0l, p0h, r1l, r1h, r2l, r2h, p3l, p3h, zero, zero,
          c0, c1, yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
      } else {
        dot9(tapOr(xb, iy, ix, H, W, C, c, zxv), tapOr(xb, iy, ix + 1, H, W, C, c, zxv), tapOr(xb, iy, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 1, ix, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 2, ix, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 2, H, W, C, c, zxv),
          p0l, p0h, p1l, p1h, p2l, p2h, p3l, p3h, p4l, p4h, b0, b1, yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
      }
    }
  }
}

/**
 * Requantizes the i16 accumulators a of channels c..c+7 (< C): requantClamp8I32 when qs > 0, else emit8's chain;
 * `raw`: stores them widened to i32 (emit8's raw store).
 */
// @ts-ignore: decorator
@inline function emit16(a: v128, yp: usize, c: i32, C: i32, m: usize, s: usize, pw: usize, ps: usize, rf: usize, q: usize, qs: i32,
  zy: i32, lo: i32, hi: i32, raw: bool, fast: bool = false): void {
  // fast (a constant at each inlined call): the caller knows qs > 0, so only the i32 form is emitted (no branch in its loop).
  const a0 = i32x4.extend_low_i16x8_s(a);
  const a1 = i32x4.extend_high_i16x8_s(a);
  if (!raw && (fast || qs > 0)) {
    const out = requantClamp8I32(a0, a1, q + (<usize>c << 2), i32x4.splat((1 << (qs - 1)) + zy * (1 << qs)), qs, lo, hi);
    if (c + 8 <= C) v128.store(yp + (<usize>c << 1), out);
    else storeLanes(out, yp, c, C);
    return;
  }
  emit8(a0, a1, yp, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
}

/** bias + Σ over the 9 taps of x·w for channels c..c+7, all in wrapping i16 (dw3x3Row16); then emit16. */
// @ts-ignore: decorator
@inline function mac9(x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128, x8: v128,
  w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, w8: v128, b: v128,
  yp: usize, c: i32, C: i32, m: usize, s: usize, pw: usize, ps: usize, rf: usize, q: usize, qs: i32, zy: i32, lo: i32, hi: i32, raw: bool, fast: bool = false): void {
  let a = i16x8.add(b, i16x8.mul(x0, w0));
  let e = i16x8.mul(x1, w1);
  a = i16x8.add(a, i16x8.mul(x2, w2));
  e = i16x8.add(e, i16x8.mul(x3, w3));
  a = i16x8.add(a, i16x8.mul(x4, w4));
  e = i16x8.add(e, i16x8.mul(x5, w5));
  a = i16x8.add(a, i16x8.mul(x6, w6));
  e = i16x8.add(e, i16x8.mul(x7, w7));
  a = i16x8.add(a, i16x8.mul(x8, w8));
  emit16(i16x8.add(a, e), yp, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, raw, fast);
}

/**
 * dw3x3Row, requantizing (same geometry, borders and operands; the raw sums: dw3x3Row16Raw), for a layer whose accumulators fit i16 (its proven
 * bound, prepared as a16 = 1; e.g. 4-bit activations and weights): the taps multiply and add in i16x8 lanes,
 * wrapping — the sum is right modulo 2^16, and as the true accumulator lies in [−2^15, 2^15) it is that sum
 * exactly. The folded bias bias − zx·Σw is taken modulo 2^16 too (Σ over the taps left after a border's masking:
 * a masked tap's weight is the zero vector). 8 MACs per `i16x8.mul` and no interleaving, against 8 per
 * `dot_i16x8_s` plus a shuffle; one widening per output. q, qs: requantClamp8I32's multipliers and shift (qs = 0:
 * emit8's requant; q is then not read).
 */
// @ts-ignore: decorator
@inline function dw3x3Row16(xb: usize, yr: usize, iy: i32, top: bool, bot: bool, H: i32, W: i32, C: i32, sw: i32, pl: i32,
  ox0: i32, ox1: i32, a: i32, b: i32, oxl: i32, oxr: i32, w: usize, wTap: usize, bias: usize, m: usize, s: usize, pw: usize, ps: usize, rf: usize,
  q: usize, qs: i32, zx: i32, zy: i32, lo: i32, hi: i32): void {
  const PS = <usize>C << 1;
  const RS = <usize>W * PS;
  const step = <usize>sw * PS;
  const ystep = <usize>C << 1;
  // Window rows 0 and 2 as byte offsets from row iy (a masked one reads row 1).
  const o0: usize = top ? RS : 0;
  const o2: usize = bot ? RS : 2 * RS;
  const zxv = i16x8.splat(i16(zx));
  const zero = i16x8.splat(0);
  for (let c = 0; c < C; c += 8) {
    const wc = w + (<usize>c << 1);
    let w0 = v128.load(wc), w1 = v128.load(wc + wTap), w2 = v128.load(wc + 2 * wTap);
    const w3 = v128.load(wc + 3 * wTap), w4 = v128.load(wc + 4 * wTap), w5 = v128.load(wc + 5 * wTap);
    let w6 = v128.load(wc + 6 * wTap), w7 = v128.load(wc + 7 * wTap), w8 = v128.load(wc + 8 * wTap);
    if (top) {
      w0 = zero;
      w1 = zero;
      w2 = zero;
    }
    if (bot) {
      w6 = zero;
      w7 = zero;
      w8 = zero;
    }
    // The low 16 bits of each i32 bias, minus zx·Σw, modulo 2^16.
    const bc = bias + (<usize>c << 2);
    const b16 = i8x16.shuffle(v128.load(bc), v128.load(bc, 16), 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
    const sw9 = i16x8.add(i16x8.add(i16x8.add(w0, w1), i16x8.add(w2, w3)), i16x8.add(i16x8.add(w4, w5), i16x8.add(i16x8.add(w6, w7), w8)));
    const bv = i16x8.sub(b16, i16x8.mul(zxv, sw9));
    for (let ox = ox0; ox < ox1; ox++) {
      if (ox == a) {
        const xw = xb + (<usize>((iy * W + ox * sw - pl) * C + c) << 1);
        let x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
        let yp = yr + <usize>ox * ystep;
        if (qs > 0) {
          // The i32 requant's loop on its own (as dw3x3Row's f64 one).
          for (; ox < b; ox++) {
            mac9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
              v128.load(x2), v128.load(x2 + PS), v128.load(x2 + 2 * PS), w0, w1, w2, w3, w4, w5, w6, w7, w8, bv,
              yp, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, false, true);
            x0 += step;
            x1 += step;
            x2 += step;
            yp += ystep;
          }
        } else {
          for (; ox < b; ox++) {
            mac9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
              v128.load(x2), v128.load(x2 + PS), v128.load(x2 + 2 * PS), w0, w1, w2, w3, w4, w5, w6, w7, w8, bv,
              yp, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, false);
            x0 += step;
            x1 += step;
            x2 += step;
            yp += ystep;
          }
        }
        if (ox == ox1) break;
      }
      const ix = ox * sw - pl;
      const xw = xb + (<usize>((iy * W + ix) * C + c) << 1);
      const x0 = xw + o0, x1 = xw + RS, x2 = xw + o2;
      if (ox == oxl) {
        // Window column 0 left of x: taps 0, 3, 6 zero, their loads from column 1; the fold without them.
        const bl = i16x8.add(bv, i16x8.mul(zxv, i16x8.add(i16x8.add(w0, w3), w6)));
        mac9(v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x0 + 2 * PS), v128.load(x1 + PS), v128.load(x1 + PS), v128.load(x1 + 2 * PS),
          v128.load(x2 + PS), v128.load(x2 + PS), v128.load(x2 + 2 * PS), zero, w1, w2, zero, w4, w5, zero, w7, w8, bl,
          yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, false);
      } else if (ox == oxr) {
        // Window column 2 right of x: taps 2, 5, 8 zero, their loads from column 1.
        const br = i16x8.add(bv, i16x8.mul(zxv, i16x8.add(i16x8.add(w2, w5), w8)));
        mac9(v128.load(x0), v128.load(x0 + PS), v128.load(x0 + PS), v128.load(x1), v128.load(x1 + PS), v128.load(x1 + PS),
          v128.load(x2), v128.load(x2 + PS), v128.load(x2 + PS), w0, w1, zero, w3, w4, zero, w6, w7, zero, br,
          yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, false);
      } else {
        mac9(tapOr(xb, iy, ix, H, W, C, c, zxv), tapOr(xb, iy, ix + 1, H, W, C, c, zxv), tapOr(xb, iy, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 1, ix, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 1, ix + 2, H, W, C, c, zxv),
          tapOr(xb, iy + 2, ix, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 1, H, W, C, c, zxv), tapOr(xb, iy + 2, ix + 2, H, W, C, c, zxv),
          w0, w1, w2, w3, w4, w5, w6, w7, w8, bv, yr + <usize>ox * ystep, c, C, m, s, pw, ps, rf, q, qs, zy, lo, hi, false);
      }
    }
  }
}

/** One output pixel over the part of its window inside x (the border, and every pixel of other shapes). */
// @ts-ignore: decorator
@inline function dwPixel(xb: usize, yp: usize, W: i32, C: i32, kw: i32, oy: i32, ox: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, ky0: i32, ky1: i32, kx0: i32, kx1: i32, w: usize, wTap: usize, bias: usize, m: usize, s: usize,
  pw: usize, ps: usize, rf: usize, zx: i32, zy: i32, lo: i32, hi: i32, raw: bool): void {
  if (ASC_FEATURE_SIMD) {
    const zxv = i16x8.splat(i16(zx));
    for (let c = 0; c < C; c += 8) {
      let a0 = v128.load(bias + (<usize>c << 2));
      let a1 = v128.load(bias + (<usize>c << 2), 16);
      for (let ky = ky0; ky < ky1; ky++) {
        const iy = oy * sh + ky - pt;
        for (let kx = kx0; kx < kx1; kx++) {
          const ix = ox * sw + kx - pl;
          // Channels ≥ C of this load belong to the next pixel (or the slack) and meet zero weights.
          const xv = i16x8.sub(v128.load(xb + ((<usize>((iy * W + ix) * C + c)) << 1)), zxv);
          const wv = v128.load(w + <usize>(ky * kw + kx) * wTap + (<usize>c << 1));
          a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xv, wv));
          a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xv, wv));
        }
      }
      emit8(a0, a1, yp, c, C, m, s, pw, ps, rf, zy, lo, hi, raw);
    }
  } else {
    for (let c = 0; c < C; c++) {
      let acc = load<i32>(bias + (<usize>c << 2));
      for (let ky = ky0; ky < ky1; ky++) {
        const iy = oy * sh + ky - pt;
        for (let kx = kx0; kx < kx1; kx++) {
          const ix = ox * sw + kx - pl;
          acc += (i32(load<i16>(xb + ((<usize>((iy * W + ix) * C + c)) << 1))) - zx) * i32(load<i16>(w + <usize>(ky * kw + kx) * wTap + (<usize>c << 1)));
        }
      }
      if (raw) store<i32>(yp + (<usize>c << 2), acc);
      else rqStore(acc, yp, c, C, m, s, zy, lo, hi);
    }
  }
}

/** The first of a 3×3 kernel's output columns [oxa, oxb) whose 3 window columns lie inside x: ox·sw − pl ≥ 0. */
// @ts-ignore: decorator
@inline function dwColA(OW: i32, sw: i32, pl: i32): i32 {
  return min(OW, pl > 0 ? (pl + sw - 1) / sw : 0);
}

/** The end of those columns [oxa, oxb): ox·sw − pl + 3 ≤ W. */
// @ts-ignore: decorator
@inline function dwColB(oxa: i32, OW: i32, W: i32, sw: i32, pl: i32): i32 {
  return max(oxa, W + pl - 3 >= 0 ? min(OW, (W + pl - 3) / sw + 1) : 0);
}

/** The column left of [oxa, oxb) whose window starts at ix = −1, masked in the rows' borders (−1: none). */
// @ts-ignore: decorator
@inline function dwColL(oxa: i32, W: i32, sw: i32, pl: i32): i32 {
  return oxa >= 1 && (oxa - 1) * sw - pl == -1 && W >= 2 ? oxa - 1 : -1;
}

/** The column right of [oxa, oxb) whose window ends at ix + 2 = W, masked likewise (−1: none). */
// @ts-ignore: decorator
@inline function dwColR(oxb: i32, W: i32, sw: i32, pl: i32): i32 {
  const ixr = oxb * sw - pl;
  return ixr >= 0 && ixr + 2 == W ? oxb : -1;
}

/**
 * The requantizing depthwise body on output pixels [p0, p1) of each image (row-major; y takes them packed). With
 * SIMD, 3×3 kernels run row by row (the row's part in the range) on dw3x3Row or dw3x3Row16; other kernel sizes (and
 * the scalar build) take dwPixel, which clips the window.
 */
function dwCore(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, pw: usize, ps: usize, rf: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, p0: i32, p1: i32, y: usize, a16: i32, q: usize, qs: i32): void {
  dwBody(x, n, H, W, C, kh, kw, sh, sw, pt, pl, OH, OW, w, Cp, bias, m, s, pw, ps, rf, zx, zy, lo, hi, p0, p1, y, false, a16, q, qs);
}

/** dwCore's body, inlined into dwCore (the requant export) and into dwconv_s16_acc (raw). */
// @ts-ignore: decorator
@inline function dwBody(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, pw: usize, ps: usize, rf: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, p0: i32, p1: i32, y: usize, raw: bool, a16: i32, q: usize, qs: i32): void {
  const wTap = <usize>Cp << 1;
  const ypx = raw ? <usize>C << 2 : <usize>C << 1;
  let yp = y;
  if (ASC_FEATURE_SIMD) {
    if (kh == 3 && kw == 3) {
      // The unchecked columns [oxa, oxb) and the masked left / right columns (−1: none), dwColA … dwColR.
      const oxa = dwColA(OW, sw, pl);
      const oxb = dwColB(oxa, OW, W, sw, pl);
      const oxL = dwColL(oxa, W, sw, pl);
      const oxR = dwColR(oxb, W, sw, pl);
      for (let bi = 0; bi < n; bi++) {
        const xb = x + (<usize>(bi * H * W * C) << 1);
        for (let p = p0; p < p1; ) {
          const oy = p / OW;
          const ox0 = p - oy * OW;
          const ox1 = min(OW, p1 - oy * OW);
          // Window row 0 above x (top) or row 2 below it (bot): masked; a row with both, or further out, checks each
          // tap. The unchecked columns [a, b) lie within [oxa, oxb); a > b leaves every column to the others.
          const iy = oy * sh - pt;
          const top = iy == -1 && H >= 2;
          const bot = iy >= 0 && iy + 2 == H;
          const fast = top || bot || (iy >= 0 && iy + 3 <= H);
          const a = fast ? max(oxa, ox0) : ox1;
          const b = fast ? min(oxb, ox1) : ox1;
          const oxl = fast ? oxL : -1;
          const oxr = fast ? oxR : -1;
          if (a16 != 0) dw3x3Row16(xb, yp - <usize>ox0 * ypx, iy, top, bot, H, W, C, sw, pl, ox0, ox1, a, b, oxl, oxr, w, wTap, bias, m, s, pw, ps, rf, q, qs, zx, zy, lo, hi);
          else dw3x3Row(xb, yp - <usize>ox0 * ypx, iy, top, bot, H, W, C, sw, pl, ox0, ox1, a, b, oxl, oxr, w, wTap, bias, m, s, pw, ps, rf, zx, zy, lo, hi, raw);
          yp += <usize>(ox1 - ox0) * ypx;
          p += ox1 - ox0;
        }
      }
      return;
    }
  }
  for (let b = 0; b < n; b++) {
    const xb = x + (<usize>(b * H * W * C) << 1);
    for (let p = p0; p < p1; p++) {
      const oy = p / OW;
      const ox = p - oy * OW;
      const ky0 = max(0, pt - oy * sh);
      const ky1 = min(kh, H + pt - oy * sh);
      const kx0 = max(0, pl - ox * sw);
      const kx1 = min(kw, W + pl - ox * sw);
      dwPixel(xb, yp, W, C, kw, oy, ox, sh, sw, pt, pl, ky0, ky1, kx0, kx1, w, wTap, bias, m, s, pw, ps, rf, zx, zy, lo, hi, raw);
      yp += ypx;
    }
  }
}
