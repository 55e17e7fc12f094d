// Seeded random streams keyed by (seed, trial, inference, stream) (DESIGN.md §4). Every draw the simulator
// makes comes from the stream of its key, never from a shared sequential generator, so the numbers depend
// only on the key: the same seed gives the same noise whatever the batch size or the number of workers.
//
// Key → state: murmur3's 32-bit finalizer (fmix32, Austin Appleby, public domain) chained over the key
// words, four times with distinct salts. Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled linear
// pseudorandom number generators", ACM TOMS 2021; reference C at prng.di.unimi.it, public domain); the first
// word of each output-noise normal takes xoshiro128+ 1.0's output instead (nextPlus, normalZig32).

import { fmix32 } from "../../rng.js";
import { detExp, detLog } from "./detmath.js";

/** Inference index for draws that belong to the chip instance (per trial), not to one image. */
export const CHIP = 0xffffffff; // 4294967295

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A xoshiro128** stream with uniform, normal and geometric draws. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  /**
   * The stream of key (seed, trial, inference, stream). seed is a non-negative safe integer (its high and
   * low 32-bit halves both enter the key); the other parts are 32-bit unsigned integers.
   */
  constructor(seed: number, trial: number, inference: number, stream: number) {
    const words = [seed >>> 0, Math.floor(seed / 4294967296) >>> 0, trial >>> 0, inference >>> 0, stream >>> 0];
    const st = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      let h = fmix32((0x9e3779b9 * (i + 1)) >>> 0); // 0x9e3779b9 = 2654435769, the golden-ratio salt
      for (const w of words) h = fmix32((h ^ w) + 0x7f4a7c15);
      st[i] = h;
    }
    if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1; // the all-zero state is the one fixed point
    [this.s0, this.s1, this.s2, this.s3] = st;
  }

  /** Next 32-bit unsigned word (xoshiro128** 1.1). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    this.step();
    return result;
  }

  /**
   * Next 32-bit unsigned word by xoshiro128+ 1.0: the same state and transition as nextU32, the output s0 + s3
   * (mod 2^32) instead of the ** scrambler. Its authors: "It passes all tests we are aware of except for
   * linearity tests, as the lowest four bits have low linear complexity" (prng.di.unimi.it, xoshiro128plus.c);
   * normalZig32 reads none of those four bits.
   */
  nextPlus(): number {
    const result = (this.s0 + this.s3) >>> 0;
    this.step();
    return result;
  }

  /** The xoshiro128 state transition (the linear engine both scramblers share). */
  private step(): void {
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
  }

  /**
   * Writes the generator state's words 0–3 to out[at + k·stride], for the WASM twin of normalZig32
   * (assembly/simnoise.ts): stride 4 writes it as one lane of a four-lane state block.
   */
  saveState(out: Int32Array, at: number, stride: number): void {
    out[at] = this.s0;
    out[at + stride] = this.s1;
    out[at + 2 * stride] = this.s2;
    out[at + 3 * stride] = this.s3;
  }

  /** Sets the generator state's words 0–3 from from[at + k·stride] (saveState's inverse; not all zero). */
  loadState(from: Int32Array, at: number, stride: number): void {
    [this.s0, this.s1, this.s2, this.s3] = [from[at], from[at + stride], from[at + 2 * stride], from[at + 3 * stride]];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) throw new Error("xoshiro128: the all-zero state");
    this.spare = NaN;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992; // (a·2^26 + b) / 2^53
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = NaN;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Standard normal by the ziggurat method (Marsaglia & Tsang, "The Ziggurat Method for Generating Random
   * Variables", J. Stat. Softw. 5(8), 2000; their RNOR/nfix with 256 layers instead of 128, which halves the
   * draws that need the rejection step, 2.75% → 1.49%), ~1 word per draw instead of Box–Muller's two
   * uniforms, a log, a sqrt and a sin/cos: the per-inference output noise draws one per accumulator per
   * image. The first word is xoshiro128+'s (nextPlus), whose lowest four bits are its weak ones: the layer
   * index is bits 4–11 and the value h the signed top 20 bits (u >> 12, its sign the top bit, as the authors
   * suggest: "a sign test to extract a random Boolean value, and right shifts to extract subsets of bits"),
   * so no draw reads bits 0–3; layer and value come from disjoint bits (unlike the 2000 code: the correlation
   * Doornik points out, "An Improved Ziggurat Method to Generate Normal Random Samples", 2005). The rejection
   * step's words are xoshiro128**'s (nextU32), split the same way. Its exp and log are detExp / detLog
   * (./detmath.ts), which the WASM twin (assembly/simnoise.ts) repeats bit for bit.
   * The value is an f32 (docs/NOISE.md, session 32): on the fast path fl32(h·Wf[i]) with Wf[i] = fl32(W[i])
   * (h·Wf[i] is exact in a double, |h| ≤ 2^19, so Math.fround rounds the exact product once, as the WASM
   * kernel's f32 multiply of h, exact in f32, by Wf[i]); after a rejection step fl32 of the double the step
   * returns. So four lanes take one f32x4 multiply in WASM instead of two f64x2 ones and their conversions.
   * `slow`: the stream the rejection step (1.5% of draws) draws from (default: this one). The output
   * Gaussian noise gives it a stream of its own, so its fast streams advance one word per draw whatever
   * happens and the WASM kernel can take four draws at a time and do the rejections after.
   */
  normalZig32(slow: Rng = this): number {
    const u = this.nextPlus();
    const i = zigLayer(u);
    const h = zigValue(u);
    if (Math.abs(h) < ZIG_KI[i]) return Math.fround(h * ZIG_WF[i]);
    return Math.fround(slow.zigTail(h, i));
  }

  /** The rejection steps of normalZig32 for a first word with layer i and value h, drawing from this stream. */
  private zigTail(h: number, i: number): number {
    for (;;) {
      const x = h * ZIG_W[i];
      if (i === 0) {
        // Tail beyond r (Marsaglia 1964): x = −ln(U1)/r, y = −ln(U2), accept when 2y ≥ x².
        let t: number;
        let y: number;
        do {
          t = -detLog(1 - this.uniform()) / ZIG_R;
          y = -detLog(1 - this.uniform());
        } while (y + y < t * t);
        return h > 0 ? ZIG_R + t : -ZIG_R - t;
      }
      if (ZIG_F[i] + this.uniform() * (ZIG_F[i - 1] - ZIG_F[i]) < detExp(-0.5 * x * x)) return x;
      const u = this.nextU32();
      i = zigLayer(u);
      h = zigValue(u);
      if (Math.abs(h) < ZIG_KI[i]) return h * ZIG_W[i];
    }
  }

  /**
   * Number of failures before the next success of Bernoulli(p) trials: Geometric(p) on {0, 1, …} by
   * inversion, floor(ln U / ln(1 − p)). Lets BER sampling skip to the next flipped bit in O(flips).
   */
  geometric(p: number): number {
    if (p >= 1) return 0;
    if (p <= 0) return Infinity;
    const u = 1 - this.uniform(); // (0, 1]
    return Math.floor(Math.log(u) / Math.log1p(-p));
  }
}

/** The ziggurat layer of a first word: bits 4–11 (bits 0–3, xoshiro128+'s weak ones, stay unread). */
const zigLayer = (u: number): number => (u >>> 4) & 255;
/** The ziggurat value of a first word: its signed top 20 bits, |h| ≤ 2^19 = ZIG_H. */
const zigValue = (u: number): number => u >> 12;

// Ziggurat tables for 256 layers (Marsaglia & Tsang 2000, zigset, with the 256-layer constants):
// r = 3.6541528853610088 is the base strip's edge, v = 4.92867323399e-3 each layer's area. Values are
// h·W[i] for a signed 20-bit h (|h| ≤ ZIG_H = 2^19); K[i] is the |h| below which the point lies inside the
// layer's rectangle.
const ZIG_N = 256;
/** The bound on |h| of normalZig32's signed 20-bit value, x_i = W[i]·ZIG_H (the 2000 code's 2^31). */
export const ZIG_H = 524288;
export const ZIG_R = 3.6541528853610088;
export const ZIG_K = new Float64Array(ZIG_N);
export const ZIG_W = new Float64Array(ZIG_N);
export const ZIG_F = new Float64Array(ZIG_N);
{
  const m = ZIG_H;
  const v = 4.92867323399e-3;
  let d = ZIG_R;
  let t = d;
  const q = v / Math.exp(-0.5 * d * d);
  ZIG_K[0] = (d / q) * m;
  ZIG_K[1] = 0;
  ZIG_W[0] = q / m;
  ZIG_W[ZIG_N - 1] = d / m;
  ZIG_F[0] = 1;
  ZIG_F[ZIG_N - 1] = Math.exp(-0.5 * d * d);
  for (let i = ZIG_N - 2; i >= 1; i--) {
    d = Math.sqrt(-2 * Math.log(v / d + Math.exp(-0.5 * d * d)));
    ZIG_K[i + 1] = (d / t) * m;
    t = d;
    ZIG_F[i] = Math.exp(-0.5 * d * d);
    ZIG_W[i] = d / m;
  }
}

/** ⌈K[i]⌉: for an integer |h|, |h| < K[i] exactly when |h| < ⌈K[i]⌉ (all below 2^19). */
export const ZIG_KI = Int32Array.from(ZIG_K, (k) => Math.ceil(k));
/** fl32(W[i]): the fast path's factor (normalZig32). */
export const ZIG_WF = Float32Array.from(ZIG_W);

/**
 * The integer nearest to x, ties to even (IEEE 754 roundTiesToEven, as WASM's f32.nearest and f64.nearest), for
 * every double x. Math.round sends ties toward +∞; r − x is exact (r = 0, or r and x within a factor of 2), so
 * r − x = ½ finds exactly the ties it sent up, and those with r odd go back down to the even neighbour.
 */
export function roundTiesEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The tables in the layout of the WASM twin (assembly/simnoise.ts): zt, 256 entries of 16 bytes {i32 ⌈K[i]⌉,
 * i32 0, f64 W[i]}; zf, f64: F[256], r, one unused, then per layer i (1 ≤ i < 256) the wedge squeeze {A, B, lo,
 * hi} of zigSqueeze at index 258 + 4i.
 */
export function zigTablesForWasm(): { zt: Uint8Array; zf: Uint8Array } {
  const zt = new ArrayBuffer(ZIG_N * 16);
  const dv = new DataView(zt);
  for (let i = 0; i < ZIG_N; i++) {
    dv.setInt32(i * 16, ZIG_KI[i], true);
    dv.setFloat64(i * 16 + 8, ZIG_W[i], true);
  }
  const zf = new Float64Array(ZIG_N + 2 + 4 * ZIG_N);
  zf.set(ZIG_F);
  zf[ZIG_N] = ZIG_R;
  for (let i = 1; i < ZIG_N; i++) zf.set(zigSqueeze(i), ZIG_N + 2 + 4 * i);
  return { zt: new Uint8Array(zt), zf: new Uint8Array(zf.buffer) };
}

/**
 * A squeeze for the wedge test of layer i ≥ 1 (zigTail: accept x when y < detExp(−x²/2)), which lets the WASM
 * twin skip detExp for most wedge points and still decide exactly as the test does. The wedge's |x| lies in
 * [a, b] = [x_{i−1}, x_i] (x_0 = 0; x_i = W[i]·2^19, F[i] = e^(−x_i²/2) as tabled); on it g(x) = e^(−x²/2)
 * differs from the chord c(x) = A + B·x through (a, F[i−1]) and (b, F[i]) by at most gap = (b − a)²/8 ·
 * max |g″| (linear interpolation's remainder), with |g″(x)| = |x² − 1|·g(x) ≤ max(|a² − 1|, |b² − 1|)·g(a)
 * (g falls on x ≥ 0, x² − 1 is monotone). g is convex for x ≥ 1 (below the chord: g ∈ [c − gap, c]), concave
 * for x ≤ 1 (g ∈ [c, c + gap]), either on a layer across 1. So y < c(|x|) − lo means y < g − 10^−12, and
 * y > c(|x|) + hi means y > g + 10^−12: every error between these and the test's own numbers — detExp within
 * a few ulp of g (≤ 4·10^−16 here), the rounded A, B, F and the rounding of c, |x| a rounding outside [a, b]
 * — is below 10^−14, so either way the test would decide the same. Only points between the two bounds
 * (a few percent of the wedge's area, mostly in the top layers) need detExp.
 */
export function zigSqueeze(i: number): [number, number, number, number] {
  const a = i === 1 ? 0 : ZIG_W[i - 1] * ZIG_H;
  const b = ZIG_W[i] * ZIG_H;
  const B = (ZIG_F[i] - ZIG_F[i - 1]) / (b - a);
  const A = ZIG_F[i - 1] - a * B;
  const gap = (((b - a) ** 2 / 8) * Math.max(Math.abs(a * a - 1), Math.abs(b * b - 1)) * Math.exp(-0.5 * a * a)) * 1.01;
  const margin = 1e-12;
  return [A, B, a >= 1 ? gap + margin : b <= 1 ? margin : gap + margin, b <= 1 ? gap + margin : a >= 1 ? margin : gap + margin];
}

/** Stream id of (layer index, noise source): distinct streams for every source of every layer. */
export function streamId(layer: number, source: number): number {
  return (layer * 64 + source) >>> 0;
}
