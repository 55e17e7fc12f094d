// The depthwise kernel's bound-gated paths (assembly/dwconv.ts, assembly/requant.ts), each against the reference
// bit for bit, on constructed layers where the proof's limit falls just inside or just outside:
// - the f64 requant (requant_f64_params: B·m < 2^51, no tie, |result| < 2^31), else the shared-shift/scalar one;
// - the i16 taps (a16: the accumulator bound within [−2^15, 2^15)), with its i32 requant (requant_i32_params,
//   checked exhaustively over the bound) or, where that fails, emit8's chain.
// Each case asserts which path the engine prepared, so a rule that silently stops switching a path on shows.
// Shapes: 3×3 stride 1 and 2, `same` (borders) and `valid`, channels 13 (not a multiple of 8) and 8, zero points.

import { describe, expect, it } from "vitest";
import type { Activation } from "../../src/kernels/backend.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { conv2dAcc } from "../../src/kernels/reference/ops.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { simdSupported } from "../../src/kernels/wasm/loader.js";
import type { DepthwisePrepared } from "../../src/kernels/wasm/engine.js";
import { tensorRange, windowGeometry, outDim, type Conv2DLayer, type Padding, type TensorSpec } from "../../src/ir/types.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

interface Case {
  name: string;
  C: number;
  stride: number;
  padding: Padding;
  /** Input spec (bits, signed, zero point) and weight bits. */
  x: { bits: number; signed: boolean; zero?: number };
  wBits: number;
  /** Per channel: bias, m, s (arrays of length C, or one value for all). */
  bias: number | number[];
  m: number | number[];
  s: number | number[];
  /** Output spec: bits, signed, zero point. */
  out: { bits: number; signed: boolean; zero?: number };
  /** Weights: "max" (all at +max: the accumulator reaches the bound), "min", or random. */
  w: "max" | "min" | "rand";
  /** The paths the engine must prepare: f64 requant (rf ≠ 0), i16 taps (a16), i32 requant (qs > 0). */
  expect: { rf: boolean; a16: boolean; qs: boolean };
}

const H = 9, W = 10;
const per = (v: number | number[], C: number) => (typeof v === "number" ? new Array(C).fill(v) : v);

function build(c: Case, seed: number): { layer: Conv2DLayer; x: Activation } {
  const rng = new Rng(seed);
  const xs: TensorSpec = { shape: [H, W, c.C], bits: c.x.bits, signed: c.x.signed, scale: 0.05, ...(c.x.zero !== undefined ? { zero: c.x.zero } : {}) };
  const OH = outDim(H, 3, c.stride, c.padding);
  const OW = outDim(W, 3, c.stride, c.padding);
  const out: TensorSpec = { shape: [OH, OW, c.C], bits: c.out.bits, signed: c.out.signed, scale: 0.05, ...(c.out.zero !== undefined ? { zero: c.out.zero } : {}) };
  const wMax = 2 ** (c.wBits - 1) - 1;
  const weights = Int8Array.from({ length: c.C * 9 }, () => (c.w === "max" ? wMax : c.w === "min" ? -wMax : rng.int(-wMax, wMax)));
  const r = tensorRange(out);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "dw", inputs: [0], out, kernel: [3, 3], stride: [c.stride, c.stride], padding: c.padding, groups: c.C,
    wBits: c.wBits, weights, wScale: new Float64Array(c.C).fill(0.01), bias: Int32Array.from(per(c.bias, c.C)),
    rq: { m: Int32Array.from(per(c.m, c.C)), s: Int32Array.from(per(c.s, c.C)), lo: r.lo, hi: r.hi },
  };
  // Inputs: random over the range, but image 0's rows 0–3 at the range's top and rows 5–7 at its bottom, so that
  // whole windows (with "max"/"min" weights) put accumulators on the bound's ends.
  const xr = tensorRange(xs);
  const data = rng.ints(2 * H * W * c.C, xr.lo, xr.hi);
  for (let i = 0; i < H * W * c.C; i++) {
    const row = Math.floor(i / (W * c.C));
    if (row <= 3) data[i] = xr.hi;
    else if (row >= 5 && row <= 7) data[i] = xr.lo;
  }
  return { layer, x: { n: 2, spec: xs, data } };
}

const CASES: Case[] = [
  // W4A4 like mobilenetv2's: bound ≈ 9·7·15 + bias, i16 taps and the i32 requant.
  { name: "W4A4, 13 channels, stride 1, same", C: 13, stride: 1, padding: "same", x: { bits: 4, signed: false }, wBits: 4, bias: [-300, 5, 17, 0, 299, -1, 2, 3, -4, 100, -100, 50, -50], m: 1518500250, s: 33, out: { bits: 4, signed: false }, w: "rand", expect: { rf: true, a16: true, qs: true } },
  { name: "W4A4, 13 channels, stride 2, same", C: 13, stride: 2, padding: "same", x: { bits: 4, signed: false }, wBits: 4, bias: 7, m: [1518500250, 1073741824, 2147483647, 1200000001, 1300000003, 1400000005, 1500000007, 1600000009, 1700000011, 1800000013, 1900000015, 2000000017, 2100000019], s: [33, 33, 34, 32, 33, 35, 31, 33, 33, 34, 32, 33, 36], out: { bits: 4, signed: false }, w: "rand", expect: { rf: false, a16: true, qs: true } },
  // Exact ties: m = 2^30, s = 33 puts a·m/2^s on x.5 for a = 4·odd; the f64 path must refuse (a tie is possible), the i32 one reproduces them.
  { name: "ties (m = 2^30, s = 33), W4A4, stride 1, valid", C: 8, stride: 1, padding: "valid", x: { bits: 4, signed: false }, wBits: 4, bias: [0, 1, 2, 3, -1, -2, -3, 4], m: 2 ** 30, s: 33, out: { bits: 8, signed: true }, w: "rand", expect: { rf: false, a16: true, qs: true } },
  // Signed inputs with a zero point, and an output zero point (format 2).
  { name: "zero points, W4A4 signed, stride 1", C: 13, stride: 1, padding: "same", x: { bits: 4, signed: true, zero: -3 }, wBits: 4, bias: 11, m: 1431655765, s: 33, out: { bits: 8, signed: true, zero: 5 }, w: "rand", expect: { rf: true, a16: true, qs: true } },
  // W8A8 like mobilenetv2's: i32 taps, the f64 requant.
  { name: "W8A8, 13 channels, stride 1, same", C: 13, stride: 1, padding: "same", x: { bits: 8, signed: false }, wBits: 8, bias: [-5000, 5000, 0, 1, -1, 77, 12345, -12345, 3, 4, 5, 6, 7], m: 1518500250, s: 37, out: { bits: 8, signed: false }, w: "rand", expect: { rf: true, a16: false, qs: false } },
  { name: "W8A8, zero points, stride 2", C: 13, stride: 2, padding: "same", x: { bits: 8, signed: true, zero: -20 }, wBits: 8, bias: 100, m: 1700000001, s: 38, out: { bits: 8, signed: true, zero: -7 }, w: "rand", expect: { rf: true, a16: false, qs: false } },
  // The i16 limit: weights all 127, x in [0, 15], bias 32,767 − 9·127·15 puts the bound's top on 2^15 − 1 (inside),
  // one more on 2^15 (outside); reached by image 0's top rows.
  { name: "i16 bound at 2^15 − 1 (inside)", C: 8, stride: 1, padding: "same", x: { bits: 4, signed: false }, wBits: 8, bias: 32767 - 9 * 127 * 15, m: 2 ** 30 + 1, s: 40, out: { bits: 8, signed: true }, w: "max", expect: { rf: true, a16: true, qs: true } },
  { name: "i16 bound at 2^15 (outside)", C: 8, stride: 1, padding: "same", x: { bits: 4, signed: false }, wBits: 8, bias: 32768 - 9 * 127 * 15, m: 2 ** 30 + 1, s: 40, out: { bits: 8, signed: true }, w: "max", expect: { rf: true, a16: false, qs: false } },
  // The same at the bottom: weights all −127, bias −(32,768 − 9·127·15) puts the bound's bottom on −2^15 (inside).
  { name: "i16 bound at −2^15 (inside)", C: 8, stride: 2, padding: "same", x: { bits: 4, signed: false }, wBits: 8, bias: -(32768 - 9 * 127 * 15), m: 2 ** 30 + 1, s: 40, out: { bits: 8, signed: true }, w: "min", expect: { rf: true, a16: true, qs: true } },
  // i16 taps without the i32 requant: over a bound of ±32,767 its ≤ 2^25 multiplier is too coarse for this m, so the
  // enumeration refuses it and emit8's f64 requant takes the widened accumulators (a16 with qs = 0: its own branch).
  { name: "i16 taps, i32 requant refused (f64), zero points", C: 13, stride: 1, padding: "same", x: { bits: 4, signed: false }, wBits: 8, bias: 32767 - 9 * 127 * 15, m: 1518500250, s: 40, out: { bits: 8, signed: false, zero: 200 }, w: "max", expect: { rf: true, a16: true, qs: false } },
  // … and with one channel at s = 1 (no S fits it, no f64 either): the scalar requant after the i16 taps.
  { name: "i16 taps, scalar requant (a channel at s = 1)", C: 11, stride: 2, padding: "same", x: { bits: 4, signed: false }, wBits: 4, bias: 1, m: 2 ** 30, s: [1, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33], out: { bits: 8, signed: true }, w: "rand", expect: { rf: false, a16: true, qs: false } },
  // The f64 limit B·m < 2^51: B = 2^20 exactly (bias + 9·127·255), m just below and at 2^31.
  { name: "f64 bound B·m just below 2^51", C: 8, stride: 1, padding: "valid", x: { bits: 8, signed: false }, wBits: 8, bias: 2 ** 20 - 9 * 127 * 255, m: 2 ** 31 - 1, s: 45, out: { bits: 8, signed: true }, w: "max", expect: { rf: true, a16: false, qs: false } },
  { name: "f64 bound B·m at 2^51 (refused)", C: 8, stride: 1, padding: "valid", x: { bits: 8, signed: false }, wBits: 8, bias: 2 ** 20 + 1 - 9 * 127 * 255, m: 2 ** 31 - 1, s: 45, out: { bits: 8, signed: true }, w: "max", expect: { rf: false, a16: false, qs: false } },
  // Powers of two: m = 2^30 with s large enough that 2^(s−1−30) > B (no tie possible): f64 allowed.
  { name: "power-of-two m, no tie possible (f64)", C: 13, stride: 2, padding: "valid", x: { bits: 8, signed: false }, wBits: 8, bias: 3, m: 2 ** 30, s: 50, out: { bits: 8, signed: true }, w: "rand", expect: { rf: true, a16: false, qs: false } },
  { name: "power-of-two m, ties possible (shared shift)", C: 13, stride: 1, padding: "same", x: { bits: 8, signed: false }, wBits: 8, bias: 3, m: 2 ** 30, s: 36, out: { bits: 8, signed: true }, w: "rand", expect: { rf: false, a16: false, qs: false } },
];

describe.skipIf(!simdSupported())("depthwise 3×3 paths (f64 requant, i16 taps, i32 requant) against the reference", () => {
  const k = loadWasmKernels({ flavor: "simd" });
  for (const c of CASES) {
    it(c.name, () => {
      for (const seed of [1, 2, 3]) {
        const { layer, x } = build(c, seed);
        const p = k.engine.prepare(layer, x.spec) as DepthwisePrepared;
        expect({ rf: p.rf !== 0, a16: p.a16 === 1, qs: p.qs > 0 }).toEqual(c.expect);
        const ref = referenceKernels.conv2d(layer, x);
        const got = k.conv2d(layer, x);
        const g = windowGeometry([H, W, c.C], [3, 3], [c.stride, c.stride], c.padding);
        if (ref.length !== got.length || ref.some((v, i) => v !== got[i]))
          expectExact(`dw ${c.name} seed ${seed}`, ref, got, layer.out.shape, conv2dAcc(x.data, x.n, g, c.C, c.C, layer.weights, layer.bias));
      }
    });
  }
});

// The borders without checks (dw3x3Row / dw3x3Row16): a window row above or below x, or a window column left or
// right of it, has its taps' weights zeroed and their loads redirected; other windows (pads of 2, inputs 1 wide or
// high) check each tap. Swept over input sizes 1…9 (1 and 2 wide/high: both sides masked or checked), strides 1 and
// 2, `same`, `valid` and explicit pads (0, 1, 2 per side, asymmetric), W8A8 (i32 taps, f64 requant) and W4A4 (i16
// taps), with and without zero points (the fold must leave out exactly the masked taps), on the SIMD and relaxed builds.
const SIZES: [number, number][] = [[5, 40], [1, 1], [1, 5], [2, 2], [2, 9], [3, 3], [5, 1], [4, 7], [7, 7], [8, 6], [9, 10]];
const PADS: (Padding | [number, number, number, number])[] = ["same", "valid", [1, 1, 1, 1], [2, 2, 2, 2], [0, 1, 2, 0], [2, 0, 1, 2], [1, 2, 0, 1]];

function borderLayer(Hb: number, Wb: number, C: number, stride: number, padding: Padding | [number, number, number, number], bits: 8 | 4, zx: number, zy: number, seed: number): { layer: Conv2DLayer; x: Activation } {
  const g = windowGeometry([Hb, Wb, C], [3, 3], [stride, stride], padding);
  const rng = new Rng(seed);
  const xs: TensorSpec = { shape: [Hb, Wb, C], bits, signed: zx !== 0, scale: 0.05, ...(zx !== 0 ? { zero: zx } : {}) };
  const out: TensorSpec = { shape: [g.OH, g.OW, C], bits: 8, signed: zy !== 0, scale: 0.05, ...(zy !== 0 ? { zero: zy } : {}) };
  const wMax = 2 ** (bits - 1) - 1;
  const r = tensorRange(out);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "dw", inputs: [0], out, kernel: [3, 3], stride: [stride, stride], padding, groups: C,
    wBits: bits, weights: Int8Array.from({ length: C * 9 }, () => rng.int(-wMax, wMax)), wScale: new Float64Array(C).fill(0.01),
    bias: Int32Array.from({ length: C }, () => rng.int(-2000, 2000)),
    rq: { m: Int32Array.from({ length: C }, () => rng.int(2 ** 30, 2 ** 31 - 1)), s: new Int32Array(C).fill(bits === 8 ? 37 : 32), lo: r.lo, hi: r.hi },
  };
  const xr = tensorRange(xs);
  return { layer, x: { n: 2, spec: xs, data: rng.ints(2 * Hb * Wb * C, xr.lo, xr.hi) } };
}

describe.skipIf(!simdSupported())("depthwise 3×3 borders (masked rows and columns, checked taps) against the reference", () => {
  for (const flavor of ["simd", "relaxed"] as const) {
    const k = loadWasmKernels({ flavor });
    for (const bits of [8, 4] as const)
      for (const [zx, zy] of [[0, 0], [bits === 8 ? -20 : -3, 5]])
        it(`${flavor}, W${bits}A${bits}, zero points ${zx}/${zy}: sizes 1…9, strides 1 and 2, same/valid/explicit pads, 13 and 8 channels`, () => {
          let cases = 0;
          for (const [Hb, Wb] of SIZES)
            for (const stride of [1, 2])
              for (const padding of PADS)
                for (const C of [13, 8, 32]) {
                  const g = windowGeometry([Hb, Wb, C], [3, 3], [stride, stride], padding);
                  if (g.OH < 1 || g.OW < 1) continue;
                  const { layer, x } = borderLayer(Hb, Wb, C, stride, padding, bits, zx, zy, Hb * 1000 + Wb * 100 + stride * 10 + C);
                  const p = k.engine.prepare(layer, x.spec) as DepthwisePrepared;
                  expect(p.a16 === 1).toBe(bits === 4);
                  const ref = referenceKernels.conv2d(layer, x);
                  const got = k.conv2d(layer, x);
                  if (ref.length !== got.length || ref.some((v, i) => v !== got[i]))
                    expectExact(`dw ${flavor} ${Hb}×${Wb}×${C} stride ${stride} pads ${JSON.stringify(padding)}`, ref, got, layer.out.shape, conv2dAcc(x.data, x.n, g, C, C, layer.weights, layer.bias));
                  cases++;
                }
          expect(cases).toBeGreaterThan(200);
        });
  }
});
