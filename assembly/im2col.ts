// im2col for conv2d: one sample's input patches as GEMM rows, in the weights' [kh][kw][C/groups] order.
// Taps outside the input become `pad`, the input's zero point (the real 0, DESIGN.md §3; 0 in format 1),
// and each row is zero-filled from K = kh·kw·cpg up to its stride ldo (the GEMM's padded Kp).
//
// Rows are written strictly front to back, so the SIMD copies below may write up to 15 bytes past the
// bytes they own: whatever lands there is overwritten by the next write, and after the last row it falls
// in the allocation's 16 bytes of slack (src/kernels/wasm/arena.ts, SLACK). Reads may likewise run up to
// 15 bytes past a source row. For the short copies of small-channel layers (6 bytes for a 3×1 row of a
// 1-channel image) this beats a `memory.copy` call.

// @ts-ignore: decorator
@inline function copyRow(dst: usize, src: usize, bytes: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let i: usize = 0; i < bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  } else {
    memory.copy(dst, src, bytes);
  }
}

/** Fills `bytes` (even) with the i16 value v. */
// @ts-ignore: decorator
@inline function fillRow(dst: usize, bytes: usize, v: i32): void {
  if (ASC_FEATURE_SIMD) {
    const z = i16x8.splat(i16(v));
    for (let i: usize = 0; i < bytes; i += 16) v128.store(dst + i, z);
  } else if (v == 0) {
    memory.fill(dst, 0, bytes);
  } else {
    for (let i: usize = 0; i < bytes; i += 2) store<i16>(dst + i, i16(v));
  }
}

/**
 * x: i16 [H][W][C] (one sample); out: i16 [OH·OW][ldo]. Channels c0..c0+cpg−1 (one group).
 * pt/pl: top/left padding; sh/sw: strides; pad: the value of a padded tap. pt may be negative: output rows
 * oy0.. of an image (a band, src/kernels/wasm/engine.ts conv2d) are its rows 0.. with pt − oy0·sh.
 */
export function im2col_s16(x: usize, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, c0: i32, cpg: i32, out: usize, ldo: i32, pad: i32): void {
  const K = kh * kw * cpg;
  const tail = <usize>(ldo - K) << 1;
  const rowBytes = <usize>cpg << 1;
  const whole = cpg == C; // groups = 1: the kw taps of one kernel row are contiguous in x
  let o = out;
  const RS = <usize>(W * C) << 1;
  const kb = rowBytes * kw;
  for (let oy = 0; oy < OH; oy++) {
    const iy0 = oy * sh - pt;
    // Output columns [oxa, oxb) of a row whose kh window rows lie inside x have their whole window inside x.
    let oxa = OW, oxb = OW;
    if (ASC_FEATURE_SIMD && whole && kh == 3 && iy0 >= 0 && iy0 + 3 <= H) {
      oxa = min(OW, pl > 0 ? (pl + sw - 1) / sw : 0);
      oxb = max(oxa, W + pl - kw >= 0 ? min(OW, (W + pl - kw) / sw + 1) : 0);
    }
    for (let ox = 0; ox < OW; ox++) {
      if (ox == oxa) {
        // The interior of a 3-row kernel: the three window rows copied without checks.
        let src = x + ((<usize>(iy0 * W + ox * sw - pl) * C + c0) << 1);
        const step = <usize>(sw * C) << 1;
        for (; ox < oxb; ox++) {
          if (ASC_FEATURE_SIMD && (kb & 15) == 0) {
            // Whole vectors: no copy runs past its own bytes, so the three rows may interleave.
            for (let i: usize = 0; i < kb; i += 16) {
              v128.store(o + i, v128.load(src + i));
              v128.store(o + kb + i, v128.load(src + RS + i));
              v128.store(o + 2 * kb + i, v128.load(src + 2 * RS + i));
            }
          } else {
            copyRow(o, src, kb);
            copyRow(o + kb, src + RS, kb);
            copyRow(o + 2 * kb, src + 2 * RS, kb);
          }
          o += 3 * kb;
          if (tail) {
            fillRow(o, tail, 0);
            o += tail;
          }
          src += step;
        }
        if (ox == OW) break;
      }
      const ix0 = ox * sw - pl;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky - pt;
        if (iy < 0 || iy >= H) {
          fillRow(o, rowBytes * kw, pad);
          o += rowBytes * kw;
          continue;
        }
        const base = x + ((<usize>(iy * W) * C + c0) << 1);
        if (whole && ix0 >= 0 && ix0 + kw <= W) {
          copyRow(o, base + (<usize>(ix0 * C) << 1), rowBytes * kw);
          o += rowBytes * kw;
          continue;
        }
        for (let kx = 0; kx < kw; kx++) {
          const ix = ix0 + kx;
          if (ix < 0 || ix >= W) fillRow(o, rowBytes, pad);
          else if (cpg == 1) store<i16>(o, load<i16>(base + (<usize>(ix * C) << 1)));
          else copyRow(o, base + (<usize>(ix * C) << 1), rowBytes);
          o += rowBytes;
        }
      }
      if (tail) {
        fillRow(o, tail, 0);
        o += tail;
      }
    }
  }
}
