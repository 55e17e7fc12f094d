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

// Which form runs is the host's choice per engine (src/kernels/wasm/prepare.ts, RelaxedForm): where the
// engine's i32 dot is one fused instruction (x86 AVX-VNNI's vpdpbusd) the i32 form, else the i16 form.
// Register tiles: RMR rows × RNP panels per form (scripts/gen-gemm-tiles.ts, RELAXED_TILES, writes them
// into ./gemm-relaxed-tiles.ts, with 1-row and 1-panel tiles for what is left over).

import { requantStore8 } from "./gemm";
import { RMR_I16, RMR_I32, RNP_I16, RNP_I32, rtile } from "./gemm-relaxed-tiles";

/**
 * u7 × i8 GEMM with per-channel requantization on 8c4 panels (see the file comment).
 * x: u8 [M][lda], values in [0, 127]; Kp: K padded to a multiple of 4; w: panels of Kp·8 bytes; T: k-quads
 * per i16 block (1: the i32 form); acc: RMR·RNP·32 bytes of scratch (the larger form's); bias, m, s, pw: i32 [Np]; ps: i32 [Np/8]
 * (as ./gemm.ts); zy, lo, hi: output zero point and clamp; y: i16 [M][ldy].
 */
export function gemm_u7_8c4_requant(x: usize, lda: i32, M: i32, Kp: i32, w: usize, T: i32, acc: usize, N: i32,
  bias: usize, m: usize, s: usize, pw: usize, ps: usize, zy: i32, lo: i32, hi: i32, y: usize, ldy: i32): void {
  const panels = (N + 7) >> 3;
  const quads = Kp >> 2;
  const panelBytes = <usize>Kp << 3;
  const xs = <usize>lda;
  const ys = <usize>ldy << 1;
  const RMR = T > 1 ? RMR_I16 : RMR_I32;
  const RNP = T > 1 ? RNP_I16 : RNP_I32;
  // Row blocks of ~32 KiB of x (L1-sized), each swept by every panel, as in ./gemm.ts.
  const MB = max(RMR, (32768 / Kp) / RMR * RMR);
  for (let r0 = 0; r0 < M; r0 += MB) {
    const r1 = min(M, r0 + MB);
    for (let j = 0; j < panels; ) {
      const np = j + RNP <= panels ? RNP : 1;
      const panel = w + <usize>j * panelBytes;
      const bv = bias + (<usize>j << 5);
      for (let r = r0; r < r1; ) {
        const rows = r + RMR <= r1 ? RMR : 1;
        // Seed the rows × np tile (row i, panel p at byte 32·(i·np + p)) with the panels' biases.
        for (let i = 0; i < rows; i++) for (let p = 0; p < np; p++) {
          const t = acc + (<usize>(i * np + p) << 5);
          v128.store(t, v128.load(bv + (<usize>p << 5)));
          v128.store(t, v128.load(bv + (<usize>p << 5), 16), 16);
        }
        rtile(x + <usize>r * xs, xs, panel, panelBytes, quads, T, acc, rows, np);
        for (let i = 0; i < rows; i++) {
          const yrow = y + <usize>(r + i) * ys;
          for (let p = 0; p < np; p++)
            requantStore8(acc + (<usize>(i * np + p) << 5), yrow, (j + p) << 3, N, m, s, pw, load<i32>(ps + (<usize>(j + p) << 2)), zy, lo, hi);
        }
        r += rows;
      }
      j += np;
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
