// The GEMM's row blocks and the convolution's im2col bands at real network sizes (issue 16, resnet18), bit
// for bit against the reference. The per-op suite (test/backends/) draws small shapes, where a GEMM is one
// row block and an image's patches one im2col step; here:
//  - tall GEMMs (M ≥ 24 rows) in balanced row blocks (≥ 56 rows: two at M = 97), with rows past the last
//    whole tile (taken one at a time on the resident panel), K on both sides of the decoded panel's L1
//    bound (Kp·16 ≤ 40960: decoded into the tile; above: decoded in registers), every weight container,
//    with the fused requant and in the simulator's accumulate-only form;
//  - convolutions whose patches are made in bands of output rows (engine option im2colChunkBytes made
//    small): bands of 1…3 rows with a remainder, zero padding at the top and bottom rows of a band's image,
//    stride 2, 'same' and explicit pads, channels not a multiple of 8, a nonzero input zero point (the
//    padded taps), and batches of several images per step when the patches of an image fit.

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import type { WeightPolicy } from "../../src/kernels/wasm/prepare.js";
import { windowGeometry, tensorRange, type Conv2DLayer, type DenseLayer, type LayerPadding, type TensorSpec } from "../../src/ir/types.js";
import type { Activation } from "../../src/kernels/backend.js";
import type { DensePrepared } from "../../src/kernels/wasm/engine.js";
import { denseAcc } from "../../src/kernels/reference/ops.js";
import { expectExact } from "../backends/check.js";
import { Rng, requantParams } from "../backends/rand.js";

/** Outputs seen and strictly inside the clamp: a comparison whose outputs all saturate proves little. */
const interior = { seen: 0, inside: 0 };
function count(y: ArrayLike<number>, lo: number, hi: number): void {
  for (let i = 0; i < y.length; i++) {
    interior.seen++;
    if (y[i] > lo && y[i] < hi) interior.inside++;
  }
}

const X_SPEC = (shape: number[], zero = 0): TensorSpec => ({ shape, bits: 8, signed: false, scale: 0.05, ...(zero ? { zero } : {}) });
const OUT_SPEC = (shape: number[]): TensorSpec => ({ shape, bits: 8, signed: true, scale: 0.05 });

function denseCase(seed: number, wBits: number, K: number, N: number, n: number): { layer: DenseLayer; x: Activation } {
  const rng = new Rng(seed);
  const typical = Math.sqrt(K) * 128 * 2 ** (wBits - 1) * 0.5;
  const { m, s } = requantParams(rng, N, typical, 127);
  const layer: DenseLayer = {
    op: "dense", name: "d", inputs: [0], out: OUT_SPEC([N]), wBits, weights: rng.weights(N * K, wBits),
    wScale: new Float64Array(N).fill(1), bias: rng.ints(N, -Math.round(typical), Math.round(typical)), rq: { m, s, lo: -127, hi: 127 },
  };
  return { layer, x: { n, spec: X_SPEC([K]), data: rng.ints(n * K, 0, 255) } };
}

interface ConvShape { H: number; W: number; C: number; outC: number; k: [number, number]; stride: [number, number]; padding: LayerPadding }

function convCase(sh: ConvShape, wBits: number, zx: number, n: number, seed: number): { layer: Conv2DLayer; x: Activation } {
  const rng = new Rng(seed);
  const g = windowGeometry([sh.H, sh.W, sh.C], sh.k, sh.stride, sh.padding);
  const K = sh.k[0] * sh.k[1] * sh.C;
  const typical = Math.sqrt(K) * 128 * 2 ** (wBits - 1) * 0.5;
  const { m, s } = requantParams(rng, sh.outC, typical, 127);
  const layer: Conv2DLayer = {
    op: "conv2d", name: "conv", inputs: [0], out: OUT_SPEC([g.OH, g.OW, sh.outC]), kernel: sh.k, stride: sh.stride, padding: sh.padding, groups: 1,
    wBits, weights: rng.weights(sh.outC * K, wBits), wScale: new Float64Array(sh.outC).fill(0.01),
    bias: rng.ints(sh.outC, -Math.round(typical), Math.round(typical)), rq: { m, s, lo: -127, hi: 127 },
  };
  const spec = X_SPEC([sh.H, sh.W, sh.C], zx);
  const r = tensorRange(spec);
  return { layer, x: { n, spec, data: rng.ints(n * sh.H * sh.W * sh.C, r.lo, r.hi) } };
}

/** The simulator build's accumulate-only GEMM (assembly/sim.ts). */
interface SimExports {
  gemm_s16_8c2_acc(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, y: number, ldy: number): void;
}

const POLICIES: WeightPolicy[] = [{ wide: 8, narrow: "packed" }, { wide: 16, narrow: 16 }];

describe("tall GEMMs in row blocks (dense at M = 23…97 rows)", () => {
  // K = 2560: Kp·16 = 40960, the largest panel decoded into the tile; 2563 → Kp 2564 (c = 2: 2568), decoded
  // in registers. 150: one block of ~100 rows. M = 23 is below the tall path (1×32 tile for the last rows).
  const KS = [150, 2560, 2563];
  const MS = [23, 24, 25, 49, 97];
  const cases = function* () {
    let seed = 1;
    for (const wBits of [2, 4, 8]) for (const K of KS) for (const M of MS) yield { M, K, wBits, ...denseCase(seed++, wBits, K, 21, M) };
  };
  for (const policy of POLICIES)
    it(`fused requant, ${JSON.stringify(policy)}: weight bits 2, 4, 8 (every container), N = 21 (a partial panel)`, () => {
      const k = new WasmKernels(new WasmEngine({ flavor: "simd", policy }));
      for (const { M, K, wBits, layer, x } of cases()) {
        const ref = referenceKernels.dense(layer, x);
        count(ref, -127, 127);
        expectExact(`dense w${wBits} K ${K} M ${M}`, ref, k.dense(layer, x), [21]);
      }
    });
  it("the simulator's accumulate-only GEMM (gemm_s16_8c2_acc, same blocks): the i32 accumulators", () => {
    const e = new WasmEngine({ flavor: "simd", sim: true });
    const k = e.k as unknown as SimExports;
    for (const { M, K, wBits, layer, x } of cases()) {
      const mark = e.arena.mark();
      const p = e.prepare(layer, x.spec) as DensePrepared;
      const { Kp, N, container } = p.gemm.host;
      const rows = new Int16Array(M * Kp);
      for (let r = 0; r < M; r++) for (let c = 0; c < K; c++) rows[r * Kp + c] = x.data[r * K + c];
      const xp = e.arena.putI16(rows, "x");
      const acc = e.arena.alloc(192, "acc");
      const tile = e.arena.alloc(Kp * 16, "tile");
      const y = e.arena.alloc(M * N * 4, "y");
      k.gemm_s16_8c2_acc(xp, Kp, M, Kp, p.gemm.w, container, acc, tile, N, p.gemm.bias, y, N);
      expectExact(`accumulators w${wBits} K ${K} M ${M}`, denseAcc(x.data, M, K, N, layer.weights, layer.bias), i32View(e.arena, y, M * N), [N]);
      e.forgetPrepared();
      e.arena.release(mark);
    }
  });
});

describe("convolutions in im2col bands of output rows", () => {
  const SHAPES: ConvShape[] = [
    { H: 11, W: 9, C: 5, outC: 19, k: [3, 3], stride: [1, 1], padding: "same" },
    { H: 12, W: 10, C: 6, outC: 9, k: [3, 3], stride: [2, 2], padding: "same" }, // even size: 'same' pads bottom only
    { H: 13, W: 8, C: 3, outC: 8, k: [7, 7], stride: [2, 2], padding: "same" }, // resnet18's conv1, small
    { H: 10, W: 7, C: 16, outC: 12, k: [3, 3], stride: [1, 1], padding: [2, 1, 0, 2] },
    { H: 9, W: 9, C: 10, outC: 17, k: [1, 1], stride: [2, 2], padding: "valid" }, // a stride-2 projection
    { H: 8, W: 6, C: 4, outC: 8, k: [3, 3], stride: [1, 1], padding: "valid" },
  ];
  it("bands of 1, 2 and 3 rows and whole images give the reference's integers, z_x = 0 and 77", () => {
    let seed = 100;
    for (const sh of SHAPES) {
      const g = windowGeometry([sh.H, sh.W, sh.C], sh.k, sh.stride, sh.padding);
      const Kp = Math.ceil((sh.k[0] * sh.k[1] * sh.C) / 2) * 2; // int8 container: K padded to k-pairs
      const rowBytes = g.OW * Kp * 2;
      // Chunk sizes giving bands of 1, 2, 3 output rows (a remainder band where OH is not a multiple), and
      // 2 whole images per step.
      const chunks = [1, 2, 3].map((r) => r * rowBytes + rowBytes - 1).concat([2 * g.OH * rowBytes]);
      for (const chunk of chunks)
        for (const zx of [0, 77]) {
          const k = new WasmKernels(new WasmEngine({ flavor: "simd", im2colChunkBytes: chunk }));
          const { layer, x } = convCase(sh, 8, zx, 3, seed++);
          const ref = referenceKernels.conv2d(layer, x);
          count(ref, -127, 127);
          expectExact(`conv ${JSON.stringify(sh)} chunk ${chunk} z_x ${zx}`, ref, k.conv2d(layer, x), layer.out.shape);
        }
    }
  });
  it("a 56×56×64 3×3 layer (resnet18's stage 1) at the default chunk: 4-row bands", () => {
    const sh: ConvShape = { H: 56, W: 56, C: 64, outC: 8, k: [3, 3], stride: [1, 1], padding: "same" };
    const { layer, x } = convCase(sh, 4, 0, 1, 7);
    const ref = referenceKernels.conv2d(layer, x);
    count(ref, -127, 127);
    expectExact("conv 56×56×64", ref, new WasmKernels(new WasmEngine({ flavor: "simd" })).conv2d(layer, x), layer.out.shape);
  });
  it("the cases above are not saturation-dominated (> 40% of outputs strictly inside the clamp)", () => {
    expect(interior.seen).toBeGreaterThan(0);
    expect(interior.inside / interior.seen).toBeGreaterThan(0.4);
  });
});
