// Seeded random helpers shared by the backend tests: bulk arrays come from a small PRNG keyed by a seed
// that fast-check draws (fast-check for the shapes, mulberry32 for the thousands of values).

import { dyadic } from "../../src/lower/dyadic.js";
import { tensorRange, type TensorSpec } from "../../src/ir/types.js";
import { mulberry32 } from "../../src/rng.js";

export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** An integer in [lo, hi], a limit a quarter of the time (values at the clamp limits), else uniform. */
  edgy(lo: number, hi: number): number {
    const r = this.next();
    if (r < 0.125) return lo;
    if (r < 0.25) return hi;
    return this.int(lo, hi);
  }
  ints(n: number, lo: number, hi: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.edgy(lo, hi);
    return a;
  }
  weights(n: number, bits: number): Int8Array {
    const hi = 2 ** (bits - 1) - 1;
    const w = new Int8Array(n);
    for (let i = 0; i < n; i++) w[i] = this.edgy(-hi, hi);
    return w;
  }
}

/** An activation spec: bits 2..8, signed or not. */
export function actSpec(shape: number[], bits: number, signed: boolean, scale = 0.05): TensorSpec {
  return { shape, bits, signed, scale };
}

/**
 * Per-channel (m, s) that map accumulators of magnitude ~`accTypical` onto ~the output range, spread by a few
 * octaves, with occasional extreme shifts (1, 62) and extreme multipliers (2^30, 2^31 − 1).
 */
export function requantParams(rng: Rng, channels: number, accTypical: number, outHi: number): { m: Int32Array; s: Int32Array } {
  const m = new Int32Array(channels);
  const s = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const r = rng.next();
    if (r < 0.05) {
      m[c] = rng.pick([2 ** 30, 2 ** 31 - 1]);
      s[c] = rng.pick([1, 62]);
      continue;
    }
    const real = (outHi / Math.max(1, accTypical)) * 2 ** (rng.next() * 3 - 2.5);
    const d = dyadic(Math.min(2 ** 30, Math.max(2 ** -31, real)));
    m[c] = rng.next() < 0.1 ? rng.pick([2 ** 30, 2 ** 31 - 1]) : d.m;
    s[c] = d.s;
  }
  return { m, s };
}

/** Output clamp of a spec, sometimes narrowed (ReLU6-like). */
export function clampOf(rng: Rng, spec: Pick<TensorSpec, "bits" | "signed">): { lo: number; hi: number } {
  const r = tensorRange(spec);
  if (rng.next() < 0.2) return { lo: r.lo, hi: Math.max(r.lo, Math.floor(r.hi * 0.6)) };
  return r;
}
