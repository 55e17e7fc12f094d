// The chip requant unit against BigInt definitions: half-up (= the spec), half-even, truncate, and the
// multiplier cut to fewer bits.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { requant, requantBig } from "../../src/kernels/reference/requant.js";
import { cutMultiplier, requantRounded } from "../../src/sim/hw/requant.js";

const floorDiv = (a: bigint, d: bigint) => (a % d !== 0n && a < 0n ? a / d - 1n : a / d);
function bigRounded(a: number, m: number, s: number, mode: string): number {
  const p = BigInt(a) * BigInt(m);
  const d = 1n << BigInt(s);
  if (mode === "truncate") return Number(floorDiv(p, d));
  const up = requantBig(BigInt(a), BigInt(m), BigInt(s));
  if (mode === "half-up") return Number(up);
  const rem = ((p % d) + d) % d;
  const tie = rem === d / 2n;
  return Number(tie && (up & 1n) === 1n ? up - 1n : up);
}

const a = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 2 ** 31));
const m = fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(2 ** 30, 2 ** 31 - 1, 1, 0));
// s ≥ 10 keeps |a·m/2^s| < 2^53, where the contract promises exact results (beyond, only the clamp is exact).
const s = fc.oneof(fc.integer({ min: 10, max: 62 }), fc.constantFrom(10, 14, 15, 16, 31, 62));

describe("chip requant", () => {
  for (const mode of ["half-up", "half-even", "truncate"] as const)
    it(`${mode} equals its BigInt definition (random and int32 limits, every shift)`, () => {
      fc.assert(
        fc.property(a, m, s, (a, m, s) => {
          expect(requantRounded(a, m, s, mode)).toBe(bigRounded(a, m, s, mode));
        }),
        { seed: 7, numRuns: 3000 },
      );
    });

  it("ties: half-up goes to +∞, half-even to the even neighbour, truncate down", () => {
    // a·m/2^s = 2.5 and −2.5 with m = 2^30, s = 31: a = 5 → 2.5.
    expect(requantRounded(5, 2 ** 30, 31, "half-up")).toBe(3);
    expect(requantRounded(5, 2 ** 30, 31, "half-even")).toBe(2);
    expect(requantRounded(5, 2 ** 30, 31, "truncate")).toBe(2);
    expect(requantRounded(-5, 2 ** 30, 31, "half-up")).toBe(-2);
    expect(requantRounded(-5, 2 ** 30, 31, "half-even")).toBe(-2);
    expect(requantRounded(-5, 2 ** 30, 31, "truncate")).toBe(-3);
    expect(requantRounded(7, 2 ** 30, 31, "half-even")).toBe(4); // 3.5 → 4
    // small shifts (the s < 15 branch): 3·1/2 = 1.5 → 2 (even), 5·1/2 = 2.5 → 2.
    expect(requantRounded(3, 1, 1, "half-even")).toBe(2);
    expect(requantRounded(5, 1, 1, "half-even")).toBe(2);
  });

  it("half-up with the uncut multiplier is the reference requant", () => {
    fc.assert(
      fc.property(a, m, s, (a, m, s) => {
        expect(requantRounded(a, m, s, "half-up")).toBe(requant(a, m, s));
      }),
      { seed: 8, numRuns: 1000 },
    );
  });

  it("cutting the multiplier keeps m·2^−s within half a step of the new LSB", () => {
    // m = 1518500250 (≈ 2^30.5), s = 40, cut to 16 bits: d = 15, m' = round(m / 2^15) = 46341, s' = 25.
    expect(cutMultiplier(1518500250, 40, 16)).toEqual({ m: 46341, s: 25 });
    // 2^31 − 1 rounds up to 2^16 → renormalized to 2^15 with s' − 1.
    expect(cutMultiplier(2 ** 31 - 1, 40, 16)).toEqual({ m: 2 ** 15, s: 24 });
    expect(cutMultiplier(2 ** 30, 40, 31)).toEqual({ m: 2 ** 30, s: 40 });
    expect(() => cutMultiplier(2 ** 30, 10, 8, 'layer 3 "conv2"')).toThrow(/layer 3 "conv2": requant shift 10 leaves -13 < 1/);
    fc.assert(
      fc.property(fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: 30, max: 62 }), fc.integer({ min: 8, max: 31 }), (m, s, bits) => {
        const c = cutMultiplier(m, s, bits);
        const rel = Math.abs(c.m * 2 ** -c.s - m * 2 ** -s) / (m * 2 ** -s);
        expect(rel).toBeLessThanOrEqual(2 ** -(bits - 1));
      }),
      { seed: 9, numRuns: 500 },
    );
  });
});
