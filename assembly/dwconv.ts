// Depthwise conv2d (groups = C = outC): each channel convolved with its own kh×kw filter, then the
// per-channel requantization. NHWC keeps channels contiguous, so SIMD runs across channels: 8 channels
// per step, i16 products widened to i32 with `i32x4.extmul_{low,high}_i16x8_s` (exact: |x·w| < 2^15·2^7).

import { requantClamp } from "./requant";

// @ts-ignore: decorator
@inline function rqStore(acc: i32, yp: usize, c: i32, C: i32, m: usize, s: usize, lo: i32, hi: i32): void {
  if (c < C) store<i16>(yp + (<usize>c << 1), i16(requantClamp(acc, load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), lo, hi)));
}

/**
 * x: i16 [n][H][W][C] (plus ≥ 16 bytes of readable slack after it); w: i16 [kh·kw][Cp] (Cp = C rounded up
 * to 8, zero-padded); bias, m, s: i32 [Cp]; y: i16 [n][OH][OW][C].
 */
export function dwconv_s16_requant(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, w: usize, Cp: i32, bias: usize, m: usize, s: usize, lo: i32, hi: i32, y: usize): void {
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
          for (let c = 0; c < C; c += 8) {
            let a0 = v128.load(bias + (<usize>c << 2));
            let a1 = v128.load(bias + (<usize>c << 2), 16);
            for (let ky = ky0; ky < ky1; ky++) {
              const iy = oy * sh + ky - pt;
              for (let kx = kx0; kx < kx1; kx++) {
                const ix = ox * sw + kx - pl;
                // Channels ≥ C of this load belong to the next pixel (or the slack) and meet zero weights.
                const xv = v128.load(xb + ((<usize>((iy * W + ix) * C + c)) << 1));
                const wv = v128.load(w + <usize>(ky * kw + kx) * wTap + (<usize>c << 1));
                a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(xv, wv));
                a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(xv, wv));
              }
            }
            rqStore(i32x4.extract_lane(a0, 0), yp, c, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a0, 1), yp, c + 1, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a0, 2), yp, c + 2, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a0, 3), yp, c + 3, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a1, 0), yp, c + 4, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a1, 1), yp, c + 5, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a1, 2), yp, c + 6, C, m, s, lo, hi);
            rqStore(i32x4.extract_lane(a1, 3), yp, c + 7, C, m, s, lo, hi);
          }
        } else {
          for (let c = 0; c < C; c++) {
            let acc = load<i32>(bias + (<usize>c << 2));
            for (let ky = ky0; ky < ky1; ky++) {
              const iy = oy * sh + ky - pt;
              for (let kx = kx0; kx < kx1; kx++) {
                const ix = ox * sw + kx - pl;
                acc += i32(load<i16>(xb + ((<usize>((iy * W + ix) * C + c)) << 1))) * i32(load<i16>(w + <usize>(ky * kw + kx) * wTap + (<usize>c << 1)));
              }
            }
            rqStore(acc, yp, c, C, m, s, lo, hi);
          }
        }
        yp += <usize>C << 1;
      }
    }
  }
}
