// Counter-based seeded randomness for training: every random draw is a pure function of
// (seed, purpose, step, index), so a resumed run draws exactly what an uninterrupted run draws, and no
// generator state needs to be checkpointed.

/** 32-bit hash mixing (the finalizer of MurmurHash3, Appleby 2011). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b); // 2246822507
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35); // 3266489909
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit key from a list of integers (order-sensitive). */
export function mixKey(...parts: number[]): number {
  let h = 0x9e3779b9; // 2654435769, the golden-ratio constant
  for (const p of parts) h = fmix32((h ^ (p >>> 0)) + Math.imul(h, 31)) ^ fmix32(Math.floor(p / 2 ** 32) >>> 0);
  return h >>> 0;
}

/**
 * mulberry32 (Tommy Ettinger, public domain): a small, fast 32-bit generator, good enough for
 * shuffling and quantization noise. Returns uniform floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0; // 1831565813
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
