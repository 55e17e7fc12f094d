// The GEMM's short-K path (assembly/gemm.ts tile4x8_c16_requant): for K (padded) ≤ 32 on i16 panels (container
// 16, or 8- and 4-bit weights decoded per row block, M ≥ 24) the 4×8 tile starts from the biases in registers
// and requantizes straight from them, for whole panels with a shared shift. Driven here through dense layers
// (batch M = the GEMM's rows) and 1×1 convolutions (the "direct" GEMM) at the shapes that select it and beside
// them: K = 16, 24, 28, 32 (and 34, past the path), N = 8, 12, 20, 96 (a partial last panel falls back to the
// per-row requant), M not a multiple of 4, input and output zero points, and per-channel shifts that give the
// requant's three paths: a shared shift S > 32, S = 32 and S < 32 (requantClamp8Shared's branches), and no
// shared shift (S = 0, the scalar requantClamp) — those with the GEMMs' f64 requant turned off (requant_gemm_forms(1)),
// which would otherwise take every group here — and the f64 requant itself (ps = −2, tile4x8_c16_requantf64;
// test/kernels/requant-f64-gemm.test.ts proves its parameters). Every result equals the reference kernels' bit for bit.
// Its raw counterpart, the simulator's accumulate-only GEMM (gemm_s16_8c2_acc: tile6x8_c16_raw for whole 6-row
// tiles × whole panels at Kp ≤ 32, the rest by gemmCore), is compared with the plain-TS accumulators (denseAcc,
// wrapped to i32) at Kp 8…32 and past it, every container, N and M on both sides of the tile sizes, padded row
// strides, and extreme values (s16 activations, full-range weights, biases that wrap).

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import type { Conv2DLayer, DenseLayer, TensorSpec } from "../../src/ir/types.js";
import { gemmHost, kAlign, type WeightContainer } from "../../src/kernels/wasm/prepare.js";
import { denseAcc } from "../../src/kernels/reference/ops.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

/** assembly/requant.ts FIXED_S: the shared shift requant_fit raises a GEMM group's S to where the contract allows. */
const FIXED_S = 44;

/** Per-channel shifts giving each requant path (accumulators of ≤ 23 bits at K ≤ 34, 8-bit x and w). */
const SHIFTS = {
  "S > 32": (c: number) => 38 + (c % 3), // S = 40 per panel, pw = 1, 2, 4
  "S = 32": (c: number) => 30 + (c % 3), // S = 32
  "S < 32": (c: number) => 26 + (c % 4), // S = 29
  "S = 0": (c: number) => (c % 8 === 5 ? 24 : 40), // S − s = 16 > 31 − accBits: scalar requantClamp
  "f64": (c: number) => 36 + (c % 5), // the f64 requant (requant_gemm_forms(3)), s = 36…40
} as const;

/** The GEMMs' f64 requant on for the path "f64" only, for the layers prepared next (assembly/requant.ts requant_gemm_forms). */
const f64For = (e: WasmEngine, path: string) => e.k.requant_gemm_forms!(path === "f64" ? 3 : 1);

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
        let namedSeen = 0;
        for (const K of [16, 24, 28, 32, 34])
          for (const N of [8, 12, 20, 96])
            for (const M of [24, 27, 61]) {
              const zy = (K + N + M) % 3 === 0 ? 0 : 37;
              const zx = N % 8 === 0 ? 0 : 11;
              const { layer, xSpec } = dense(K, N, wBits, path, zy, zx);
              const x = { n: M, spec: xSpec, data: ints(M * K, 0, 255) };
              f64For(e, path);
              const p = e.prepare(layer, xSpec);
              if (p.kind !== "dense") throw new Error("not prepared as dense");
              // The shifts give the path named: S per panel (whole panels; a partial one may differ) — or FIXED_S = 44
              // where requant_fit could raise it (small accumulators: W4 at short K), the path named then still
              // taken at W8 (counted below).
              const S = i32View(e.arena, p.gemm.ps, 1)[0];
              const named = path === "f64" ? S === -2 : path === "S = 0" ? S === 0 : path === "S > 32" ? S > 32 : path === "S = 32" ? S === 32 : S > 0 && S < 32;
              expect(named || (path !== "S = 0" && S === FIXED_S), `${layer.name}: S = ${S}`).toBe(true);
              if (named) namedSeen++;
              expectExact(`${layer.name} M=${M} zy=${zy} zx=${zx}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
            }
        if (wBits === 8) expect(namedSeen, `W8, ${path}: layers on the path named`).toBeGreaterThan(0);
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
          f64For(e, path);
          expectExact(layer.name, referenceKernels.conv2d(layer, x), k.conv2d(layer, x), [H, W, N]);
        }
  });
});

describe("GEMM short-K fused tile (tile4x8_c16_requant) and the rows past its tiles: the reference's integers at M not a multiple of 4 or 6", () => {
  // Container 16 at every M (policy wide = narrow = 16) and the default policy (8-, 4-bit panels decoded per
  // row block at M ≥ 24); extreme activations (0 and 255 a quarter of the time each) and full-range weights.
  const engines = [new WasmEngine({ flavor: "simd", policy: { wide: 16, narrow: 16 } }), new WasmEngine({ flavor: "simd" })];
  const r = new Rng(16018);
  const extreme = (lo: number, hi: number) => {
    const u = r.next();
    return u < 0.25 ? lo : u < 0.5 ? hi : r.int(lo, hi);
  };
  for (const path of ["S > 32", "S < 32", "f64"] as const)
    it(`${path}: K = 7…32 (Kp 8…32), N = 8, 9, 16, 96; M = 5, 6, 7, 11, 12, 13, 24, 25, 26, 30, 32, 262; W8 and W4`, () => {
      for (const e of engines) {
        const k = new WasmKernels(e);
        for (const wBits of [8, 4])
          for (const K of [7, 8, 13, 16, 21, 24, 28, 32])
            for (const N of [8, 9, 16, 96])
              for (const M of [5, 6, 7, 11, 12, 13, 24, 25, 26, 30, 32, 262]) {
                const wmax = 2 ** (wBits - 1) - 1;
                const out: TensorSpec = { shape: [N], bits: 8, signed: false, scale: 1, zero: 7 };
                const layer: DenseLayer = {
                  op: "dense", name: `6row-k${K}-n${N}-w${wBits}-${path}`, inputs: [0], out, wBits,
                  weights: Int8Array.from({ length: N * K }, () => extreme(-wmax - 1, wmax)), wScale: new Float64Array(N).fill(1),
                  bias: Int32Array.from({ length: N }, () => extreme(-20000, 20000)),
                  rq: { m: Int32Array.from({ length: N }, () => extreme(2 ** 30, 2 ** 31 - 1)), s: Int32Array.from({ length: N }, (_, c) => SHIFTS[path](c)), lo: 0, hi: 255 },
                };
                const xSpec: TensorSpec = { shape: [K], bits: 8, signed: false, scale: 1, zero: 3 };
                const x = { n: M, spec: xSpec, data: Int32Array.from({ length: M * K }, () => extreme(0, 255)) };
                f64For(e, path);
                expectExact(`${layer.name} M=${M} policy=${e === engines[0] ? "16" : "default"}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
              }
      }
    });
});

/** The simulator build's accumulate-only GEMM (assembly/sim.ts). */
interface SimExports {
  gemm_s16_8c2_acc(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, y: number, ldy: number): void;
}

describe("the simulator's raw GEMM at short K (gemm_s16_8c2_acc, tile6x8_c16_raw): the plain-TS accumulators, wrapped to i32", () => {
  const e = new WasmEngine({ flavor: "simd", sim: true });
  const k = e.k as unknown as SimExports;
  const r = new Rng(16017);
  /** A value in [lo, hi]: either limit a quarter of the time each, else uniform (extreme values often). */
  const extreme = (lo: number, hi: number) => {
    const u = r.next();
    return u < 0.25 ? lo : u < 0.5 ? hi : r.int(lo, hi);
  };
  const SENTINEL = 0x5a5a5a5a; // 1515870810: y past N in a row must stay untouched

  /** One GEMM: M×K·K×N with container c, x rows of stride lda (≥ Kp; the gap is garbage the kernel must skip), y of stride ldy ≥ N. */
  function check(c: WeightContainer, K: number, N: number, M: number, padX: number, padY: number): void {
    const mark = e.arena.mark();
    const wmax = c === 16 ? 127 : 2 ** (c - 1) - 1;
    const weights = Int8Array.from({ length: N * K }, () => extreme(-wmax - 1, wmax));
    const bias = Int32Array.from({ length: N }, () => extreme(-(2 ** 31), 2 ** 31 - 1));
    const h = gemmHost(N, K, weights, bias, new Int32Array(N).fill(2 ** 30), new Int32Array(N).fill(40), c);
    const { Kp } = h;
    const lda = Kp + padX;
    const ldy = N + padY;
    const xs = Int16Array.from({ length: M * K }, () => extreme(-32768, 32767));
    const rows = new Int16Array(M * lda);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < lda; j++) rows[i * lda + j] = j < K ? xs[i * K + j] : j < Kp ? 0 : extreme(-32768, 32767);
    const dev = e.gemmDev(h, "w");
    const xp = e.arena.putI16(rows, "x");
    const acc = e.arena.alloc(192, "acc");
    const tile = e.arena.alloc(Kp * 16, "tile");
    const y = e.arena.putI32(new Int32Array(M * ldy).fill(SENTINEL), "y");
    k.gemm_s16_8c2_acc(xp, lda, M, Kp, dev.w, c, acc, tile, N, dev.bias, y, ldy);
    const exact = denseAcc(xs, M, K, N, weights, bias); // exact in float64: |Σ| < 2^53
    const ref = new Int32Array(M * ldy).fill(SENTINEL);
    for (let i = 0; i < M; i++) for (let n = 0; n < N; n++) ref[i * ldy + n] = exact[i * N + n] | 0; // i32 wrap-around (ToInt32)
    expectExact(`c${c} K=${K} (Kp ${Kp}) N=${N} M=${M} lda=${lda} ldy=${ldy}`, ref, i32View(e.arena, y, M * ldy).slice(), [ldy]);
    e.forgetPrepared();
    e.arena.release(mark);
  }

  for (const c of [16, 8, 4, 2] as WeightContainer[])
    it(`container ${c}: K = 7…36 (Kp ${8}, ${8 + kAlign(c)}…32 and past it); N = 8, 9, 15, 16, 20, 96; M = 4, 5, 6, 7, 12, 13, 23, 24, 27, 61, 262; padded strides`, () => {
      let cases = 0;
      for (let K = 7; K <= 36; K++)
        for (const N of [8, 9, 15, 16, 20, 96])
          for (const M of [4, 5, 6, 7, 12, 13, 23, 24, 27, 61, 262]) {
            if (M === 262 && K % 3 !== 0) continue; // the tall rows at a third of the K values
            check(c, K, N, M, (K + M) % 3 === 0 ? 6 : 0, N % 2 ? 3 : 0);
            cases++;
          }
      expect(cases).toBeGreaterThan(1000);
    });

  it("several row blocks (M = 1101 at Kp ≤ 32: two balanced blocks of 552 and 546 rows, 3 rows left), whole and partial panels", () => {
    for (const c of [16, 8, 4] as WeightContainer[]) for (const [K, N] of [[16, 96], [24, 20], [32, 16], [28, 8]]) check(c, K, N, 1101, 0, 1);
  });
});
