// The reference kernels on format-2 programs (DESIGN.md §3 "Imported models"): zero points, full-range
// tensors and weights, input lookup tables, explicit pads and the requantizing add, against the literal
// BigInt definition (./definition.ts) — on random programs that use every feature, and on constructed edge
// cases: zero points at both ends of the range, padding taps that read x = z, −2^(b−1) weights, and an
// accumulator exactly at 2^31 − 1.

import { describe, expect, it } from "vitest";
import { interpretLayers } from "../../src/exec/interpret.js";
import { accumulatorBound } from "../../src/ir/accbound.js";
import { validateProgram } from "../../src/ir/validate.js";
import { tensorRange, type Conv2DLayer, type DenseLayer, type Layer, type Program, type TensorSpec } from "../../src/ir/types.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { addRequant, avgPoolSum, conv2dAcc, inputTensor, requantTensor } from "../../src/kernels/reference/ops.js";
import { windowGeometry } from "../../src/ir/types.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import { defRun } from "./definition.js";

/** Every layer of the reference run equals the definition, exactly; a mismatch names layer and index. */
function expectDefinition(p: Program, images: Uint8Array, n: number): void {
  const ref = interpretLayers(p, referenceKernels, images, n, true);
  const def = defRun(p, images, n);
  ref.forEach((r, i) => {
    const d = def[i].v;
    const bad = d.findIndex((v, j) => BigInt(r.data[j]) !== v);
    if (r.data.length !== d.length || bad >= 0)
      throw new Error(`${p.name}: layer ${i} (${p.layers[i].op} ${p.layers[i].name}) index ${bad}: reference ${r.data[bad]}, definition ${d[bad]}`);
  });
}

describe("format-2 programs on the reference equal the BigInt definition", () => {
  it("120 random format-2 programs (and 30 format-1 ones): every layer identical", () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 150; seed++) {
      const f2 = seed <= 120;
      const p = randomProgram(seed, { format2: f2 });
      const n = 1 + (seed % 3);
      expectDefinition(p, randomImages(p, n, seed), n);
      for (const l of p.layers) {
        const x = l.op === "input" ? undefined : p.layers[l.inputs[0]].out;
        const r = tensorRange(l.out);
        if (l.out.zero !== undefined && l.out.zero === r.lo && l.out.zero !== 0) seen.add("zero at lo");
        if (l.out.zero !== undefined && l.out.zero === r.hi) seen.add("zero at hi");
        if (l.out.fullRange) seen.add("full-range tensor");
        if (l.op === "input" && l.lut) seen.add("lut");
        if ((l.op === "conv2d" || l.op === "dense") && l.wFullRange && l.weights.includes(-(2 ** (l.wBits - 1)))) seen.add("weight -2^(b-1)");
        if ((l.op === "conv2d" || l.op === "maxpool" || l.op === "avgpool") && Array.isArray(l.padding) && l.padding.some((v) => v > 0)) seen.add(`${l.op} pads`);
        if (l.op === "conv2d" && x?.zero && l.padding !== "valid") seen.add("padded conv with input zero point");
        if (l.op === "add" && l.mb === 0 && l.inputs[0] === l.inputs[1]) seen.add("requant add");
      }
    }
    // The generator reaches every feature (guards against one that silently stops covering one).
    expect([...seen].sort()).toEqual(["avgpool pads", "conv2d pads", "full-range tensor", "lut", "maxpool pads", "padded conv with input zero point", "requant add", "weight -2^(b-1)", "zero at hi", "zero at lo"]);
  });
});

const act = (shape: number[], bits: number, signed: boolean, zero = 0, fullRange = false): TensorSpec => ({ shape, bits, signed, scale: 0.1, zero, fullRange });

describe("format-2 reference kernels: constructed edge cases", () => {
  it("a conv whose input is x = z everywhere gives acc = bias, padding taps included, z at either end of the range", () => {
    for (const [bits, signed, full, zx] of [[8, false, false, 0], [8, false, false, 255], [8, true, true, -128], [8, true, true, 127], [4, true, false, -7], [3, false, false, 7]] as const) {
      const g = windowGeometry([4, 5, 2], [3, 3], [2, 2], [1, 1, 1, 1]);
      const x = new Array(4 * 5 * 2).fill(zx);
      const w = Array.from({ length: 3 * 3 * 3 * 2 }, (_, i) => (i % 2 ? -128 : 127));
      const acc = conv2dAcc(x, 1, g, 1, 3, w, [5, -7, 11], zx);
      expect(Array.from(acc), `${bits}-bit ${signed ? "signed" : "unsigned"} z=${zx}`).toEqual(Array(g.OH * g.OW).fill([5, -7, 11]).flat());
      const r = tensorRange({ bits, signed, fullRange: full });
      expect(zx >= r.lo && zx <= r.hi).toBe(true);
    }
  });

  it("padding taps read the real 0: an explicitly z-filled input with valid padding gives the same accumulators", () => {
    // 3×3×1 input, z = 100, pads [1, 1, 1, 1], 3×3 kernel of ones, stride 2 → 2×2 outputs.
    const x = [101, 102, 103, 104, 105, 106, 107, 108, 109];
    const padded = [100, 100, 100, 100, 100, 100, 101, 102, 103, 100, 100, 104, 105, 106, 100, 100, 107, 108, 109, 100, 100, 100, 100, 100, 100];
    const w = new Array(9).fill(1);
    const a = conv2dAcc(x, 1, windowGeometry([3, 3, 1], [3, 3], [2, 2], [1, 1, 1, 1]), 1, 1, w, [0], 100);
    const b = conv2dAcc(padded, 1, windowGeometry([5, 5, 1], [3, 3], [2, 2], "valid"), 1, 1, w, [0], 100);
    // out(0,0) = (1 + 2 + 4 + 5) = 12; out(0,1) = 2 + 3 + 5 + 6 = 16; out(1,0) = 4 + 5 + 7 + 8 = 24; out(1,1) = 28
    expect(Array.from(a)).toEqual([12, 16, 24, 28]);
    expect(Array.from(b)).toEqual(Array.from(a));
    // Average pool with the same pads: the padded taps add (z − z) = 0, the divisor stays 9.
    expect(Array.from(avgPoolSum(x, 1, windowGeometry([3, 3, 1], [3, 3], [2, 2], [1, 1, 1, 1]), 100))).toEqual([12, 16, 24, 28]);
  });

  it("the output zero point is added after the rounding and before the clamp", () => {
    // acc 3 × 0.5 = 1.5 → 2 (ties toward +∞), + z 10 = 12; acc −3 → −1.5 → −1, + 10 = 9; clamp [0, 11] cuts 12 → 11.
    expect(Array.from(requantTensor([3, -3, 40, -40], 1, [2 ** 30], [31], 0, 11, 10))).toEqual([11, 9, 11, 0]);
    // z at the top of the range: every positive result clamps, a negative one stays in range.
    expect(Array.from(requantTensor([2, -2, -600], 1, [2 ** 30], [31], 0, 255, 255))).toEqual([255, 254, 0]);
  });

  it("add subtracts both input zero points and adds the output's; mb = 0 is a requantization", () => {
    // ((a − 3)·0.75 + (b + 2)·0.5) + 5 with ma = 3·2^29, mb = 2^30 at s = 31.
    // a = 7, b = 2: 3 + 2 = 5 → 10; a = 3, b = −2: 0 → 5; a = 0, b = −1: −2.25 + 0.5 = −1.75 → −2 → 3
    expect(Array.from(addRequant([7, 3, 0], [2, -2, -1], 3 * 2 ** 29, 2 ** 30, 31, -20, 20, 3, -2, 5))).toEqual([10, 5, 3]);
    // Requant of a with itself, weight 0 on the second input: (a − 3)·0.75, ties toward +∞, + 5.
    expect(Array.from(addRequant([5, 1, 7], [5, 1, 7], 3 * 2 ** 29, 0, 31, -20, 20, 3, 3, 5))).toEqual([7, 4, 8]);
  });

  it("the input table maps each channel's pixel; without one the pixel is the value", () => {
    const lut = new Int16Array(2 * 256);
    for (let p = 0; p < 256; p++) {
      lut[p] = p - 128; // channel 0: a signed full-range shift
      lut[256 + p] = 255 - p; // channel 1: inverted
    }
    expect(Array.from(inputTensor([0, 0, 255, 255, 128, 7], 2, lut))).toEqual([-128, 255, 127, 0, 0, 248]);
    expect(Array.from(inputTensor([0, 255, 7], 3))).toEqual([0, 255, 7]);
  });

  it("an accumulator exactly at 2^31 − 1 is valid and computed exactly; one more is rejected", () => {
    // Full-range 8-bit signed input with z = 127: x − z ∈ [−255, 0]. Weights all −128 (full range):
    // every term lies in [0, 32640], so the bound is [bias, bias + K·32640].
    // the largest term is (−128)·(−255) = 32640, and 65793 of them make 2147483520; bias 127 gives 2^31 − 1.
    const K = 65793;
    const input = act([1, 1, K], 8, true, 127, true);
    const make = (bias: number): Program => {
      const dense: DenseLayer = { op: "dense", name: "fc", inputs: [1], out: { shape: [1], bits: 16, signed: true, scale: 1 }, wBits: 8, wFullRange: true, weights: new Int8Array(K).fill(-128), wScale: Float64Array.of(1), bias: Int32Array.of(bias), rq: { m: Int32Array.of(2 ** 30), s: Int32Array.of(31), lo: -32767, hi: 32767 } };
      const layers: Layer[] = [
        { op: "input", name: "in", inputs: [], out: input, lut: new Int16Array(K * 256).fill(-128) },
        { op: "flatten", name: "flat", inputs: [0], out: { ...input, shape: [K] } },
        dense,
      ];
      return { name: "max-acc", producer: "test", layers };
    };
    const ok = make(127);
    validateProgram(ok);
    expect(accumulatorBound(ok.layers[2], ok.layers[1].out)).toEqual({ min: 127, max: 2 ** 31 - 1, bits: 32 });
    // The reference reaches it: every x = −128, acc = 127 + 65793·32640 = 2^31 − 1, × 0.5 = 2^30 − 0.5 → 2^30, clamped to 32767.
    const layer = ok.layers[2] as DenseLayer;
    const acc = [127 + K * 32640];
    expect(acc[0]).toBe(2 ** 31 - 1);
    expect(Array.from(requantTensor(acc, 1, layer.rq.m, layer.rq.s, -(2 ** 31), 2 ** 31 - 1))).toEqual([2 ** 30]);
    expectDefinition(ok, new Uint8Array(K).fill(0), 1);
    expect(() => validateProgram(make(128))).toThrow(/layers\[2\]: expected accumulators that provably fit int32, found \|acc\| up to 2147483648 \(33 bits\)/);
  });

  it("the accumulator bound uses x − z ∈ [lo − z, hi − z]", () => {
    const conv: Conv2DLayer = { op: "conv2d", name: "c", inputs: [0], out: act([1, 1, 1], 8, false), kernel: [1, 1], stride: [1, 1], padding: "valid", groups: 1, wBits: 4, weights: Int8Array.of(3, -8), wScale: Float64Array.of(1), bias: Int32Array.of(10), rq: { m: Int32Array.of(2 ** 30), s: Int32Array.of(31), lo: 0, hi: 255 }, wFullRange: true };
    // Unsigned 8-bit input with z = 200: x − z ∈ [−200, 55]. 3·[−200, 55] = [−600, 165]; −8·[−200, 55] = [−440, 1600].
    expect(accumulatorBound(conv, act([1, 1, 2], 8, false, 200))).toEqual({ min: 10 - 600 - 440, max: 10 + 165 + 1600, bits: 12 });
    // z = 0 is the format-1 bound: [0, 255].
    expect(accumulatorBound(conv, act([1, 1, 2], 8, false, 0))).toEqual({ min: 10 - 2040, max: 10 + 765, bits: 12 });
  });
});
