// Seeded random streams keyed by (seed, trial, inference, stream) (DESIGN.md §4). Every draw the simulator
// makes comes from the stream of its key, never from a shared sequential generator, so the numbers depend
// only on the key: the same seed gives the same noise whatever the batch size or the number of workers.
//
// Key → state: murmur3's 32-bit finalizer (fmix32, Austin Appleby, public domain) chained over the key
// words, four times with distinct salts. Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled linear
// pseudorandom number generators", ACM TOMS 2021; reference C at prng.di.unimi.it, public domain).

/** Inference index for draws that belong to the chip instance (per trial), not to one image. */
export const CHIP = 0xffffffff; // 4294967295

/** murmur3 fmix32: a bijective avalanche of a 32-bit word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

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
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Copies the generator state (4 words) into out[0..4), for the WASM twin of normalZig (src/sim/wasmsim.ts). */
  saveState(out: Int32Array): void {
    out[0] = this.s0;
    out[1] = this.s1;
    out[2] = this.s2;
    out[3] = this.s3;
  }

  /** Sets the generator state from src[0..4) (saved by saveState, possibly advanced by the WASM twin). */
  loadState(src: Int32Array): void {
    this.s0 = src[0];
    this.s1 = src[1];
    this.s2 = src[2];
    this.s3 = src[3];
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
   * Variables", J. Stat. Softw. 5(8), 2000; 128 layers, their RNOR/nfix), ~1 word per draw instead of
   * Box–Muller's two uniforms, a log, a sqrt and a sin/cos: the per-inference output noise draws one per
   * accumulator per image. Unlike the 2000 code, the layer index (low 7 bits) and the signed 25-bit value
   * (high bits) come from disjoint bits of the word (the correlation Doornik points out, "An Improved
   * Ziggurat Method to Generate Normal Random Samples", 2005).
   */
  normalZig(): number {
    const u = this.nextU32();
    const i = u & 127;
    const h = u >> 7; // signed, |h| ≤ 2^24
    if (Math.abs(h) < ZIG_K[i]) return h * ZIG_W[i];
    return this.zigTail(h, i);
  }

  /** The rejection steps of normalZig (probability ~1.2%): the base strip's tail, or a wedge test. */
  private zigTail(h: number, i: number): number {
    for (;;) {
      const x = h * ZIG_W[i];
      if (i === 0) {
        // Tail beyond r (Marsaglia 1964): x = −ln(U1)/r, y = −ln(U2), accept when 2y ≥ x².
        let t: number;
        let y: number;
        do {
          t = -Math.log(1 - this.uniform()) / ZIG_R;
          y = -Math.log(1 - this.uniform());
        } while (y + y < t * t);
        return h > 0 ? ZIG_R + t : -ZIG_R - t;
      }
      if (ZIG_F[i] + this.uniform() * (ZIG_F[i - 1] - ZIG_F[i]) < Math.exp(-0.5 * x * x)) return x;
      const u = this.nextU32();
      i = u & 127;
      h = u >> 7;
      if (Math.abs(h) < ZIG_K[i]) return h * ZIG_W[i];
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

// Ziggurat tables for 128 layers (Marsaglia & Tsang 2000, zigset): r = 3.442619855899 is the base
// strip's edge, v = 9.91256303526217e-3 each layer's area. Values are h·W[i] for a signed 25-bit h
// (|h| ≤ 2^24 = 16777216); K[i] is the |h| below which the point lies inside the layer's rectangle.
const ZIG_R = 3.442619855899;
export const ZIG_K = new Float64Array(128);
export const ZIG_W = new Float64Array(128);
export const ZIG_F = new Float64Array(128);
{
  const m = 16777216; // 2^24
  const v = 9.91256303526217e-3;
  let d = ZIG_R;
  let t = d;
  const q = v / Math.exp(-0.5 * d * d);
  ZIG_K[0] = (d / q) * m;
  ZIG_K[1] = 0;
  ZIG_W[0] = q / m;
  ZIG_W[127] = d / m;
  ZIG_F[0] = 1;
  ZIG_F[127] = Math.exp(-0.5 * d * d);
  for (let i = 126; i >= 1; i--) {
    d = Math.sqrt(-2 * Math.log(v / d + Math.exp(-0.5 * d * d)));
    ZIG_K[i + 1] = (d / t) * m;
    t = d;
    ZIG_F[i] = Math.exp(-0.5 * d * d);
    ZIG_W[i] = d / m;
  }
}

/** Stream id of (layer index, noise source): distinct streams for every source of every layer. */
export function streamId(layer: number, source: number): number {
  return (layer * 64 + source) >>> 0;
}
