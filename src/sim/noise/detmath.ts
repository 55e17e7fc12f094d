// exp and log as fixed sequences of IEEE double operations (+, −, ×, ÷, floor, comparisons): the same
// code in TypeScript (here) and AssemblyScript (assembly/detmath.ts) gives the same bits, which Math.exp /
// Math.log do not promise (V8 and AssemblyScript ship different ports). The ziggurat's rejection step
// (Rng.normalZig32, the output Gaussian noise) uses them so the WASM fast path can draw every normal itself.
// Accuracy: within a few ulp of Math.exp / Math.log on the ranges used (test/sim/detmath.test.ts), far
// below anything that changes the distribution of a draw.

// Cody–Waite split of ln 2 (fdlibm e_exp.c: ln2HI has 21 trailing zero bits, so k·LN2_HI is exact for |k| < 2^21).
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.4426950408889634;
const SQRT1_2 = 0.7071067811865476;
/** 2^−i, exact, for the scaling by 2^k in detExp (k ≥ −1010). */
const POW2_NEG = Float64Array.from({ length: 1011 }, (_, i) => 2 ** -i);

/**
 * e^x for x ≤ 0 (0 below −700). x = k·ln 2 + r with k = floor(x/ln 2 + ½) ≤ 0, |r| ≤ 0.35; e^r by its
 * Taylor series to r^16/16! (truncation < 1e-19) in Horner form; times 2^k (exact).
 */
export function detExp(x: number): number {
  if (x < -700) return 0;
  const k = Math.floor(x * INV_LN2 + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = 1 / 20922789888000; // 1/16!
  p = p * r + 1 / 1307674368000;
  p = p * r + 1 / 87178291200;
  p = p * r + 1 / 6227020800;
  p = p * r + 1 / 479001600;
  p = p * r + 1 / 39916800;
  p = p * r + 1 / 3628800;
  p = p * r + 1 / 362880;
  p = p * r + 1 / 40320;
  p = p * r + 1 / 5040;
  p = p * r + 1 / 720;
  p = p * r + 1 / 120;
  p = p * r + 1 / 24;
  p = p * r + 1 / 6;
  p = p * r + 0.5;
  p = p * r + 1;
  p = p * r + 1;
  return p * POW2_NEG[-k];
}

/**
 * ln x for 0 < x ≤ 1. x = 2^k·f with f in [√½, √2) by doublings (exact); ln f = 2·atanh(t), t = (f − 1)/(f + 1),
 * |t| ≤ 0.172, by the series 2(t + t³/3 + … + t^23/23) (truncation < 1e-19).
 */
export function detLog(x: number): number {
  if (!(x > 0)) return -Infinity;
  let k = 0;
  let f = x;
  while (f < SQRT1_2) {
    f *= 2;
    k--;
  }
  const t = (f - 1) / (f + 1);
  const t2 = t * t;
  let p = 1 / 23;
  p = p * t2 + 1 / 21;
  p = p * t2 + 1 / 19;
  p = p * t2 + 1 / 17;
  p = p * t2 + 1 / 15;
  p = p * t2 + 1 / 13;
  p = p * t2 + 1 / 11;
  p = p * t2 + 1 / 9;
  p = p * t2 + 1 / 7;
  p = p * t2 + 1 / 5;
  p = p * t2 + 1 / 3;
  p = p * t2 + 1;
  return k * LN2_HI + (k * LN2_LO + 2 * t * p);
}
