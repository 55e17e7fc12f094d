// Pooling on i16 NHWC activations: max pool (`same` padding ignores padded taps, TensorFlow semantics),
// average pool window sums (`valid`, or explicit pads whose taps are the real 0) and global sums of x − zx,
// each followed by the one requantization with the output zero point zy added before the clamp.
// SIMD across 8 channels; the channel tail is handled with scalar code so nothing past C is written.

import { requantClamp, requantClamp8Shared } from "./requant";

/** Max pool. x: i16 [n][H][W][C]; y: i16 [n][OH][OW][C]. Every window has ≥ 1 valid tap. */
export function maxpool_s16(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, y: usize): void {
  let yp = y;
  const C8 = ASC_FEATURE_SIMD ? C & ~7 : 0;
  for (let b = 0; b < n; b++) {
    const xb = x + (<usize>(b * H * W * C) << 1);
    for (let oy = 0; oy < OH; oy++) {
      const ky0 = max(0, pt - oy * sh);
      const ky1 = min(kh, H + pt - oy * sh);
      for (let ox = 0; ox < OW; ox++) {
        const kx0 = max(0, pl - ox * sw);
        const kx1 = min(kw, W + pl - ox * sw);
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          for (; c < C8; c += 8) {
            let a = i16x8.splat(-32768);
            for (let ky = ky0; ky < ky1; ky++) {
              const row = xb + (<usize>(((oy * sh + ky - pt) * W) * C + c) << 1);
              for (let kx = kx0; kx < kx1; kx++) a = i16x8.max_s(a, v128.load(row + (<usize>((ox * sw + kx - pl) * C) << 1)));
            }
            v128.store(yp + (<usize>c << 1), a);
          }
        }
        for (; c < C; c++) {
          let a: i32 = -32768;
          for (let ky = ky0; ky < ky1; ky++) {
            const row = xb + (<usize>(((oy * sh + ky - pt) * W) * C + c) << 1);
            for (let kx = kx0; kx < kx1; kx++) a = max(a, i32(load<i16>(row + (<usize>((ox * sw + kx - pl) * C) << 1))));
          }
          store<i16>(yp + (<usize>c << 1), i16(a));
        }
        yp += <usize>C << 1;
      }
    }
  }
}

/**
 * Requantizes 8 window sums (a0: channels 0–3, a1: 4–7) with the layer's one (m, s) and stores them at yp.
 * simd ≠ 0: the shared-shift SIMD form (S = s, 2^(S−s) = 1), which the host enables when the window-sum
 * bound proves it exact (requantClamp8Shared's contract); else the scalar i64 requantClamp per lane.
 */
// @ts-ignore: decorator
@inline function rq8(a0: v128, a1: v128, yp: usize, m: i32, s: i32, zy: i32, lo: i32, hi: i32, simd: i32): void {
  if (simd) {
    const one = i32x4.splat(1);
    const mv = i32x4.splat(m);
    v128.store(yp, requantClamp8Shared(a0, a1, one, one, mv, mv, s, zy, lo, hi));
    return;
  }
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a0, 0), m, s, zy, lo, hi)));
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a0, 1), m, s, zy, lo, hi)), 2);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a0, 2), m, s, zy, lo, hi)), 4);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a0, 3), m, s, zy, lo, hi)), 6);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a1, 0), m, s, zy, lo, hi)), 8);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a1, 1), m, s, zy, lo, hi)), 10);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a1, 2), m, s, zy, lo, hi)), 12);
  store<i16>(yp, i16(requantClamp(i32x4.extract_lane(a1, 3), m, s, zy, lo, hi)), 14);
}

/**
 * Average pool: window sums of x − zx, then clamp(requant(sum, m, s) + zy, lo, hi). Shapes as maxpool_s16;
 * the taps of explicit pads (pt/pl top/left) are the real 0 and add nothing, so each sum starts at
 * −(real taps)·zx and adds the real taps' x. simd: 1 when the host proved the shared-shift SIMD requant
 * exact for these sums (see rq8).
 */
export function avgpool_s16_requant(x: usize, n: i32, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, m: i32, s: i32, zx: i32, zy: i32, lo: i32, hi: i32, simd: i32, y: usize): void {
  let yp = y;
  const C8 = ASC_FEATURE_SIMD ? C & ~7 : 0;
  for (let b = 0; b < n; b++) {
    const xb = x + (<usize>(b * H * W * C) << 1);
    for (let oy = 0; oy < OH; oy++) {
      const ky0 = max(0, pt - oy * sh);
      const ky1 = min(kh, H + pt - oy * sh);
      for (let ox = 0; ox < OW; ox++) {
        const kx0 = max(0, pl - ox * sw);
        const kx1 = min(kw, W + pl - ox * sw);
        const a0s = -(ky1 - ky0) * (kx1 - kx0) * zx;
        let c = 0;
        if (ASC_FEATURE_SIMD) {
          for (; c < C8; c += 8) {
            let a0 = i32x4.splat(a0s);
            let a1 = a0;
            for (let ky = ky0; ky < ky1; ky++) {
              const row = xb + (<usize>(((oy * sh + ky - pt) * W) * C + c) << 1);
              for (let kx = kx0; kx < kx1; kx++) {
                const v = v128.load(row + (<usize>((ox * sw + kx - pl) * C) << 1));
                a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(v));
                a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(v));
              }
            }
            rq8(a0, a1, yp + (<usize>c << 1), m, s, zy, lo, hi, simd);
          }
        }
        for (; c < C; c++) {
          let a = a0s;
          for (let ky = ky0; ky < ky1; ky++) {
            const row = xb + (<usize>(((oy * sh + ky - pt) * W) * C + c) << 1);
            for (let kx = kx0; kx < kx1; kx++) a += i32(load<i16>(row + (<usize>((ox * sw + kx - pl) * C) << 1)));
          }
          store<i16>(yp + (<usize>c << 1), i16(requantClamp(a, m, s, zy, lo, hi)));
        }
        yp += <usize>C << 1;
      }
    }
  }
}

/**
 * Global average pool: per-channel sums of x − zx over H·W (starting at −H·W·zx), then requant, zy and the
 * clamp. x: i16 [n][HW][C]; y: i16 [n][C]; simd as avgpool.
 */
export function gap_s16_requant(x: usize, n: i32, HW: i32, C: i32, m: i32, s: i32, zx: i32, zy: i32, lo: i32, hi: i32, simd: i32, y: usize): void {
  const a0s = -HW * zx;
  const C8 = ASC_FEATURE_SIMD ? C & ~7 : 0;
  for (let b = 0; b < n; b++) {
    const xb = x + (<usize>(b * HW * C) << 1);
    const yb = y + (<usize>(b * C) << 1);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c < C8; c += 8) {
        let a0 = i32x4.splat(a0s);
        let a1 = a0;
        let p = xb + (<usize>c << 1);
        for (let i = 0; i < HW; i++) {
          const v = v128.load(p);
          a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(v));
          a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(v));
          p += <usize>C << 1;
        }
        rq8(a0, a1, yb + (<usize>c << 1), m, s, zy, lo, hi, simd);
      }
    }
    for (; c < C; c++) {
      let a = a0s;
      let p = xb + (<usize>c << 1);
      for (let i = 0; i < HW; i++) {
        a += i32(load<i16>(p));
        p += <usize>C << 1;
      }
      store<i16>(yb + (<usize>c << 1), i16(requantClamp(a, m, s, zy, lo, hi)));
    }
  }
}
