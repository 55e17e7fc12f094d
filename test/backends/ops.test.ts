// Every op on every backend (./registry.ts) against the reference kernels, bit for bit.
// Seeded fast-check over shapes below, at and above the SIMD width (8 i16 lanes) and the GEMM tile
// (4 rows × 8 channels, k-pairs): K, N, C from 1 to 67+, strides 1–2, both paddings, groups incl.
// depthwise, every weight bit-width 2..8, activations and weights at their clamp limits, extreme m/s.

import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Activation, LayerKernels } from "../../src/kernels/backend.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { avgPoolSum, conv2dAcc, denseAcc, globalSum } from "../../src/kernels/reference/ops.js";
import { outDim, tensorRange, windowGeometry, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type MaxPoolLayer, type Padding, type TensorSpec } from "../../src/ir/types.js";
import { BACKENDS_UNDER_TEST } from "./registry.js";
import { expectExact } from "./check.js";
import { Rng, actSpec, clampOf, requantParams } from "./rand.js";

const SEED = 20260517;
const bits = fc.integer({ min: 2, max: 8 });
const act = (n: number, spec: TensorSpec, rng: Rng): Activation => {
  const r = tensorRange(spec);
  let size = 1;
  for (const d of spec.shape) size *= d;
  return { n, spec, data: rng.ints(n * size, r.lo, r.hi) };
};
const outSpec = (rng: Rng, shape: number[]): TensorSpec => (rng.next() < 0.15 ? actSpec(shape, 16, true) : actSpec(shape, rng.int(2, 8), rng.next() < 0.5));

/**
 * Biases on the accumulators' own scale (so requantized outputs land inside the clamp range, where a wrong
 * multiplier or shift shows), a limit ±2·typical a quarter of the time, and rarely ±2^24.
 */
function biases(rng: Rng, n: number, typical: number): Int32Array {
  const b = rng.ints(n, -Math.round(2 * typical), Math.round(2 * typical));
  for (let i = 0; i < n; i++) if (rng.next() < 0.03) b[i] = rng.pick([-(2 ** 24), 2 ** 24]);
  return b;
}

/** Outputs seen and outputs strictly inside (lo, hi): a test whose outputs all saturate proves little. */
const interior = { seen: 0, inside: 0 };
function countInterior(y: ArrayLike<number>, lo: number, hi: number): void {
  for (let i = 0; i < y.length; i++) {
    interior.seen++;
    if (y[i] > lo && y[i] < hi) interior.inside++;
  }
}

interface ConvCase {
  n: number; H: number; W: number; C: number; outC: number; kh: number; kw: number; sh: number; sw: number;
  padding: Padding; groups: number; wBits: number; xBits: number; xSigned: boolean; seed: number;
}

function convLayer(c: ConvCase, rng: Rng): { layer: Conv2DLayer; x: Activation } {
  const xs = actSpec([c.H, c.W, c.C], c.xBits, c.xSigned);
  const OH = outDim(c.H, c.kh, c.sh, c.padding);
  const OW = outDim(c.W, c.kw, c.sw, c.padding);
  const K = c.kh * c.kw * (c.C / c.groups);
  const os = outSpec(rng, [OH, OW, c.outC]);
  const { lo, hi } = clampOf(rng, os);
  const xr = tensorRange(xs);
  const typical = Math.sqrt(K) * Math.max(1, xr.hi) * (2 ** (c.wBits - 1) - 1) * 0.5;
  const { m, s } = requantParams(rng, c.outC, typical, hi);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "conv", inputs: [0], out: os, kernel: [c.kh, c.kw], stride: [c.sh, c.sw], padding: c.padding, groups: c.groups,
    wBits: c.wBits, weights: rng.weights(c.outC * K, c.wBits), wScale: new Float64Array(c.outC).fill(0.01),
    bias: biases(rng, c.outC, typical), rq: { m, s, lo, hi },
  };
  return { layer, x: act(c.n, xs, rng) };
}

function checkConv(k: LayerKernels, c: ConvCase): void {
  const rng = new Rng(c.seed);
  const { layer, x } = convLayer(c, rng);
  const ref = referenceKernels.conv2d(layer, x);
  const got = k.conv2d(layer, x);
  countInterior(ref, layer.rq.lo, layer.rq.hi);
  const g = windowGeometry([c.H, c.W, c.C], [c.kh, c.kw], [c.sh, c.sw], c.padding);
  if (ref.length !== got.length || ref.some((v, i) => v !== got[i]))
    expectExact(`conv2d ${JSON.stringify(c)}`, ref, got, layer.out.shape, conv2dAcc(x.data, x.n, g, c.groups, c.outC, layer.weights, layer.bias));
}

/** A conv case: window fits for `valid`; groups divide C and outC. */
function convArb(o: { hw: [number, number]; c: [number, number]; outC: [number, number]; k: [number, number]; depthwise?: boolean }): fc.Arbitrary<ConvCase> {
  return fc
    .record({
      n: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: o.hw[0], max: o.hw[1] }), W: fc.integer({ min: o.hw[0], max: o.hw[1] }),
      C: fc.integer({ min: o.c[0], max: o.c[1] }), outMul: fc.integer({ min: o.outC[0], max: o.outC[1] }),
      kh: fc.integer({ min: o.k[0], max: o.k[1] }), kw: fc.integer({ min: o.k[0], max: o.k[1] }),
      sh: fc.integer({ min: 1, max: 2 }), sw: fc.integer({ min: 1, max: 2 }), padding: fc.constantFrom<Padding>("same", "valid"),
      gsel: fc.nat(), wBits: bits, xBits: bits, xSigned: fc.boolean(), seed: fc.integer(),
    })
    .map((r) => {
      const kh = r.padding === "valid" ? Math.min(r.kh, r.H) : r.kh;
      const kw = r.padding === "valid" ? Math.min(r.kw, r.W) : r.kw;
      let groups: number, outC: number;
      if (o.depthwise) {
        groups = r.C;
        outC = r.C * (r.outMul > o.outC[0] ? 2 : 1); // depthwise, sometimes with channel multiplier 2
      } else {
        const divs = Array.from({ length: r.C }, (_, i) => i + 1).filter((d) => r.C % d === 0);
        groups = r.gsel % 3 === 0 ? divs[r.gsel % divs.length] : 1;
        outC = groups * Math.max(1, Math.ceil(r.outMul / groups));
      }
      return { n: r.n, H: r.H, W: r.W, C: r.C, outC, kh, kw, sh: r.sh, sw: r.sw, padding: r.padding, groups, wBits: r.wBits, xBits: r.xBits, xSigned: r.xSigned, seed: r.seed };
    });
}

interface DenseCase { n: number; K: number; N: number; wBits: number; xBits: number; xSigned: boolean; seed: number }

function checkDense(k: LayerKernels, c: DenseCase): void {
  const rng = new Rng(c.seed);
  const xs = actSpec([c.K], c.xBits, c.xSigned);
  const os = outSpec(rng, [c.N]);
  const { lo, hi } = clampOf(rng, os);
  const typical = Math.sqrt(c.K) * Math.max(1, tensorRange(xs).hi) * (2 ** (c.wBits - 1) - 1) * 0.5;
  const { m, s } = requantParams(rng, c.N, typical, hi);
  const layer: DenseLayer = {
    op: "dense", name: "dense", inputs: [0], out: os, wBits: c.wBits, weights: rng.weights(c.N * c.K, c.wBits),
    wScale: new Float64Array(c.N).fill(0.01), bias: biases(rng, c.N, typical), rq: { m, s, lo, hi },
  };
  const x = act(c.n, xs, rng);
  const ref = referenceKernels.dense(layer, x);
  const got = k.dense(layer, x);
  countInterior(ref, lo, hi);
  if (ref.length !== got.length || ref.some((v, i) => v !== got[i]))
    expectExact(`dense ${JSON.stringify(c)}`, ref, got, [c.N], denseAcc(x.data, x.n, c.K, c.N, layer.weights, layer.bias));
}

const denseArb = (K: [number, number], N: [number, number], n: [number, number]) =>
  fc.record({ n: fc.integer({ min: n[0], max: n[1] }), K: fc.integer({ min: K[0], max: K[1] }), N: fc.integer({ min: N[0], max: N[1] }), wBits: bits, xBits: bits, xSigned: fc.boolean(), seed: fc.integer() });

interface PoolCase { n: number; H: number; W: number; C: number; kh: number; kw: number; sh: number; sw: number; padding: Padding; xBits: number; xSigned: boolean; seed: number }

const poolArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 1, max: 9 }), W: fc.integer({ min: 1, max: 9 }), C: fc.integer({ min: 1, max: 67 }),
    kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 2 }), sw: fc.integer({ min: 1, max: 2 }),
    padding: fc.constantFrom<Padding>("same", "valid"), xBits: fc.integer({ min: 2, max: 16 }), xSigned: fc.boolean(), seed: fc.integer(),
  })
  .map((r) => ({ ...r, kh: Math.min(r.kh, r.H), kw: Math.min(r.kw, r.W), xSigned: r.xBits === 16 ? true : r.xSigned }));

function poolInput(c: PoolCase, rng: Rng): Activation {
  return act(c.n, actSpec([c.H, c.W, c.C], c.xBits, c.xSigned), rng);
}

const RUNS = { conv: 250, convWide: 80, dw: 120, dense: 300, denseBig: 40, pool: 200, add: 300 };

for (const b of BACKENDS_UNDER_TEST) {
  const why = b.skip?.();
  describe.skipIf(!!why)(`ops on backend ${b.name}${why ? ` (skipped: ${why})` : ""}`, () => {
    let k: LayerKernels;
    beforeAll(async () => {
      k = await b.load();
    });
    const opts = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

    it("conv2d: spatial sizes, kernels 1–4, strides 1–2, same/valid, groups, bits 2..8", () => {
      fc.assert(fc.property(convArb({ hw: [1, 10], c: [1, 12], outC: [1, 20], k: [1, 4] }), (c) => checkConv(k, c)), opts(RUNS.conv));
    });
    it("conv2d: channels 1..67 in and out (SIMD width and 4×8 tile edges)", () => {
      fc.assert(fc.property(convArb({ hw: [1, 5], c: [1, 67], outC: [1, 67], k: [1, 3] }), (c) => checkConv(k, c)), opts(RUNS.convWide));
    });
    it("conv2d: depthwise (groups = C), channels 1..67, channel multiplier 1–2", () => {
      fc.assert(fc.property(convArb({ hw: [1, 8], c: [1, 67], outC: [1, 2], k: [1, 3], depthwise: true }), (c) => checkConv(k, c)), opts(RUNS.dw));
    });
    it("dense: K, N 1..67, batch 1..9 (rows around the 4-row tile)", () => {
      fc.assert(fc.property(denseArb([1, 67], [1, 67], [1, 9]), (c) => checkDense(k, c)), opts(RUNS.dense));
    });
    it("dense: larger K, N (up to 300) and every bit-width", () => {
      fc.assert(fc.property(denseArb([60, 300], [60, 140], [1, 6]), (c) => checkDense(k, c)), opts(RUNS.denseBig));
    });
    it("dense: every weight bit-width 2..8 on one shape at the limits", () => {
      for (let wBits = 2; wBits <= 8; wBits++) for (const K of [1, 7, 8, 9, 16, 17, 67]) checkDense(k, { n: 5, K, N: 67, wBits, xBits: 8, xSigned: false, seed: wBits * 100 + K });
    });
    it("the conv/dense cases above are not saturation-dominated (> 40% of outputs strictly inside the clamp)", () => {
      // Unsigned outputs clamp negative accumulators to 0 by design (ReLU), so ~75% is the practical ceiling.
      const f = interior.inside / interior.seen;
      interior.seen = interior.inside = 0;
      expect(f).toBeGreaterThan(0.4);
    });
    it("maxpool: same/valid, strides 1–2, channels 1..67, signed and 16-bit inputs", () => {
      fc.assert(
        fc.property(poolArb, (c) => {
          const rng = new Rng(c.seed);
          const x = poolInput(c, rng);
          const OH = outDim(c.H, c.kh, c.sh, c.padding), OW = outDim(c.W, c.kw, c.sw, c.padding);
          const layer: MaxPoolLayer = { op: "maxpool", name: "mp", inputs: [0], out: { ...x.spec, shape: [OH, OW, c.C] }, kernel: [c.kh, c.kw], stride: [c.sh, c.sw], padding: c.padding };
          expectExact(`maxpool ${JSON.stringify(c)}`, referenceKernels.maxpool(layer, x), k.maxpool(layer, x), layer.out.shape);
        }),
        opts(RUNS.pool),
      );
    });
    it("avgpool: valid windows, strides 1–2, channels 1..67, requant at the limits", () => {
      fc.assert(
        fc.property(poolArb, (c) => {
          const rng = new Rng(c.seed);
          const x = poolInput(c, rng);
          const OH = outDim(c.H, c.kh, c.sh, "valid"), OW = outDim(c.W, c.kw, c.sw, "valid");
          const os = outSpec(rng, [OH, OW, c.C]);
          const { lo, hi } = clampOf(rng, os);
          const rq = { ...requantParams(rng, 1, c.kh * c.kw * tensorRange(x.spec).hi, hi), lo, hi };
          const layer: AvgPoolLayer = { op: "avgpool", name: "ap", inputs: [0], out: os, kernel: [c.kh, c.kw], stride: [c.sh, c.sw], padding: "valid", rq };
          expectExact(`avgpool ${JSON.stringify(c)}`, referenceKernels.avgpool(layer, x), k.avgpool(layer, x), os.shape,
            avgPoolSum(x.data, x.n, windowGeometry([c.H, c.W, c.C], [c.kh, c.kw], [c.sh, c.sw], "valid")));
        }),
        opts(RUNS.pool),
      );
    });
    it("gap: H·W up to 81, channels 1..67", () => {
      fc.assert(
        fc.property(poolArb, (c) => {
          const rng = new Rng(c.seed);
          const x = poolInput(c, rng);
          const os = outSpec(rng, [c.C]);
          const { lo, hi } = clampOf(rng, os);
          const rq = { ...requantParams(rng, 1, c.H * c.W * tensorRange(x.spec).hi, hi), lo, hi };
          const layer: GlobalAvgPoolLayer = { op: "gap", name: "gap", inputs: [0], out: os, rq };
          expectExact(`gap ${JSON.stringify(c)}`, referenceKernels.gap(layer, x), k.gap(layer, x), os.shape, globalSum(x.data, x.n, c.H, c.W, c.C));
        }),
        opts(RUNS.pool),
      );
    });
    it("add: lengths around the 4-lane width, multipliers and shifts at their limits (int64 exact)", () => {
      fc.assert(
        fc.property(
          fc.record({ n: fc.integer({ min: 1, max: 3 }), len: fc.integer({ min: 1, max: 67 }), aBits: fc.integer({ min: 2, max: 16 }), bBits: fc.integer({ min: 2, max: 16 }), seed: fc.integer() }),
          (c) => {
            const rng = new Rng(c.seed);
            const a = act(c.n, actSpec([c.len], c.aBits, c.aBits === 16 || rng.next() < 0.5), rng);
            const bb = act(c.n, actSpec([c.len], c.bBits, c.bBits === 16 || rng.next() < 0.5), rng);
            const os = outSpec(rng, [c.len]);
            const { lo, hi } = clampOf(rng, os);
            const lim = (x: number) => (rng.next() < 0.2 ? rng.pick([0, 1, 2 ** 31 - 1]) : x);
            const sh = rng.next() < 0.2 ? rng.pick([1, 2, 53, 54, 62]) : rng.int(20, 36);
            const layer: AddLayer = { op: "add", name: "add", inputs: [0, 1], out: os, ma: lim(rng.int(2 ** 29, 2 ** 31 - 1)), mb: lim(rng.int(2 ** 29, 2 ** 31 - 1)), s: sh, lo, hi };
            expectExact(`add ${JSON.stringify(c)} ma=${layer.ma} mb=${layer.mb} s=${layer.s}`, referenceKernels.add(layer, a, bb), k.add(layer, a, bb), os.shape);
          },
        ),
        opts(RUNS.add),
      );
    });
    it("add: the i32 form's edges (s 17–19, 31–33, 45–47), 16-bit inputs at ±2^15, zero points at the ends, m at its limits, exact ties", () => {
      // The WASM add takes floor(t / 2^s) from t's i32 words for 18 ≤ s ≤ 46 (assembly/add.ts); these are its
      // bounds and the 32-bit seam. Ties: m = 2^30 and s = 32 make t / 2^s = (a + b)/4 + ½ (a + b ≡ 2 mod 4 is
      // a tie), and a = −2^15, b = 0 with m = 2^30 at s = 46 is −½ exactly.
      const len = 37; // four 8-lane steps and a tail
      const ends = [-32768, -32767, -1, 0, 1, 32766, 32767];
      let seed = 77;
      for (const s of [17, 18, 19, 31, 32, 33, 45, 46, 47])
        for (const [ma, mb] of [[2 ** 31 - 1, 2 ** 31 - 1], [2 ** 30, 2 ** 30], [0, 2 ** 31 - 1], [1, 2 ** 30 + 1]])
          for (const [za, zb, zy] of [[0, 0, 0], [-32768, -32768, 0], [32767, 32767, 0], [-32768, 32767, -32768], [32767, -32768, 32767], [5, -3, 100]]) {
            const rng = new Rng(seed++);
            const spec = (zero: number): TensorSpec => ({ ...actSpec([len], 16, true), zero });
            // The first 7 elements pair ends[i] with ends[i + 3]: (−2^15, 0) is the tie at s = 46, (−2^15 + 1, 1) at s = 32.
            const data = (shift: number) => Int32Array.from({ length: 2 * len }, (_, i) => (i < ends.length ? ends[(i + shift) % ends.length] : rng.next() < 0.3 ? rng.pick(ends) : rng.int(-32768, 32767)));
            const a: Activation = { n: 2, spec: spec(za), data: data(0) };
            const bb: Activation = { n: 2, spec: spec(zb), data: data(3) };
            const out = spec(zy);
            const layer: AddLayer = { op: "add", name: "add", inputs: [0, 1], out, ma, mb, s, lo: -32768, hi: 32767 };
            expectExact(`add s=${s} ma=${ma} mb=${mb} za=${za} zb=${zb} zy=${zy}`, referenceKernels.add(layer, a, bb), k.add(layer, a, bb), [len]);
          }
    });
  });
}
