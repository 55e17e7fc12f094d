// Counter-based seeded randomness for training: every random draw is a pure function of
// (seed, purpose, step, index), so a resumed run draws exactly what an uninterrupted run draws, and no
// generator state needs to be checkpointed.

import { mulberry32 } from "../rng.js";

export { mixKey, mulberry32 } from "../rng.js";

/** Fills a new Float32Array of length n with U(lo, hi) draws from generator key `key`. */
export function uniformArray(n: number, key: number, lo = -0.5, hi = 0.5): Float32Array {
  const r = mulberry32(key);
  const out = new Float32Array(n);
  const w = hi - lo;
  for (let i = 0; i < n; i++) out[i] = lo + w * r();
  return out;
}

/** A permutation of 0..n−1 (Fisher–Yates) from generator key `key`. */
export function permutation(n: number, key: number): Uint32Array {
  const r = mulberry32(key);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
