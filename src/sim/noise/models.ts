// Noise models (DESIGN.md §4, docs/NOISE.md): pure functions that perturb integers or conductances with
// draws from a given stream. Which stream (which (seed, trial, inference) key) is the caller's business:
// per-chip sources draw once per trial (src/sim/chip/chip.ts), per-inference sources once per image
// (src/sim/chip/kernels.ts). Which sources exist and where they apply: ./sources.ts.

import { roundTiesEven, type Rng } from "./rng.js";
import type { PcmConfig } from "./sources.js";

/** Flips bit `bit` of an integer stored in a `bits`-wide field (two's complement when signed). */
export function flipBit(v: number, bit: number, bits: number, signed: boolean): number {
  const m = 2 ** bits;
  const u = ((v % m) + m) % m; // the stored field, unsigned
  const hi = Math.floor(u / 2 ** bit) % 2;
  const f = hi ? u - 2 ** bit : u + 2 ** bit;
  return signed && f >= m / 2 ? f - m : f;
}

/** Forces bit `bit` of a `bits`-wide field to `to` (0 or 1). */
export function setBit(v: number, bit: number, bits: number, signed: boolean, to: number): number {
  const m = 2 ** bits;
  const u = ((v % m) + m) % m;
  const hi = Math.floor(u / 2 ** bit) % 2;
  const f = hi === to ? u : to ? u + 2 ** bit : u - 2 ** bit;
  return signed && f >= m / 2 ? f - m : f;
}

/**
 * Flips every stored bit of `values` (each a `bits`-wide field) independently with probability `ber`, in
 * place; returns the number of flipped bits. Positions are drawn by geometric skipping over the n·bits bit
 * stream (bit j of value i is position i·bits + j), so the cost is O(flips), and the flip count is
 * Binomial(n·bits, ber).
 */
export function flipBits(values: Int32Array | Int16Array | Uint8Array | Float64Array, offset: number, n: number, bits: number, signed: boolean, ber: number, rng: Rng): number {
  if (ber <= 0 || n === 0) return 0;
  const total = n * bits;
  let flips = 0;
  for (let pos = rng.geometric(ber); pos < total; pos += 1 + rng.geometric(ber)) {
    const i = offset + Math.floor(pos / bits);
    values[i] = flipBit(values[i], pos % bits, bits, signed);
    flips++;
  }
  return flips;
}

/**
 * Per-inference accumulator noise of one image of one layer, in place on acc[offset, offset + nPix·outC)
 * (layout [pixel][channel], the layer's output order), before the requantization (docs/NOISE.md):
 *  1. bit flips: every bit of every `accBits`-wide two's-complement accumulator flips with probability
 *     `ber`, by geometric skipping over the image's nPix·outC·accBits bit stream (flipBits: bit j of
 *     accumulator i is position i·accBits + j), drawn from `flipRng`;
 *  2. output Gaussian noise: acc ← clamp(acc + n, −2^31, 2^31), n the integer nearest to y = fl32(fl32(sd[c])·z),
 *     ties to even, z ~ N(0, 1) an f32 by the ziggurat (Rng.normalZig32: one draw per accumulator per image is
 *     the cost of this source; f32 so that the WASM kernel takes four per f32x4 operation); accumulator j of
 *     the image (layout order) takes its first word (xoshiro128+) from lane j mod 4 of gauss[0..3], and
 *     the rejection steps, in element order, draw from gauss[4] (so the WASM fast path draws four at a
 *     time and does the rejections after); sd[c] is σ in accumulator units for channel c.
 * The plain-TS sim kernels call this; the WASM fast path (src/sim/chip/fastpath.ts: flipBits, then the kernel
 * gauss_requant_s16) makes the same draws from the same streams.
 */
export function perturbAccumulators(acc: Float64Array, offset: number, nPix: number, outC: number, accBits: number, ber: number, flipRng: Rng | null, sd: Float64Array | null, gauss: readonly Rng[] | null): void {
  if (ber > 0 && flipRng) flipBits(acc, offset, nPix * outC, accBits, true, ber, flipRng);
  if (!sd || !gauss) return;
  const slow = gauss[4];
  const LIM = 2147483648; // 2^31
  let i = offset;
  for (let pix = 0, j = 0; pix < nPix; pix++)
    for (let c = 0; c < outC; c++, i++, j++) {
      const v = acc[i] + roundTiesEven(Math.fround(Math.fround(sd[c]) * gauss[j & 3].normalZig32(slow))); // exact below 2^53; beyond, the clamp decides alike
      acc[i] = v < -LIM ? -LIM : v > LIM ? LIM : v;
    }
}

/**
 * Stuck-at faults: each stored bit is stuck with probability `rate`, at 0, at 1, or at a fair coin's value
 * ("random"); in place, returns the number of stuck bits (stuck at the value they already had counts too).
 */
export function stuckBits(values: Int32Array, bits: number, signed: boolean, rate: number, value: "0" | "1" | "random", rng: Rng): number {
  if (rate <= 0) return 0;
  const total = values.length * bits;
  let stuck = 0;
  for (let pos = rng.geometric(rate); pos < total; pos += 1 + rng.geometric(rate)) {
    const i = Math.floor(pos / bits);
    const to = value === "random" ? (rng.nextU32() & 1) : Number(value);
    values[i] = setBit(values[i], pos % bits, bits, signed, to);
    stuck++;
  }
  return stuck;
}

/**
 * Gaussian weight noise on a digital weight store: w' = clamp(round(w + σ·z), −(2^(b−1) − 1), 2^(b−1) − 1),
 * z ~ N(0, 1), σ in weight steps (LSB). A digital chip stores integers, so the perturbed value is put back
 * on the b-bit grid (ties of round: half away from zero is irrelevant, ties have probability 0).
 */
export function gaussianIntWeights(w: Int32Array, bits: number, sigmaLsb: number, rng: Rng): void {
  if (sigmaLsb <= 0) return;
  const hi = 2 ** (bits - 1) - 1;
  for (let i = 0; i < w.length; i++) {
    const v = Math.round(w[i] + sigmaLsb * rng.normal());
    w[i] = v > hi ? hi : v < -hi ? -hi : v;
  }
}

/** max |w| of an integer array (≥ 1, so relative units never divide by 0). */
export function maxAbs(w: ArrayLike<number>): number {
  let m = 1;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i]));
  return m;
}

// ---- PCM, after aihwkit's PCMLikeNoiseModel (IBM/aihwkit src/aihwkit/inference/noise/pcm.py, MIT) ----
// Fitted on measured PCM devices, Nandakumar et al., ICECS 2019 (doi:10.1109/ICECS46596.2019.8964852).

/** Programming noise σ_prog(g_T) = (c0 + c1·g_T/g_max + c2·(g_T/g_max)² …)·g_max/g_max,ref  (µS). */
export function pcmProgSigma(gTarget: number, gMax: number, c: PcmConfig): number {
  let mat = 1;
  let sig = c.progCoeff[0];
  for (let i = 1; i < c.progCoeff.length; i++) {
    mat *= gTarget / gMax;
    sig += mat * c.progCoeff[i];
  }
  return (sig * gMax) / c.progCoeffGMaxRef;
}

/** g_prog = max(0, g_T + scale·σ_prog(g_T)·z): `apply_programming_noise_to_conductance`. */
export function pcmProgram(gTarget: number, gMax: number, c: PcmConfig, rng: Rng): number {
  const g = gTarget + c.progNoiseScale * pcmProgSigma(gTarget, gMax, c) * rng.normal();
  return g < 0 ? 0 : g;
}

/** Mean and σ of the drift exponent ν at a target conductance: `generate_drift_coefficients`. */
export function pcmNuMoments(gTarget: number, gMax: number): { mu: number; sigma: number } {
  const gr = Math.max(Math.abs(gTarget / gMax), 1e-7); // _ZERO_CLIP
  const lg = Math.log(gr);
  const mu = Math.min(Math.max(-0.0155 * lg + 0.0244, 0.049), 0.1);
  const sigma = Math.min(Math.max(-0.0125 * lg - 0.0059, 0.008), 0.045);
  return { mu, sigma };
}

/** ν = |μ_ν + σ_ν·z|·driftScale, one per device. */
export function pcmNu(gTarget: number, gMax: number, c: PcmConfig, rng: Rng): number {
  const { mu, sigma } = pcmNuMoments(gTarget, gMax);
  return Math.abs(mu + sigma * rng.normal()) * c.driftScale;
}

/** σ of the accumulated 1/f noise relative to |g_drift|: q_s·sqrt(ln((t + t_read)/(2·t_read))), t = t_inf + t0. */
export function pcmReadSigmaRel(gProg: number, gMax: number, c: PcmConfig): number {
  const t = c.tInferenceS + c.t0S;
  const qs = Math.min(0.0088 / Math.max((Math.abs(gProg) / gMax) ** 0.65, 1e-3), 0.2);
  return qs * Math.sqrt(Math.log((t + c.tReadS) / (2 * c.tReadS)));
}

/**
 * Drift and accumulated 1/f noise at t_inference: `apply_drift_noise_to_conductance`.
 * g_drift = g_prog·(t/t0)^(−ν) for t = t_inf + t0 > t0; g = g_drift + |g_drift|·readScale·σ_1/f·z; max(0, g).
 */
export function pcmDrift(gProg: number, nu: number, gMax: number, c: PcmConfig, rng: Rng): number {
  const t = c.tInferenceS + c.t0S;
  const gd = t > c.t0S ? gProg * (t / c.t0S) ** -nu : gProg;
  const g = gd + Math.abs(gd) * c.readNoiseScale * pcmReadSigmaRel(gProg, gMax, c) * rng.normal();
  return g < 0 ? 0 : g;
}
