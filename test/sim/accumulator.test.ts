// Narrow accumulators: the sim backend against an independent plain-TS model of the documented partial-sum
// order (docs/HW_MODELS.md, "Semantics"), on seeded random conv2d and dense cases. Every case forces
// overflow to be possible (small accumulators), so the wrap / saturate paths are the ones exercised; each
// property counts the outputs whose accumulator did overflow and asserts a minimum.
//
// The raw accumulators are compared, not requantized values: the layers requantize with m = 2^30, s = 30
// (requant(a) = a exactly; the chip's 31-bit multiplier is uncut) into [−2^15, 2^15 − 1], which holds any
// accumulator of ≤ 16 bits. A requant that drops low bits would hide an accumulator off by a few units.

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { outDim, padBefore, tensorRange, type Conv2DLayer, type DenseLayer, type Padding, type TensorSpec } from "../../src/ir/types.js";
import { adHocChip } from "../../src/sim/chip/chip.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { simKernels } from "../../src/sim/chip/kernels.js";

const SEED = 20261128;

/** The identity requant: a·2^30/2^30 exactly, clamped to a range that holds every ≤ 16-bit accumulator. */
const RAW = { lo: -32768, hi: 32767 };
const rawRq = (n: number) => ({ m: new Int32Array(n).fill(2 ** 30), s: new Int32Array(n).fill(30), ...RAW });

/** Outputs seen and those whose accumulator overflowed (model ≠ the exact sum), per overflow mode. */
function overflowTally() {
  const t = { wrap: { outputs: 0, overflowed: 0 }, saturate: { outputs: 0, overflowed: 0 } };
  return {
    t,
    add(mode: "wrap" | "saturate", exact: number, acc: number) {
      t[mode].outputs++;
      if (exact !== acc) t[mode].overflowed++;
    },
  };
}

/** The independent model: one output's accumulator, literally as the docs state it. */
function modelAcc(bias: number, w: number[], x: number[], bits: number, mode: "wrap" | "saturate", perMac: boolean, kTile: number): number {
  const half = 2 ** (bits - 1);
  const ovf = (v: number) => {
    if (mode === "saturate") return Math.min(half - 1, Math.max(-half, v));
    let r = v % (2 * half);
    if (r < -half) r += 2 * half;
    if (r >= half) r -= 2 * half;
    return r;
  };
  let acc = ovf(bias);
  if (perMac) {
    for (let k = 0; k < w.length; k++) acc = ovf(acc + w[k] * x[k]);
  } else {
    for (let t = 0; t < w.length; t += kTile) {
      let part = 0;
      for (let k = t; k < Math.min(t + kTile, w.length); k++) part += w[k] * x[k];
      acc = ovf(acc + part);
    }
  }
  return acc;
}

/** bias + Σ w·x without any overflow (exact in float64 here). */
function exactAcc(bias: number, w: number[], x: number[]): number {
  return w.reduce((a, wk, k) => a + wk * x[k], bias);
}

/**
 * The random cases themselves overflow: in each mode a good share of the outputs had an accumulator that
 * left its range (so an overflow emulation that did nothing, or the wrong thing, fails the comparison).
 */
function expectOverflows(t: ReturnType<typeof overflowTally>["t"]): void {
  console.log(`overflowed accumulators: wrap ${t.wrap.overflowed}/${t.wrap.outputs}, saturate ${t.saturate.overflowed}/${t.saturate.outputs}`);
  for (const mode of ["wrap", "saturate"] as const) {
    expect(t[mode].outputs, mode).toBeGreaterThan(1000);
    expect(t[mode].overflowed / t[mode].outputs, mode).toBeGreaterThan(0.2); // seen: 0.25–0.41
  }
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function chipWith(bits: number, mode: "wrap" | "saturate", perMac: boolean, kTile: number): HwModel {
  let hw = loadHwModel("int8-systolic-16x16").hw;
  hw = withSet(hw, ["accumulator", "bits"], bits);
  hw = withSet(hw, ["accumulator", "overflow"], mode);
  hw = withSet(hw, ["accumulator", "partialSums"], perMac ? "per-mac" : "per-k-tile");
  return withSet(hw, ["accumulator", "kTile"], kTile);
}

const caseArb = fc.record({
  H: fc.integer({ min: 1, max: 7 }),
  W: fc.integer({ min: 1, max: 7 }),
  cpg: fc.integer({ min: 1, max: 9 }),
  groups: fc.integer({ min: 1, max: 3 }),
  opg: fc.integer({ min: 1, max: 5 }),
  k: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 2 }),
  padding: fc.constantFrom<Padding>("same", "valid"),
  wBits: fc.integer({ min: 2, max: 8 }),
  xBits: fc.integer({ min: 2, max: 8 }),
  xSigned: fc.boolean(),
  accBits: fc.integer({ min: 8, max: 16 }),
  mode: fc.constantFrom<"wrap" | "saturate">("wrap", "saturate"),
  perMac: fc.boolean(),
  kTile: fc.integer({ min: 1, max: 20 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

describe("sim narrow accumulators = the partial-sum model", () => {
  it("conv2d (grouped, both paddings, strides, every width)", () => {
    const tally = overflowTally();
    fc.assert(
      fc.property(caseArb, (c) => {
        const { H, W, cpg, groups, opg, padding } = c;
        const kh = Math.min(c.k, H);
        const kw = Math.min(c.k, W);
        const C = cpg * groups;
        const outC = opg * groups;
        const r = lcg(c.seed);
        const xs: TensorSpec = { shape: [H, W, C], bits: c.xBits, signed: c.xSigned, scale: 1 };
        const xr = tensorRange(xs);
        const wmax = 2 ** (c.wBits - 1) - 1;
        const K = kh * kw * cpg;
        const n = 2;
        const x = Int32Array.from({ length: n * H * W * C }, () => xr.lo + Math.floor(r() * (xr.hi - xr.lo + 1)));
        const w = Int8Array.from({ length: outC * K }, () => Math.floor(r() * (2 * wmax + 1)) - wmax);
        const half = 2 ** (c.accBits - 1);
        const bias = Int32Array.from({ length: outC }, () => Math.floor((r() * 2 - 1) * half * 1.2));
        const OH = outDim(H, kh, c.s, padding);
        const OW = outDim(W, kw, c.s, padding);
        const layer: Conv2DLayer = {
          op: "conv2d", name: "c", inputs: [0], out: { shape: [OH, OW, outC], bits: 16, signed: true, scale: 1 },
          kernel: [kh, kw], stride: [c.s, c.s], padding, groups, wBits: c.wBits, weights: w, wScale: new Float64Array(outC), bias, rq: rawRq(outC),
        };
        const k = simKernels(adHocChip(chipWith(c.accBits, c.mode, c.perMac, c.kTile)));
        const got = k.conv2d(layer, { n, spec: xs, data: x });
        const pt = padBefore(H, kh, c.s, padding);
        const pl = padBefore(W, kw, c.s, padding);
        let i = 0;
        for (let b = 0; b < n; b++)
          for (let oy = 0; oy < OH; oy++)
            for (let ox = 0; ox < OW; ox++)
              for (let o = 0; o < outC; o++, i++) {
                const g = Math.floor(o / opg);
                const ww: number[] = [];
                const xx: number[] = [];
                for (let ky = 0; ky < kh; ky++)
                  for (let kx = 0; kx < kw; kx++)
                    for (let ci = 0; ci < cpg; ci++) {
                      const iy = oy * c.s + ky - pt;
                      const ix = ox * c.s + kx - pl;
                      ww.push(w[((o * kh + ky) * kw + kx) * cpg + ci]);
                      xx.push(iy < 0 || iy >= H || ix < 0 || ix >= W ? 0 : x[((b * H + iy) * W + ix) * C + g * cpg + ci]);
                    }
                const acc = modelAcc(bias[o], ww, xx, c.accBits, c.mode, c.perMac, c.kTile);
                tally.add(c.mode, exactAcc(bias[o], ww, xx), acc);
                if (got[i] !== acc) throw new Error(`index ${i} (b ${b}, y ${oy}, x ${ox}, o ${o}): model acc ${acc}, sim acc ${got[i]}; case ${JSON.stringify(c)}`);
              }
      }),
      { seed: SEED, numRuns: 150 },
    );
    expectOverflows(tally.t);
  });

  it("dense", () => {
    const tally = overflowTally();
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 80 }), (c, inN) => {
        const r = lcg(c.seed);
        const outN = c.opg * 2;
        const xs: TensorSpec = { shape: [inN], bits: c.xBits, signed: c.xSigned, scale: 1 };
        const xr = tensorRange(xs);
        const wmax = 2 ** (c.wBits - 1) - 1;
        const x = Int32Array.from({ length: 3 * inN }, () => xr.lo + Math.floor(r() * (xr.hi - xr.lo + 1)));
        const w = Int8Array.from({ length: outN * inN }, () => Math.floor(r() * (2 * wmax + 1)) - wmax);
        const half = 2 ** (c.accBits - 1);
        const bias = Int32Array.from({ length: outN }, () => Math.floor((r() * 2 - 1) * half));
        const layer: DenseLayer = { op: "dense", name: "d", inputs: [0], out: { shape: [outN], bits: 16, signed: true, scale: 1 }, wBits: c.wBits, weights: w, wScale: new Float64Array(outN), bias, rq: rawRq(outN) };
        const got = simKernels(adHocChip(chipWith(c.accBits, c.mode, c.perMac, c.kTile))).dense(layer, { n: 3, spec: xs, data: x });
        for (let b = 0; b < 3; b++)
          for (let o = 0; o < outN; o++) {
            const ww = Array.from(w.subarray(o * inN, (o + 1) * inN));
            const xx = Array.from(x.subarray(b * inN, (b + 1) * inN));
            const acc = modelAcc(bias[o], ww, xx, c.accBits, c.mode, c.perMac, c.kTile);
            tally.add(c.mode, exactAcc(bias[o], ww, xx), acc);
            if (got[b * outN + o] !== acc) throw new Error(`b ${b} o ${o}: model acc ${acc}, sim acc ${got[b * outN + o]}; case ${JSON.stringify(c)}`);
          }
      }),
      { seed: SEED + 1, numRuns: 200 },
    );
    expectOverflows(tally.t);
  });

  it("the model itself saturates and wraps as documented (hand-made cases)", () => {
    // 10 MACs of 127·255 = 32,385 each (323,850 in all), bias 0, on a 16-bit accumulator.
    const w = new Array(10).fill(127);
    const x = new Array(10).fill(255);
    expect(modelAcc(0, w, x, 16, "saturate", true, 4)).toBe(32767);
    expect(modelAcc(0, w, x, 16, "wrap", true, 4)).toBe(((323850 + 32768) % 65536) - 32768);
    // saturate per MAC vs per K-tile differ when a tile's partial sum dips and recovers.
    expect(modelAcc(30000, [1, -1], [5000, 5000], 16, "saturate", true, 2)).toBe(30000 - 2233);
    expect(modelAcc(30000, [1, -1], [5000, 5000], 16, "saturate", false, 2)).toBe(30000);
  });
});
