// Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (groups 1), exact in integers (Lavin & Gray 2016, "Fast
// Algorithms for Convolutional Neural Networks", §4.1: the F(2×2, 3×3) matrices Bᵀ, G, Aᵀ). Each 2×2 block
// of outputs (a tile) is Y = Aᵀ [U ⊙ V] A summed over input channels, with V = Bᵀ d B of the tile's 4×4
// input patch d and U = G g Gᵀ of each 3×3 filter g. Here everything stays an integer:
//  - the host transforms the weights with 2G (G's ½ entries doubled, src/kernels/wasm/winograd.ts):
//    U = (2G) g (2G)ᵀ = 4·G g Gᵀ, an integer with |U| ≤ 9·max|w| (≤ 1152 for 8-bit weights: i16);
//  - V = Bᵀ (d − z_x) B has entries 0, ±1 in Bᵀ: each V is a ± sum of 4 values of d − z_x, so |V| ≤
//    4·max|x − z_x| (≤ 1020 for 8-bit activations: i16). Bᵀ 1 1ᵀ B is zero but at position (1, 1), where it
//    is 4, so V(d − z_x) = V(d) − 4·z_x there only: d is transformed as stored, padded taps read z_x, and one
//    subtraction per tile corrects (i16 sums that wrap in between come back, the result being in range);
//  - for each of the 16 positions ξ, M_ξ[tile][n] = Σ_c V_ξ[tile][c]·U_ξ[n][c] is a GEMM [tiles × C]·[C × N]
//    run by the baseline GEMM's accumulate-only body (./gemm.ts gemmCore, i32x4.dot_i16x8_s and i32 adds):
//    exact modulo 2^32;
//  - Y = Aᵀ M A (entries 0, ±1, i32 adds that wrap) is then 4·S modulo 2^32, with S = Σ w·(x − z_x) the
//    direct convolution's sum. The host uses this kernel only when the layer's proven bound (from its
//    weights and input range) gives −2^29 ≤ S < 2^29: then 4·S fits i32, so Y is 4·S exactly and Y >> 2
//    (arithmetic) is S. acc = S + bias is the direct path's accumulator, requantized by the same
//    requantStore8 (same shared-shift proof): the same integers as the im2col GEMM, bit for bit.
// The multiplies fall 2.25× (16 per 4 outputs instead of 36); the transforms are O(C) per tile.
//
// One call runs tile rows [g0, g1) of a batch (tile row g: image g / TH, row g mod TH, TH = ceil(OH / 2)),
// in three phases on scratch sized by the host for the band:
//  1. V: [16][tiles][ldv] i16 (ldv: C rounded up to 8; lanes C..ldv−1 are whatever the loads past a pixel
//     read, multiplied only by the zero weights of k ≥ C or not read at all);
//  2. M: [16][tiles][Np] i32, the 16 GEMMs (bias 0: `zbias`);
//  3. per tile and 8 output channels: Y, >> 2, + bias, requant, the 2×2 outputs inside OH × OW stored.
// Tiles whose 4×4 patch leaves the image (borders; every tile of a 7×7 map) first copy it into `patch`
// (16·ldv i16) with z_x at the padded taps; partial tiles (odd OH, OW) compute and drop the extra outputs.

import { gemmCore, requantStore8 } from "./gemm";

/**
 * The input transform of one tile: V = Bᵀ d B − 4·z_x·e₁₁ for the 4×4 patch at `src` (row step RS, column
 * step CS, bytes), every channel c < C; V_ξ goes to dst + ξ·vs (bytes). Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0;
 * 0 1 0 −1]: row i of Bᵀ d combines two patch rows, then each row of that is combined the same way.
 */
// @ts-ignore: decorator
@inline function inputTile(src: usize, RS: usize, CS: usize, C: i32, z4: i32, dst: usize, vs: usize): void {
  if (ASC_FEATURE_SIMD) {
    const zv = i16x8.splat(i16(z4));
    for (let cb: usize = 0; cb < (<usize>C << 1); cb += 16) {
      const r0 = src + cb, r1 = r0 + RS, r2 = r1 + RS, r3 = r2 + RS;
      const o = dst + cb;
      // Row 0 of Bᵀd: d0 − d2.
      let t0 = i16x8.sub(v128.load(r0), v128.load(r2));
      let t1 = i16x8.sub(v128.load(r0 + CS), v128.load(r2 + CS));
      let t2 = i16x8.sub(v128.load(r0 + 2 * CS), v128.load(r2 + 2 * CS));
      let t3 = i16x8.sub(v128.load(r0 + 3 * CS), v128.load(r2 + 3 * CS));
      v128.store(o, i16x8.sub(t0, t2));
      v128.store(o + vs, i16x8.add(t1, t2));
      v128.store(o + 2 * vs, i16x8.sub(t2, t1));
      v128.store(o + 3 * vs, i16x8.sub(t1, t3));
      // Rows 1 and 2: d1 + d2 and d2 − d1, from the same loads.
      const a0 = v128.load(r1), b0 = v128.load(r2);
      const a1 = v128.load(r1 + CS), b1 = v128.load(r2 + CS);
      const a2 = v128.load(r1 + 2 * CS), b2 = v128.load(r2 + 2 * CS);
      const a3 = v128.load(r1 + 3 * CS), b3 = v128.load(r2 + 3 * CS);
      t0 = i16x8.add(a0, b0); t1 = i16x8.add(a1, b1); t2 = i16x8.add(a2, b2); t3 = i16x8.add(a3, b3);
      v128.store(o + 4 * vs, i16x8.sub(t0, t2));
      v128.store(o + 5 * vs, i16x8.sub(i16x8.add(t1, t2), zv));
      v128.store(o + 6 * vs, i16x8.sub(t2, t1));
      v128.store(o + 7 * vs, i16x8.sub(t1, t3));
      t0 = i16x8.sub(b0, a0); t1 = i16x8.sub(b1, a1); t2 = i16x8.sub(b2, a2); t3 = i16x8.sub(b3, a3);
      v128.store(o + 8 * vs, i16x8.sub(t0, t2));
      v128.store(o + 9 * vs, i16x8.add(t1, t2));
      v128.store(o + 10 * vs, i16x8.sub(t2, t1));
      v128.store(o + 11 * vs, i16x8.sub(t1, t3));
      // Row 3: d1 − d3.
      t0 = i16x8.sub(v128.load(r1), v128.load(r3));
      t1 = i16x8.sub(v128.load(r1 + CS), v128.load(r3 + CS));
      t2 = i16x8.sub(v128.load(r1 + 2 * CS), v128.load(r3 + 2 * CS));
      t3 = i16x8.sub(v128.load(r1 + 3 * CS), v128.load(r3 + 3 * CS));
      v128.store(o + 12 * vs, i16x8.sub(t0, t2));
      v128.store(o + 13 * vs, i16x8.add(t1, t2));
      v128.store(o + 14 * vs, i16x8.sub(t2, t1));
      v128.store(o + 15 * vs, i16x8.sub(t1, t3));
    }
    return;
  }
  // Scalar twin: the same sums per channel, in i32, stored as i16 (exact: the results are in range).
  for (let cb: usize = 0; cb < (<usize>C << 1); cb += 2) {
    for (let i = 0; i < 4; i++) {
      // Row i of Bᵀd: ra − rb (i = 0, 2, 3) or ra + rb (i = 1).
      const ra = src + cb + <usize>(i == 0 ? 0 : i == 2 ? 2 : 1) * RS;
      const rb = src + cb + <usize>(i == 0 ? 2 : i == 2 ? 1 : i == 1 ? 2 : 3) * RS;
      const sg = i == 1 ? 1 : -1;
      const t0 = i32(load<i16>(ra)) + sg * i32(load<i16>(rb));
      const t1 = i32(load<i16>(ra + CS)) + sg * i32(load<i16>(rb + CS));
      const t2 = i32(load<i16>(ra + 2 * CS)) + sg * i32(load<i16>(rb + 2 * CS));
      const t3 = i32(load<i16>(ra + 3 * CS)) + sg * i32(load<i16>(rb + 3 * CS));
      const o = dst + cb + <usize>(4 * i) * vs;
      store<i16>(o, i16(t0 - t2));
      store<i16>(o + vs, i16(t1 + t2 - (i == 1 ? z4 : 0)));
      store<i16>(o + 2 * vs, i16(t2 - t1));
      store<i16>(o + 3 * vs, i16(t1 - t3));
    }
  }
}

/**
 * The output transform of one tile for 8 channels n0..n0+7: acc = (Aᵀ M A) >> 2 + bias, Aᵀ = [1 1 1 0;
 * 0 1 −1 −1], the four outputs' accumulators to acc + 32·q (q = 2·row + column). M_ξ at src + ξ·ms (bytes).
 */
// @ts-ignore: decorator
@inline function outputTile(src: usize, ms: usize, bv: usize, acc: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let h: usize = 0; h < 32; h += 16) {
      const p = src + h;
      const b = v128.load(bv + h);
      // Per column j of M: (Aᵀ M)[0][j] = M0j + M1j + M2j, (Aᵀ M)[1][j] = M1j − M2j − M3j.
      let m0 = v128.load(p), m1 = v128.load(p + 4 * ms), m2 = v128.load(p + 8 * ms), m3 = v128.load(p + 12 * ms);
      const u0 = i32x4.add(i32x4.add(m0, m1), m2), w0 = i32x4.sub(i32x4.sub(m1, m2), m3);
      m0 = v128.load(p + ms); m1 = v128.load(p + 5 * ms); m2 = v128.load(p + 9 * ms); m3 = v128.load(p + 13 * ms);
      const u1 = i32x4.add(i32x4.add(m0, m1), m2), w1 = i32x4.sub(i32x4.sub(m1, m2), m3);
      m0 = v128.load(p + 2 * ms); m1 = v128.load(p + 6 * ms); m2 = v128.load(p + 10 * ms); m3 = v128.load(p + 14 * ms);
      const u2 = i32x4.add(i32x4.add(m0, m1), m2), w2 = i32x4.sub(i32x4.sub(m1, m2), m3);
      m0 = v128.load(p + 3 * ms); m1 = v128.load(p + 7 * ms); m2 = v128.load(p + 11 * ms); m3 = v128.load(p + 15 * ms);
      const u3 = i32x4.add(i32x4.add(m0, m1), m2), w3 = i32x4.sub(i32x4.sub(m1, m2), m3);
      // Then times A on the right: columns 0 + 1 + 2 and 1 − 2 − 3.
      v128.store(acc + h, i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(u0, u1), u2), 2), b));
      v128.store(acc + 32 + h, i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(u1, u2), u3), 2), b));
      v128.store(acc + 64 + h, i32x4.add(i32x4.shr_s(i32x4.add(i32x4.add(w0, w1), w2), 2), b));
      v128.store(acc + 96 + h, i32x4.add(i32x4.shr_s(i32x4.sub(i32x4.sub(w1, w2), w3), 2), b));
    }
    return;
  }
  for (let c: usize = 0; c < 32; c += 4) {
    const p = src + c;
    const b = load<i32>(bv + c);
    let u0 = 0, u1 = 0, u2 = 0, u3 = 0, w0 = 0, w1 = 0, w2 = 0, w3 = 0;
    for (let j = 0; j < 4; j++) {
      const m0 = load<i32>(p + <usize>j * ms), m1 = load<i32>(p + <usize>(4 + j) * ms);
      const m2 = load<i32>(p + <usize>(8 + j) * ms), m3 = load<i32>(p + <usize>(12 + j) * ms);
      const u = m0 + m1 + m2, w = m1 - m2 - m3;
      if (j == 0) { u0 = u; w0 = w; } else if (j == 1) { u1 = u; w1 = w; } else if (j == 2) { u2 = u; w2 = w; } else { u3 = u; w3 = w; }
    }
    store<i32>(acc + c, ((u0 + u1 + u2) >> 2) + b);
    store<i32>(acc + 32 + c, ((u1 - u2 - u3) >> 2) + b);
    store<i32>(acc + 64 + c, ((w0 + w1 + w2) >> 2) + b);
    store<i32>(acc + 96 + c, ((w1 - w2 - w3) >> 2) + b);
  }
}

/**
 * Winograd F(2×2, 3×3) conv with per-channel requantization, tile rows [g0, g1) of a batch (see the file
 * comment). x: i16 NHWC [n][H][W][C]; pt/pl: top/left padding; OH/OW: the output size (the geometry's);
 * zx: the input zero point; w: the 16 positions' weight panels (8c2, container wbits = 8 or 16, Kp = C
 * rounded up to 2), position ξ at w + ξ·(Np·Kp·wbits/8); N output channels (Np = N rounded up to 8);
 * zbias: Np zero i32; acc: 192 bytes of scratch; tile: Kp·16 bytes (the GEMM's decoded panel, wbits 8);
 * bias, m, s, pw, ps, zy, lo, hi: as gemm_s16_8c2_requant (the layer's own bias, not zero-folded);
 * v: 16·tiles·ldv i16; mo: 16·tiles·Np i32; patch: 16·ldv i16; y: i16 NHWC [n][OH][OW][N].
 */
export function winograd_f2x3_s16_requant(x: usize, H: i32, W: i32, C: i32, pt: i32, pl: i32, OH: i32, OW: i32, zx: i32,
  g0: i32, g1: i32, w: usize, wbits: i32, Kp: i32, N: i32, zbias: usize, acc: usize, tile: usize,
  bias: usize, m: usize, s: usize, pw: usize, ps: usize, zy: i32, lo: i32, hi: i32,
  v: usize, ldv: i32, mo: usize, patch: usize, y: usize): void {
  const TH = (OH + 1) >> 1;
  const TW = (OW + 1) >> 1;
  const tiles = (g1 - g0) * TW;
  const Np = (N + 7) & ~7;
  const ldv2 = <usize>ldv << 1;
  const vs = <usize>tiles * ldv2;
  const ms = <usize>tiles * (<usize>Np << 2);
  const RS = <usize>(W * C) << 1;
  const CS = <usize>C << 1;
  const xImage = <usize>H * RS;
  const yImage = <usize>(OH * OW * N) << 1;
  // 1. Input transform.
  for (let g = g0; g < g1; g++) {
    const b = g / TH;
    const iy0 = ((g - b * TH) << 1) - pt;
    const xb = x + <usize>b * xImage;
    for (let tx = 0; tx < TW; tx++) {
      const ix0 = (tx << 1) - pl;
      let src = xb + (<usize>(iy0 * W + ix0) * CS), rs = RS, cs = CS;
      if (iy0 < 0 || iy0 + 4 > H || ix0 < 0 || ix0 + 4 > W) {
        // A border tile: its patch with z_x at the padded taps, then the same transform.
        for (let a = 0; a < 4; a++)
          for (let c = 0; c < 4; c++) {
            const iy = iy0 + a, ix = ix0 + c;
            const pp = patch + <usize>((a << 2) + c) * ldv2;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) memory.copy(pp, xb + <usize>(iy * W + ix) * CS, CS);
            else for (let i: usize = 0; i < CS; i += 2) store<i16>(pp + i, i16(zx));
          }
        src = patch;
        rs = ldv2 << 2;
        cs = ldv2;
      }
      inputTile(src, rs, cs, C, zx << 2, v + <usize>((g - g0) * TW + tx) * ldv2, vs);
    }
  }
  // 2. The 16 products, raw i32 accumulators.
  const wStride = <usize>Np * <usize>Kp * <usize>wbits >> 3;
  for (let xi = 0; xi < 16; xi++)
    gemmCore(v + <usize>xi * vs, ldv, tiles, Kp, w + <usize>xi * wStride, wbits, acc, tile, N, zbias, 0, 0, 0, 0, 0, 0, 0, mo + <usize>xi * ms, Np, true);
  // 3. Output transform and requantization.
  const rowBytes = <usize>N << 1;
  for (let g = g0; g < g1; g++) {
    const b = g / TH;
    const oy = (g - b * TH) << 1;
    const yb = y + <usize>b * yImage;
    for (let tx = 0; tx < TW; tx++) {
      const ox = tx << 1;
      const src = mo + <usize>((g - g0) * TW + tx) * (<usize>Np << 2);
      const y00 = yb + <usize>(oy * OW + ox) * rowBytes;
      // Outputs q = 2·dy + dx of the tile inside OH × OW (all four but at odd sizes' last row and column).
      const qs = ox + 1 < OW ? 1 : 2;
      const qe = oy + 1 < OH ? 4 : 2;
      for (let n0 = 0; n0 < N; n0 += 8) {
        const nb = <usize>n0 << 2;
        outputTile(src + nb, ms, bias + nb, acc);
        const S = load<i32>(ps + (<usize>n0 >> 1));
        for (let q = 0; q < qe; q += qs) requantStore8(acc + (<usize>q << 5), y00 + <usize>((q >> 1) * OW + (q & 1)) * rowBytes, n0, N, m, s, pw, S, zy, lo, hi);
      }
    }
  }
}
