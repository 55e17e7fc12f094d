// Format-2 ops (DESIGN.md §3 "Imported models") on every backend that runs .qmodel format 2 (./registry.ts),
// against the reference kernels, bit for bit, on constructed cases rather than random ones: input zero
// points at both ends of their ranges (so x − z_x reaches ±255), output zero points at both ends (the clamp
// right after + z_y), full-range weights with −2^(b−1) for every bit-width 2..8, padded taps (explicit,
// asymmetric and `same` pads, which must read z_x), the GEMM (im2col and 1×1 direct), depthwise and dense
// paths, average pools with explicit pads, global pools and adds with three zero points; and one case
// built so that requant(acc) + z_y passes 2^31 − 1 if a kernel added z_y in 32 bits after a requant that
// was only proven to fit 32 bits.

import { beforeAll, describe, expect, it } from "vitest";
import type { Activation, LayerKernels } from "../../src/kernels/backend.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { tensorRange, windowGeometry, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type LayerPadding, type TensorSpec } from "../../src/ir/types.js";
import { BACKENDS_UNDER_TEST } from "./registry.js";
import { expectExact } from "./check.js";
import { Rng, requantParams } from "./rand.js";

/** Input tensors: each range with its zero point at the low end, the high end and inside. */
function inputSpecs(shape: number[]): TensorSpec[] {
  const out: TensorSpec[] = [];
  for (const [bits, signed, fullRange] of [[8, false, false], [8, true, true], [4, true, false], [2, false, false], [3, true, true]] as const) {
    const r = tensorRange({ bits, signed, fullRange });
    for (const zero of [r.lo, r.hi, Math.round((r.lo + r.hi) / 2) + 1]) out.push({ shape, bits, signed, fullRange, scale: 0.05, zero });
  }
  return out;
}

/** Output tensors: u8 and full-range s8 with the zero point at either end, and a narrow s5 inside. */
function outputSpec(shape: number[], i: number): TensorSpec {
  const specs: Omit<TensorSpec, "shape">[] = [
    { bits: 8, signed: false, scale: 0.1, zero: 0 },
    { bits: 8, signed: false, scale: 0.1, zero: 255 },
    { bits: 8, signed: true, fullRange: true, scale: 0.1, zero: -128 },
    { bits: 8, signed: true, fullRange: true, scale: 0.1, zero: 127 },
    { bits: 5, signed: true, scale: 0.1, zero: -3 },
  ];
  return { shape, ...specs[i % specs.length] };
}

/** Full-range weights of `bits`: −2^(b−1) an eighth of the time, 2^(b−1) − 1 an eighth, else uniform. */
function fullRangeWeights(rng: Rng, n: number, bits: number): Int8Array {
  const w = new Int8Array(n);
  for (let i = 0; i < n; i++) w[i] = rng.edgy(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1);
  return w;
}

function act(n: number, spec: TensorSpec, rng: Rng): Activation {
  const r = tensorRange(spec);
  return { n, spec, data: rng.ints(n * spec.shape.reduce((a, b) => a * b, 1), r.lo, r.hi) };
}

/** Span of a tensor's real values in steps (what a requant maps from and to). */
const span = (t: TensorSpec) => {
  const r = tensorRange(t);
  return r.hi - r.lo;
};

/** Outputs strictly inside their clamp over all cases: the cases must not be saturation-dominated. */
const interior = { seen: 0, inside: 0 };
function count(y: ArrayLike<number>, lo: number, hi: number): void {
  for (let i = 0; i < y.length; i++) {
    interior.seen++;
    if (y[i] > lo && y[i] < hi) interior.inside++;
  }
}

interface ConvShape { H: number; W: number; C: number; outC: number; k: [number, number]; stride: [number, number]; padding: LayerPadding; depthwise?: boolean }

const CONV_SHAPES: ConvShape[] = [
  { H: 5, W: 6, C: 3, outC: 9, k: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1] },
  { H: 7, W: 5, C: 9, outC: 5, k: [3, 3], stride: [2, 2], padding: [0, 2, 2, 0] },
  { H: 4, W: 4, C: 1, outC: 8, k: [2, 3], stride: [1, 2], padding: "same" },
  { H: 3, W: 5, C: 10, outC: 17, k: [1, 1], stride: [1, 1], padding: "valid" },
  { H: 6, W: 5, C: 11, outC: 11, k: [3, 3], stride: [2, 1], padding: [2, 1, 0, 2], depthwise: true },
  { H: 5, W: 5, C: 8, outC: 8, k: [3, 3], stride: [1, 1], padding: "same", depthwise: true },
  // The 3×3 depthwise kernel's unchecked interior beside its border pixels (assembly/dwconv.ts): several interior
  // columns and rows, C = 8k and not, stride 2 at odd and even sizes ('same' pads asymmetrically at even),
  // and 'valid' windows that reach the last pixel (the 8-channel loads run into the slack).
  { H: 9, W: 10, C: 24, outC: 24, k: [3, 3], stride: [1, 1], padding: "same", depthwise: true },
  { H: 9, W: 9, C: 13, outC: 13, k: [3, 3], stride: [2, 2], padding: "same", depthwise: true },
  { H: 8, W: 8, C: 16, outC: 16, k: [3, 3], stride: [2, 2], padding: "same", depthwise: true },
  { H: 7, W: 6, C: 5, outC: 5, k: [3, 3], stride: [1, 2], padding: "valid", depthwise: true },
];

function convCase(s: ConvShape, x: TensorSpec, wBits: number, seed: number): { layer: Conv2DLayer; x: Activation } {
  const rng = new Rng(seed);
  const g = windowGeometry([s.H, s.W, s.C], s.k, s.stride, s.padding);
  const groups = s.depthwise ? s.C : 1;
  const K = s.k[0] * s.k[1] * (s.C / groups);
  const out = outputSpec([g.OH, g.OW, s.outC], seed);
  const typical = Math.sqrt(K) * span(x) * 2 ** (wBits - 1) * 0.4;
  const { m, s: sh } = requantParams(rng, s.outC, typical, span(out) / 2);
  const r = tensorRange(out);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "conv", inputs: [0], out, kernel: s.k, stride: s.stride, padding: s.padding, groups, wBits, wFullRange: true,
    weights: fullRangeWeights(rng, s.outC * K, wBits), wScale: new Float64Array(s.outC).fill(0.01),
    bias: rng.ints(s.outC, -Math.round(typical), Math.round(typical)), rq: { m, s: sh, lo: r.lo, hi: r.hi },
  };
  return { layer, x: act(2, { ...x, shape: [s.H, s.W, s.C] }, rng) };
}

for (const b of BACKENDS_UNDER_TEST.filter((b) => b.format2)) {
  const why = b.skip?.();
  describe.skipIf(!!why)(`format-2 ops on backend ${b.name}${why ? ` (skipped: ${why})` : ""}`, () => {
    let k: LayerKernels;
    beforeAll(async () => {
      k = await b.load();
    });

    it("conv2d (im2col GEMM, 1×1 direct, depthwise): z_x at both range ends, padded taps, full-range weights 2..8 bits, z_y at both ends", () => {
      let seed = 1;
      for (const s of CONV_SHAPES)
        for (const x of inputSpecs([s.H, s.W, s.C]))
          for (let wBits = 2; wBits <= 8; wBits++) {
            const c = convCase(s, x, wBits, seed++);
            const ref = referenceKernels.conv2d(c.layer, c.x);
            count(ref, c.layer.rq.lo, c.layer.rq.hi);
            expectExact(`conv2d ${JSON.stringify({ ...s, x, wBits, out: c.layer.out })}`, ref, k.conv2d(c.layer, c.x), c.layer.out.shape);
          }
    });

    it("dense: K around the k-pair and tile widths, z_x at both ends, full-range weights, batch 1..5", () => {
      let seed = 1000;
      for (const K of [1, 2, 7, 17, 40])
        for (const x of inputSpecs([K]))
          for (const wBits of [2, 4, 5, 8]) {
            const rng = new Rng(seed);
            const N = 1 + (seed % 19);
            const out = outputSpec([N], seed++);
            const typical = Math.sqrt(K) * span(x) * 2 ** (wBits - 1) * 0.4;
            const r = tensorRange(out);
            const layer: DenseLayer = {
              op: "dense", name: "dense", inputs: [0], out, wBits, wFullRange: true, weights: fullRangeWeights(rng, N * K, wBits),
              wScale: new Float64Array(N).fill(0.01), bias: rng.ints(N, -Math.round(typical), Math.round(typical)),
              rq: { ...requantParams(rng, N, typical, span(out) / 2), lo: r.lo, hi: r.hi },
            };
            const xa = act(1 + (seed % 5), x, rng);
            const ref = referenceKernels.dense(layer, xa);
            count(ref, r.lo, r.hi);
            expectExact(`dense K=${K} N=${N} ${JSON.stringify({ x, wBits, out })}`, ref, k.dense(layer, xa), [N]);
          }
    });

    it("average pool with explicit pads and valid windows, global pool: z_x and z_y at both ends", () => {
      let seed = 2000;
      for (const [H, W, C, kh, kw, st, padding] of [[5, 6, 9, 3, 3, 2, [1, 1, 1, 1]], [4, 4, 3, 2, 3, 1, [0, 2, 1, 0]], [6, 5, 17, 3, 2, 2, "valid"]] as const)
        for (const x of inputSpecs([H, W, C])) {
          const rng = new Rng(seed);
          const g = windowGeometry([H, W, C], [kh, kw], [st, st], padding as LayerPadding);
          const out = outputSpec([g.OH, g.OW, C], seed++);
          const r = tensorRange(out);
          const rq = { ...requantParams(rng, 1, kh * kw * span(x) * 0.3, span(out) / 2), lo: r.lo, hi: r.hi };
          const ap: AvgPoolLayer = { op: "avgpool", name: "ap", inputs: [0], out, kernel: [kh, kw], stride: [st, st], padding: padding as AvgPoolLayer["padding"], rq };
          const xa = act(2, x, rng);
          const ref = referenceKernels.avgpool(ap, xa);
          count(ref, r.lo, r.hi);
          expectExact(`avgpool ${JSON.stringify({ H, W, C, kh, kw, st, padding, x, out })}`, ref, k.avgpool(ap, xa), out.shape);
          const gout = { ...out, shape: [C] };
          const gap: GlobalAvgPoolLayer = { op: "gap", name: "gap", inputs: [0], out: gout, rq: { ...requantParams(rng, 1, H * W * span(x) * 0.3, span(out) / 2), lo: r.lo, hi: r.hi } };
          expectExact(`gap ${JSON.stringify({ H, W, C, x, out })}`, referenceKernels.gap(gap, xa), k.gap(gap, xa), [C]);
        }
    });

    it("add: z_a, z_b and z_y at the ends of their ranges, lengths around the 4-lane width", () => {
      let seed = 3000;
      const specs = inputSpecs([0]);
      for (let i = 0; i < specs.length; i++)
        for (const len of [1, 4, 5, 19]) {
          const rng = new Rng(seed);
          const a = act(2, { ...specs[i], shape: [len] }, rng);
          const bb = act(2, { ...specs[(i * 7 + 3) % specs.length], shape: [len] }, rng);
          const out = outputSpec([len], seed++);
          const r = tensorRange(out);
          const s = rng.int(28, 33);
          const mOf = (x: TensorSpec) => Math.min(2 ** 31 - 1, Math.round((2 ** s * span(out)) / span(x) / 2 * (0.5 + rng.next())));
          const layer: AddLayer = { op: "add", name: "add", inputs: [0, 1], out, ma: mOf(a.spec), mb: mOf(bb.spec), s, lo: r.lo, hi: r.hi };
          const ref = referenceKernels.add(layer, a, bb);
          count(ref, r.lo, r.hi);
          expectExact(`add len=${len} ${JSON.stringify({ a: a.spec, b: bb.spec, out, ma: layer.ma, mb: layer.mb, s })}`, ref, k.add(layer, a, bb), [len]);
        }
    });

    it("requant(acc) + z_y beyond 2^31 − 1: acc at its proven bound 2^30 − 1, m = 2^31 − 1, s = 30, z_y = 255 clamps to hi", () => {
      // acc = bias + 255·127 = 2^30 − 1 needs 31 bits; requant gives 2^31 − 3, and + 255 passes 2^31 − 1.
      const x: TensorSpec = { shape: [1], bits: 8, signed: false, scale: 1 / 255 };
      const layer: DenseLayer = {
        op: "dense", name: "dense", inputs: [0], out: { shape: [1], bits: 8, signed: false, scale: 1, zero: 255 }, wBits: 8,
        weights: Int8Array.of(127), wScale: Float64Array.of(1), bias: Int32Array.of(2 ** 30 - 1 - 255 * 127),
        rq: { m: Int32Array.of(2 ** 31 - 1), s: Int32Array.of(30), lo: 0, hi: 255 },
      };
      const xa: Activation = { n: 1, spec: x, data: Int32Array.of(255) };
      const ref = referenceKernels.dense(layer, xa);
      expect(Array.from(ref)).toEqual([255]);
      expectExact("dense at the accumulator bound with z_y", ref, k.dense(layer, xa), [1]);
    });

    it("the cases above are not saturation-dominated (> 30% of outputs strictly inside the clamp)", () => {
      const f = interior.inside / interior.seen;
      interior.seen = interior.inside = 0;
      expect(f).toBeGreaterThan(0.3);
    });
  });
}
