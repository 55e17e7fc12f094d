// Simulator-only kernels (src/sim/wasmsim.ts; the edge runtime never calls them): saturating accumulation
// in the chip's partial-sum order (gemm_s16_sat_ktile, at the end), and output Gaussian noise on one
// image's raw accumulators fused with the exact requantization (gauss_requant_s16).
// gauss_requant_s16: It is the WASM twin of the
// Gaussian step of perturbAccumulators (src/sim/noise.ts) followed by the chip's half-up requant, and must
// give the same integers: the random words are xoshiro128** 1.1 (as Rng.nextU32, src/sim/rng.ts), the
// normal draw is the ziggurat's fast path (as Rng.normalZig: h·W[i] when |h| < K[i], with the host's own
// K and W tables), and every float operation is the same IEEE double operation in the same order. Draws
// that need the ziggurat's rejection step (≈2%) run it here too (zigSlow), except where its outcome could
// depend on the last bits of exp (whose implementations differ between libraries: V8's fdlibm port, AS's
// musl port) or needs log (the base strip's tail): those few are handed back to the host — the kernel
// stops, restores the generator state from *before* that draw and returns the element's index; the host
// draws it with Rng.normalZig, finishes the element and resumes.

// @ts-ignore: decorator
@inline function roundHalfUp(x: f64): f64 {
  // Math.round (nearest integer, ties toward +∞) from f64.nearest (ties to even): they differ only on an
  // exact tie that nearest sent down, i.e. v − x = −0.5. v − x is exact (Sterbenz: for |x| ≥ 1, v lies in
  // [x/2, 2x]; for |x| < 1, v ∈ {−1, 0, 1} and the difference is x, 1 − x or −1 − x with |x| ≥ 0.5 when
  // v ≠ 0). A floor-based form measured 3× slower here (a data-dependent branch on every element).
  const v = nearest<f64>(x);
  return v - x == -0.5 ? v + 1 : v;
}

// @ts-ignore: decorator
@inline function nextWord(st: usize): i32 {
  const s0 = load<i32>(st);
  const s1 = load<i32>(st, 4);
  let s2 = load<i32>(st, 8);
  let s3 = load<i32>(st, 12);
  const result = rotl<i32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  store<i32>(st, s1 ^ s2, 4);
  store<i32>(st, s0 ^ s3);
  store<i32>(st, s2 ^ t, 8);
  store<i32>(st, rotl<i32>(s3, 11), 12);
  return result;
}

/**
 * The rejection loop of Rng.zigTail for a first word with layer i and value h, on the generator state at
 * st (memory, advanced past the first word). Returns the draw, or NaN to hand it back to the host: the base
 * strip (i = 0, needs log), or a wedge test too close to call (|lhs − exp| ≤ 1e-13·exp, ≫ the ≤ 1-ulp error
 * of either exp).
 */
function zigSlow(st: usize, h: i32, i: i32, zk: usize, zw: usize, zf: usize): f64 {
  for (;;) {
    const x = f64(h) * load<f64>(zw + (<usize>i << 3));
    if (i == 0) return NaN;
    const a = nextWord(st) >>> 5;
    const b = nextWord(st) >>> 6;
    const u = (f64(a) * 67108864 + f64(b)) / 9007199254740992; // Rng.uniform
    const fi = load<f64>(zf + (<usize>i << 3));
    const lhs = fi + u * (load<f64>(zf + (<usize>(i - 1) << 3)) - fi);
    const e = Math.exp(-0.5 * x * x);
    if (Math.abs(lhs - e) <= 1e-13 * e) return NaN;
    if (lhs < e) return x;
    const w = nextWord(st);
    i = w & 127;
    h = w >> 7;
    if (f64(abs<i32>(h)) < load<f64>(zk + (<usize>i << 3))) return f64(h) * load<f64>(zw + (<usize>i << 3));
  }
  return NaN; // not reached (the AS compiler wants a return after the loop)
}

/**
 * acc: i32 [rows][C] (one image's accumulators, layout [pixel][channel]); sd: f64 [C], σ per channel in
 * accumulator units; m, s: i32 [C], the chip's multipliers; y: i16 rows of stride ldy; state: i32 [4], the
 * xoshiro128** state of the image's output-noise stream (updated in place);
 * zk, zw, zf: f64 [128], the ziggurat tables (Rng's ZIG_K, ZIG_W, ZIG_F). Processes elements start … rows·C − 1; returns −1 when done, or the index of the first
 * element whose draw needs the rejection step (state then holds the state before that draw).
 */
export function gauss_requant_s16(acc: usize, rows: i32, C: i32, sd: usize, m: usize, s: usize, lo: i32, hi: i32,
  y: usize, ldy: i32, state: usize, zk: usize, zw: usize, zf: usize, start: i32): i32 {
  let s0 = load<i32>(state);
  let s1 = load<i32>(state, 4);
  let s2 = load<i32>(state, 8);
  let s3 = load<i32>(state, 12);
  const total = rows * C;
  let c = start % C;
  let r = start / C;
  for (let j = start; j < total; j++) {
    const u = rotl<i32>(s1 * 5, 7) * 9;
    const i = u & 127;
    const h = u >> 7;
    const k = load<f64>(zk + (<usize>i << 3));
    const p0 = s0;
    const p1 = s1;
    const p2 = s2;
    const p3 = s3;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<i32>(s3, 11);
    let z: f64;
    if (f64(abs<i32>(h)) < k) z = f64(h) * load<f64>(zw + (<usize>i << 3));
    else {
      store<i32>(state, s0);
      store<i32>(state, s1, 4);
      store<i32>(state, s2, 8);
      store<i32>(state, s3, 12);
      z = zigSlow(state, h, i, zk, zw, zf);
      if (isNaN(z)) {
        store<i32>(state, p0);
        store<i32>(state, p1, 4);
        store<i32>(state, p2, 8);
        store<i32>(state, p3, 12);
        return j;
      }
      s0 = load<i32>(state);
      s1 = load<i32>(state, 4);
      s2 = load<i32>(state, 8);
      s3 = load<i32>(state, 12);
    }
    let v = roundHalfUp(f64(load<i32>(acc + (<usize>j << 2))) + load<f64>(sd + (<usize>c << 3)) * z);
    v = v < -2147483648.0 ? -2147483648.0 : v > 2147483648.0 ? 2147483648.0 : v;
    // The requant of DESIGN.md §3 on an i64 accumulator (|a| ≤ 2^31: |a·m| < 2^62, as requantClamp).
    const sh = load<i32>(s + (<usize>c << 2));
    const q = (i64(v) * i64(load<i32>(m + (<usize>c << 2))) + (i64(1) << i64(sh - 1))) >> i64(sh);
    const out = q < i64(lo) ? lo : q > i64(hi) ? hi : i32(q);
    store<i16>(y + (<usize>(r * ldy + c) << 1), i16(out));
    c++;
    if (c == C) {
      c = 0;
      r++;
    }
  }
  store<i32>(state, s0);
  store<i32>(state, s1, 4);
  store<i32>(state, s2, 8);
  store<i32>(state, s3, 12);
  return -1;
}

/** Stores the first cnt (1–3) i32 lanes of v at p. */
// @ts-ignore: decorator
@inline function storeLanes4(v: v128, p: usize, cnt: i32): void {
  store<i32>(p, i32x4.extract_lane(v, 0));
  if (cnt > 1) store<i32>(p, i32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<i32>(p, i32x4.extract_lane(v, 2), 8);
}

/**
 * Saturating accumulation in the chip's partial-sum order, for the simulator (src/sim/wasmsim.ts; the
 * plain-TS definition is digitalAcc in src/sim/kernels.ts): per output, a ← sat(bias), then for each K-tile
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
