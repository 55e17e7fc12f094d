// The accumulator proof (src/ir/accbound.ts) that lowering, the WASM prepare step (shared-shift requant)
// and the simulator (exact vs overflow-emulating path) all rest on: signedBitsFor at every edge, and
// accumulatorBound against accumulators the reference kernels actually compute — inside the bound for any
// input in range, and reaching both ends of it when each input is driven to lo or hi by its weight's sign.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { accumulatorBound, signedBitsFor } from "../../src/ir/accbound.js";
import { outDim, padBefore, tensorRange, windowGeometry, type Conv2DLayer, type DenseLayer, type Padding, type TensorSpec } from "../../src/ir/types.js";
import { avgPoolSum, conv2dAcc, denseAcc, globalSum } from "../../src/kernels/reference/ops.js";
import { Rng } from "../backends/rand.js";
import { signedBitsOracle } from "../helpers/bits.js";

const bitsOf = signedBitsOracle;

describe("signedBitsFor", () => {
  it("at ±2^(k−1), 2^(k−1) − 1 and −2^(k−1) − 1 for every k in 1..53", () => {
    expect(signedBitsFor(0, 0)).toBe(1);
    for (let k = 1; k <= 53; k++) {
      const p = 2 ** (k - 1);
      expect(signedBitsFor(-p, 0), `min −2^${k - 1}`).toBe(k); // −2^(k−1) is the most negative k-bit value
      expect(signedBitsFor(0, p - 1), `max 2^${k - 1} − 1`).toBe(k); // 2^(k−1) − 1 the most positive
      expect(signedBitsFor(-p, p - 1), `[−2^${k - 1}, 2^${k - 1} − 1]`).toBe(k);
      expect(signedBitsFor(0, p), `max 2^${k - 1}`).toBe(k + 1); // one past: a bit more
      expect(signedBitsFor(-p - 1, 0), `min −2^${k - 1} − 1`).toBe(k + 1);
      expect(signedBitsFor(-p - 1, p), `[−2^${k - 1} − 1, 2^${k - 1}]`).toBe(k + 1);
      expect(signedBitsFor(-p, p), `[−2^${k - 1}, 2^${k - 1}]`).toBe(k + 1);
      expect(signedBitsFor(-p - 1, p - 1), `[−2^${k - 1} − 1, 2^${k - 1} − 1]`).toBe(k + 1);
    }
  });

  it("equals the bit-length count on random ranges", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 40), max: 0 }), fc.integer({ min: 0, max: 2 ** 40 }), (min, max) => {
        expect(signedBitsFor(min, max)).toBe(bitsOf(min, max));
      }),
      { seed: 19, numRuns: 2000 },
    );
  });
});

const spec = (shape: number[], bits: number, signed: boolean): TensorSpec => ({ shape, bits, signed, scale: 1 });
const rq = (n: number) => ({ m: new Int32Array(n).fill(2 ** 30), s: new Int32Array(n).fill(31), lo: -32767, hi: 32767 });

/** Checks one accumulator tensor against the bound: every value inside; returns its min and max. */
function within(what: string, acc: Float64Array, b: { min: number; max: number }): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  acc.forEach((v, i) => {
    if (v < b.min || v > b.max) throw new Error(`${what}: accumulator ${i} = ${v} outside the bound [${b.min}, ${b.max}]`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  });
  return { lo, hi };
}

const layerArb = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  wBits: fc.integer({ min: 2, max: 8 }),
  xBits: fc.integer({ min: 2, max: 8 }),
  xSigned: fc.boolean(),
  biasMag: fc.constantFrom(0, 100, 2 ** 20, 2 ** 28),
});

describe("accumulatorBound: sound (every accumulator inside) and tight (both ends reached)", () => {
  it("dense: inputs driven to lo/hi by each weight's sign reach the bound; random inputs stay inside", () => {
    let tight = 0;
    fc.assert(
      fc.property(layerArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6 }), (c, inN, outN) => {
        const r = new Rng(c.seed);
        const wmax = 2 ** (c.wBits - 1) - 1;
        const weights = Int8Array.from(r.ints(outN * inN, -wmax, wmax));
        const bias = r.ints(outN, -c.biasMag, c.biasMag);
        const xs = spec([inN], c.xBits, c.xSigned);
        const { lo, hi } = tensorRange(xs);
        const layer: DenseLayer = { op: "dense", name: "d", inputs: [0], out: spec([outN], 16, true), wBits: c.wBits, weights, wScale: new Float64Array(outN), bias, rq: rq(outN) };
        const b = accumulatorBound(layer, xs)!;
        expect(b.bits).toBe(bitsOf(b.min, b.max));
        // Samples 2o and 2o + 1 drive channel o's inputs to its maximum and its minimum; then 4 random samples.
        const n = 2 * outN + 4;
        const x = new Int32Array(n * inN);
        for (let o = 0; o < outN; o++)
          for (let i = 0; i < inN; i++) {
            const w = weights[o * inN + i];
            x[2 * o * inN + i] = w > 0 ? hi : lo;
            x[(2 * o + 1) * inN + i] = w > 0 ? lo : hi;
          }
        x.set(r.ints(4 * inN, lo, hi), 2 * outN * inN);
        const acc = denseAcc(x, n, inN, outN, weights, bias);
        within("dense", acc, b);
        let max = -Infinity;
        let min = Infinity;
        for (let o = 0; o < outN; o++) {
          max = Math.max(max, acc[2 * o * outN + o]);
          min = Math.min(min, acc[(2 * o + 1) * outN + o]);
        }
        expect([min, max]).toEqual([b.min, b.max]);
        tight++;
      }),
      { seed: 20261211, numRuns: 300 },
    );
    expect(tight).toBe(300);
  });

  it("conv2d (grouped and depthwise, strided, both paddings): the same, at an output whose window lies inside the input", () => {
    let tight = 0;
    let runs = 0;
    const convArb = fc.record({
      H: fc.integer({ min: 1, max: 6 }),
      W: fc.integer({ min: 1, max: 6 }),
      cpg: fc.integer({ min: 1, max: 4 }),
      groups: fc.integer({ min: 1, max: 3 }),
      opg: fc.integer({ min: 1, max: 3 }),
      kh: fc.integer({ min: 1, max: 3 }),
      kw: fc.integer({ min: 1, max: 3 }),
      stride: fc.integer({ min: 1, max: 2 }),
      padding: fc.constantFrom<Padding>("same", "valid"),
    });
    fc.assert(
      fc.property(layerArb, convArb, (c, g) => {
        if (g.padding === "valid" && (g.H < g.kh || g.W < g.kw)) return; // no output at all
        runs++;
        const r = new Rng(c.seed);
        const C = g.cpg * g.groups;
        const outC = g.opg * g.groups;
        const K = g.kh * g.kw * g.cpg;
        const wmax = 2 ** (c.wBits - 1) - 1;
        const weights = Int8Array.from(r.ints(outC * K, -wmax, wmax));
        const bias = r.ints(outC, -c.biasMag, c.biasMag);
        const xs = spec([g.H, g.W, C], c.xBits, c.xSigned);
        const { lo, hi } = tensorRange(xs);
        const OH = outDim(g.H, g.kh, g.stride, g.padding);
        const OW = outDim(g.W, g.kw, g.stride, g.padding);
        const layer: Conv2DLayer = {
          op: "conv2d", name: "c", inputs: [0], out: spec([OH, OW, outC], 16, true), kernel: [g.kh, g.kw], stride: [g.stride, g.stride], padding: g.padding, groups: g.groups,
          wBits: c.wBits, weights, wScale: new Float64Array(outC), bias, rq: rq(outC),
        };
        const b = accumulatorBound(layer, xs)!;
        expect(b.bits).toBe(bitsOf(b.min, b.max));
        // An output position whose whole window lies inside the input (with `same` padding there may be none).
        const pt = padBefore(g.H, g.kh, g.stride, g.padding);
        const pl = padBefore(g.W, g.kw, g.stride, g.padding);
        const oy = Array.from({ length: OH }, (_, i) => i).find((i) => i * g.stride - pt >= 0 && i * g.stride - pt + g.kh <= g.H);
        const ox = Array.from({ length: OW }, (_, i) => i).find((i) => i * g.stride - pl >= 0 && i * g.stride - pl + g.kw <= g.W);
        const n = 2 * outC + 2;
        const per = g.H * g.W * C;
        const x = r.ints(n * per, lo, hi); // random everywhere; the driven window overwritten below
        if (oy !== undefined && ox !== undefined)
          for (let o = 0; o < outC; o++) {
            const grp = Math.floor(o / g.opg);
            for (let ky = 0; ky < g.kh; ky++)
              for (let kx = 0; kx < g.kw; kx++)
                for (let ci = 0; ci < g.cpg; ci++) {
                  const w = weights[((o * g.kh + ky) * g.kw + kx) * g.cpg + ci];
                  const at = ((oy * g.stride - pt + ky) * g.W + (ox * g.stride - pl + kx)) * C + grp * g.cpg + ci;
                  x[2 * o * per + at] = w > 0 ? hi : lo;
                  x[(2 * o + 1) * per + at] = w > 0 ? lo : hi;
                }
          }
        const geo = windowGeometry([g.H, g.W, C], [g.kh, g.kw], [g.stride, g.stride], g.padding);
        const acc = conv2dAcc(x, n, geo, g.groups, outC, weights, bias);
        within("conv2d", acc, b);
        if (oy === undefined || ox === undefined) return;
        const outPer = OH * OW * outC;
        let max = -Infinity;
        let min = Infinity;
        for (let o = 0; o < outC; o++) {
          max = Math.max(max, acc[2 * o * outPer + (oy * OW + ox) * outC + o]);
          min = Math.min(min, acc[(2 * o + 1) * outPer + (oy * OW + ox) * outC + o]);
        }
        expect([min, max]).toEqual([b.min, b.max]);
        tight++;
      }),
      { seed: 20261212, numRuns: 300 },
    );
    // Not vacuous: most layers have an inner window, so tightness was checked on them.
    expect(runs).toBeGreaterThanOrEqual(250);
    expect(tight).toBeGreaterThanOrEqual(200);
  });

  it("average and global average pool: window × the input range, reached by all-lo and all-hi inputs", () => {
    let nonSquare = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = new Rng(seed);
      const [H, W, C, kh, kw] = [r.int(2, 7), r.int(2, 7), r.int(1, 5), r.int(1, 2), r.int(1, 2)];
      const xs = spec([H, W, C], r.int(2, 8), r.next() < 0.5);
      const { lo, hi } = tensorRange(xs);
      const x = new Int32Array(3 * H * W * C);
      x.fill(lo, 0, H * W * C);
      x.fill(hi, H * W * C, 2 * H * W * C);
      x.set(r.ints(H * W * C, lo, hi), 2 * H * W * C);
      const gb = accumulatorBound({ op: "gap", name: "g", inputs: [0], out: spec([C], 8, true), rq: rq(1) }, xs)!;
      const gs = within("gap", globalSum(x, 3, H, W, C), gb);
      expect([gs.lo, gs.hi]).toEqual([gb.min, gb.max]);
      expect(gb.bits).toBe(bitsOf(gb.min, gb.max));
      const OH = outDim(H, kh, kh, "valid");
      const OW = outDim(W, kw, kw, "valid");
      const ab = accumulatorBound({ op: "avgpool", name: "a", inputs: [0], out: spec([OH, OW, C], 8, true), kernel: [kh, kw], stride: [kh, kw], padding: "valid", rq: rq(1) }, xs)!;
      const as = within("avgpool", avgPoolSum(x, 3, windowGeometry([H, W, C], [kh, kw], [kh, kw], "valid")), ab);
      expect([as.lo, as.hi]).toEqual([ab.min, ab.max]);
      expect(ab.bits).toBe(bitsOf(ab.min, ab.max));
      nonSquare += Number(kh !== kw);
    }
    expect(nonSquare).toBeGreaterThanOrEqual(20); // windows with kh ≠ kw among the 60
  });
});
