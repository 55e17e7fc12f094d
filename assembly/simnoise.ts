// Sim-only kernels (src/sim/chip/fastpath.ts): the output Gaussian noise on one image's raw accumulators fused
// with the exact requantization (gauss_requant_s16), and saturating accumulation per K-tile
// (gemm_s16_sat_ktile).
//
// gauss_requant_s16 is the WASM twin of the Gaussian step of perturbAccumulators (src/sim/noise/models.ts)
// followed by the chip's half-up requant, and gives the same integers: element j draws its normal from
// lane j mod 4 of the image's four xoshiro128+ 1.0 streams (as Rng.nextPlus, src/sim/noise/rng.ts), by the
// ziggurat (as Rng.normalZig32, with the host's tables), its rejection step included (from the image's fifth,
// "slow" stream, xoshiro128** words as Rng.nextU32), whose exp and log are the operation-for-operation twins of the host's
// (assembly/detmath.ts); every float operation is the same IEEE operation (double, or f32 for the normal's
// rounding, σ·z and its integer) in the same order.

import { detExp, detLog } from "./detmath";

/** The ziggurat layer of a first word: bits 4–11 (Rng.normalZig32; bits 0–3, xoshiro128+'s weak ones, unread). */
// @ts-ignore: decorator
@inline function zigLayer(u: i32): i32 {
  return (u >>> 4) & 255;
}

/** The ziggurat value of a first word: its signed top 20 bits, |h| ≤ 2^19 (Rng.normalZig32). */
// @ts-ignore: decorator
@inline function zigValue(u: i32): i32 {
  return u >> 12;
}

/**
 * Next word of the xoshiro128 state (words s0–s3) at p + 0, stride, 2·stride, 3·stride: xoshiro128**'s
 * (Rng.nextU32), or xoshiro128+'s when plus (Rng.nextPlus).
 */
// @ts-ignore: decorator
@inline function nextWord(p: usize, stride: usize, plus: bool = false): i32 {
  const s0 = load<i32>(p);
  const s1 = load<i32>(p + stride);
  let s2 = load<i32>(p + 2 * stride);
  let s3 = load<i32>(p + 3 * stride);
  const result = plus ? s0 + s3 : rotl<i32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  store<i32>(p + stride, s1 ^ s2);
  store<i32>(p, s0 ^ s3);
  store<i32>(p + 2 * stride, s2 ^ t);
  store<i32>(p + 3 * stride, rotl<i32>(s3, 11));
  return result;
}

/** Rng.uniform on the state at p (stride 4): (a·2^26 + b) / 2^53 from two words. */
// @ts-ignore: decorator
@inline function uniform(p: usize): f64 {
  const a = <u32>nextWord(p, 4) >>> 5;
  const b = <u32>nextWord(p, 4) >>> 6;
  return (f64(a) * 67108864 + f64(b)) * 1.1102230246251565e-16; // ÷ 2^53 as Rng.uniform: a power of two, so the product is the same double
}

/**
 * Rng.zigTail: the rejection loop for a first word with layer i and value h, drawing from the slow stream's
 * state at p. zt: 256 entries of 16 bytes {i32 ⌈K[i]⌉, i32 0, f64 W[i]}; zf: f64 F[256], the base strip's
 * edge r, one unused, then per layer i ≥ 1 the wedge squeeze {A, B, lo, hi} at f64 index 258 + 4i
 * (src/sim/noise/rng.ts zigTablesForWasm, zigSqueeze): the wedge test y < detExp(−x²/2) is decided without
 * detExp when y < A + B·|x| − lo (accept) or y > A + B·|x| + hi (reject), which zigSqueeze proves give the
 * test's own answer; the draws and their order are unchanged.
 */
function zigSlow(p: usize, h: i32, i: i32, zt: usize, zf: usize): f64 {
  for (;;) {
    const x = f64(h) * load<f64>(zt + (<usize>i << 4), 8);
    if (i == 0) {
      // Tail beyond r (Marsaglia 1964): x = −ln(U1)/r, y = −ln(U2), accept when 2y ≥ x².
      const ZIG_R = load<f64>(zf, 2048);
      let t: f64;
      let y: f64;
      do {
        t = -detLog(1 - uniform(p)) / ZIG_R;
        y = -detLog(1 - uniform(p));
      } while (y + y < t * t);
      return h > 0 ? ZIG_R + t : -ZIG_R - t;
    }
    const fi = load<f64>(zf + (<usize>i << 3));
    const y = fi + uniform(p) * (load<f64>(zf + (<usize>(i - 1) << 3)) - fi);
    const sq = zf + 2064 + (<usize>i << 5);
    const c = load<f64>(sq) + load<f64>(sq, 8) * abs<f64>(x);
    if (y < c - load<f64>(sq, 16)) return x;
    if (!(y > c + load<f64>(sq, 24)) && y < detExp(-0.5 * x * x)) return x;
    const u = nextWord(p, 4);
    i = zigLayer(u);
    h = zigValue(u);
    if (abs<i32>(h) < load<i32>(zt + (<usize>i << 4))) return f64(h) * load<f64>(zt + (<usize>i << 4), 8);
  }
  return 0; // not reached (the AS compiler wants a return after the loop)
}

/**
 * zigSlow with its common case inlined: a wedge point (layer i ≥ 1) that the squeeze decides, and after a
 * rejection a next first word on the fast path; the other cases (the tail, the wedge test by detExp, a second
 * rejection step) call zigSlow at the top of its loop, so the draws and their order are zigSlow's.
 */
// @ts-ignore: decorator
@inline function slowDraw(p: usize, h: i32, i: i32, zt: usize, zf: usize): f64 {
  if (i == 0) return zigSlow(p, h, i, zt, zf);
  const x = f64(h) * load<f64>(zt + (<usize>i << 4), 8);
  const fi = load<f64>(zf + (<usize>i << 3));
  const y = fi + uniform(p) * (load<f64>(zf + (<usize>(i - 1) << 3)) - fi);
  const sq = zf + 2064 + (<usize>i << 5);
  const c = load<f64>(sq) + load<f64>(sq, 8) * abs<f64>(x);
  if (y < c - load<f64>(sq, 16)) return x;
  if (!(y > c + load<f64>(sq, 24)) && y < detExp(-0.5 * x * x)) return x;
  const u = nextWord(p, 4);
  const i2 = zigLayer(u);
  const h2 = zigValue(u);
  if (abs<i32>(h2) < load<i32>(zt + (<usize>i2 << 4))) return f64(h2) * load<f64>(zt + (<usize>i2 << 4), 8);
  return zigSlow(p, h2, i2, zt, zf);
}

/**
 * The chip's requant (src/sim/hw/requant.ts requantRounded) on an i64 accumulator (|a| ≤ 2^31, m < 2^31:
 * |a·m| < 2^62), clamped to [lo, hi]. mode 0, half up: floor((a·m + 2^(s−1)) / 2^s), DESIGN.md §3;
 * 1, half even: the same except that an exact tie goes to the even neighbour; 2, truncate: floor(a·m / 2^s).
 */
// @ts-ignore: decorator
@inline function requantClamp64(a: i64, m: i32, s: i32, lo: i32, hi: i32, mode: i32): i32 {
  const p = a * i64(m);
  const half = i64(1) << i64(s - 1);
  let q = (mode == 2 ? p : p + half) >> i64(s);
  if (mode == 1 && (p & ((half << 1) - 1)) == half) q &= ~i64(1); // a tie: half up gave the upper neighbour
  return q < i64(lo) ? lo : q > i64(hi) ? hi : i32(q);
}

/**
 * For the simulator (src/sim/chip/fastpath.ts): `rows` rows of `channels` i32 accumulators through the chip's
 * requant (requantClamp64, rounding `mode`) into i16 rows of stride ldy; m, s: i32 [channels].
 */
export function requant_rows_mode(acc: usize, rows: i32, channels: i32, m: usize, s: usize, lo: i32, hi: i32, y: usize, ldy: i32, mode: i32): void {
  let a = acc;
  for (let r = 0; r < rows; r++) {
    const yr = y + (<usize>(r * ldy) << 1);
    for (let c = 0; c < channels; c++) {
      store<i16>(yr + (<usize>c << 1), i16(requantClamp64(i64(load<i32>(a)), load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), lo, hi, mode)));
      a += 4;
    }
  }
}

/**
 * The output noise's integer n for σ and normal z, both rounded to f32 (docs/NOISE.md): the integer nearest to
 * y = fl32(sd·z), ties to even (f32.nearest, which is exact for every f32 y), as an f64.
 */
// @ts-ignore: decorator
@inline function noiseInt(sd: f32, z: f32): f64 {
  return f64(nearest<f32>(sd * z));
}

/** Element j given its normal z (f32): clamp(acc + n, ±2^31) (exact in f64: |n| < 2^53 or the clamp decides), then the exact requant, into y. */
// @ts-ignore: decorator
@inline function finishOne(acc: usize, j: i32, z: f32, sd: f32, m: i32, s: i32, lo: i32, hi: i32, y: usize, mode: i32): void {
  let v = f64(load<i32>(acc + (<usize>j << 2))) + noiseInt(sd, z);
  v = v < -2147483648.0 ? -2147483648.0 : v > 2147483648.0 ? 2147483648.0 : v;
  store<i16>(y + (<usize>j << 1), i16(requantClamp64(i64(v), m, s, lo, hi, mode)));
}

/**
 * A bound on |z| for every normal the ziggurat returns: < r (3.66) from a layer, < r + ln(2^53)/r (13.7) from the
 * tail (zigSlow: 1 − U ≥ 2^−53); the same for its f32 rounding (16 is an f32).
 */
const ZMAX: f64 = 16;

/**
 * The SIMD body's copy of the ziggurat's table at a fixed address (its gathers take it as their offset): per layer i,
 * 16 bytes at i·16 as zt's (so that the index is u & 0xff0), of which the first 8 are read: {i32 ⌈K[i]⌉, f32 Wf[i] =
 * fl32(W[i])} (zt has f64 W[i] at 8; see zigSlow).
 */
const ZT_STATIC: usize = ASC_FEATURE_SIMD ? memory.data(4096, 16) : 0;
/** The zt last copied to ZT_STATIC (0: none). */
let ztCopied: usize = 0;

/** Elements per block of the SIMD body: each block's accumulators are read once for their bound, then from L1. */
const BLOCK = 1024;

/**
 * The per-layer operands of gauss_requant_s16 (once per layer, not per call), in the layer block `lay` (32 + 24P
 * bytes): f64 sdv = ZMAX·max |fl32(σ)| + 2 at 0 (|n| < sdv − 1), f64 vlim (the exact form's limit on V, see
 * gauss_requant_s16; NaN in σ or m: never exact) at 8, f64 accMax at 16 (its verdict is flag 2; kept for
 * test/sim/fastpath.test.ts, which checks the bound against every accumulator), i32 flags at 24 (1: every |y| < 2^22,
 * so the exact form may round y and add it to acc in i32 lanes, see gauss_requant_s16; 2: with 1, accMax proves the
 * exact form for every accumulator of the layer; 4: with 2, half up, and no |v| ≤ accMax + sdv gives a tie v·m ≡
 * 2^(s−1) mod 2^s on any channel: the body drops c), then per group of 4 pattern positions q < P (96 bytes; P is a
 * multiple of 4) their f32 σ (fl32 of sdp's; 16 bytes, then 16 unused), f64 m·2^−s and the exact form's c = 2^−(s+1)
 * (half up) or 2^−(s+1) − ½ (truncate) of channel q mod C, 4 of each (one pointer steps through them in the SIMD
 * body). sdp, msp: f64 [P] σ (accumulator units) and m·2^−s per pattern position; the other operands as
 * gauss_requant_s16's; accMax: a bound the caller proved on every |acc| of the layer (from its weights and input
 * range, src/ir/accbound.ts), or +∞ (NaN, unknown).
 */
export function gauss_prepare(C: i32, P: i32, sdp: usize, msp: usize, m: usize, s: usize, mode: i32, accMax: f64, lay: usize): void {
  let sdmax: f64 = 0;
  for (let q = 0; q < P; q++) sdmax = max(sdmax, abs<f64>(f64(f32(load<f64>(sdp + (<usize>q << 3))))));
  let mspMax: f64 = 0;
  for (let q = 0; q < P; q++) mspMax = max(mspMax, abs<f64>(load<f64>(msp + (<usize>q << 3))));
  let vlim = min(2147483648.0, 2147483646.0 / mspMax); // |floor(v·m·2^−s + ½)| ≤ V·max |m·2^−s| + 1 < 2^31: the exact form clamps in i16
  for (let c = 0; c < C; c++) {
    const sc = load<i32>(s + (<usize>c << 2));
    // V·m + 2^(s−1) < 2^52 in every mode; no exact form outside 1 ≤ s ≤ 52 (where 2^−(s+1) − ½ is exact).
    vlim = sc < 1 || sc > 52 ? 0 : min(vlim, (4503599627370496.0 - f64(i64(1) << i64(sc - 1))) / abs<f64>(f64(load<i32>(m + (<usize>c << 2)))));
  }
  // |y| = |fl32(σ·z)| ≤ 16·|σ| (fl32 is monotone, 16·σ an f32) and |n| ≤ |y| + ½: below ZMAX·sdmax + 2 = sdv.
  const narrow = ZMAX * sdmax < 4194304.0; // 2^22: y + 1.5·2^23 rounds y to its integer in one f32 add (gaussBlock)
  const sdv = ZMAX * sdmax + 2;
  // Flag 4 (half up, the exact form proved by accMax): no v with |v| ≤ V = accMax + sdv makes v·m·2^−s a tie
  // (v·m ≡ 2^(s−1) mod 2^s needs ν(v) + ν(m) = s − 1, and ν(v) ≤ log2 V for v ≠ 0), so the SIMD body rounds
  // v·(m·2^−s) to nearest by adding magic alone, without c (see gauss_requant_s16).
  let tieFree = mode == 0;
  for (let c = 0; c < C && tieFree; c++) {
    const mc = load<i32>(m + (<usize>c << 2));
    const e = load<i32>(s + (<usize>c << 2)) - 1 - ctz<i32>(mc);
    tieFree = mc != 0 && e >= 1 && e <= 62 && accMax + sdv < f64(i64(1) << i64(e));
  }
  store<f64>(lay, sdv);
  store<f64>(lay, vlim, 8);
  store<f64>(lay, accMax, 16);
  const exactAll = narrow && accMax + sdv < vlim;
  store<i32>(lay, (narrow ? 1 : 0) | (exactAll ? 2 : 0) | (exactAll && tieFree ? 4 : 0), 24);
  for (let q = 0; q < P; q++) {
    let c = q;
    while (c >= C) c -= C; // P ≤ 4C
    const e = reinterpret<f64>(i64(1022 - min(load<i32>(s + (<usize>c << 2)), 52)) << 52); // 2^−(s+1), s ≤ 52
    const g = patAt(lay, q);
    store<f32>(sdAt(lay, q), f32(load<f64>(sdp + (<usize>q << 3))));
    store<f64>(g, load<f64>(msp + (<usize>q << 3)), 32);
    store<f64>(g, mode == 2 ? e - 0.5 : e, 64);
  }
}

/** Where pattern position q's m·2^−s lies in the layer block lay, 32 bytes on, and its c, 64 bytes on (see gauss_prepare). */
// @ts-ignore: decorator
@inline function patAt(lay: usize, q: i32): usize {
  return lay + 32 + <usize>(q >> 2) * 96 + (<usize>(q & 3) << 3);
}

/** Where pattern position q's f32 σ lies in the layer block lay (see gauss_prepare). */
// @ts-ignore: decorator
@inline function sdAt(lay: usize, q: i32): usize {
  return lay + 32 + <usize>(q >> 2) * 96 + (<usize>(q & 3) << 2);
}

/**
 * The output Gaussian noise and the requant of one image's accumulators: y[j] = clamp(requant(clamp(acc[j] + n_j,
 * ±2^31), m, s), lo, hi) for j < total, channel c = j mod C, with n_j the integer nearest to y_j = fl32(fl32(σ)·z_j),
 * ties to even, and z_j the normal rounded to f32 (docs/NOISE.md; Rng.normalZig32, perturbAccumulators).
 * acc: i32 [total]; y: i16 [total]; m, s: i32 [C] (1 ≤ s ≤ 62); P = lcm(C, 4), the period of the channel
 * pattern, whose σ and m·2^−s per position are in the layer block.
 * st: the streams (updated): the four lane states as one v128 per state word (64 bytes), the slow stream's
 * four words (16 bytes), then 32 bytes of scratch. rej: room for ⌈total/4⌉ records of 32 bytes.
 * zt, zf: the ziggurat tables (see zigSlow). mode: the chip's rounding, as requantClamp64. lay: the layer
 * block gauss_prepare wrote for these operands and mode; with its bound on |acc| the body skips its per-block
 * scan when that proves the exact form (gaussBody).
 *
 * The SIMD body (gaussBlock) takes 4 elements at a time, in blocks of BLOCK; groups where a lane needs the
 * ziggurat's rejection step are recorded and redone after the body, in element order, on the slow stream:
 * the same draws as the scalar order, since the lanes never read the slow stream. The scalar form does the
 * rest (fewer than 4 elements), or everything in the scalar build.
 *
 * The noise in f32 lanes: z = fl32(h·Wf[i]) (h exact in f32, |h| ≤ 2^19), y = fl32(σ·z), both as the host's
 * Math.fround of the exact product. Exact form (below): every |y| < 2^22 (flag 1), so y + 1.5·2^23 lies in
 * (2^23, 2^24), where the f32 spacing is 1: the f32 add rounds it to the nearest integer, ties to even (1.5·2^23
 * is even), and its bits are those of 1.5·2^23 plus n (the integer significand of that binade counts up from
 * 2^23); so n = bits(y + 1.5·2^23) − bits(1.5·2^23), and v = acc + n in i32 lanes (|v| ≤ V < 2^31). Certified form:
 * n = f32.nearest(y) (ties to even for every f32), v = acc + n in f64 (exact while |n| < 2^52; beyond, the clamp
 * to ±2^31 decides alike), clamped.
 *
 * The requant is done in f64, in one of two forms per block (or per layer, when the caller's bound on |acc|
 * proves the exact form for all of them). Exact: V = max |acc| over the block (or the bound) + sdv (> |n| + 1,
 * gauss_prepare) bounds |v|; when V·m + 2^(s−1) < 2^52 for every channel, 1 ≤ s ≤ 52 and V < 2^31, the ±2^31
 * clamp never fires and w = v·(m·2^−s) is the exact product
 * (|v·m| < 2^52; m·2^−s is exact). With n = v·m + 2^(s−1) (half up) or v·m (truncate), the requant is
 * k = floor(n / 2^s); write n = k·2^s + r, 0 ≤ r < 2^s. Then w + c (c from gauss_prepare) = (2v·m + 1)·2^−(s+1)
 * or (2v·m + 1 − 2^s)·2^−(s+1), an integer numerator of magnitude < 2 (2^52 − 2^(s−1)) + 2^s = 2^53, so adding c
 * is exact, and w + c = k + d with d = (2r + 1 − 2^s)·2^−(s+1), |d| ≤ ½ − 2^−(s+1): k is the integer nearest to
 * w + c, never a tie, and adding magic = 2^52 + 2^51 (|w + c| < 2^31, where doubles are integers) rounds to
 * magic + k, whose low word is k. Half up without c (flag 4, gauss_prepare): w = v·m / 2^s is a tie (an integer
 * plus ½) only when v·m ≡ 2^(s−1) mod 2^s, i.e. ν(v) + ν(m) = s − 1 (ν: the power of 2 dividing; v = 0 gives 0);
 * ν(v) ≤ log2 |v| ≤ log2 V, so V < 2^(s−1−ν(m)) on every channel rules ties out, and then the nearest integer to w
 * itself is floor(w + ½), the half-up requant: w + magic rounds to it (one add fewer per pair, ~5% of the kernel,
 * docs/RESULTS.md session 31). Half even (mode 1) takes t = w + ½ (exact: (v·m + 2^(s−1))·2^−s, an integer
 * numerator below 2^53) and floor(t) as half up, and its ties are exactly the t = floor(t): those lanes go to
 * the i64 requant.
 * The exact form also needs V·max |m·2^−s| < 2^31 − 2, so that |k| < 2^31: it is converted without a
 * clamp and clamped to [lo, hi] as i16 (after the saturating narrow, which keeps the order).
 * Otherwise certified: t = v·(m·2^−s) + ½ is within 2^−32 of the exact (v·m + 2^(s−1))/2^s when |t| ≤ 2^20
 * (two roundings: relative 2^−53, then absolute ulp(2^20)/2 = 2^−33), so floor(t) is exact unless t lies
 * within 2^−31 of an integer — which includes every exact tie, the one place half even differs from half up;
 * such lanes are redone with the exact i64 requant (also, harmlessly, any lane with |t| > 2^20 that looks
 * close: those clamp to lo or hi either way, |lo|, |hi| ≤ 2^15).
 */
export function gauss_requant_s16(acc: usize, total: i32, C: i32, P: i32, m: usize, s: usize,
  lo: i32, hi: i32, y: usize, st: usize, rej: usize, zt: usize, zf: usize, mode: i32, lay: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // The SIMD body reads the table from its copy at a fixed address (ZT_STATIC), refreshed when zt moves:
    // {⌈K[i]⌉, fl32(W[i])} in the first 8 bytes of each 16.
    if (zt != ztCopied) {
      for (let i = 0; i < 256; i++) {
        const e = <usize>i << 4;
        store<i32>(ZT_STATIC + e, load<i32>(zt + e));
        store<f32>(ZT_STATIC + e, f32(load<f64>(zt + e, 8)), 4);
      }
      ztCopied = zt;
    }
    const body = total & ~3;
    // Half up (mode 0, the common rounding) is compiled on its own, its constants folded into the loops.
    if (mode == 0) gaussReplay(acc, C, P, m, s, lo, hi, y, st, rej, gaussBody(acc, body, C, P, m, s, lo, hi, y, st, rej, zt, 0, lay), zt, zf, 0, lay);
    else gaussReplay(acc, C, P, m, s, lo, hi, y, st, rej, gaussBody(acc, body, C, P, m, s, lo, hi, y, st, rej, zt, mode, lay), zt, zf, mode, lay);
    j = body;
  }
  for (; j < total; j++) {
    const p = st + (<usize>(j & 3) << 2);
    const u = nextWord(p, 16, true);
    const i = zigLayer(u);
    const h = zigValue(u);
    const z = abs<i32>(h) < load<i32>(zt + (<usize>i << 4)) ? f32(h) * f32(load<f64>(zt + (<usize>i << 4), 8)) : f32(zigSlow(st + 64, h, i, zt, zf));
    const c = j % C;
    finishOne(acc, j, z, load<f32>(sdAt(lay, j % P)), load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), lo, hi, y, mode);
  }
}

/**
 * The rejection steps of gauss_requant_s16's records [0, nrej), in element order, on the slow stream; each redone
 * element overwrites its output. A record holds the group's first word of each lane, its accumulator address,
 * its fast lanes' bits and its pattern group's address: the lanes' σ from there, their pattern positions
 * q0 + l < P (j0 and P are multiples of 4), so their channels (q0 + l) mod C take at most P / C − 1 ≤ 3
 * subtractions. The slow lanes in lane order by their bits (most records have one: a loop that runs once
 * instead of a branch per lane that the predictor cannot learn).
 */
// @ts-ignore: decorator
@inline function gaussReplay(acc: usize, C: i32, P: i32, m: usize, s: usize, lo: i32, hi: i32, y: usize, st: usize, rej: usize, nrej: i32,
  zt: usize, zf: usize, mode: i32, lay: usize): void {
  if (mode != 1 && (load<i32>(lay, 24) & 2)) {
    replayExact(acc, lo, hi, y, st, rej, nrej, zt, zf);
    return;
  }
  const pat0 = lay + 32;
  for (let g = 0; g < nrej; g++) {
    const rec = rej + (<usize>g << 5);
    const j0 = i32((<usize>load<u32>(rec, 16) - acc) >> 2);
    const pat = <usize>load<u32>(rec, 24);
    const q0 = i32((pat - pat0) / 24);
    for (let slow = ~load<i32>(rec, 20) & 15; slow != 0; slow &= slow - 1) {
      const l = ctz<i32>(slow);
      const w = load<i32>(rec + (<usize>l << 2));
      let c = q0 + l;
      while (c >= C) c -= C;
      finishOne(acc, j0 + l, f32(zigSlow(st + 64, zigValue(w), zigLayer(w), zt, zf)), load<f32>(pat + (<usize>l << 2)), load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), lo, hi, y, mode);
    }
  }
}

/**
 * gaussReplay where the layer's bound proves the exact form for every accumulator (flags & 2) and the rounding is
 * half up or truncating: each redone lane as the SIMD body's exact form, in scalar — v = acc + n (exact in f64:
 * |v| ≤ V < 2^31, the bound covers these lanes too: ZMAX bounds every |z| the ziggurat returns), then the integer
 * nearest to v·(m·2^−s) + c, taken from the low word of its sum with magic, and the clamp to [lo, hi]. No channel
 * index: σ, m·2^−s and c come from the record's pattern group.
 */
// @ts-ignore: decorator
@inline function replayExact(acc: usize, lo: i32, hi: i32, y: usize, st: usize, rej: usize, nrej: i32, zt: usize, zf: usize): void {
  for (let g = 0; g < nrej; g++) {
    const rec = rej + (<usize>g << 5);
    const ap = <usize>load<u32>(rec, 16);
    const yp = y + ((ap - acc) >> 1);
    const pat = <usize>load<u32>(rec, 24);
    for (let slow = ~load<i32>(rec, 20) & 15; slow != 0; slow &= slow - 1) {
      const l = ctz<i32>(slow);
      const w = load<i32>(rec + (<usize>l << 2));
      const z = f32(slowDraw(st + 64, zigValue(w), zigLayer(w), zt, zf));
      const pl = pat + (<usize>l << 3);
      const v = f64(load<i32>(ap + (<usize>l << 2))) + noiseInt(load<f32>(pat + (<usize>l << 2)), z);
      const k = <i32>reinterpret<i64>(v * load<f64>(pl, 32) + load<f64>(pl, 64) + 6755399441055744.0);
      store<i16>(yp + (<usize>l << 1), <i16>(k < lo ? lo : k > hi ? hi : k));
    }
  }
}

/**
 * The SIMD body of gauss_requant_s16 on elements [0, body) (a multiple of 4), block by block: each block's
 * accumulators are read once for max |acc|, which chooses its form (see gauss_requant_s16), unless accMax
 * (≥ every |acc|) already proves the exact form for the whole layer: then one block. The exact form needs every
 * |y| < 2^22 (flags & 1); returns the number of rejection records.
 */
// @ts-ignore: decorator
@inline function gaussBody(acc: usize, body: i32, C: i32, P: i32, m: usize, s: usize, lo: i32, hi: i32,
  y: usize, st: usize, rej: usize, zt: usize, mode: i32, lay: usize): i32 {
  const sdv = load<f64>(lay);
  const vlim = load<f64>(lay, 8);
  const flags = load<i32>(lay, 24);
  const pat = lay + 32;
  if (flags & 2) {
    if (mode == 0 && (flags & 4)) {
      // Half up without ties (flag 4): the requant by magic alone.
      return lo == 0
        ? gaussBlock(acc, 0, body, C, P, pat, m, s, lo, hi, y, st, rej, 0, zt, 0, true, true, true)
        : gaussBlock(acc, 0, body, C, P, pat, m, s, lo, hi, y, st, rej, 0, zt, 0, true, false, true);
    }
    return lo == 0
      ? gaussBlock(acc, 0, body, C, P, pat, m, s, lo, hi, y, st, rej, 0, zt, mode, true, true)
      : gaussBlock(acc, 0, body, C, P, pat, m, s, lo, hi, y, st, rej, 0, zt, mode, true);
  }
  let nrej = 0;
  for (let j0 = 0; j0 < body; j0 += BLOCK) {
    const j1 = min(j0 + BLOCK, body);
    let amax = i32x4.splat(0);
    for (let i = j0; i < j1; i += 4) amax = i32x4.max_u(amax, i32x4.abs(v128.load(acc + (<usize>i << 2)))); // |−2^31| is 2^31 as u32
    const a = max(max(<u32>i32x4.extract_lane(amax, 0), <u32>i32x4.extract_lane(amax, 1)), max(<u32>i32x4.extract_lane(amax, 2), <u32>i32x4.extract_lane(amax, 3)));
    nrej = (flags & 1) && f64(a) + sdv < vlim
      ? gaussBlock(acc, j0, j1, C, P, pat, m, s, lo, hi, y, st, rej, nrej, zt, mode, true)
      : gaussBlock(acc, j0, j1, C, P, pat, m, s, lo, hi, y, st, rej, nrej, zt, mode, false);
  }
  return nrej;
}

/**
 * The SIMD body of gauss_requant_s16 on elements [j0, j1) (multiples of 4): one word from each of the four
 * lanes (state at st, updated) per group of 4; groups with a lane that needs the rejection step are appended
 * (branch-free) to the records at rej after the first nrej; returns the new count. exact: the block (|y| < 2^22,
 * |v| ≤ V < 2^31) takes n and v = acc + n in i32 lanes and the exact f64 requant; else v in f64 and the certified
 * requant (see gauss_requant_s16).
 */
// @ts-ignore: decorator
@inline function gaussBlock(acc: usize, j0: i32, j1: i32, C: i32, P: i32, pat0: usize, m: usize, s: usize,
  lo: i32, hi: i32, y: usize, st: usize, rej: usize, nrej: i32, zt: usize, mode: i32, exact: bool, relu: bool = false, noTie: bool = false): i32 {
  const scratch = st + 80;
  let s0 = v128.load(st);
  let s1 = v128.load(st, 16);
  let s2 = v128.load(st, 32);
  let s3 = v128.load(st, 48);
  const half = f64x2.splat(0.5);
  const offset = mode == 2 ? f64x2.splat(0.0) : half; // the rounding offset ½, none when truncating
  const lim = f64x2.splat(2147483648.0);
  const nlim = f64x2.splat(-2147483648.0);
  const near = f64x2.splat(0.5 - 4.656612873077393e-10); // ½ − 2^−31
  const lov = f64x2.splat(f64(lo));
  const hiv = f64x2.splat(f64(hi));
  const lo16 = i16x8.splat(i16(lo));
  const hi16 = i16x8.splat(i16(hi));
  const magic = f64x2.splat(6755399441055744.0); // 2^52 + 2^51: an integer |n| < 2^31 plus this has n in its low word
  const magic32 = f32x4.splat(12582912.0); // 1.5·2^23: y + this, |y| < 2^22, is the f32 of y's nearest integer (ties to even) + 1.5·2^23
  const bits32 = i32x4.splat(0x4b400000); // 1262485504, the bits of 1.5·2^23
  // Pointers stepped instead of indices (fewer live values in the loop): the accumulators, the outputs, the
  // pattern group (see gauss_prepare) and the next record.
  const patEnd = pat0 + <usize>P * 24;
  let pat = pat0 + <usize>(j0 % P) * 24;
  let rec = rej + (<usize>nrej << 5);
  let yp = y + (<usize>j0 << 1);
  const apEnd = acc + (<usize>j1 << 2);
  for (let ap = acc + (<usize>j0 << 2); ap < apEnd; ap += 16) {
    // xoshiro128+ on the four lanes (Rng.nextPlus).
    const u = i32x4.add(s0, s3);
    const t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0);
    s3 = v128.xor(s3, s1);
    s1 = v128.xor(s1, s2);
    s0 = v128.xor(s0, s3);
    s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    // The ziggurat's fast path: layer i = (u >>> 4) & 255, h = u >> 12; the first 8 bytes {⌈K[i]⌉, Wf[i]} of the
    // lane's 16-byte entry, at i·16 = u & 0xff0 in the table's copy at ZT_STATIC (the loads' constant offset: no
    // register for zt, no add; docs/RESULTS.md session 29), the offsets read back from the scratch (four loads
    // instead of lane extracts, which compete with the shuffles).
    v128.store(scratch, v128.and(u, i32x4.splat(0xff0)));
    const e01 = v128.load64_lane(<usize>load<u32>(scratch, 4), v128.load64_zero(<usize>load<u32>(scratch), ZT_STATIC), 1, ZT_STATIC);
    const e23 = v128.load64_lane(<usize>load<u32>(scratch, 12), v128.load64_zero(<usize>load<u32>(scratch, 8), ZT_STATIC), 1, ZT_STATIC);
    const k = i32x4.shuffle(e01, e23, 0, 2, 4, 6); // ⌈K[i]⌉ of the 4 lanes
    const h = i32x4.shr_s(u, 12);
    // z = fl32(h·Wf[i]), y = fl32(σ·z) (σ as f32 in the pattern group).
    const z = f32x4.mul(f32x4.convert_i32x4_s(h), i32x4.shuffle(e01, e23, 1, 3, 5, 7));
    const yv = f32x4.mul(v128.load(pat), z);
    // Record the group when a lane needs the rejection step (always written, kept only then).
    const fast = i32x4.bitmask(i32x4.lt_s(i32x4.abs(h), k));
    v128.store(rec, u);
    store<u32>(rec, <u32>ap, 16);
    store<i32>(rec, fast, 20);
    store<u32>(rec, <u32>pat, 24);
    rec += select<usize>(32, 0, fast != 15);
    // v = acc + n (see gauss_requant_s16): exact, in i32 lanes; else in f64, clamped to ±2^31.
    const av = v128.load(ap);
    let v0: v128;
    let v1: v128;
    if (exact) {
      const v = i32x4.add(av, i32x4.sub(f32x4.add(yv, magic32), bits32));
      v0 = f64x2.convert_low_i32x4_s(v);
      v1 = f64x2.convert_low_i32x4_s(i32x4.shuffle(v, v, 2, 3, 0, 1));
    } else {
      const n = f32x4.nearest(yv);
      v0 = f64x2.add(f64x2.convert_low_i32x4_s(av), f64x2.promote_low_f32x4(n));
      v1 = f64x2.add(f64x2.convert_low_i32x4_s(i32x4.shuffle(av, av, 2, 3, 0, 1)), f64x2.promote_low_f32x4(i32x4.shuffle(n, n, 2, 3, 0, 1)));
      v0 = f64x2.pmin(f64x2.pmax(v0, nlim), lim);
      v1 = f64x2.pmin(f64x2.pmax(v1, nlim), lim);
    }
    // The f64 requant, exact or certified (see gauss_requant_s16).
    const mq0 = v128.load(pat, 32);
    const mq1 = v128.load(pat, 48);
    if (exact && mode != 1) {
      // Half up or truncating: the integer nearest to v·(m·2^−s) + c, never a tie, is the requant (c from the
      // layer block, see gauss_prepare); adding magic rounds to it and leaves it in the low word.
      // noTie (half up, flag 4): w = v·(m·2^−s) is never a tie, so its nearest integer is the requant without c.
      const r0 = noTie ? f64x2.add(f64x2.mul(v0, mq0), magic) : f64x2.add(f64x2.add(f64x2.mul(v0, mq0), v128.load(pat, 64)), magic);
      const r1 = noTie ? f64x2.add(f64x2.mul(v1, mq1), magic) : f64x2.add(f64x2.add(f64x2.mul(v1, mq1), v128.load(pat, 80)), magic);
      const r = i32x4.shuffle(r0, r1, 0, 2, 4, 6);
      // lo = 0 (ReLU outputs): the unsigned saturating narrow clamps below, so one min (as u16: hi ≥ 0) is left.
      if (relu) v128.store64_lane(yp, i16x8.min_u(i16x8.narrow_i32x4_u(r, r), hi16), 0);
      else v128.store64_lane(yp, i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(r, r), lo16), hi16), 0);
    } else {
      const t0 = f64x2.add(f64x2.mul(v0, mq0), offset);
      const t1 = f64x2.add(f64x2.mul(v1, mq1), offset);
      const f0 = f64x2.floor(t0);
      const f1 = f64x2.floor(t1);
      if (exact) {
        // Half even: floor(t) as half up, its integer straight from the low words (|f| < 2^31, vlim), then the
        // clamp on the (saturated) i16s; the exact ties (t = floor(t)) go to the i64 requant below.
        const r = i32x4.shuffle(f64x2.add(f0, magic), f64x2.add(f1, magic), 0, 2, 4, 6);
        v128.store64_lane(yp, i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(r, r), lo16), hi16), 0);
      } else {
        const r = i32x4.shuffle(f64x2.add(f64x2.pmin(f64x2.pmax(f0, lov), hiv), magic), f64x2.add(f64x2.pmin(f64x2.pmax(f1, lov), hiv), magic), 0, 2, 4, 6);
        v128.store64_lane(yp, i16x8.narrow_i32x4_s(r, r), 0);
      }
      const bad = exact
        ? v128.or(f64x2.eq(t0, f0), f64x2.eq(t1, f1))
        : v128.or(f64x2.gt(f64x2.abs(f64x2.sub(f64x2.sub(t0, f0), half)), near), f64x2.gt(f64x2.abs(f64x2.sub(f64x2.sub(t1, f1), half)), near));
      if (v128.any_true(bad)) {
        // Exact i64 requant for the lanes at (exact) or too close to (certified) a rounding boundary.
        v128.store(scratch, v0);
        v128.store(scratch, v1, 16);
        const j = i32((ap - acc) >> 2);
        for (let l = 0; l < 4; l++) {
          const c = (j + l) % C;
          const v = load<f64>(scratch + (<usize>l << 3));
          store<i16>(y + (<usize>(j + l) << 1), i16(requantClamp64(i64(v), load<i32>(m + (<usize>c << 2)), load<i32>(s + (<usize>c << 2)), lo, hi, mode)));
        }
      }
    }
    yp += 8;
    pat += 96;
    if (pat == patEnd) pat = pat0;
  }
  v128.store(st, s0);
  v128.store(st, s1, 16);
  v128.store(st, s2, 32);
  v128.store(st, s3, 48);
  return i32((rec - rej) >> 5);
}

/** Stores the first cnt (1–3) i32 lanes of v at p. */
// @ts-ignore: decorator
@inline function storeLanes4(v: v128, p: usize, cnt: i32): void {
  store<i32>(p, i32x4.extract_lane(v, 0));
  if (cnt > 1) store<i32>(p, i32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<i32>(p, i32x4.extract_lane(v, 2), 8);
}

/**
 * Saturating accumulation in the chip's partial-sum order, for the simulator (src/sim/chip/fastpath.ts; the
 * plain-TS definition is digitalAcc in src/sim/chip/kernels.ts): per output, a ← sat(bias), then for each K-tile
 * t (k0, npairs): a ← sat(a + Σ_{k ∈ t} w·x), the tile's partial sum exact; sat clamps to a `bits`-wide
 * two's-complement accumulator (bits ≤ 31, so a + partial never leaves i32). Per-MAC saturation is the
 * case of 1-element tiles.
 * x: i16 rows [M][lda] (the im2col rows or the dense input); w: per panel of 4 output channels, per tile,
 * per k-pair p, one i16x8 vector whose lanes 2c, 2c+1 are the weights of channel 4j + c at k0 + 2p and
 * k0 + 2p + 1 (0 beyond the tile or beyond N: an x read past the tile meets a zero weight); wpp: k-pairs
 * per panel (Σ npairs); tiles: i32 [T][2] = (k0, npairs); bias: i32 [panels·4]; y: i32 rows of stride ldy.
 */
export function gemm_s16_sat_ktile(x: usize, lda: i32, M: i32, w: usize, panels: i32, N: i32, tiles: usize, T: i32, wpp: i32,
  bias: usize, bits: i32, y: usize, ldy: i32): void {
  const hiS = (1 << (bits - 1)) - 1;
  const loS = -hiS - 1;
  const xs = <usize>lda << 1;
  let r0 = 0;
  if (ASC_FEATURE_SIMD) {
    // 4 rows at a time: each weight vector is loaded once for 4 rows (4 accumulators, 4 partial sums).
    const hv = i32x4.splat(hiS);
    const lv = i32x4.splat(loS);
    for (; r0 + 4 <= M; r0 += 4) {
      const x0 = x + <usize>r0 * xs;
      for (let j = 0; j < panels; j++) {
        let wp = w + <usize>(j * wpp) * 16;
        const n0 = j << 2;
        const b = i32x4.min_s(i32x4.max_s(v128.load(bias + (<usize>n0 << 2)), lv), hv);
        let a0 = b;
        let a1 = b;
        let a2 = b;
        let a3 = b;
        for (let t = 0; t < T; t++) {
          let xp = x0 + (<usize>load<i32>(tiles + (<usize>t << 3)) << 1);
          const np = load<i32>(tiles + (<usize>t << 3), 4);
          let p0 = i32x4.splat(0);
          let p1 = p0;
          let p2 = p0;
          let p3 = p0;
          for (let p = 0; p < np; p++) {
            const wv = v128.load(wp);
            p0 = i32x4.add(p0, i32x4.dot_i16x8_s(v128.load32_splat(xp), wv));
            p1 = i32x4.add(p1, i32x4.dot_i16x8_s(v128.load32_splat(xp + xs), wv));
            p2 = i32x4.add(p2, i32x4.dot_i16x8_s(v128.load32_splat(xp + 2 * xs), wv));
            p3 = i32x4.add(p3, i32x4.dot_i16x8_s(v128.load32_splat(xp + 3 * xs), wv));
            xp += 4;
            wp += 16;
          }
          a0 = i32x4.min_s(i32x4.max_s(i32x4.add(a0, p0), lv), hv);
          a1 = i32x4.min_s(i32x4.max_s(i32x4.add(a1, p1), lv), hv);
          a2 = i32x4.min_s(i32x4.max_s(i32x4.add(a2, p2), lv), hv);
          a3 = i32x4.min_s(i32x4.max_s(i32x4.add(a3, p3), lv), hv);
        }
        const yr = y + (<usize>(r0 * ldy + n0) << 2);
        const ys = <usize>ldy << 2;
        if (n0 + 4 <= N) {
          v128.store(yr, a0);
          v128.store(yr + ys, a1);
          v128.store(yr + 2 * ys, a2);
          v128.store(yr + 3 * ys, a3);
        } else {
          storeLanes4(a0, yr, N - n0);
          storeLanes4(a1, yr + ys, N - n0);
          storeLanes4(a2, yr + 2 * ys, N - n0);
          storeLanes4(a3, yr + 3 * ys, N - n0);
        }
      }
    }
  }
  for (let r = r0; r < M; r++) {
    const xr = x + <usize>r * xs;
    const yr = y + (<usize>(r * ldy) << 2);
    for (let j = 0; j < panels; j++) {
      let wp = w + <usize>(j * wpp) * 16;
      const n0 = j << 2;
      if (ASC_FEATURE_SIMD) {
        const hv = i32x4.splat(hiS);
        const lv = i32x4.splat(loS);
        let a = i32x4.min_s(i32x4.max_s(v128.load(bias + (<usize>n0 << 2)), lv), hv);
        for (let t = 0; t < T; t++) {
          let xp = xr + (<usize>load<i32>(tiles + (<usize>t << 3)) << 1);
          const np = load<i32>(tiles + (<usize>t << 3), 4);
          let part = i32x4.splat(0);
          for (let p = 0; p < np; p++) {
            part = i32x4.add(part, i32x4.dot_i16x8_s(v128.load32_splat(xp), v128.load(wp)));
            xp += 4;
            wp += 16;
          }
          a = i32x4.min_s(i32x4.max_s(i32x4.add(a, part), lv), hv);
        }
        if (n0 + 4 <= N) v128.store(yr + (<usize>n0 << 2), a);
        else {
          store<i32>(yr + (<usize>n0 << 2), i32x4.extract_lane(a, 0));
          if (n0 + 1 < N) store<i32>(yr + (<usize>n0 << 2), i32x4.extract_lane(a, 1), 4);
          if (n0 + 2 < N) store<i32>(yr + (<usize>n0 << 2), i32x4.extract_lane(a, 2), 8);
        }
      } else {
        // Scalar twin: the same layout, one channel at a time.
        for (let c = 0; c < 4 && n0 + c < N; c++) {
          let a = load<i32>(bias + (<usize>(n0 + c) << 2));
          a = a < loS ? loS : a > hiS ? hiS : a;
          let wq = wp + (<usize>c << 2);
          for (let t = 0; t < T; t++) {
            let xp = xr + (<usize>load<i32>(tiles + (<usize>t << 3)) << 1);
            const np = load<i32>(tiles + (<usize>t << 3), 4);
            let part = 0;
            for (let p = 0; p < np; p++) {
              part += i32(load<i16>(xp)) * i32(load<i16>(wq)) + i32(load<i16>(xp, 2)) * i32(load<i16>(wq, 2));
              xp += 4;
              wq += 16;
            }
            a += part;
            a = a < loS ? loS : a > hiS ? hiS : a;
          }
          store<i32>(yr + (<usize>(n0 + c) << 2), a);
        }
      }
    }
  }
}
