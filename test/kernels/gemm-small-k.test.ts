// The GEMM's short-K path (assembly/gemm.ts tile4x8_c16_requant): for K (padded) ≤ 32 on i16 panels (container
// 16, or 8- and 4-bit weights decoded per row block, M ≥ 24) the 4×8 tile starts from the biases in registers
// and requantizes straight from them, for whole panels with a shared shift. Driven here through dense layers
// (batch M = the GEMM's rows) and 1×1 convolutions (the "direct" GEMM) at the shapes that select it and beside
// them: K = 16, 24, 28, 32 (and 34, past the path), N = 8, 12, 20, 96 (a partial last panel falls back to the
// per-row requant), M not a multiple of 4, input and output zero points, and per-channel shifts that give the
// requant's three paths: a shared shift S > 32, S = 32 and S < 32 (requantClamp8Shared's branches), and no
// shared shift (S = 0, the scalar requantClamp). Every result equals the reference kernels' bit for bit.

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import type { Conv2DLayer, DenseLayer, TensorSpec } from "../../src/ir/types.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

/** Per-channel shifts giving each requant path (accumulators of ≤ 23 bits at K ≤ 34, 8-bit x and w). */
const SHIFTS = {
  "S > 32": (c: number) => 38 + (c % 3), // S = 40 per panel, pw = 1, 2, 4
  "S = 32": (c: number) => 30 + (c % 3), // S = 32
  "S < 32": (c: number) => 26 + (c % 4), // S = 29
  "S = 0": (c: number) => (c % 8 === 5 ? 24 : 40), // S − s = 16 > 31 − accBits: scalar requantClamp
} as const;

const rng = new Rng(16016);
const ints = (n: number, lo: number, hi: number) => Int32Array.from({ length: n }, () => rng.int(lo, hi));

function dense(K: number, N: number, wBits: number, path: keyof typeof SHIFTS, zy: number, zx: number): { layer: DenseLayer; xSpec: TensorSpec } {
  const wmax = 2 ** (wBits - 1) - 1;
  const out: TensorSpec = { shape: [N], bits: 8, signed: false, scale: 1, zero: zy };
  const layer: DenseLayer = {
    op: "dense", name: `k${K}-n${N}-w${wBits}-${path}`, inputs: [0], out, wBits,
    weights: Int8Array.from(ints(N * K, -wmax, wmax)), wScale: new Float64Array(N).fill(1),
    bias: ints(N, -20000, 20000), rq: { m: ints(N, 2 ** 30, 2 ** 31 - 1), s: Int32Array.from({ length: N }, (_, c) => SHIFTS[path](c)), lo: 0, hi: 255 },
  };
  return { layer, xSpec: { shape: [K], bits: 8, signed: false, scale: 1, zero: zx } };
}

describe("GEMM short-K fused tile (K ≤ 32): equals the reference at the shapes that select it and beside them", () => {
  const e = new WasmEngine({ flavor: "simd" });
  const k = new WasmKernels(e);
  for (const wBits of [8, 4])
    for (const path of Object.keys(SHIFTS) as (keyof typeof SHIFTS)[])
      it(`W${wBits}, ${path}: dense layers, K = 16, 24, 28, 32, 34; N = 8, 12, 20, 96; M = 24, 27, 61; zero points`, () => {
        for (const K of [16, 24, 28, 32, 34])
          for (const N of [8, 12, 20, 96])
            for (const M of [24, 27, 61]) {
              const zy = (K + N + M) % 3 === 0 ? 0 : 37;
              const zx = N % 8 === 0 ? 0 : 11;
              const { layer, xSpec } = dense(K, N, wBits, path, zy, zx);
              const x = { n: M, spec: xSpec, data: ints(M * K, 0, 255) };
              const p = e.prepare(layer, xSpec);
              if (p.kind !== "dense") throw new Error("not prepared as dense");
              // The shifts give the path named: S per panel (whole panels; a partial one may differ).
              const S = i32View(e.arena, p.gemm.ps, 1)[0];
              expect(path === "S = 0" ? S === 0 : path === "S > 32" ? S > 32 : path === "S = 32" ? S === 32 : S > 0 && S < 32, `${layer.name}: S = ${S}`).toBe(true);
              expectExact(`${layer.name} M=${M} zy=${zy} zx=${zx}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
            }
      });

  it("1×1 convolutions (the direct GEMM) at mobilenetv2's short-K shapes, W8 and W4, with zero points", () => {
    for (const [H, W, C, N] of [[15, 13, 16, 96], [9, 7, 24, 20], [6, 11, 32, 16], [5, 5, 28, 40]])
      for (const wBits of [8, 4])
        for (const path of Object.keys(SHIFTS) as (keyof typeof SHIFTS)[]) {
          const wmax = 2 ** (wBits - 1) - 1;
          const layer: Conv2DLayer = {
            op: "conv2d", name: `pw-${H}x${W}x${C}-${N}-w${wBits}-${path}`, inputs: [0], out: { shape: [H, W, N], bits: 8, signed: true, scale: 1, zero: -5 },
            kernel: [1, 1], stride: [1, 1], padding: "same", groups: 1, wBits, weights: Int8Array.from(ints(N * C, -wmax, wmax)),
            wScale: new Float64Array(N).fill(1), bias: ints(N, -20000, 20000),
            rq: { m: ints(N, 2 ** 30, 2 ** 31 - 1), s: Int32Array.from({ length: N }, (_, c) => SHIFTS[path](c)), lo: -127, hi: 127 },
          };
          const spec: TensorSpec = { shape: [H, W, C], bits: 8, signed: false, scale: 1, zero: 3 };
          const x = { n: 1, spec, data: ints(H * W * C, 0, 255) };
          expectExact(layer.name, referenceKernels.conv2d(layer, x), k.conv2d(layer, x), [H, W, N]);
        }
  });
});
