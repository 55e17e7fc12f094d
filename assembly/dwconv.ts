// Depthwise conv2d (groups = C = outC): each channel convolved with its own kh×kw filter, then the
// per-channel requantization. NHWC keeps channels contiguous, so SIMD runs across channels: 8 channels
// per step, i16 products widened to i32 with `i32x4.extmul_{low,high}_i16x8_s` (exact: |x·w| < 2^15·2^7).

import { requantClamp, requantClamp8Shared } from "./requant";

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
 * zero point, subtracted on load (|x − zx| ≤ 255 for the 2..8-bit inputs, exact in i16), so the taps the
 * window skips at the border are the real 0; zy: the output zero point, added before the clamp.
 */
export function dwconv_s16_requant(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, pw: usize, ps: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, y: usize): void {
  dwCore(x, n, H, W, C, kh, kw, sh, sw, pt, pl, OH, OW, w, Cp, bias, m, s, pw, ps, zx, zy, lo, hi, y, false);
}

/**
 * The same depthwise conv without the requantization, for the simulator (src/sim/chip/fastpath.ts): y receives
 * the raw accumulators bias[c] + Σ x·w as i32 [n][OH][OW][C]. Operands as dwconv_s16_requant.
 */
export function dwconv_s16_acc(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, y: usize): void {
  dwCore(x, n, H, W, C, kh, kw, sh, sw, pt, pl, OH, OW, w, Cp, bias, 0, 0, 0, 0, 0, 0, 0, 0, y, true);
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

/** The depthwise body; `raw`: store i32 accumulators instead of requantizing (one body for both exports). */
function dwCore(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, pw: usize, ps: usize,
  zx: i32, zy: i32, lo: i32, hi: i32, y: usize, raw: bool): void {
  const wTap = <usize>Cp << 1;
  let yp = y;
  for (let b = 0; b < n; b++) {
    const xb = x + (<usize>(b * H * W * C) << 1);
    for (let oy = 0; oy < OH; oy++) {
      const ky0 = max(0, pt - oy * sh);
      const ky1 = min(kh, H + pt - oy * sh);
      for (let ox = 0; ox < OW; ox++) {
        const kx0 = max(0, pl - ox * sw);
        const kx1 = min(kw, W + pl - ox * sw);
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
            if (raw) {
              storeAcc4(a0, yp, c, C);
              storeAcc4(a1, yp, c + 4, C);
              continue;
            }
            const S = load<i32>(ps + (<usize>(c >> 3) << 2));
            if (S > 0) {
              const cb = <usize>c << 2;
              const out = requantClamp8Shared(a0, a1, v128.load(pw + cb), v128.load(pw + cb, 16), v128.load(m + cb), v128.load(m + cb, 16), S, zy, lo, hi);
              if (c + 8 <= C) v128.store(yp + (<usize>c << 1), out);
              else storeLanes(out, yp, c, C);
              continue;
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
        yp += raw ? <usize>C << 2 : <usize>C << 1;
      }
    }
  }
}
