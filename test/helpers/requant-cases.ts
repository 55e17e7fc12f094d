// Requant inputs at and around exact ties, constructed rather than hoped for (random (a, m, s) almost never
// land on a tie). The spec (DESIGN.md §3): requant(a, m, s) = floor((a·m + 2^(s−1)) / 2^s) for an int32
// accumulator a, m ∈ [2^30, 2^31 − 1], s ∈ [1, 62]. a·m is a tie exactly when a·m ≡ 2^(s−1) (mod 2^s),
// i.e. when v2(a·m) = s − 1 (v2: the exponent of 2 in the factorization).
//
// Which shifts admit a tie: v2(m) ≤ 30 (m < 2^31, and m = 2^30 is the only m with v2 = 30) and
// v2(a) ≤ 30 for a ≠ −2^31 (|a| < 2^31), v2(−2^31) = 31. So v2(a·m) ≤ 61 and every s ≤ 62 has ties for
// negative a; for positive a, v2(a·m) ≤ 60, so s = 62 has none: a positive tie at s = 62 would be
// a·m = 2^61 (the only odd multiple of 2^61 below (2^31 − 1)^2 < 2^62). nearTieCases covers the products
// nearest to it instead.
//
// Truncation (floor(a·m / 2^s), a chip rounding mode) has its boundary at the multiples of 2^s instead:
// integerCases builds a·m ≡ 0 (mod 2^s) and the products beside it.

/** One requant input and where it sits: a·m ≡ the boundary + off (mod 2^s) (the tie 2^(s−1), or 0 for integerCases). */
export interface RqCase {
  a: number;
  m: number;
  s: number;
  /** a·m minus the nearest point ≡ the boundary (mod 2^s): 0 exactly at it, ±1 just beside it (boundaryOffset). */
  off: number;
}

export const M_MIN = 2 ** 30;
export const M_MAX = 2 ** 31 - 1;
const A_MIN = -(2 ** 31);
const A_MAX = 2 ** 31 - 1;

/** (a·m mod 2^s) − 2^(s−1), exactly (BigInt): 0 for a tie. The label every case is checked against. */
export function tieOffset(a: number, m: number, s: number): number {
  const d = 1n << BigInt(s);
  const r = (((BigInt(a) * BigInt(m)) % d) + d) % d;
  return Number(r - d / 2n);
}

/**
 * Exact ties for every s in 1..62 and both signs of a (none for a > 0 at s = 62, see the file comment):
 * a = ±2^p·u, m = 2^q·v with u, v odd and p + q = s − 1, so a·m = ±u·v·2^(s−1), an odd multiple of
 * 2^(s−1). For each split p (q = s − 1 − p ≤ 30 forces p ≥ s − 31) the smallest and largest odd u and v
 * that keep a int32 and m in [2^30, 2^31 − 1].
 */
export function tieCases(): RqCase[] {
  const out: RqCase[] = [];
  for (let s = 1; s <= 62; s++)
    for (const sign of [1, -1]) {
      const pMax = sign > 0 ? 30 : 31;
      for (let p = Math.max(0, s - 31); p <= Math.min(s - 1, pMax); p++) {
        const q = s - 1 - p;
        // a = sign·2^p·u: u = 1, or the largest odd u with |a| in range (2^(31−p) − 1; for p = 31 only u = 1).
        const us = p === 31 ? [1] : [1, 2 ** (31 - p) - 1];
        // m = 2^q·v ∈ [2^30, 2^31): v odd in [2^(30−q), 2^(31−q)); for q = 30 only v = 1.
        const vs = q === 30 ? [1] : [2 ** (30 - q) + 1, 2 ** (31 - q) - 1];
        for (const u of new Set(us)) for (const v of new Set(vs)) out.push({ a: sign * 2 ** p * u, m: 2 ** q * v, s, off: 0 });
      }
    }
  return out;
}

/** x^-1 mod 2^k for odd x (Newton's iteration y ← y·(2 − x·y), which doubles the correct low bits). */
function inverseMod2k(x: bigint, k: number): bigint {
  const M = 1n << BigInt(k);
  let y = 1n;
  for (let bits = 1; bits < k; bits *= 2) y = (y * (2n - x * y)) % M;
  return ((y % M) + M) % M;
}

// Factoring products below 2^62 (for s ≥ 32, where a and m are both fixed by the product; see nearCases).
// Deterministic Miller–Rabin (the prime bases up to 37 are enough below 3.18·10^23 > 2^62; Sorenson &
// Webster 2015) and Pollard's rho with Brent's cycle detection (Brent 1980).

function powMod(b: bigint, e: bigint, n: bigint): bigint {
  let r = 1n;
  b %= n;
  for (; e > 0n; e >>= 1n, b = (b * b) % n) if (e & 1n) r = (r * b) % n;
  return r;
}

const SMALL_PRIMES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

function isPrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of SMALL_PRIMES) if (n % p === 0n) return n === p;
  let d = n - 1n;
  let r = 0;
  for (; (d & 1n) === 0n; d >>= 1n) r++;
  outer: for (const a of SMALL_PRIMES) {
    let x = powMod(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < r; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue outer;
    }
    return false;
  }
  return true;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A non-trivial factor of an odd composite n (Pollard–Brent rho with batched gcds). */
function rho(n: bigint): bigint {
  for (let c = 1n; ; c++) {
    const f = (x: bigint) => (x * x + c) % n;
    let y = 2n, x = 2n, q = 1n, g = 1n, ys = 2n;
    for (let r = 1; g === 1n; r *= 2) {
      x = y;
      for (let i = 0; i < r; i++) y = f(y);
      for (let k = 0; k < r && g === 1n; k += 128) {
        ys = y;
        for (let i = 0; i < Math.min(128, r - k); i++) {
          y = f(y);
          q = (q * (x > y ? x - y : y - x)) % n;
        }
        g = gcd(q, n);
      }
    }
    if (g === n) {
      do {
        ys = f(ys);
        g = gcd(x > ys ? x - ys : ys - x, n);
      } while (g === 1n);
    }
    if (g !== n) return g;
  }
}

/** Prime factors of n ≥ 1, with multiplicity. */
function primeFactors(n: bigint): bigint[] {
  const out: bigint[] = [];
  for (let p = 2n; p < 1000n && p * p <= n; p += p === 2n ? 1n : 2n)
    while (n % p === 0n) {
      out.push(p);
      n /= p;
    }
  const stack = n > 1n ? [n] : [];
  while (stack.length) {
    const x = stack.pop()!;
    if (isPrime(x)) out.push(x);
    else {
      const d = rho(x);
      stack.push(d, x / d);
    }
  }
  return out;
}

/** Divisors of n ≥ 1 that lie in [lo, hi]. */
function divisorsIn(n: bigint, lo: bigint, hi: bigint): bigint[] {
  let ds = [1n];
  const f = primeFactors(n).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  for (let i = 0; i < f.length; ) {
    let j = i;
    while (j < f.length && f[j] === f[i]) j++;
    const next: bigint[] = [];
    for (const d of ds) for (let e = 0, pe = 1n; e <= j - i; e++, pe *= f[i]) next.push(d * pe);
    ds = next;
    i = j;
  }
  return ds.filter((d) => d >= lo && d <= hi).sort((x, y) => (x < y ? -1 : 1));
}

/** Which boundary a case sits at: the rounding tie 2^(s−1) (mod 2^s) or the truncation boundary 0 (mod 2^s). */
export type Boundary = "tie" | "integer";

/** a·m minus the nearest point ≡ the boundary (mod 2^s), in [−2^(s−1), 2^(s−1)): 0 exactly at it (BigInt). */
export function boundaryOffset(a: number, m: number, s: number, boundary: Boundary): number {
  if (boundary === "tie") return tieOffset(a, m, s);
  const d = 1n << BigInt(s);
  const r = (((BigInt(a) * BigInt(m)) % d) + d) % d;
  return Number(r < d / 2n ? r : r - d);
}

/**
 * The inputs whose product is nearest to a tie on one side, for every s in 1..62, both signs of a and both
 * sides (dir = ±1): a·m ≡ 2^(s−1) + dir·d (mod 2^s) with the smallest d ≥ 1 the ranges admit (d = 1
 * wherever possible). For s = 1 the only non-tie residue is 0 (off = −1), an exact integer.
 *  - s ≤ 31: for odd a, m ≡ (2^(s−1) ± 1)·a^−1 (mod 2^s) has a solution in [2^30, 2^31 − 1] (always for
 *    s ≤ 30; at s = 31 for about half of the a tried), so d = 1, several a per side.
 *  - s ≥ 32: m is determined mod 2^s > 2^31 by a, so the pair must be found as a factorization of
 *    P = ±(2j+1)·2^(s−1) + dir·d (j ≥ 0, |P| ≤ 2^31·(2^31 − 1)) with a divisor m ∈ [2^30, 2^31 − 1] and
 *    P/m int32. The search walks j upward and stops at the first hit; when none exists for d it has tried
 *    every j (there are only 2^(62−s) of them at most, and misses happen only for s ≥ 60), so a row
 *    with d > 1 is the true nearest product. Found for d = 1 except: s = 62 (P = ±2^61 ± 1: 2^61 − 1 is
 *    prime, 2^61 + 1 = 3·768614336404564651 has no divisor in range), and one side each at s = 60, 61.
 */
export function nearTieCases(): RqCase[] {
  return nearCases("tie");
}

/**
 * The truncation boundary: products a·m ≡ 0 (mod 2^s) exactly (off = 0), and the nearest beside them on
 * each side, built as nearTieCases builds its (s ≤ 31: d = 1; s ≥ 32: factoring P = ±j·2^s ± d, j ≥ 1).
 * Exact non-zero multiples: a = ±2^p·u (u = 1 or 2^(31−p) − 1), m = 2^30, p = max(0, s − 30); that needs
 * p ≤ 30 for a > 0 (s ≤ 60), and a = −2^31 reaches s = 61; a = 0 is an exact multiple at every s. At s = 62 no non-zero
 * product lies within 2^30 of a multiple of 2^62 (|a·m| ≤ 2^62 − 2^31, and |a·m| ≥ 2^30 for a ≠ 0), so
 * the nearest are a = ±1 with m = 2^30 (off = ±2^30) and the extreme products (off +2^31 for a = −2^31,
 * m = 2^31 − 1; −(2^32 − 1) for (2^31 − 1)²).
 */
export function integerCases(): RqCase[] {
  const out: RqCase[] = [];
  for (let s = 1; s <= 62; s++) {
    out.push({ a: 0, m: M_MAX, s, off: 0 });
    for (const sign of [1, -1]) {
      const p = Math.max(0, s - 30);
      if (p > (sign > 0 ? 30 : 31)) continue;
      for (const u of p === 31 ? [1] : [1, 2 ** (31 - p) - 1]) out.push({ a: sign * 2 ** p * u, m: M_MIN, s, off: 0 });
    }
  }
  out.push(...nearCases("integer"));
  out.push({ a: 1, m: M_MIN, s: 62, off: 2 ** 30 }, { a: -1, m: M_MIN, s: 62, off: -(2 ** 30) });
  out.push({ a: -(2 ** 31), m: M_MAX, s: 62, off: 2 ** 31 }, { a: A_MAX, m: M_MAX, s: 62, off: -(2 ** 32 - 1) });
  return out;
}

function nearCases(boundary: Boundary): RqCase[] {
  const out: RqCase[] = [];
  for (const sign of [1, -1]) {
    // s = 1: the one non-boundary residue (even products beside a tie, odd ones beside an integer).
    if (boundary === "tie") out.push({ a: sign, m: M_MIN, s: 1, off: -1 }, { a: sign * 2, m: M_MIN + 1, s: 1, off: -1 }, { a: sign * 2 ** 30, m: M_MAX, s: 1, off: -1 });
    else out.push({ a: sign, m: M_MIN + 1, s: 1, off: -1 }, { a: sign * A_MAX, m: M_MAX, s: 1, off: -1 });
    for (let s = 2; s <= 31; s++)
      for (const dir of [1, -1]) {
        const M = 1n << BigInt(s);
        const t = ((boundary === "tie" ? 1n << BigInt(s - 1) : 0n) + BigInt(dir) + M) % M;
        let found = 0;
        for (const u of [1, 3, A_MAX, 0x5bd1e995, 5, 7, 9, 11, 13]) {
          const a = sign * u;
          const m0 = (((t * inverseMod2k(((BigInt(a) % M) + M) % M, s)) % M) + M) % M;
          const m = Number(m0 + ((BigInt(M_MIN) - m0 + M - 1n) / M) * M); // the least m ≡ m0 with m ≥ 2^30
          if (m > M_MAX) continue;
          out.push({ a, m, s, off: dir });
          if (++found === 3) break;
        }
        if (found === 0) throw new Error(`nearCases(${boundary}): no m for s = ${s}, sign ${sign}, side ${dir}`);
      }
    for (let s = 32; s <= (boundary === "tie" ? 62 : 61); s++) for (const dir of [1, -1]) out.push(...nearestByFactoring(s, sign, dir, boundary));
  }
  return out;
}

const P_MAX = 2n ** 31n * (2n ** 31n - 1n); // |a·m| ≤ 2^31·(2^31 − 1)
const MAX_J = 64; // the s ≥ 32 searches hit within 15 values of j (or exhaust j, for s ≥ 60)

/**
 * For s ≥ 32: the product at the smallest distance d from the boundary on side dir (first in j), and, when
 * its |a| ≥ 2^30, also the first one at that d with |a| < 2^30 if there is one within MAX_J: accumulators
 * of at most 31 bits are the ones the GEMM's shared-shift SIMD requant can take (src/kernels/wasm/prepare.ts
 * sharedShift).
 */
function nearestByFactoring(s: number, sign: number, dir: number, boundary: Boundary): RqCase[] {
  const half = 1n << BigInt(s - 1);
  // The points ≡ the boundary (mod 2^s) on a's side of 0: odd multiples of 2^(s−1), or non-zero multiples of 2^s.
  const center = (j: bigint) => BigInt(sign) * (boundary === "tie" ? (2n * j + 1n) * half : (j + 1n) * 2n * half);
  for (let d = 1n; d < half; d++) {
    const hits: RqCase[] = [];
    let exhausted = false;
    for (let j = 0n; ; j++) {
      const P = center(j) + BigInt(dir) * d;
      if ((P < 0n ? -P : P) > P_MAX) {
        exhausted = true;
        break;
      }
      if (j >= BigInt(MAX_J)) {
        if (hits.length) break;
        throw new Error(`nearCases(${boundary}): s = ${s}, sign ${sign}, side ${dir}, d = ${d}: no hit in ${MAX_J} products (raise MAX_J)`);
      }
      for (const m of divisorsIn(P < 0n ? -P : P, BigInt(M_MIN), BigInt(M_MAX)).reverse()) { // largest m: smallest |a|
        const a = P / m;
        if (a < BigInt(A_MIN) || a > BigInt(A_MAX) || (hits.length && (a >= 2n ** 30n || a < -(2n ** 30n)))) continue;
        hits.push({ a: Number(a), m: Number(m), s, off: dir * Number(d) });
        break;
      }
      if (hits.length && (hits[hits.length - 1].a < 2 ** 30 && hits[hits.length - 1].a >= -(2 ** 30))) break;
    }
    if (hits.length) return hits;
    if (!exhausted) break;
  }
  throw new Error(`nearCases(${boundary}): nothing near the boundary at s = ${s}`);
}

/** The chip's rounding modes (src/sim/requant.ts), each by its BigInt definition. */
export type RoundingMode = "half-up" | "half-even" | "truncate";

/**
 * half-up: floor((a·m + 2^(s−1)) / 2^s) (the spec); half-even: the same except that an exact tie goes to the
 * even neighbour; truncate: floor(a·m / 2^s).
 */
export function roundedBig(a: number, m: number, s: number, mode: RoundingMode): bigint {
  const p = BigInt(a) * BigInt(m);
  const d = 1n << BigInt(s);
  const floorDiv = (x: bigint) => (x % d !== 0n && x < 0n ? x / d - 1n : x / d);
  if (mode === "truncate") return floorDiv(p);
  const up = floorDiv(p + d / 2n);
  if (mode === "half-up") return up;
  const tie = ((p % d) + d) % d === d / 2n;
  return tie && (up & 1n) === 1n ? up - 1n : up;
}

/** clamp(v, lo, hi) of a BigInt result, as a number. */
export function clampBig(v: bigint, lo: number, hi: number): number {
  return v < BigInt(lo) ? lo : v > BigInt(hi) ? hi : Number(v);
}

/** The key a coverage map counts a compared case under: s, the sign of a, the side of the boundary. */
export const coverageKey = (c: RqCase) => `${c.s} ${Math.sign(c.a)} ${Math.sign(c.off)}`;

/**
 * Keys "s sign side" (s from s0 to 62, a of either sign, side 0 = exactly at the boundary, ±1 = beside it)
 * that `seen` lacks, apart from the products that do not exist (see tieCases, integerCases): no tie for
 * a > 0 at s = 62, no non-zero multiple of 2^s for a > 0 at s ≥ 61 or a < 0 at s = 62, and at s = 1 only
 * one non-boundary residue.
 */
export function uncovered(seen: ReadonlyMap<string, number>, s0: number, boundary: Boundary): string[] {
  const out: string[] = [];
  for (let s = s0; s <= 62; s++)
    for (const sign of [1, -1])
      for (const side of [0, -1, 1]) {
        if (s === 1 && side === 1) continue;
        if (side === 0 && (boundary === "tie" ? s === 62 && sign > 0 : s === 62 || (s === 61 && sign > 0))) continue;
        if (!seen.get(`${s} ${sign} ${side}`)) out.push(`${s} ${sign} ${side}`);
      }
  return out;
}
