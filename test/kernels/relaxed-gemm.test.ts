// The relaxed-SIMD GEMM (assembly/gemm-relaxed.ts) at constructed edges, beside the seeded op suite that runs
// on it through test/backends/registry.ts: activations at 0 and 127 (the 7-bit maximum) against weights at
// −128 and 127 (the i32 form, T = 1), the i16 form with every lane driven exactly to its proven bound (one
// quad more per block would wrap), K not a multiple of 4 or 16, rows around the 4-row tile, a format-2 zero
// point as im2col's padding, and the layers that must fall back to the baseline GEMM (8-bit and signed
// activations). Each result is compared with the reference kernels; each case also checks which GEMM ran.

import { describe, expect, it } from "vitest";
import type { Activation } from "../../src/kernels/backend.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { WasmEngine, type ConvGemmPrepared, type DensePrepared } from "../../src/kernels/wasm/engine.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";
import { relaxedBlock, type RelaxedForm } from "../../src/kernels/wasm/prepare.js";
import type { Conv2DLayer, DenseLayer, TensorSpec } from "../../src/ir/types.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

let why: string | undefined;
try {
  requireRelaxed();
} catch (e) {
  why = (e as Error).message;
}

const u = (bits: number, shape: number[], zero?: number): TensorSpec => ({ shape, bits, signed: false, scale: 1, ...(zero === undefined ? {} : { zero }) });

/** Requant to a 16-bit output that keeps every accumulator distinguishable: y = a / 2^(s − 30), |a| < 2^accBits. */
function rq(N: number, accBits: number) {
  const s = Math.max(31, 30 + accBits - 15);
  return { m: new Int32Array(N).fill(2 ** 30), s: new Int32Array(N).fill(s), lo: -32767, hi: 32767 };
}

function dense(K: number, N: number, wBits: number, weights: Int8Array, bias: Int32Array, accBits: number): DenseLayer {
  return { op: "dense", name: `dense K${K} N${N}`, inputs: [0], out: { shape: [N], bits: 16, signed: true, scale: 1 }, wBits, weights, wScale: new Float64Array(N).fill(1), bias, rq: rq(N, accBits) };
}

/** The relaxed GEMM's T for a prepared dense layer, or undefined where the baseline GEMM runs it. */
function denseT(e: WasmEngine, l: DenseLayer, x: TensorSpec): number | undefined {
  return (e.prepare(l, x) as DensePrepared).gemm.host.relaxedT;
}

describe("relaxedBlock: the per-layer proof", () => {
  it("T = ⌊32767 / (2·max|w|·max x)⌋ for unsigned ≤ 7-bit inputs, 0 (baseline GEMM) otherwise", () => {
    const w = (...v: number[]) => Int8Array.from(v);
    expect(relaxedBlock(u(7, [4]), w(-128, 127))).toBe(1); // 2·128·127 = 32512
    expect(relaxedBlock(u(4, [4]), w(-7, 7))).toBe(156); // 32767 / 210
    expect(relaxedBlock(u(4, [4]), w(-8, 7))).toBe(136); // full-range 4-bit weights: 32767 / 240
    expect(relaxedBlock(u(2, [4]), w(1))).toBe(5461); // 32767 / 6
    expect(relaxedBlock(u(7, [4], 100), w(-128))).toBe(1); // a zero point inside [0, 127] changes nothing
    expect(relaxedBlock(u(7, [4]), w(0, 0))).toBe(2 ** 16); // no weight: one block per panel
    expect(relaxedBlock(u(8, [4]), w(1))).toBe(0); // 8-bit activations: outside the i7 operand
    expect(relaxedBlock({ shape: [4], bits: 7, signed: true, scale: 1 }, w(1))).toBe(0); // signed activations
  });
});

describe.skipIf(!!why)(`relaxed GEMM at constructed edges${why ? ` (skipped: ${why})` : ""}`, () => {
  const k = (relaxedForm?: RelaxedForm) => new WasmKernels(new WasmEngine({ flavor: "relaxed", relaxedForm }));

  it("i32 form: weights −128 / 127 against activations 0 / 127, K = 1..129 (not multiples of 4 or 16), N and rows around the tiles (6 rows)", () => {
    const rng = new Rng(18);
    const kern = k();
    let cases = 0;
    for (const K of [1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 63, 64, 129])
      for (const N of [1, 8, 9, 17])
        for (const n of [1, 3, 4, 5, 6, 7, 13]) {
          // Rows alternate all-127, all-0, and a mix of 0 / 127; weights alternate the two limits (and random i8).
          const weights = Int8Array.from({ length: N * K }, (_, i) => (i % 3 === 2 ? rng.int(-128, 127) : i % 2 ? 127 : -128));
          const data = Int32Array.from({ length: n * K }, (_, i) => { const r = Math.floor(i / K); return r % 3 === 0 ? 127 : r % 3 === 1 ? 0 : rng.pick([0, 127]); });
          const bias = Int32Array.from({ length: N }, () => rng.pick([0, -(2 ** 24), 2 ** 24, rng.int(-1000, 1000)]));
          const l = dense(K, N, 8, weights, bias, 26);
          const x: Activation = { n, spec: u(7, [K]), data };
          expect(denseT(kern.engine, l, x.spec)).toBe(1);
          expectExact(`relaxed i32 form K${K} N${N} n${n}`, referenceKernels.dense(l, x), kern.dense(l, x), [N]);
          cases++;
        }
    expect(cases).toBe(14 * 4 * 7);
  });

  it("i16 form: every lane driven exactly to the proven bound T·2·max|w|·max x ≤ 32767 in each block; the i32 form on the same layers", () => {
    // 4-bit weights at −7 against 4-bit activations at 15: T = 156 quads, and each i16 lane ends its block at
    // −156·2·7·15 = −32760 (one quad more: −32970, which wraps). Three full blocks and a partial one. The i32
    // form (what an engine with a fused i32 dot runs, RelaxedProbe.fused) takes the same layers with T = 1.
    const K = 4 * 156 * 3 + 4 * 5 + 3;
    for (const [form, T] of [["i16", 156], ["i32", 1]] as const) {
      const kern = k(form);
      for (const [N, n] of [[9, 5], [8, 4], [17, 7], [1, 1], [8, 13]]) {
        const weights = new Int8Array(N * K).fill(-7);
        const l = dense(K, N, 4, weights, new Int32Array(N), 20);
        const x: Activation = { n, spec: u(4, [K]), data: new Int32Array(n * K).fill(15) };
        expect(denseT(kern.engine, l, x.spec)).toBe(T);
        const ref = referenceKernels.dense(l, x);
        expect(ref[0]).toBe(Math.round((-210 * (K >> 1) - 105 * (K & 1)) / 32)); // the sum is what it should be, not clamped
        expectExact(`relaxed ${form} form at the i16 bound N${N} n${n}`, ref, kern.dense(l, x), [N]);
      }
    }
  });

  it("the form follows the engine's probe unless forced (fused i32 dot: i32, else i16)", () => {
    expect(k().engine.relaxedForm).toBe(requireRelaxed().fused ? "i32" : "i16");
    expect(k("i32").engine.relaxedForm).toBe("i32");
    expect(new WasmEngine({ flavor: "simd" }).relaxedForm).toBeUndefined();
  });

  it("conv2d with a format-2 zero point: padded taps carry z_x (im2col) and the 8c4 panels take K = 3·3·5 = 45", () => {
    const rng = new Rng(7);
    const kern = k();
    const [H, W, C, outC, zx] = [6, 5, 5, 11, 100];
    for (const n of [1, 4, 6]) {
      const l: Conv2DLayer = {
        op: "conv2d", name: "conv zx", inputs: [0], out: { shape: [H, W, outC], bits: 16, signed: true, scale: 1 }, kernel: [3, 3], stride: [1, 1], padding: "same", groups: 1,
        wBits: 8, weights: Int8Array.from({ length: outC * 45 }, () => rng.pick([-128, 127, rng.int(-128, 127)])), wScale: new Float64Array(outC).fill(1),
        bias: rng.ints(outC, -1000, 1000), rq: rq(outC, 24),
      };
      const x: Activation = { n, spec: u(7, [H, W, C], zx), data: Int32Array.from({ length: n * H * W * C }, () => rng.pick([0, 127, zx, rng.int(0, 127)])) };
      const p = kern.engine.prepare(l, x.spec) as ConvGemmPrepared;
      expect(p.gemms[0].host.relaxedT).toBe(1);
      expect(p.gemms[0].host.Kp).toBe(48);
      expectExact(`relaxed conv zx=${zx} n${n}`, referenceKernels.conv2d(l, x), kern.conv2d(l, x), [H, W, outC]);
    }
  });

  it("8-bit and signed activations fall back to the baseline GEMM in the relaxed build, still exact", () => {
    const rng = new Rng(3);
    const kern = k();
    const K = 37, N = 10, n = 5;
    const l = dense(K, N, 8, rng.weights(N * K, 8), rng.ints(N, -1000, 1000), 24);
    for (const spec of [u(8, [K]), { shape: [K], bits: 7, signed: true, scale: 1 }, { shape: [K], bits: 8, signed: true, scale: 1, fullRange: true }]) {
      const lo = spec.signed ? -(2 ** (spec.bits - 1)) : 0;
      const x: Activation = { n, spec, data: Int32Array.from({ length: n * K }, (_, i) => (i % 2 ? 2 ** (spec.bits - (spec.signed ? 1 : 0)) - 1 : lo)) };
      const fresh = new WasmKernels(new WasmEngine({ flavor: "relaxed" }));
      expect(denseT(fresh.engine, l, spec)).toBeUndefined();
      expectExact(`fallback ${JSON.stringify(spec)}`, referenceKernels.dense(l, x), fresh.dense(l, x), [N]);
    }
    expect(kern.engine.flavor).toBe("relaxed");
  });
});
