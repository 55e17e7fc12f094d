// The Winograd F(2×2, 3×3) convolution (assembly/winograd.ts, src/kernels/wasm/winograd.ts) bit for bit against
// the reference conv, on the SIMD and the scalar build: output sizes odd and even (1×1 … 14×14, partial tiles),
// 'same', 'valid' and explicit asymmetric pads, input channels not a multiple of 8, a nonzero input zero point
// at the padded taps, batches whose bands of tile rows span images, both weight containers (4-bit weights:
// |U| ≤ 72, int8 panels; 8-bit: i16 panels); extreme values where the i32 sums wrap modulo 2^32 while the
// proof's |S| < 2^29 holds; and the refusals (the layer then keeps the im2col GEMM): the proof's, one channel
// on each side of its bound, and the shapes it does not take (other kernels, groups, fewer than 32 channels);
// on the relaxed build, which layers take Winograd and which its u7 GEMM.

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { conv2dAcc } from "../../src/kernels/reference/ops.js";
import { WasmEngine, type EngineOptions, type PreparedLayer } from "../../src/kernels/wasm/engine.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { winogradRefusal, winogradWeights } from "../../src/kernels/wasm/winograd.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";
import { tensorRange, windowGeometry, type Conv2DLayer, type LayerPadding, type TensorSpec } from "../../src/ir/types.js";
import type { Activation } from "../../src/kernels/backend.js";
import { expectExact } from "../backends/check.js";
import { Rng, requantParams } from "../backends/rand.js";

interface Case { H: number; W: number; C: number; outC: number; padding: LayerPadding }

/** A 3×3 stride-1 conv with random weights of `wBits` and requant parameters that keep most outputs inside the clamp. */
function randomConv(sh: Case, wBits: number, zx: number, n: number, seed: number, xBits = 8): { layer: Conv2DLayer; x: Activation } {
  const rng = new Rng(seed);
  const g = windowGeometry([sh.H, sh.W, sh.C], [3, 3], [1, 1], sh.padding);
  const K = 9 * sh.C;
  const typical = Math.sqrt(K) * 128 * 2 ** (wBits - 1) * 0.5;
  const { m, s } = requantParams(rng, sh.outC, typical, 127);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "conv", inputs: [0], out: { shape: [g.OH, g.OW, sh.outC], bits: 8, signed: true, scale: 0.05 }, kernel: [3, 3], stride: [1, 1], padding: sh.padding, groups: 1,
    wBits, weights: rng.weights(sh.outC * K, wBits), wScale: new Float64Array(sh.outC).fill(0.01),
    bias: rng.ints(sh.outC, -Math.round(typical), Math.round(typical)), rq: { m, s, lo: -127, hi: 127 },
  };
  const spec: TensorSpec = { shape: [sh.H, sh.W, sh.C], bits: xBits, signed: false, scale: 0.05, ...(zx ? { zero: zx } : {}) };
  const r = tensorRange(spec);
  return { layer, x: { n, spec, data: rng.ints(n * sh.H * sh.W * sh.C, r.lo, r.hi) } };
}

/**
 * A conv with given weights, bias and input whose requant is the identity (m = 2^30, s = 30) into a 16-bit
 * output: every accumulator within ±32767 is seen exactly (the extreme cases put the interesting ones there).
 */
function exactConv(H: number, W: number, C: number, outC: number, padding: LayerPadding, weights: Int8Array, bias: Int32Array, data: Int32Array, xSpec: Partial<TensorSpec> = {}): { layer: Conv2DLayer; x: Activation } {
  const g = windowGeometry([H, W, C], [3, 3], [1, 1], padding);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "conv", inputs: [0], out: { shape: [g.OH, g.OW, outC], bits: 16, signed: true, scale: 1 }, kernel: [3, 3], stride: [1, 1], padding, groups: 1,
    wBits: 8, wFullRange: true, weights, wScale: new Float64Array(outC).fill(1), bias, rq: { m: new Int32Array(outC).fill(2 ** 30), s: new Int32Array(outC).fill(30), lo: -32767, hi: 32767 },
  };
  return { layer, x: { n: data.length / (H * W * C), spec: { shape: [H, W, C], bits: 8, signed: false, scale: 1, ...xSpec }, data } };
}

const FLAVORS = ["simd", "scalar"] as const;

/** Runs `layer` on the engine, checks which path it took and that it equals the reference bit for bit. */
function check(what: string, o: EngineOptions, { layer, x }: { layer: Conv2DLayer; x: Activation }, kind: "winograd" | "conv-gemm"): PreparedLayer {
  const e = new WasmEngine(o);
  const p = e.prepare(layer, x.spec);
  expect(p.kind, `${what}: the path taken`).toBe(kind);
  const g = windowGeometry(x.spec.shape, layer.kernel, layer.stride, layer.padding);
  const acc = conv2dAcc(x.data, x.n, g, 1, layer.bias.length, layer.weights, layer.bias, x.spec.zero ?? 0);
  expectExact(what, referenceKernels.conv2d(layer, x), new WasmKernels(e).conv2d(layer, x), layer.out.shape, acc);
  return p;
}

describe.each(FLAVORS)("Winograd F(2×2, 3×3) on the %s build", (flavor) => {
  // Input channels ≥ WINOGRAD_MIN_CHANNELS (32), most not a multiple of 8 (a partial vector of channels).
  const SHAPES: Case[] = [
    { H: 1, W: 1, C: 35, outC: 8, padding: "same" }, // one partial tile, every tap but the centre padded
    { H: 2, W: 2, C: 45, outC: 9, padding: "same" },
    { H: 3, W: 3, C: 32, outC: 16, padding: "same" },
    { H: 7, W: 7, C: 37, outC: 12, padding: "same" }, // resnet18's stage 4, small: partial tiles right and below
    { H: 14, W: 14, C: 40, outC: 21, padding: "same" },
    { H: 9, W: 6, C: 33, outC: 8, padding: "valid" }, // 7×4 out: tiles from the image's edge, no padding
    { H: 4, W: 4, C: 34, outC: 3, padding: "valid" }, // 2×2: one tile
    { H: 8, W: 7, C: 43, outC: 10, padding: [2, 0, 1, 2] }, // explicit pads [top, left, bottom, right]
  ];
  it("equals the reference: output sizes 1×1 … 14×14, pads, C not a multiple of 8, z_x 0 and 77, 4- and 8-bit weights, batch 1 and 3", () => {
    let seed = 1;
    for (const sh of SHAPES)
      for (const wBits of [4, 8])
        for (const zx of [0, 77])
          for (const n of [1, 3]) {
            const p = check(`${JSON.stringify(sh)} w${wBits} z_x ${zx} n ${n}`, { flavor }, randomConv(sh, wBits, zx, n, seed++), "winograd");
            expect(p.kind === "winograd" && p.container).toBe(wBits === 4 ? 8 : 16);
          }
  });
  it("bands of 1, 2 and 3 tile rows (scratch made small), spanning the images of a batch", () => {
    let seed = 500;
    for (const sh of [SHAPES[3], SHAPES[4], SHAPES[7]]) {
      const g = windowGeometry([sh.H, sh.W, sh.C], [3, 3], [1, 1], sh.padding);
      const perRow = 16 * Math.ceil(g.OW / 2) * (Math.ceil(sh.C / 8) * 16 + Math.ceil(sh.outC / 8) * 32);
      for (const rows of [1, 2, 3]) check(`${JSON.stringify(sh)} bands of ${rows}`, { flavor, winogradChunkBytes: rows * perRow + perRow - 1 }, randomConv(sh, 8, 77, 3, seed++), "winograd");
    }
  });
  it("a 56×56×64 → 64 layer (resnet18's stage 1) at the default scratch size", () => {
    check("56×56×64", { flavor }, randomConv({ H: 56, W: 56, C: 64, outC: 64, padding: "same" }, 8, 0, 1, 9), "winograd");
  });
});

describe("extreme values: the i32 sums wrap modulo 2^32, the proof's |S| < 2^29 holds", () => {
  it("all-255 activations × all −128 and all 127 weights at C = 1,800 (9·128·255·1800 < 2^29)", () => {
    const H = 5, W = 5, C = 1800, outC = 8;
    const data = new Int32Array(H * W * C).fill(255);
    for (const wv of [-128, 127]) {
      const weights = new Int8Array(outC * 9 * C).fill(wv);
      // Interior outputs see all 9 taps: S = 9·C·255·w; each channel's bias brings them to a small value.
      const S = 9 * C * 255 * wv;
      const bias = Int32Array.from({ length: outC }, (_, n) => -S + 100 * n - 300);
      for (const flavor of FLAVORS) check(`all 255 × all ${wv}, ${flavor}`, { flavor }, exactConv(H, W, C, outC, "same", weights, bias, data), "winograd");
    }
  });
  // V₀₀ = d₀₀ − d₀₂ − d₂₀ + d₂₂ (z_x cancels) is at most 2·255 = 510 in magnitude; U₀₀ = 4·w₀₀. With weights
  // at tap (0, 0) only, M₀₀ reaches 4·128·510·C, beyond 2^31 from C = 8,225, while the proof's bound is
  // 128·255·C < 2^29 up to C = 16,448.
  it("weights at tap (0, 0) only, a checkerboard of 2×2 squares, C = 8,400: M₀₀ = Σ 4·w·V₀₀ passes 2^31", () => {
    const H = 8, W = 8, C = 8400, outC = 8;
    const data = new Int32Array(H * W * C);
    for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) data.fill(((iy >> 1) + (ix >> 1)) % 2 === 0 ? 255 : 0, (iy * W + ix) * C, (iy * W + ix + 1) * C);
    const weights = new Int8Array(outC * 9 * C);
    for (let n = 0; n < outC; n++) weights.fill(-128, n * 9 * C, n * 9 * C + C);
    // An output reads x at (oy − 1, ox − 1): S = −128·255·C or 0. Even channels bring the first to a small
    // value, odd channels show the second: every output is seen exactly in half the channels.
    const S = -128 * 255 * C;
    const bias = Int32Array.from({ length: outC }, (_, n) => (n % 2 === 0 ? -S : 0) + 50 * n - 200);
    // The point of the case: some tile's M₀₀ (the GEMM's sum at position 0) is beyond i32.
    const { u } = winogradWeights(weights, outC, C);
    let maxM = 0;
    for (let ty = 0; ty < H / 2; ty++)
      for (let tx = 0; tx < W / 2; tx++) {
        const d = (a: number, b: number, c: number) => {
          const iy = 2 * ty - 1 + a, ix = 2 * tx - 1 + b;
          return iy < 0 || ix < 0 || iy >= H || ix >= W ? 0 : data[(iy * W + ix) * C + c];
        };
        let m00 = 0;
        for (let c = 0; c < C; c++) m00 += u[c] * (d(0, 0, c) - d(0, 2, c) - d(2, 0, c) + d(2, 2, c));
        maxM = Math.max(maxM, Math.abs(m00));
      }
    expect(maxM).toBeGreaterThan(2 ** 31);
    for (const flavor of FLAVORS) check(`checkerboard, tap (0, 0), ${flavor}`, { flavor }, exactConv(H, W, C, outC, "same", weights, bias, data), "winograd");
  });
});

describe("the proof's refusals keep the im2col GEMM", () => {
  // Weights −128 at tap (0, 0) only, inputs in [0, 255]: the sum without bias reaches −128·255·C, which
  // is ≥ −2^29 up to C = 16,448 (30 bits: Winograd) and below it from C = 16,449 (31 bits: refused).
  // A 4×4 'valid' input of all 255: one tile whose single output is exactly that extreme.
  for (const [C, kind] of [[16448, "winograd"], [16449, "conv-gemm"]] as const)
    it(`C = ${C}: ${kind === "winograd" ? "admitted (30 bits)" : "refused (31 bits)"}, equal to the reference`, () => {
      const outC = 8;
      const weights = new Int8Array(outC * 9 * C);
      for (let n = 0; n < outC; n++) weights.fill(-128, n * 9 * C, n * 9 * C + C);
      const S = -128 * 255 * C;
      const bias = Int32Array.from({ length: outC }, (_, n) => -S + 1000 * n - 4000);
      const c = exactConv(4, 4, C, outC, "valid", weights, bias, new Int32Array(16 * C).fill(255));
      expect(winogradRefusal(c.layer, c.x.spec)).toBe(kind === "winograd" ? undefined : "the sum without bias needs 31 bits (4·S must fit i32)");
      for (const flavor of FLAVORS) check(`C ${C} ${flavor}`, { flavor }, c, kind);
    });
  /** The refusal's reason, then the im2col GEMM's integers. */
  const refused = (what: string, c: { layer: Conv2DLayer; x: Activation }, reason: RegExp) => {
    expect(winogradRefusal(c.layer, c.x.spec), what).toMatch(reason);
    check(what, { flavor: "simd" }, c, "conv-gemm");
  };
  it("16-bit activations (V would not fit i16), stride 2, a 5×5 kernel, groups, C < 32: refused, still exact", () => {
    const rng = new Rng(3);
    const C = 32, outC = 8;
    const wide = exactConv(5, 5, C, outC, "same", rng.weights(outC * 9 * C, 8), new Int32Array(outC), rng.ints(5 * 5 * C, -300, 300), { bits: 16, signed: true });
    wide.layer.rq.s.fill(40); // scale the 16-bit sums into the visible window
    refused("16-bit input", wide, /V would not fit i16/);
    const sh: Case = { H: 6, W: 6, C: 32, outC: 8, padding: "same" };
    const base = randomConv(sh, 8, 0, 1, 4);
    refused("stride 2", { ...base, layer: { ...base.layer, stride: [2, 2], out: { ...base.layer.out, shape: [3, 3, 8] } } }, /not a 3×3 stride-1/);
    const five = randomConv(sh, 8, 0, 1, 5);
    refused("5×5", { ...five, layer: { ...five.layer, kernel: [5, 5], weights: new Rng(6).weights(8 * 25 * 32, 8) } }, /not a 3×3 stride-1/);
    const grouped = randomConv(sh, 8, 0, 1, 7);
    refused("groups 2", { ...grouped, layer: { ...grouped.layer, groups: 2, weights: grouped.layer.weights.subarray(0, 8 * 9 * 16) } }, /grouped/);
    refused("31 channels", randomConv({ ...sh, C: 31 }, 8, 0, 1, 8), /31 input channels, fewer than 32/);
  });
  it("the option off, or a build without the kernel (main's, in bench/kernels/ab.ts): the im2col GEMM", () => {
    const c = randomConv({ H: 7, W: 7, C: 32, outC: 8, padding: "same" }, 8, 0, 1, 8);
    check("winograd: false", { flavor: "simd", winograd: false }, c, "conv-gemm");
    expect(new WasmEngine({ flavor: "simd", sim: true }).winograd).toBe(false);
  });
});

/** Why the relaxed build cannot run here (Node 20: V8 flags set in this process, then the probe), or undefined. */
function relaxedUnavailable(): string | undefined {
  try {
    requireRelaxed();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
const noRelaxed = relaxedUnavailable();
if (noRelaxed) console.log(`winograd.test.ts: the relaxed-build case is skipped: ${noRelaxed}`);

describe.skipIf(noRelaxed !== undefined)("on the relaxed build", () => {
  it("8-bit activations take Winograd (the u7 GEMM cannot), 7-bit ones keep the u7 GEMM; both equal the reference", () => {
    const sh: Case = { H: 7, W: 7, C: 37, outC: 12, padding: "same" };
    check("W8A8", { flavor: "relaxed" }, randomConv(sh, 8, 0, 2, 11), "winograd");
    const p = check("W4A7", { flavor: "relaxed" }, randomConv(sh, 4, 0, 2, 12, 7), "conv-gemm");
    expect(p.kind === "conv-gemm" && p.gemms[0].host.relaxedT).toBeGreaterThan(0);
  });
});
