import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { requant, requantBig, requantClamp, roundShift } from "../../src/kernels/reference/requant.js";
import { coverageKey, nearTieCases, tieCases, tieOffset, uncovered } from "../helpers/requant-cases.js";

const M_MIN = 2 ** 30;
const M_MAX = 2 ** 31 - 1;
const FC = { seed: 20261128, numRuns: 20000 };

/** Round-half-up of the rational a·m/2^s, computed independently of the definition: floor((2am + 2^s) / 2^(s+1)). */
function ratRound(a: bigint, m: bigint, s: bigint): bigint {
  const num = 2n * a * m + (1n << s);
  const den = 1n << (s + 1n);
  const q = num / den;
  return num % den !== 0n && num < 0n ? q - 1n : q;
}

describe("requant (DESIGN.md §3)", () => {
  it("int32 limits with the largest multiplier", () => {
    // a = 2^31 − 1, m = 2^31 − 1, s = 62: (2^31−1)² = 4611686014132420609; + 2^61 = 6917529023346114561;
    // / 2^62 = 1.4999… → floor 1.
    expect(requant(2 ** 31 - 1, M_MAX, 62)).toBe(1);
    // a = −2^31, m = 2^31 − 1, s = 62: −2^31·(2^31−1) = −4611686016279904256; + 2^61 = −2305843008139952128;
    // / 2^62 = −0.49999… → floor −1.
    expect(requant(-(2 ** 31), M_MAX, 62)).toBe(-1);
    // a = −2^31, m = 2^30, s = 31: −2^61/2^31 = −2^30 exactly; + 2^30/2^31 = +0.5 → floor(−2^30 + 0.5) = −2^30.
    expect(requant(-(2 ** 31), M_MIN, 31)).toBe(-(2 ** 30));
    // a = 2^31 − 1, m = 2^30, s = 1: (2^31−1)·2^30 + 1 over 2 = 2^60 − 2^29 (exact, > 2^53 but a power-of-two multiple).
    expect(requant(2 ** 31 - 1, M_MIN, 1)).toBe(2 ** 60 - 2 ** 29);
  });

  it("ties round toward +infinity, for positive and negative values", () => {
    // 3·2^30 / 2^31 = 1.5 → floor(1.5 + 0.5) = 2
    expect(requant(3, M_MIN, 31)).toBe(2);
    // −3·2^30 / 2^31 = −1.5 → floor(−1.5 + 0.5) = −1 (toward +∞, not away from zero)
    expect(requant(-3, M_MIN, 31)).toBe(-1);
    // 1·2^30 / 2^31 = 0.5 → 1;  −1·2^30/2^31 = −0.5 → 0
    expect(requant(1, M_MIN, 31)).toBe(1);
    expect(requant(-1, M_MIN, 31)).toBe(0);
    // s = 1: a·m/2: a = 1, m = 2^30 + 1 → (2^30 + 1 + 1)/2 = 2^29 + 1
    expect(requant(1, M_MIN + 1, 1)).toBe(2 ** 29 + 1);
    // s = 15 (the split's boundary case): 5·2^30 / 2^15 = 5·2^15 = 163840 exactly
    expect(requant(5, M_MIN, 15)).toBe(163840);
    // −7·(2^30 + 2^14) / 2^45: −7/2^15·(1 + 2^-16) ≈ −0.000214 → + 0.5 → floor 0
    expect(requant(-7, M_MIN + 2 ** 14, 45)).toBe(0);
  });

  it("s = 1 and s = 62 against the BigInt definition", () => {
    for (const a of [0, 1, -1, 2, -2, 12345, -12345, 2 ** 31 - 1, -(2 ** 31)]) {
      for (const m of [M_MIN, M_MIN + 1, 1518500250, M_MAX]) {
        for (const s of [1, 62]) {
          const want = requantBig(BigInt(a), BigInt(m), BigInt(s));
          const got = requant(a, m, s);
          if (want >= -(2n ** 53n) && want <= 2n ** 53n) expect(got).toBe(Number(want));
          else expect(Math.sign(got)).toBe(Number(want > 0n) - Number(want < 0n));
        }
      }
    }
  });

  it("equals exact rational rounding (BigInt) for any int32 accumulator, m and s", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: M_MIN, max: M_MAX }), fc.integer({ min: 1, max: 62 }), (a, m, s) => {
        const want = ratRound(BigInt(a), BigInt(m), BigInt(s));
        expect(requantBig(BigInt(a), BigInt(m), BigInt(s))).toBe(want);
        const lo = -(2 ** 31);
        const hi = 2 ** 31 - 1;
        const clamped = want < BigInt(lo) ? lo : want > BigInt(hi) ? hi : Number(want);
        expect(requantClamp(a, m, s, lo, hi)).toBe(clamped);
        if (want >= -(2n ** 53n) && want <= 2n ** 53n) expect(requant(a, m, s)).toBe(Number(want));
      }),
      FC,
    );
  });

  it("constructed exact ties at every shift and sign, and the nearest products on each side, equal the BigInt definition", () => {
    // tieOffset (BigInt) re-derives each case's label, so a "tie" here is one: a·m ≡ 2^(s−1) (mod 2^s).
    const seen = new Map<string, number>();
    for (const c of [...tieCases(), ...nearTieCases()]) {
      expect(tieOffset(c.a, c.m, c.s), JSON.stringify(c)).toBe(c.off);
      const want = requantBig(BigInt(c.a), BigInt(c.m), BigInt(c.s));
      expect(ratRound(BigInt(c.a), BigInt(c.m), BigInt(c.s))).toBe(want);
      const at = `requant(${c.a}, ${c.m}, ${c.s}) (a·m ≡ 2^(s−1) + ${c.off})`;
      if (want >= -(2n ** 53n) && want <= 2n ** 53n) {
        expect(requant(c.a, c.m, c.s), at).toBe(Number(want));
        seen.set(coverageKey(c), (seen.get(coverageKey(c)) ?? 0) + 1);
      }
      // Beyond 2^53 (s < 10) only the clamp to a 32-bit range is promised exact; a window of ±1 around the
      // true value keeps the clamp from hiding a rounding error.
      for (const [lo, hi] of [[-(2 ** 31), 2 ** 31 - 1], [Number(want) - 1, Number(want) + 1]]) {
        const clamped = want < BigInt(lo) ? lo : want > BigInt(hi) ? hi : Number(want);
        if (lo >= -(2 ** 31) && hi <= 2 ** 31 - 1) expect(requantClamp(c.a, c.m, c.s, lo, hi), `${at} clamp [${lo}, ${hi}]`).toBe(clamped);
      }
    }
    // Not vacuous: every (s, sign of a) has an exactly compared tie (none exists for a > 0 at s = 62) and a
    // product just below it (and above it for s ≥ 2; at s = 1 the only non-tie residue is 0).
    expect(uncovered(seen, 1, "tie")).toEqual([]);
  });

  it("the constructed cases are at distance 1 from the tie wherever the int32 × [2^30, 2^31 − 1] ranges allow", () => {
    const near = nearTieCases();
    const far = near.filter((c) => Math.abs(c.off) > 1).map((c) => `${c.s}:${Math.sign(c.a)}:${c.off}`);
    // s = 60, 61: one side each has no product at distance 1 (found by exhausting every candidate product);
    // s = 62: the products ±2^61 ± 1 do not factor into range (2^61 − 1 is prime, 2^61 + 1 = 3·768614336404564651).
    expect(far.sort()).toEqual(["60:-1:2", "60:1:-2", "61:-1:-2", "61:1:2", "62:-1:-4", "62:-1:2", "62:1:-2", "62:1:4"]);
  });

  it("roundShift equals the definition for |t| < 2^52", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52) + 1, max: 2 ** 52 - 1 }), fc.integer({ min: 1, max: 62 }), (t, s) => {
        const want = ratRound(BigInt(t), 1n, BigInt(s));
        expect(roundShift(t, s)).toBe(Number(want));
      }),
      FC,
    );
  });
});
