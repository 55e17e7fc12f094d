// The relaxed-SIMD GEMM (build/nipq-relaxed.wasm only; assembly/relaxed.ts): the same fused GEMM +
// requantization as ./gemm.ts, y[r][n] = clamp(requant(bias[n] + Σ_k x[r][k]·w[n][k]) + zy), for layers
// whose activations are stored unsigned in [0, 127] and whose weights fit i8 (src/kernels/wasm/prepare.ts,
// relaxedBlock, decides per layer and proves the bounds below; other layers run ./gemm.ts in this build).
//
// Operands:
//  - x: u8 rows [M][lda] (narrowed from the i16 arena by narrow_s16_u8), K zero-padded to Kp, a multiple of 4.
//  - w: i8 panels of 8 output channels, "8c4": for k-quad q, 16 bytes for channels 0–3 (byte 4c + t =
//    w[c][4q + t]) then 16 for channels 4–7. N padded with zero channels to a multiple of 8.
//
// `v128.load32_splat(x[r][4q..4q+3])` against one 16-byte weight vector gives four channels' partial sums:
// 16 multiply-adds per instruction, where ./gemm.ts's i32x4.dot_i16x8_s does 8 (XNNPACK's "c4" relaxed
// qs8 GEMMs, src/qs8-gemm/MRx4c4-wasmsimd-dot8x16.c.in, use the same arrangement).
//
// The instructions are deterministic only where the second operand (x) is in [0, 127]: there x86 lowers
// them to pmaddubsw, whose pairwise i16 sum a0·x0 + a1·x1 saturates at ±32767, which |a·x| ≤ 128·127 keeps
// it from reaching (2·128·127 = 32512). Two forms, chosen per layer by T, the number of k-quads whose
// pair sums provably fit one i16 lane: T·2·max|w|·max x ≤ 32767.
//  - T ≥ 2 (low-bit layers; W4A4: T = 136): i16x8.relaxed_dot_i8x16_i7x16_s accumulates T quads in i16
//    lanes (one instruction per 16 products plus an i16 add), widened into the i32 tile every T quads.
//  - T = 1: i32x4.relaxed_dot_i8x16_i7x16_add_s straight into i32 accumulators.
// Both end at the same exact i32 sums as ./gemm.ts (wrapping modulo 2^32 like it, within the proven
// accumulator bound at the end).

import { initAcc, requantStore8 } from "./gemm";

/** Rows of the register tile: 4 rows × 8 channels (8 accumulators, 2 weight vectors, 1 broadcast of x). */
const MR = 4;

/**
 * i32 form (T = 1): `rows` (1 or MR) rows × one panel, accumulating into the i32 tile at acc (bias preloaded).
 */
// @ts-ignore: decorator
@inline function tileAdd(x0: usize, xs: usize, panel: usize, quads: i32, acc: usize, rows: i32): void {
  let wp = panel;
  let o: usize = 0;
  const x1 = x0 + xs;
  const x2 = x1 + xs;
  const x3 = x2 + xs;
  let a00 = v128.load(acc, 0);
  let a01 = v128.load(acc, 16);
  let a10 = v128.load(acc, 32);
  let a11 = v128.load(acc, 48);
  let a20 = v128.load(acc, 64);
  let a21 = v128.load(acc, 80);
  let a30 = v128.load(acc, 96);
  let a31 = v128.load(acc, 112);
  if (rows == MR) {
    for (let q = 0; q < quads; q++) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      const v0 = v128.load32_splat(x0 + o);
      a00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, v0, a00);
      a01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, v0, a01);
      const v1 = v128.load32_splat(x1 + o);
      a10 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, v1, a10);
      a11 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, v1, a11);
      const v2 = v128.load32_splat(x2 + o);
      a20 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, v2, a20);
      a21 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, v2, a21);
      const v3 = v128.load32_splat(x3 + o);
      a30 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w0, v3, a30);
      a31 = i32x4.relaxed_dot_i8x16_i7x16_add_s(w1, v3, a31);
      o += 4;
      wp += 32;
    }
    v128.store(acc, a10, 32);
    v128.store(acc, a11, 48);
    v128.store(acc, a20, 64);
    v128.store(acc, a21, 80);
    v128.store(acc, a30, 96);
    v128.store(acc, a31, 112);
  } else {
    for (let q = 0; q < quads; q++) {
      const v0 = v128.load32_splat(x0 + o);
      a00 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(wp), v0, a00);
      a01 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(wp, 16), v0, a01);
      o += 4;
      wp += 32;
    }
  }
  v128.store(acc, a00, 0);
  v128.store(acc, a01, 16);
}

/**
 * i16 form (T ≥ 2): the same tile, T quads at a time summed in i16 lanes (channel c's lanes 2c, 2c + 1),
 * then widened pairwise into the i32 tile in memory (8 i16 accumulators stay in registers).
 */
// @ts-ignore: decorator
@inline function tileI16(x0: usize, xs: usize, panel: usize, quads: i32, T: i32, acc: usize, rows: i32): void {
  let wp = panel;
  let o: usize = 0;
  const x1 = x0 + xs;
  const x2 = x1 + xs;
  const x3 = x2 + xs;
  for (let q0 = 0; q0 < quads; q0 += T) {
    const q1 = min(quads, q0 + T);
    let s00 = i16x8.splat(0);
    let s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    if (rows == MR) {
      for (let q = q0; q < q1; q++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        const v0 = v128.load32_splat(x0 + o);
        s00 = i16x8.add(s00, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v0));
        s01 = i16x8.add(s01, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v0));
        const v1 = v128.load32_splat(x1 + o);
        s10 = i16x8.add(s10, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v1));
        s11 = i16x8.add(s11, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v1));
        const v2 = v128.load32_splat(x2 + o);
        s20 = i16x8.add(s20, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v2));
        s21 = i16x8.add(s21, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v2));
        const v3 = v128.load32_splat(x3 + o);
        s30 = i16x8.add(s30, i16x8.relaxed_dot_i8x16_i7x16_s(w0, v3));
        s31 = i16x8.add(s31, i16x8.relaxed_dot_i8x16_i7x16_s(w1, v3));
        o += 4;
        wp += 32;
      }
      v128.store(acc, i32x4.add(v128.load(acc, 32), i32x4.extadd_pairwise_i16x8_s(s10)), 32);
      v128.store(acc, i32x4.add(v128.load(acc, 48), i32x4.extadd_pairwise_i16x8_s(s11)), 48);
      v128.store(acc, i32x4.add(v128.load(acc, 64), i32x4.extadd_pairwise_i16x8_s(s20)), 64);
      v128.store(acc, i32x4.add(v128.load(acc, 80), i32x4.extadd_pairwise_i16x8_s(s21)), 80);
      v128.store(acc, i32x4.add(v128.load(acc, 96), i32x4.extadd_pairwise_i16x8_s(s30)), 96);
      v128.store(acc, i32x4.add(v128.load(acc, 112), i32x4.extadd_pairwise_i16x8_s(s31)), 112);
    } else {
      for (let q = q0; q < q1; q++) {
        const v0 = v128.load32_splat(x0 + o);
        s00 = i16x8.add(s00, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(wp), v0));
        s01 = i16x8.add(s01, i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(wp, 16), v0));
        o += 4;
        wp += 32;
      }
    }
    v128.store(acc, i32x4.add(v128.load(acc, 0), i32x4.extadd_pairwise_i16x8_s(s00)), 0);
    v128.store(acc, i32x4.add(v128.load(acc, 16), i32x4.extadd_pairwise_i16x8_s(s01)), 16);
  }
}

/**
 * u7 × i8 GEMM with per-channel requantization on 8c4 panels (see the file comment).
 * x: u8 [M][lda], values in [0, 127]; Kp: K padded to a multiple of 4; w: panels of Kp·8 bytes; T: k-quads
 * per i16 block (1: the i32 form); acc: 128 bytes of scratch; bias, m, s, pw: i32 [Np]; ps: i32 [Np/8]
 * (as ./gemm.ts); zy, lo, hi: output zero point and clamp; y: i16 [M][ldy].
 */
export function gemm_u7_8c4_requant(x: usize, lda: i32, M: i32, Kp: i32, w: usize, T: i32, acc: usize, N: i32,
  bias: usize, m: usize, s: usize, pw: usize, ps: usize, zy: i32, lo: i32, hi: i32, y: usize, ldy: i32): void {
  const panels = (N + 7) >> 3;
  const quads = Kp >> 2;
  const panelBytes = <usize>Kp << 3;
  const xs = <usize>lda;
  const ys = <usize>ldy << 1;
  // Row blocks of ~32 KiB of x (L1-sized), each swept by every panel, as in ./gemm.ts.
  const MB = max(MR, (32768 / Kp) / MR * MR);
  for (let r0 = 0; r0 < M; r0 += MB) {
    const r1 = min(M, r0 + MB);
    for (let j = 0; j < panels; j++) {
      const panel = w + <usize>j * panelBytes;
      const n0 = j << 3;
      const S = load<i32>(ps + (<usize>j << 2));
      const bv = bias + (<usize>n0 << 2);
      for (let r = r0; r < r1; ) {
        const rows = r + MR <= r1 ? MR : 1;
        initAcc(acc, bv, rows);
        const x0 = x + <usize>r * xs;
        if (T > 1) tileI16(x0, xs, panel, quads, T, acc, rows);
        else tileAdd(x0, xs, panel, quads, acc, rows);
        for (let i = 0; i < rows; i++) requantStore8(acc + (<usize>i << 5), y + <usize>(r + i) * ys, n0, N, m, s, pw, S, zy, lo, hi);
        r += rows;
      }
    }
  }
}

/**
 * Narrows i16 rows [M][lda] holding values in [0, 255] to u8 rows [M][ldy]: the first K of each row,
 * zero-filled from K to ldy (ldy ≥ K). Writes stay within each output row.
 */
export function narrow_s16_u8(x: usize, lda: i32, M: i32, K: i32, y: usize, ldy: i32): void {
  for (let r = 0; r < M; r++) {
    const src = x + (<usize>(r * lda) << 1);
    const dst = y + <usize>(r * ldy);
    let k = 0;
    for (; k + 16 <= K; k += 16) {
      const p = src + (<usize>k << 1);
      v128.store(dst + k, i8x16.narrow_i16x8_u(v128.load(p), v128.load(p, 16)));
    }
    for (; k < K; k++) store<u8>(dst + k, load<u16>(src + (<usize>k << 1)));
    for (; k < ldy; k++) store<u8>(dst + k, 0);
  }
}
