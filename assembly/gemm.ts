// GEMM with fused bias and requantization: y[r][n] = clamp(requant(bias[n] + Σ_k x[r][k]·w[n][k], m[n], s[n]), lo, hi).
//
// Operands (prepared once per layer in TypeScript, src/kernels/wasm/prepare.ts):
//  - x: i16 rows [M][lda], K padded with zeros to Kp (even); activations are ≤ 8-bit (u8 or s8) or s16.
//  - w: weight *panels* of 8 output channels ("8c2" layout). Panel j covers channels 8j..8j+7; inside it,
//    for each k-pair p = 0..Kp/2−1, 16 values: channels 0–3 as (w[n][2p], w[n][2p+1]) pairs, then
//    channels 4–7. N is padded with zero channels to Np = ceil(N/8)·8.
//    With `wbits` = 16 the panels are resident as i16 (no per-call work). With `wbits` = 2, 4 or 8 the
//    panels are stored with that many bits per value, two's complement, LSB-first (the packing of
//    DESIGN.md §3 applied to the panel order), and each panel is unpacked into the small i16 `tile`
//    (Kp·16 bytes) right before use, so resident weight memory stays near the packed size.
//
// Why this layout: `i32x4.dot_i16x8_s(splat(x[r][2p], x[r][2p+1]), w-pairs of 4 channels)` yields the
// four channels' partial sums directly in one i32x4 — no horizontal reduction, no sign extension in the
// inner loop (weights are already i16), and one `v128.load32_splat` of x feeds 2 dots (8 channels).
// This is the "c2" arrangement XNNPACK uses for its wasmsimd qs8 GEMMs with `dot_i16x8` (see
// XNNPACK src/qs8-gemm/MRx4c2-wasmsimd-dot16x2.c.in); here with a 4×8 register tile (8 accumulators,
// 2 weight vectors and 1 broadcast = 11 of the 16 xmm registers V8 can use on x86-64).

import { requantClamp } from "./requant";

/** Values per panel: Kp rows × 8 channels. */
// @ts-ignore: decorator
@inline function panelValues(Kp: i32): i32 {
  return Kp << 3;
}

/**
 * Unpacks `count` (a multiple of 16) signed `bits`-bit values (bits ∈ {2, 4, 8}), LSB-first, from `src`
 * into i16 at `dst`. SIMD: sign extension by arithmetic shifts on i8 lanes, re-interleaving with shuffles.
 */
export function unpack_s16(src: usize, bits: i32, count: i32, dst: usize): void {
  if (ASC_FEATURE_SIMD) {
    if (bits == 8) {
      for (let i = 0; i < count; i += 16) {
        const v = v128.load(src);
        v128.store(dst, i16x8.extend_low_i8x16_s(v));
        v128.store(dst, i16x8.extend_high_i8x16_s(v), 16);
        src += 16;
        dst += 32;
      }
    } else if (bits == 4) {
      for (let i = 0; i < count; i += 16) {
        const v = v128.load64_zero(src);
        const lo = i8x16.shr_s(i8x16.shl(v, 4), 4); // values 2i: low nibbles
        const hi = i8x16.shr_s(v, 4); // values 2i+1: high nibbles
        const z = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v128.store(dst, i16x8.extend_low_i8x16_s(z));
        v128.store(dst, i16x8.extend_high_i8x16_s(z), 16);
        src += 8;
        dst += 32;
      }
    } else {
      for (let i = 0; i < count; i += 16) {
        const v = v128.load32_zero(src);
        const a0 = i8x16.shr_s(i8x16.shl(v, 6), 6); // value 4i
        const a1 = i8x16.shr_s(i8x16.shl(v, 4), 6); // value 4i+1
        const a2 = i8x16.shr_s(i8x16.shl(v, 2), 6); // value 4i+2
        const a3 = i8x16.shr_s(v, 6); // value 4i+3
        const p01 = i8x16.shuffle(a0, a1, 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0);
        const p23 = i8x16.shuffle(a2, a3, 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0);
        const z = i8x16.shuffle(p01, p23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        v128.store(dst, i16x8.extend_low_i8x16_s(z));
        v128.store(dst, i16x8.extend_high_i8x16_s(z), 16);
        src += 4;
        dst += 32;
      }
    }
  } else {
    const mask = (1 << bits) - 1;
    const up = 32 - bits;
    for (let i = 0; i < count; i++) {
      const bit = i * bits;
      const v = (i32(load<u8>(src + (<usize>bit >> 3))) >> (bit & 7)) & mask;
      store<i16>(dst + (<usize>i << 1), i16((v << up) >> up));
    }
  }
}

// @ts-ignore: decorator
@inline function storeRq(acc: i32, row: usize, n: i32, N: i32, m: usize, s: usize, lo: i32, hi: i32): void {
  if (n < N) store<i16>(row + (<usize>n << 1), i16(requantClamp(acc, load<i32>(m + (<usize>n << 2)), load<i32>(s + (<usize>n << 2)), lo, hi)));
}

// @ts-ignore: decorator
@inline function storeRq4(acc: v128, row: usize, n: i32, N: i32, m: usize, s: usize, lo: i32, hi: i32): void {
  storeRq(i32x4.extract_lane(acc, 0), row, n, N, m, s, lo, hi);
  storeRq(i32x4.extract_lane(acc, 1), row, n + 1, N, m, s, lo, hi);
  storeRq(i32x4.extract_lane(acc, 2), row, n + 2, N, m, s, lo, hi);
  storeRq(i32x4.extract_lane(acc, 3), row, n + 3, N, m, s, lo, hi);
}

/**
 * The GEMM kernel, 4×8 register tile over one i16 panel (see the file comment for the operands).
 * x: i16 [M][lda]; panel: i16 8c2 panel of Kp rows; bias/m/s: i32 per channel, indexed from n0;
 * y: i16 [M][ldy], channels n0..n0+7 (only those < N are written).
 */
function gemmPanel(x: usize, lda: i32, M: i32, Kp: i32, panel: usize, n0: i32, N: i32,
  bias: usize, m: usize, s: usize, lo: i32, hi: i32, y: usize, ldy: i32): void {
  const xs = <usize>lda << 1; // bytes per x row
  const ys = <usize>ldy << 1;
  const kpairs = Kp >> 1;
  if (ASC_FEATURE_SIMD) {
    const b0 = v128.load(bias + (<usize>n0 << 2));
    const b1 = v128.load(bias + (<usize>n0 << 2), 16);
    let r = 0;
    for (; r + 4 <= M; r += 4) {
      const x0 = x + <usize>r * xs;
      const x1 = x0 + xs;
      const x2 = x1 + xs;
      const x3 = x2 + xs;
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      let wp = panel;
      for (let p = 0; p < kpairs; p++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        const o = <usize>p << 2;
        const v0 = v128.load32_splat(x0 + o);
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(v0, w0));
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(v0, w1));
        const v1 = v128.load32_splat(x1 + o);
        a10 = i32x4.add(a10, i32x4.dot_i16x8_s(v1, w0));
        a11 = i32x4.add(a11, i32x4.dot_i16x8_s(v1, w1));
        const v2 = v128.load32_splat(x2 + o);
        a20 = i32x4.add(a20, i32x4.dot_i16x8_s(v2, w0));
        a21 = i32x4.add(a21, i32x4.dot_i16x8_s(v2, w1));
        const v3 = v128.load32_splat(x3 + o);
        a30 = i32x4.add(a30, i32x4.dot_i16x8_s(v3, w0));
        a31 = i32x4.add(a31, i32x4.dot_i16x8_s(v3, w1));
        wp += 32;
      }
      const y0 = y + <usize>r * ys;
      storeRq4(a00, y0, n0, N, m, s, lo, hi);
      storeRq4(a01, y0, n0 + 4, N, m, s, lo, hi);
      storeRq4(a10, y0 + ys, n0, N, m, s, lo, hi);
      storeRq4(a11, y0 + ys, n0 + 4, N, m, s, lo, hi);
      storeRq4(a20, y0 + 2 * ys, n0, N, m, s, lo, hi);
      storeRq4(a21, y0 + 2 * ys, n0 + 4, N, m, s, lo, hi);
      storeRq4(a30, y0 + 3 * ys, n0, N, m, s, lo, hi);
      storeRq4(a31, y0 + 3 * ys, n0 + 4, N, m, s, lo, hi);
    }
    for (; r < M; r++) {
      const x0 = x + <usize>r * xs;
      let a00 = b0, a01 = b1;
      let wp = panel;
      for (let p = 0; p < kpairs; p++) {
        const v0 = v128.load32_splat(x0 + (<usize>p << 2));
        a00 = i32x4.add(a00, i32x4.dot_i16x8_s(v0, v128.load(wp)));
        a01 = i32x4.add(a01, i32x4.dot_i16x8_s(v0, v128.load(wp, 16)));
        wp += 32;
      }
      const y0 = y + <usize>r * ys;
      storeRq4(a00, y0, n0, N, m, s, lo, hi);
      storeRq4(a01, y0, n0 + 4, N, m, s, lo, hi);
    }
  } else {
    // Scalar twin: same panel layout, one output at a time.
    for (let r = 0; r < M; r++) {
      const x0 = x + <usize>r * xs;
      const y0 = y + <usize>r * ys;
      for (let c = 0; c < 8; c++) {
        const n = n0 + c;
        if (n >= N) break;
        let acc = load<i32>(bias + (<usize>n << 2));
        let wp = panel + (<usize>(c >> 2) << 4) + (<usize>(c & 3) << 2);
        for (let p = 0; p < kpairs; p++) {
          const xo = x0 + (<usize>p << 2);
          acc += i32(load<i16>(xo)) * i32(load<i16>(wp)) + i32(load<i16>(xo, 2)) * i32(load<i16>(wp, 2));
          wp += 32;
        }
        storeRq(acc, y0, n, N, m, s, lo, hi);
      }
    }
  }
}

/**
 * qs16 GEMM with per-channel requantization, 8c2 weight panels (int16 resident or 2/4/8-bit packed).
 * x: i16 [M][lda]; w: panels (see file comment); wbits: 16 (resident i16) or 2/4/8 (packed, unpacked per
 * panel into `tile`, Kp·16 bytes); bias, m, s: i32 [Np]; y: i16 [M][ldy]; lo/hi: the output clamp.
 */
export function gemm_s16_4x8c2_requant(x: usize, lda: i32, M: i32, Kp: i32,
  w: usize, wbits: i32, tile: usize, N: i32,
  bias: usize, m: usize, s: usize, lo: i32, hi: i32, y: usize, ldy: i32): void {
  const panels = (N + 7) >> 3;
  const vals = panelValues(Kp);
  const panelBytes = <usize>((vals * wbits) >> 3);
  for (let j = 0; j < panels; j++) {
    let panel = w + <usize>j * panelBytes;
    if (wbits != 16) {
      unpack_s16(panel, wbits, vals, tile);
      panel = tile;
    }
    gemmPanel(x, lda, M, Kp, panel, j << 3, N, bias, m, s, lo, hi, y, ldy);
  }
}
