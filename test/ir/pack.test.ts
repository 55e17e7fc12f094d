import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { packBits, packedBytes, unpackBits } from "../../src/ir/pack.js";

describe("bit packing (DESIGN.md §3: b bits per value, two's complement, LSB-first)", () => {
  it("golden: [1, −1, 3] at 3 bits", () => {
    // value 0 = 001 at bits 0..2, value 1 = −1 → 111 at bits 3..5, value 2 = 011 at bits 6..8.
    // byte 0 = 1 + (7 << 3) + ((3 & 0b11) << 6) = 1 + 56 + 192 = 249; byte 1 = 3 >> 2 = 0. ceil(9/8) = 2 bytes.
    const p = packBits([1, -1, 3], 3);
    expect(Array.from(p)).toEqual([249, 0]);
    expect(Array.from(unpackBits(p, 3, 3, true))).toEqual([1, -1, 3]);
  });

  it("golden: 4-bit nibbles, low nibble first", () => {
    // [−7, 7, 0, −1] → 1001, 0111, 0000, 1111 → bytes 0x79 (121), 0xF0 (240)
    expect(Array.from(packBits([-7, 7, 0, -1], 4))).toEqual([0x79, 0xf0]);
  });

  it("size is ceil(n·b/8)", () => {
    expect(packedBytes(0, 5)).toBe(0);
    expect(packedBytes(1, 2)).toBe(1);
    expect(packedBytes(5, 3)).toBe(2);
    expect(packedBytes(1152, 4)).toBe(576);
    expect(packedBytes(7, 7)).toBe(7);
  });

  for (let b = 2; b <= 8; b++) {
    for (const signed of [true, false]) {
      it(`round-trips every ${signed ? "signed" : "unsigned"} ${b}-bit value sequence`, () => {
        const lo = signed ? -(2 ** (b - 1) - 1) : 0;
        const hi = signed ? 2 ** (b - 1) - 1 : 2 ** b - 1;
        fc.assert(
          fc.property(fc.array(fc.integer({ min: lo, max: hi }), { maxLength: 300 }), (vals) => {
            const p = packBits(vals, b);
            expect(p.length).toBe(Math.ceil((vals.length * b) / 8));
            expect(Array.from(unpackBits(p, vals.length, b, signed))).toEqual(vals);
            // unused high bits of the last byte are zero
            const used = (vals.length * b) % 8;
            if (used) expect(p[p.length - 1] >> used).toBe(0);
          }),
          { seed: 1000 + b * 2 + Number(signed), numRuns: 300 },
        );
      });
    }
  }
});
