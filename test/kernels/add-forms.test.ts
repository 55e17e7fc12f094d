// The residual add's forms (assembly/add.ts add_s16_requant) against the reference (addRequant) bit for bit at their
// limits: s = 18…46 (the i32 form: the sum's two words, s < 32 and s ≥ 32 apart), 47 (the i64 form), with multipliers
// 0, 1, 2^11 ± 1, 2^22 ± 1, 2^30, 2^31 − 1 (the part boundaries of the 11-bit split tried in session 30, docs/RESULTS.md);
// inputs and zero points at ±2^15; exact ties (a·ma ≡ 2^(s−1) mod 2^s); output zero points at ±2^15 with full-range
// and narrow clamps; counts that leave a scalar tail. On the SIMD and the relaxed builds.

import { describe, expect, it } from "vitest";
import { addRequant } from "../../src/kernels/reference/ops.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { simdSupported } from "../../src/kernels/wasm/loader.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

const S = [18, 21, 22, 23, 31, 32, 33, 40, 45, 46, 47];
const M = [0, 1, 2047, 2048, 2049, 2 ** 22 - 1, 2 ** 22, 2 ** 22 + 1, 2 ** 30, 2 ** 31 - 1];
const EDGE = [-32768, -32767, -1, 0, 1, 255, 32767];

describe.skipIf(!simdSupported())("residual add (its SIMD forms at their limits) against the reference", () => {
  for (const flavor of ["simd", "relaxed"] as const) {
    const e = new WasmEngine({ flavor });
    const run = (a: Int16Array, b: Int16Array, ma: number, mb: number, s: number, za: number, zb: number, zy: number, lo: number, hi: number): Int16Array => {
      const mark = e.arena.mark();
      try {
        const pa = e.arena.putI16(a, "test");
        const pb = e.arena.putI16(b, "test");
        const py = e.arena.alloc(a.length * 2 + 16, "test");
        e.k.add_s16_requant(pa, pb, a.length, ma, mb, s, za, zb, zy, lo, hi, py);
        return e.arena.i16(py, a.length).slice();
      } finally {
        e.arena.release(mark);
      }
    };
    it(`${flavor}: s 18…47, multipliers 0…2^31 − 1, inputs and zero points at ±2^15, ties, clamps`, () => {
      const rng = new Rng(7);
      let cases = 0;
      for (const s of S)
        for (const ma of M)
          for (const mb of [M[(M.indexOf(ma) + 3) % M.length], rng.int(0, 2 ** 31 - 1)]) {
            // Inputs: every pair of edge values, then random i16 values (a count of 8k + 5: a scalar tail).
            const n = EDGE.length * EDGE.length + 61;
            const a = new Int16Array(n), b = new Int16Array(n);
            for (let i = 0; i < n; i++) {
              a[i] = i < EDGE.length ** 2 ? EDGE[i % EDGE.length] : rng.int(-32768, 32767);
              b[i] = i < EDGE.length ** 2 ? EDGE[Math.floor(i / EDGE.length)] : rng.int(-32768, 32767);
            }
            for (const [za, zb, zy, lo, hi] of [[0, 0, 0, -32768, 32767], [-32768, 32767, 0, -32768, 32767], [32767, -32768, -32768, -32768, 32767], [5, -3, 32767, -32768, 32767], [0, 0, 7, 0, 255], [-128, 100, -5, -127, 127]]) {
              // |a − za| ≤ 2^16 holds for i16 a and |za| ≤ 2^15 (the kernel's contract).
              const ref = addRequant(a, b, ma, mb, s, lo, hi, za, zb, zy);
              const got = run(a, b, ma, mb, s, za, zb, zy, lo, hi);
              if (ref.some((v, i) => v !== got[i])) expectExact(`add ${flavor} s ${s} ma ${ma} mb ${mb} za ${za} zb ${zb} zy ${zy} [${lo}, ${hi}]`, ref, got, [n]);
              cases++;
            }
          }
      // Exact ties: ma = 2^(s−1) (s ≤ 31), a odd, b = 0 puts the sum on k·2^s + 2^(s−1): rounds up.
      for (const s of [22, 23, 31]) {
        const a = Int16Array.from({ length: 21 }, (_, i) => 2 * i - 21);
        const b = new Int16Array(21);
        const ref = addRequant(a, b, 2 ** (s - 1), 12345, s, -32768, 32767);
        expect(ref.some((v, i) => v * 2 === a[i] + 1)).toBe(true);
        const got = run(a, b, 2 ** (s - 1), 12345, s, 0, 0, 0, -32768, 32767);
        if (ref.some((v, i) => v !== got[i])) expectExact(`add ${flavor} ties s ${s}`, ref, got, [21]);
      }
      expect(cases).toBeGreaterThan(1000);
    });
  }
});
