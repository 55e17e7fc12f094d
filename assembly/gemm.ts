// GEMM with fused bias and requantization: y[r][n] = clamp(requant(bias[n] + Σ_k x[r][k]·w[n][k], m[n], s[n]) + zy, lo, hi).
// An input zero point z_x is the host's: it folds −z_x·Σ_k w[n][k] into the bias and im2col pads with z_x
// (src/kernels/wasm/prepare.ts), so the i32 accumulators, exact modulo 2^32, end at bias + Σ w·(x − z_x).
//
// Operands (prepared once per layer in TypeScript, src/kernels/wasm/prepare.ts):
//  - x: i16 rows [M][lda], K padded with zeros to Kp; activations are ≤ 8-bit (u8 or s8) or s16.
//  - w: weight *panels* of 8 output channels, "8c2": for k-pair p the kernel needs two i16x8 vectors,
//    (w[n][2p], w[n][2p+1]) for channels n = 0–3 of the panel, then channels 4–7. N is padded with zero
//    channels to a multiple of 8. How those vectors are stored is the container `wbits`:
//      16: each vector as 8 i16 (16 bytes; 2 bytes per weight).
//       8: 16 bytes hold 2 vectors — lane l of the i16x8 word holds vector 0 in bits 0–7, vector 1 in 8–15.
//       4: 16 bytes hold 4 vectors (2 k-pairs) as 4-bit fields of each i16 lane (bits 4j..4j+3 = vector j).
//       2: 16 bytes hold 8 vectors (4 k-pairs) as 2-bit fields (bits 2j..2j+1 = vector j).
//    Decoding is `i16x8.shr_s(i16x8.shl(raw, 16 − c·(j+1)), 16 − c)`: one load and two shifts give a
//    sign-extended weight vector. Short GEMMs (M < UNPACK_MIN_ROWS) decode in registers inside the tile
//    loop; tall ones decode each panel once per row block into `tile` (Kp·16 bytes) and run the i16 tile
//    on it, unless the decoded panel would not fit L1 (Kp·16 > UNPACK_MAX_BYTES), where they too decode in
//    registers. Either way the resident weight memory is exactly c bits per weight (the packed size for 2-,
//    4- and 8-bit weights).
//
// Why this layout: `i32x4.dot_i16x8_s(splat(x[r][2p], x[r][2p+1]), w-pairs of 4 channels)` yields four
// channels' partial sums directly in one i32x4 — no horizontal reduction, no per-load sign extension of
// int8 data in the inner loop, one `v128.load32_splat` of x feeds 2 dots. This is the "c2" arrangement of
// XNNPACK's wasmsimd qs8 GEMMs built on dot_i16x8 (XNNPACK src/qs8-gemm/MRx4c2-wasmsimd-dot16x2.c.in).
// Register tiles: 4×8 on i16 vectors (8 accumulators, 2 weight vectors, 1 broadcast within the 16 xmm
// registers V8 allocates on x86-64), 6×8 when decoding packed weights in registers (the decode is shared
// by more rows; 4, 5 and 6 rows were measured), and 1×32 over four panels for leftover rows (M = 1).
// The tile functions are generated, one per container and row count, so that they stay identical in
// structure: scripts/gen-gemm-tiles.ts writes ./gemm-tiles.ts (marked generated; a test regenerates it).
//
// Requantization: per 8-channel panel either the exact scalar i64 `requantClamp` or, when the prepare step
// proved it exact for this layer (ps[panel] = S > 0), a SIMD form with one shared shift S:
//   requant(a, m, s) = floor((a·2^(S−s)·m + 2^(S−1)) / 2^S)   (multiply numerator and denominator by 2^(S−s)),
// with a·2^(S−s) exact in i32 (S − s ≤ 31 − accBits) and the result within i32 (s ≥ accBits − 1), so
// one shift by the scalar S (on i32 words: ./requant.ts) and a clamp suffice. pw[n] = 2^(S − s[n]).
// Third, for outputs of ≤ 64 levels (4- to 6-bit activations), the fitted form (ps[panel] = −1; ./requant.ts
// requant_fit, requantFit8): clamp((a·M + B) >> 20, lo, hi) in i32 lanes, with per-channel M (in pw) and B (in s)
// that the prepare step found and checked level by level over the layer's proven accumulator range — no i64
// lanes, one shift by an immediate. The fused short-K tile has a twin for it (tile4x8_c16_requantfit).
// Fourth, for groups not fitted (8-bit outputs above all), the f64 form (ps[panel] = −2, PS_F64; ./requant.ts
// f64Channel, requantClamp8F64At): fl(fl(a·f) + 1.5·2^52 + zy) in f64 lanes, f = m·2^−s (in the pw and s slots),
// proven per channel over the layer's accumulator range — exact where the output is not saturated, monotone
// everywhere, so the clamp does the rest. No i64 lanes, no shift. Its fused short-K twin: tile4x8_c16_requantf64.

import { FIXED_S, MAGIC, PS_F64, requantClamp, requantClamp8F64At, requantClamp8Shared, requantFit8 } from "./requant";
import { tile1x32_c16, tile1x32_c2, tile1x32_c4, tile1x32_c8, tile1x8_c16, tile1x8_c2, tile1x8_c4, tile1x8_c8, tile4x8_c16, tile6x8_c16_raw, tile4x8_c16_requant, tile4x8_c16_requantf64, tile4x8_c16_requantfit, tile4x8_c8, tile6x8_c2, tile6x8_c4 } from "./gemm-tiles";

/** Rows from which a packed-weight GEMM decodes panels into the tile instead of in registers. */
const UNPACK_MIN_ROWS = 24;
/** Largest decoded panel (Kp·16 bytes) the unpacking path makes: it must stay in L1 while the block's rows use it. */
const UNPACK_MAX_BYTES = 40960;
/** Fewest rows of a row block (see gemmCore). */
const BLOCK_MIN_ROWS = 56;
/** Longest K (padded) for which the 4×8 i16 tile comes with its requantization (tile4x8_c16_requant, gemmCore). */
const FUSED_MAX_KP = 32;
/** Bytes of x a row block targets (L1). */
const X_BLOCK_BYTES = 32768;
/** Longest K (padded) for which the simulator's accumulate-only GEMM runs tile6x8_c16_raw (gemm_s16_8c2_acc; see gemmRawTiles). */
const RAW_FUSED_MAX_KP = 32;
/** Rows of tile6x8_c16_raw (scripts/gen-gemm-tiles.ts RAW_ROWS). */
const RAW_MR = 6;

/**
 * Decodes one packed panel (container c = 8, 4 or 2) into the i16 layout of container 16 at `tile`
 * (Kp·16 bytes): the same shifts as the fused tiles, stored instead of consumed. Used for tall GEMMs, where
 * one decode per row block serves every row of it (the fused decode is repeated per MR rows).
 */
// @ts-ignore: decorator
@inline function unpackPanel(panel: usize, c: i32, blocks: i32, tile: usize): void {
  let src = panel;
  let dst = tile;
  for (let b = 0; b < blocks; b++) {
    const raw = v128.load(src);
    if (c == 8) {
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 8), 8));
      v128.store(dst, i16x8.shr_s(raw, 8), 16);
      dst += 32;
    } else if (c == 4) {
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 12), 12));
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 8), 12), 16);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 4), 12), 32);
      v128.store(dst, i16x8.shr_s(raw, 12), 48);
      dst += 64;
    } else {
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 14), 14));
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 12), 14), 16);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 10), 14), 32);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 8), 14), 48);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 6), 14), 64);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 4), 14), 80);
      v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 2), 14), 96);
      v128.store(dst, i16x8.shr_s(raw, 14), 112);
      dst += 128;
    }
    src += 16;
  }
}

/** Seeds `rows` rows of the accumulator tile with the panel's 8 biases. */
// @ts-ignore: decorator
@inline export function initAcc(acc: usize, bv: usize, rows: i32): void {
  const b0 = v128.load(bv);
  const b1 = v128.load(bv, 16);
  for (let i = 0; i < rows; i++) {
    v128.store(acc + (<usize>i << 5), b0);
    v128.store(acc + (<usize>i << 5), b1, 16);
  }
}

/** Seeds the 1×32 tile (4 panels of one row) with 32 consecutive biases. */
// @ts-ignore: decorator
@inline function initAcc32(acc: usize, bv: usize): void {
  for (let i: usize = 0; i < 128; i += 16) v128.store(acc + i, v128.load(bv + i));
}

/**
 * Requantizes 8 accumulators (channels n0..n0+7 at acc) of one row and stores those < N as i16 at yrow.
 * S > 0: the SIMD form (see the file comment); S = −1: the fitted form (requantFit8; M in the pw slots, B in the
 * s slots: ./requant.ts requant_fit); S = −2: the f64 form (requantClamp8F64At; f of channels 0–3 in the pw slots,
 * 4–7 in the s slots); S = 0: the scalar i64 requantClamp.
 */
// @ts-ignore: decorator
@inline export function requantStore8(acc: usize, yrow: usize, n0: i32, N: i32, m: usize, s: usize, pw: usize, S: i32, zy: i32, lo: i32, hi: i32): void {
  const cnt = min(8, N - n0);
  if (ASC_FEATURE_SIMD && S != 0) {
    const cb = <usize>n0 << 2;
    const out = S == PS_F64
      ? requantClamp8F64At(v128.load(acc), v128.load(acc, 16), pw + cb, s + cb, f64x2.splat(MAGIC + f64(zy)), lo, hi)
      : S < 0
      ? requantFit8(v128.load(acc), v128.load(acc, 16), v128.load(pw + cb), v128.load(pw + cb, 16), v128.load(s + cb), v128.load(s + cb, 16), lo, hi)
      : S == FIXED_S
        ? requantClamp8Shared(v128.load(acc), v128.load(acc, 16), v128.load(pw + cb), v128.load(pw + cb, 16), v128.load(m + cb), v128.load(m + cb, 16), FIXED_S, zy, lo, hi)
        : requantClamp8Shared(v128.load(acc), v128.load(acc, 16), v128.load(pw + cb), v128.load(pw + cb, 16), v128.load(m + cb), v128.load(m + cb, 16), S, zy, lo, hi);
    if (cnt == 8) {
      v128.store(yrow + (<usize>n0 << 1), out);
    } else {
      v128.store(acc, out); // the accumulators are spent: reuse their scratch for the partial store
      for (let c = 0; c < cnt; c++) store<i16>(yrow + (<usize>(n0 + c) << 1), load<i16>(acc + (<usize>c << 1)));
    }
    return;
  }
  for (let c = 0; c < cnt; c++) {
    const n = n0 + c;
    store<i16>(yrow + (<usize>n << 1), i16(requantClamp(load<i32>(acc + (<usize>c << 2)), load<i32>(m + (<usize>n << 2)), load<i32>(s + (<usize>n << 2)), zy, lo, hi)));
  }
}

/**
 * Scalar twin of the decode: the packed panel (container c = 8, 4, 2; `kpairs` k-pairs) as i16 vectors in
 * the container-16 order at `tile` — vector q of block q / (16/c) is field q mod (16/c) of each i16 lane.
 */
function unpackPanelScalar(panel: usize, c: i32, kpairs: i32, tile: usize): void {
  const V = 16 / c; // vectors per 16-byte block
  const vectors = kpairs << 1;
  let dst = tile;
  for (let q0 = 0; q0 < vectors; q0 += V) {
    const block = panel + (<usize>(q0 / V) << 4);
    for (let j = 0; j < V; j++) {
      const up = 32 - c * (j + 1);
      const down = 32 - c;
      for (let l = 0; l < 8; l++) store<i16>(dst + (<usize>l << 1), i16((i32(load<u16>(block + (<usize>l << 1))) << up) >> down));
      dst += 16;
    }
  }
}

/**
 * qs16 GEMM with per-channel requantization on 8c2 weight panels (see the file comment). The name says what
 * it is, XNNPACK-style: s16 activations, 8c2 panels (8 channels, k-pairs) in any container, requantized s16
 * out; the row tile (4, 6 or 1 rows) is chosen inside.
 * x: i16 [M][lda]; Kp: K padded (even; multiple of 4 for c = 4, of 8 for c = 2); w: panels, Kp·wbits bytes
 * each; acc: 192 bytes of scratch (the accumulator tile); tile: Kp·16 bytes of scratch (a decoded panel,
 * used when wbits < 16 and M ≥ UNPACK_MIN_ROWS); bias, m, s, pw: i32 [Np]; ps: i32 [Np/8] shared
 * shifts (0 = scalar); zy: the output zero point; y: i16 [M][ldy]; lo/hi: the output clamp.
 * Rows come in MR-row tiles per panel; the M mod MR rows left over (all of them when M < MR, e.g. a dense
 * layer at batch 1) use a 1×32 tile over four panels at once, so one broadcast of x feeds 8 dots.
 */
export function gemm_s16_8c2_requant(x: usize, lda: i32, M: i32, Kp: i32,
  w: usize, wbits: i32, acc: usize, tile: usize, N: i32,
  bias: usize, m: usize, s: usize, pw: usize, ps: usize, zy: i32, lo: i32, hi: i32, y: usize, ldy: i32): void {
  gemmCore(x, lda, M, Kp, w, wbits, acc, tile, N, bias, m, s, pw, ps, zy, lo, hi, y, ldy, false);
}

/**
 * The same GEMM without the requantization, for the simulator (src/sim/chip/fastpath.ts), which perturbs the
 * raw accumulators (accumulator bit flips, output Gaussian noise) before requantizing them:
 * y[r][n] = bias[n] + Σ_k x[r][k]·w[n][k] as i32 [M][ldy] (i32 wrap-around, like the fused kernel's
 * accumulators). Operands as gemm_s16_8c2_requant; m, s, pw, ps, zy, lo, hi are not needed.
 */
export function gemm_s16_8c2_acc(x: usize, lda: i32, M: i32, Kp: i32,
  w: usize, wbits: i32, acc: usize, tile: usize, N: i32, bias: usize, y: usize, ldy: i32): void {
  // Short K on i16 panels (container 16, or packed panels decoded per row block as gemmCore does for M ≥
  // UNPACK_MIN_ROWS): the whole 6-row tiles × whole panels in gemmRawTiles; the last partial panel and the
  // last M mod 6 rows by gemmCore. Here, not in gemmCore's raw branch: that branch also runs the edge build's
  // Winograd products (./winograd.ts), which this leaves as they were (nipq-simd.wasm unchanged).
  const unpack = wbits != 16 && M >= UNPACK_MIN_ROWS && Kp * 16 <= UNPACK_MAX_BYTES;
  if (ASC_FEATURE_SIMD && Kp <= RAW_FUSED_MAX_KP && (wbits == 16 || unpack) && M >= RAW_MR && N >= 8) {
    const Mt = M - M % RAW_MR;
    const full = N >> 3;
    gemmRawTiles(x, lda, Mt, Kp, w, wbits, unpack, tile, full, bias, y, ldy);
    const n0 = full << 3;
    if (n0 < N) gemmCore(x, lda, Mt, Kp, w + <usize>full * <usize>(Kp * wbits), wbits, acc, tile, N - n0, bias + (<usize>n0 << 2), 0, 0, 0, 0, 0, 0, 0, y + (<usize>n0 << 2), ldy, true);
    if (Mt < M) gemmCore(x + <usize>Mt * (<usize>lda << 1), lda, M - Mt, Kp, w, wbits, acc, tile, N, bias, 0, 0, 0, 0, 0, 0, 0, y + <usize>Mt * (<usize>ldy << 2), ldy, true);
    return;
  }
  gemmCore(x, lda, M, Kp, w, wbits, acc, tile, N, bias, 0, 0, 0, 0, 0, 0, 0, y, ldy, true);
}

/**
 * The simulator's raw GEMM at short K (Kp ≤ RAW_FUSED_MAX_KP), rows [0, Mt) (a multiple of RAW_MR) × the first
 * `panels` whole panels: tile6x8_c16_raw, one call per row block and panel looping over the block's 6×8 tiles (as
 * gemmCore's short-K requant tiles, session 30), its accumulators starting at the biases and stored from
 * its registers to y (i32, row stride ldy) — no `initAcc` stores and loads, no pass through `acc` and
 * `storeAcc8` (the raw counterpart of tile4x8_c16_requant; docs/RESULTS.md "the raw GEMM at short K"). Rows in
 * gemmCore's balanced blocks, each swept by every panel; packed panels (unpack) decoded once per block into
 * `tile`. Each output is the same dots in the same order as in gemmCore's tiles: the same i32 accumulators.
 * The tile has two call sites (decoded or in-place panel) on purpose: with one, binaryen inlined it here, and
 * that loop (4 rows) ran 4–13% slower than main at K = 24…32 (bench/kernels/gemm-ab.ts --raw), as tile loops
 * moved into their caller did for w16m; as a call, faster at every K ≤ 32.
 */
function gemmRawTiles(x: usize, lda: i32, Mt: i32, Kp: i32, w: usize, wbits: i32, unpack: bool, tile: usize, panels: i32, bias: usize, y: usize, ldy: i32): void {
  const panelBytes = <usize>(Kp * wbits);
  const xs = <usize>lda << 1;
  const ys = <usize>ldy << 2;
  const kpairs = Kp >> 1;
  const blocks = wbits == 2 ? kpairs >> 2 : wbits == 4 ? kpairs >> 1 : kpairs; // 16-byte blocks of a packed panel
  let MB = max(BLOCK_MIN_ROWS, (X_BLOCK_BYTES / (Kp << 1)) / RAW_MR * RAW_MR);
  const nb = max(1, (Mt + (MB >> 1)) / MB);
  MB = ((Mt + nb - 1) / nb + RAW_MR - 1) / RAW_MR * RAW_MR;
  for (let r0 = 0; r0 < Mt; r0 += MB) {
    const r1 = min(Mt, r0 + MB);
    for (let j = 0; j < panels; j++) {
      const pan = w + <usize>j * panelBytes;
      const n0 = <usize>j << 3;
      const bv = bias + (n0 << 2);
      if (unpack) {
        unpackPanel(pan, wbits, blocks, tile);
        tile6x8_c16_raw(x + <usize>r0 * xs, xs, tile, kpairs, bv, y + <usize>r0 * ys + (n0 << 2), ys, r1 - r0);
      } else {
        tile6x8_c16_raw(x + <usize>r0 * xs, xs, pan, kpairs, bv, y + <usize>r0 * ys + (n0 << 2), ys, r1 - r0);
      }
    }
  }
}

/** Stores the 8 accumulators of one row (channels n0..n0+7 at acc) that are < N as i32 at yrow. */
// @ts-ignore: decorator
@inline function storeAcc8(acc: usize, yrow: usize, n0: i32, N: i32): void {
  const cnt = min(8, N - n0);
  const yp = yrow + (<usize>n0 << 2);
  if (ASC_FEATURE_SIMD && cnt == 8) {
    v128.store(yp, v128.load(acc));
    v128.store(yp, v128.load(acc, 16), 16);
    return;
  }
  for (let c = 0; c < cnt; c++) store<i32>(yp + (<usize>c << 2), load<i32>(acc + (<usize>c << 2)));
}

/**
 * The GEMM body; `raw`: store the accumulators instead of requantizing (also the Winograd convolution's 16
 * products per tile, ./winograd.ts). One shared body, not inlined into both exports: the flag is tested per row tile, outside the K loop (no measurable cost on the fixture,
 * bench A/B 221–224 ms either way), and the shipped .wasm stays ~7 KB smaller.
 */
export function gemmCore(x: usize, lda: i32, M: i32, Kp: i32,
  w: usize, wbits: i32, acc: usize, tile: usize, N: i32,
  bias: usize, m: usize, s: usize, pw: usize, ps: usize, zy: i32, lo: i32, hi: i32, y: usize, ldy: i32, raw: bool): void {
  const panels = (N + 7) >> 3;
  const panelBytes = <usize>(Kp * wbits);
  const xs = <usize>lda << 1;
  const ys = raw ? <usize>ldy << 2 : <usize>ldy << 1;
  if (!ASC_FEATURE_SIMD) {
    // Scalar twin: the same panels; packed ones decoded once per panel into the tile (scalar shifts),
    // then one output at a time with pointer-stepped loads (the panel layout keeps both the pair of a
    // channel's weights and the pair of x values adjacent).
    for (let j = 0; j < panels; j++) {
      let panel = w + <usize>j * panelBytes;
      if (wbits != 16) {
        unpackPanelScalar(panel, wbits, Kp >> 1, tile);
        panel = tile;
      }
      const n0 = j << 3;
      const bv = bias + (<usize>n0 << 2);
      for (let r = 0; r < M; r++) {
        const x0 = x + <usize>r * xs;
        for (let c = 0; c < 8; c++) {
          let a = load<i32>(bv + (<usize>c << 2));
          let wp = panel + (<usize>(c >> 2) << 4) + (<usize>(c & 3) << 2);
          let xp = x0;
          for (let p = 0; p < (Kp >> 1); p++) {
            a += i32(load<i16>(xp)) * i32(load<i16>(wp)) + i32(load<i16>(xp, 2)) * i32(load<i16>(wp, 2));
            xp += 4;
            wp += 32;
          }
          store<i32>(acc + (<usize>c << 2), a);
        }
        if (raw) storeAcc8(acc, y + <usize>r * ys, n0, N);
        else requantStore8(acc, y + <usize>r * ys, n0, N, m, s, pw, 0, zy, lo, hi);
      }
    }
    return;
  }
  const kpb = wbits == 2 ? 4 : wbits == 4 ? 2 : 1; // k-pairs per 16-byte block
  const blocks = (Kp >> 1) / kpb;
  // Tall GEMMs with packed weights: decode each panel once per row block into `tile` and run the i16 tile
  // on it, when the decoded panel fits L1 (Kp·16 ≤ UNPACK_MAX_BYTES); short GEMMs, and tall ones with longer
  // K (resnet18's K = 4608: 74 KB decoded, 37 KB packed), decode in registers inside the tile.
  const tall = M >= UNPACK_MIN_ROWS;
  const unpack = wbits != 16 && tall && Kp * 16 <= UNPACK_MAX_BYTES;
  const cw = unpack ? 16 : wbits; // the container the row tiles read
  const MR = cw >= 8 ? 4 : 6;
  // Rows in blocks, each swept by every panel: a block's x is read from memory once, and each panel, read
  // once per block, serves all its rows from L1. A block is ~X_BLOCK_BYTES of x (L1), but at least
  // BLOCK_MIN_ROWS rows (x then in L2: ≤ 56 × 9 KB at K = 4608): at K = 2304…4608, 32 KiB of x are 4–7 rows,
  // and a decoded panel then served one tile per decode, and all of a layer's weights (2.4 MB at 512 × 4608,
  // int8, more than L2) came again from L3 per 4 rows; with 24-row blocks, still twice for 49 rows.
  // Tall GEMMs also take the rows past the last whole tile in the blocks, one at a time on the resident
  // panel; short ones (M < UNPACK_MIN_ROWS) leave them to the 1×32 tile over four panels below.
  const Mt = tall ? M : M - M % MR; // the rows the blocks cover
  let MB = max(BLOCK_MIN_ROWS, (X_BLOCK_BYTES / (Kp << 1)) / MR * MR);
  // Balanced blocks (a last block of a few rows would cost a whole pass over the panels): the number of
  // blocks rounded to the nearest, their rows spread evenly, in whole tiles.
  const nb = max(1, (Mt + (MB >> 1)) / MB);
  MB = ((Mt + nb - 1) / nb + MR - 1) / MR * MR;
  const rowBlocks = cw == 16 ? Kp >> 1 : blocks; // the tiles' loop count: k-pairs, or 16-byte blocks
  for (let r0 = 0; r0 < Mt; r0 += MB) {
  const r1 = min(Mt, r0 + MB);
  const rt = r1 - (r1 - r0) % MR; // end of the block's whole tiles
  for (let j = 0; j < panels; j++) {
    const panel = w + <usize>j * panelBytes;
    const n0 = j << 3;
    const S = raw ? 0 : load<i32>(ps + (<usize>j << 2));
    const bv = bias + (<usize>n0 << 2);
    let pan = panel;
    if (unpack) {
      unpackPanel(panel, wbits, blocks, tile);
      pan = tile;
    }
    let r = r0;
    // Short K (Kp ≤ FUSED_MAX_KP), a whole panel (8 channels < N), a SIMD shared shift (S > 0): the 4×8 i16
    // tile with its requantization takes all the block's whole tiles (MR = 4). Its accumulators start at the
    // biases (no `initAcc` stores and loads) and row 0 is requantized straight from its registers; rows 1–3
    // pass through `acc` (with all 8 accumulators and the requant's temporaries live V8 spills anyway; the
    // all-register variant measured within 2 %). Per-output work, which dominates at the K = 16–32 of
    // mobilenetv2's stem and expansions; at K ≥ 144 this tile, a function of its own, ran 2–7 % slower than
    // tile4x8_c16 inlined here (inlined here itself: 6–25 % slower at K ≥ 24), hence the bound (docs/RESULTS.md
    // "mobilenetv2: the short-K GEMMs"). The same integers: the same dots in the same order, the same requant.
    // Panels with the fitted requant (S = −1) take its twin, tile4x8_c16_requantfit (docs/RESULTS.md "Session 29"), and
    // those with the f64 requant (S = −2) tile4x8_c16_requantf64 (docs/RESULTS.md "Session 30"). Each takes all the
    // block's whole tiles in one call, looping over their rows itself (session 30: W8A8 ~3% faster than a call per tile).
    if (cw == 16 && !raw && S == PS_F64 && n0 + 8 <= N && Kp <= FUSED_MAX_KP) {
      tile4x8_c16_requantf64(x + <usize>r * xs, xs, pan, rowBlocks, bv, pw + (<usize>n0 << 2), s + (<usize>n0 << 2), zy, lo, hi, y + <usize>r * ys + (<usize>n0 << 1), ys, rt - r);
      r = rt;
    }
    if (cw == 16 && !raw && S == -1 && n0 + 8 <= N && Kp <= FUSED_MAX_KP) {
      tile4x8_c16_requantfit(x + <usize>r * xs, xs, pan, rowBlocks, bv, acc, pw + (<usize>n0 << 2), s + (<usize>n0 << 2), lo, hi, y + <usize>r * ys + (<usize>n0 << 1), ys, rt - r);
      r = rt;
    }
    if (cw == 16 && !raw && S > 0 && n0 + 8 <= N && Kp <= FUSED_MAX_KP) {
      tile4x8_c16_requant(x + <usize>r * xs, xs, pan, rowBlocks, bv, acc, pw + (<usize>n0 << 2), m + (<usize>n0 << 2), S, zy, lo, hi, y + <usize>r * ys + (<usize>n0 << 1), ys, rt - r);
      r = rt;
    }
    for (; r < rt; r += MR) {
      initAcc(acc, bv, MR);
      const x0 = x + <usize>r * xs;
      if (cw == 16) tile4x8_c16(x0, xs, pan, rowBlocks, acc);
      else if (cw == 8) tile4x8_c8(x0, xs, pan, rowBlocks, acc);
      else if (cw == 4) tile6x8_c4(x0, xs, pan, rowBlocks, acc);
      else tile6x8_c2(x0, xs, pan, rowBlocks, acc);
      if (raw) for (let i = 0; i < MR; i++) storeAcc8(acc + (<usize>i << 5), y + <usize>(r + i) * ys, n0, N);
      else for (let i = 0; i < MR; i++) requantStore8(acc + (<usize>i << 5), y + <usize>(r + i) * ys, n0, N, m, s, pw, S, zy, lo, hi);
    }
    for (let r = rt; r < r1; r++) {
      initAcc(acc, bv, 1);
      const x0 = x + <usize>r * xs;
      if (cw == 16) tile1x8_c16(x0, xs, pan, rowBlocks, acc);
      else if (cw == 8) tile1x8_c8(x0, xs, pan, rowBlocks, acc);
      else if (cw == 4) tile1x8_c4(x0, xs, pan, rowBlocks, acc);
      else tile1x8_c2(x0, xs, pan, rowBlocks, acc);
      if (raw) storeAcc8(acc, y + <usize>r * ys, n0, N);
      else requantStore8(acc, y + <usize>r * ys, n0, N, m, s, pw, S, zy, lo, hi);
    }
  }
  }
  for (let r = Mt; r < M; r++) {
    const x0 = x + <usize>r * xs;
    const yr = y + <usize>r * ys;
    let j = 0;
    for (; j + 4 <= panels; j += 4) {
      const panel = w + <usize>j * panelBytes;
      initAcc32(acc, bias + (<usize>j << 5));
      if (wbits == 16) tile1x32_c16(x0, panel, panelBytes, blocks, acc);
      else if (wbits == 8) tile1x32_c8(x0, panel, panelBytes, blocks, acc);
      else if (wbits == 4) tile1x32_c4(x0, panel, panelBytes, blocks, acc);
      else tile1x32_c2(x0, panel, panelBytes, blocks, acc);
      if (raw) for (let q = 0; q < 4; q++) storeAcc8(acc + (<usize>q << 5), yr, (j + q) << 3, N);
      else for (let q = 0; q < 4; q++) requantStore8(acc + (<usize>q << 5), yr, (j + q) << 3, N, m, s, pw, load<i32>(ps + (<usize>(j + q) << 2)), zy, lo, hi);
    }
    for (; j < panels; j++) {
      const panel = w + <usize>j * panelBytes;
      initAcc(acc, bias + (<usize>j << 5), 1);
      if (wbits == 16) tile1x8_c16(x0, xs, panel, blocks, acc);
      else if (wbits == 8) tile1x8_c8(x0, xs, panel, blocks, acc);
      else if (wbits == 4) tile1x8_c4(x0, xs, panel, blocks, acc);
      else tile1x8_c2(x0, xs, panel, blocks, acc);
      if (raw) storeAcc8(acc, yr, j << 3, N);
      else requantStore8(acc, yr, j << 3, N, m, s, pw, load<i32>(ps + (<usize>j << 2)), zy, lo, hi);
    }
  }
}
