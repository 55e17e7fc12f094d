// The project's seeded generators, one copy each. Every random number in nipq-hw is a pure function of a
// seed (and a key): the same seed gives the same numbers on every machine.
//  - fmix32: murmur3's 32-bit finalizer (Austin Appleby, public domain), the avalanche step that turns a
//    key into generator state; the simulator's keyed streams (src/sim/noise/rng.ts) chain it too.
//  - mixKey: a 32-bit key from a list of integers (training's counter-based draws: seed, purpose, step).
//  - mulberry32 (Tommy Ettinger, public domain): a small, fast 32-bit generator for shuffles, weight
//    initialization, test data and fixtures. Not for the simulator's noise, which needs keyed streams.

/** murmur3 fmix32: a bijective avalanche of a 32-bit word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b); // 2246822507
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35); // 3266489909
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit key from a list of integers (order-sensitive; each part's high 32 bits count too). */
export function mixKey(...parts: number[]): number {
  let h = 0x9e3779b9; // 2654435769, the golden-ratio constant
  for (const p of parts) h = fmix32((h ^ (p >>> 0)) + Math.imul(h, 31)) ^ fmix32(Math.floor(p / 2 ** 32) >>> 0);
  return h >>> 0;
}

/** mulberry32: uniform floats in [0, 1) from a 32-bit seed. */
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
