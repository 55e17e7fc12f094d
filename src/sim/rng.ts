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

/** Stream id of (layer index, noise source): distinct streams for every source of every layer. */
export function streamId(layer: number, source: number): number {
  return (layer * 64 + source) >>> 0;
}
