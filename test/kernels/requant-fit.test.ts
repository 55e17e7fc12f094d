// The fitted requant (assembly/requant.ts requant_fit, requantFit8; session 29): for GEMM layers whose outputs have
// at most 64 levels (4- to 6-bit activations), each 8-channel group may get per-channel M and B with
// clamp((a·M + B) >> FIT_SHIFT, lo, hi) = clamp(requant(a, m, s) + zy, lo, hi) for every accumulator a in the
// layer's proven range, checked at prepare (ps = −1, M in the pw slots, B in the s slots). Tested three ways:
//  - the stored M, B of every fitted channel against the reference requant, exhaustively over the proven range;
//  - dense layers and 1×1 convolutions against the reference kernels at the shapes that run the fused short-K tile
//    (tile4x8_c16_requantfit: Kp ≤ 32, whole panels) and beside it (K = 34, 40; partial last panels; M not a
//    multiple of 4; M < 24, where packed panels decode in registers), W8 and W4 weights, containers 16 and default,
//    input and output zero points, unsigned 4-bit, signed narrow 4-bit and 6-bit outputs, shifts s from 30 to 47;
//  - the SIMD and relaxed builds (the relaxed GEMM shares requantStore8) on the same layers.
// The layers are built so that most groups fit and some do not (a channel with a far smaller shift), so fitted and
// unfitted groups sit side by side in one GEMM.

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { requantClamp } from "../../src/kernels/reference/requant.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import type { Conv2DLayer, DenseLayer, TensorSpec } from "../../src/ir/types.js";
import type { AccBound } from "../../src/ir/accbound.js";
import type { GemmDev } from "../../src/kernels/wasm/engine.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

const FIT_SHIFT = 20; // assembly/requant.ts
const rng = new Rng(29029);
const ints = (n: number, lo: number, hi: number) => Int32Array.from({ length: n }, () => rng.int(lo, hi));

/** Output tensors: unsigned 4-bit (zero point 0 or 3), signed narrow 4-bit, unsigned 6-bit (63 levels, the limit). */
const OUTS: { name: string; spec: (shape: number[]) => TensorSpec; lo: number; hi: number }[] = [
  { name: "u4", spec: (shape) => ({ shape, bits: 4, signed: false, scale: 1 }), lo: 0, hi: 15 },
  { name: "u4 z3", spec: (shape) => ({ shape, bits: 4, signed: false, scale: 1, zero: 3 }), lo: 0, hi: 15 },
  { name: "s4", spec: (shape) => ({ shape, bits: 4, signed: true, scale: 1 }), lo: -7, hi: 7 },
  { name: "u6 relu6", spec: (shape) => ({ shape, bits: 6, signed: false, scale: 1 }), lo: 0, hi: 50 },
];

/** Shifts putting a typical accumulator (bound A) across the output levels, varying per channel; channel 13 of 32 far smaller (its group cannot fit). */
function shifts(N: number, A: number, levels: number): Int32Array {
  const base = 30 + Math.ceil(Math.log2(A / levels)) - 5; // μ = m·2^−s about 32·levels / A: proven bounds are far wider than typical sums (mobilenetv2 W4A4: s = 31…38)
  return Int32Array.from({ length: N }, (_, c) => (c % 32 === 13 ? Math.max(1, base - 12) : base + (c % 3) - 1));
}

/** Every fitted channel's stored M, B against the reference requant over the whole proven accumulator range. Returns [fitted groups, groups]. */
function checkFitted(e: WasmEngine, g: GemmDev, op: { acc: AccBound; zy: number; clamp: { lo: number; hi: number } }, name: string): [number, number] {
  const { N, Np } = g.host;
  const fit = { min: op.acc.min, max: op.acc.max, zy: op.zy, lo: op.clamp.lo, hi: op.clamp.hi };
  const ps = i32View(e.arena, g.ps, Np / 8);
  const M = i32View(e.arena, g.pw, Np);
  const B = i32View(e.arena, g.s, Np);
  let fitted = 0;
  for (let j = 0; j < Np / 8; j++) {
    if (ps[j] !== -1) continue;
    fitted++;
    for (let c = 8 * j; c < Math.min(N, 8 * j + 8); c++)
      for (let a = fit.min; a <= fit.max; a++) {
        const want = requantClamp(a, g.host.m[c], g.host.s[c], fit.lo - fit.zy, fit.hi - fit.zy) + fit.zy;
        const v = Math.imul(a, M[c]) + B[c];
        if (v !== a * M[c] + B[c]) throw new Error(`${name} channel ${c}: a·M + B = ${a * M[c] + B[c]} at a = ${a} wraps i32 (M ${M[c]}, B ${B[c]})`);
        const got = Math.min(fit.hi, Math.max(fit.lo, v >> FIT_SHIFT));
        if (got !== want) throw new Error(`${name} channel ${c}: a = ${a}: fitted ${got}, reference ${want} (m ${g.host.m[c]}, s ${g.host.s[c]}, M ${M[c]}, B ${B[c]})`);
      }
  }
  return [fitted, Np / 8];
}

function dense(K: number, N: number, wBits: number, xBits: number, out: (typeof OUTS)[number], zx: number): { layer: DenseLayer; xSpec: TensorSpec } {
  const wmax = 2 ** (wBits - 1) - 1;
  const xmax = 2 ** xBits - 1;
  const A = K * wmax * xmax;
  const layer: DenseLayer = {
    op: "dense", name: `fit-k${K}-n${N}-w${wBits}-x${xBits}-${out.name}`, inputs: [0], out: out.spec([N]), wBits,
    weights: Int8Array.from(ints(N * K, -wmax, wmax)), wScale: new Float64Array(N).fill(1),
    bias: ints(N, -A >> 3, A >> 3), rq: { m: ints(N, 2 ** 30, 2 ** 31 - 1), s: shifts(N, A, out.hi - out.lo), lo: out.lo, hi: out.hi },
  };
  return { layer, xSpec: { shape: [K], bits: xBits, signed: false, scale: 1, zero: zx } };
}

describe("the fitted requant (requant_fit): exact over the proven accumulator range, and the GEMMs' outputs equal the reference", () => {
  const engines: [string, WasmEngine][] = [
    ["simd", new WasmEngine({ flavor: "simd" })],
    ["simd, container 16", new WasmEngine({ flavor: "simd", policy: { wide: 16, narrow: 16 } })],
    ["relaxed", new WasmEngine({ flavor: "relaxed" })],
  ];
  for (const [ename, e] of engines)
    it(`${ename}: dense layers, K = 16, 24, 28, 32, 34, 40; N = 8, 12, 20, 96; M = 5, 13, 24, 27, 61; W8 and W4; 4- and 6-bit outputs; zero points`, () => {
      const k = new WasmKernels(e);
      let fitted = 0;
      let groups = 0;
      for (const wBits of [8, 4])
        for (const xBits of [8, 4])
          for (const out of OUTS)
            for (const K of [16, 24, 28, 32, 34, 40])
              for (const N of [8, 12, 20, 96]) {
                const zx = (K + N) % 3 === 0 ? 2 : 0;
                const { layer, xSpec } = dense(K, N, wBits, xBits, out, zx);
                const p = e.prepare(layer, xSpec);
                if (p.kind !== "dense") throw new Error("not prepared as dense");
                const [f, g] = checkFitted(e, p.gemm, p, layer.name);
                fitted += f;
                groups += g;
                for (const M of [5, 13, 24, 27, 61]) {
                  const x = { n: M, spec: xSpec, data: ints(M * K, 0, 2 ** xBits - 1) };
                  expectExact(`${ename} ${layer.name} M=${M} zx=${zx}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
                }
              }
      // Both forms side by side: most groups fitted, the ones with the small shift not.
      expect(fitted, `${ename}: ${fitted} of ${groups} groups fitted`).toBeGreaterThan(groups / 3);
      expect(fitted).toBeLessThan(groups);
    });

  it("1×1 convolutions (the direct GEMM) at mobilenetv2's short-K shapes, W8 and W4, 4-bit activations with zero points", () => {
    const e = engines[0][1];
    const k = new WasmKernels(e);
    let fitted = 0;
    for (const [H, W, C, N] of [[15, 13, 16, 96], [9, 7, 24, 20], [6, 11, 32, 16], [5, 5, 28, 40], [7, 6, 64, 24]])
      for (const wBits of [8, 4])
        for (const out of OUTS) {
          const wmax = 2 ** (wBits - 1) - 1;
          const A = C * wmax * 15;
          const layer: Conv2DLayer = {
            op: "conv2d", name: `fit-pw-${H}x${W}x${C}-${N}-w${wBits}-${out.name}`, inputs: [0], out: out.spec([H, W, N]),
            kernel: [1, 1], stride: [1, 1], padding: "same", groups: 1, wBits, weights: Int8Array.from(ints(N * C, -wmax, wmax)),
            wScale: new Float64Array(N).fill(1), bias: ints(N, -A >> 3, A >> 3),
            rq: { m: ints(N, 2 ** 30, 2 ** 31 - 1), s: shifts(N, A, out.hi - out.lo), lo: out.lo, hi: out.hi },
          };
          const spec: TensorSpec = { shape: [H, W, C], bits: 4, signed: false, scale: 1, zero: 3 };
          const p = e.prepare(layer, spec);
          if (p.kind !== "conv-gemm") throw new Error("not a GEMM");
          fitted += checkFitted(e, p.gemms[0], p, layer.name)[0];
          const x = { n: 1, spec, data: ints(H * W * C, 0, 15) };
          expectExact(layer.name, referenceKernels.conv2d(layer, x), k.conv2d(layer, x), [H, W, N]);
        }
    expect(fitted).toBeGreaterThan(20);
  });

  it("8-bit outputs: the shared shift raised to FIXED_S = 44 where 44 − s ≤ 31 − accBits for every channel of the group, pw = 2^(44 − s)", () => {
    const e = new WasmEngine({ flavor: "simd" });
    e.k.requant_gemm_forms!(1); // else the f64 requant (requant-f64-gemm.test.ts) takes these groups
    const k = new WasmKernels(e);
    const u8 = { name: "u8", spec: (shape: number[]): TensorSpec => ({ shape, bits: 8, signed: false, scale: 1 }), lo: 0, hi: 255 };
    for (const [K, xBits] of [[16, 8], [24, 8], [32, 4], [600, 8]]) {
      const { layer, xSpec } = dense(K, 96, 8, xBits, u8, 0);
      const p = e.prepare(layer, xSpec);
      if (p.kind !== "dense") throw new Error("not prepared as dense");
      const ps = i32View(e.arena, p.gemm.ps, 12);
      const pw = i32View(e.arena, p.gemm.pw, 96);
      const acc = p.gemm.host.rqBits;
      for (let j = 0; j < 12; j++) {
        const s = Array.from(layer.rq.s.subarray(8 * j, 8 * j + 8));
        const S = Math.max(...s);
        const shared = s.every((v) => v >= acc - 1 && S - v <= 31 - acc);
        const raised = shared && S <= 44 && s.every((v) => 44 - v <= 31 - acc);
        expect(ps[j], `K = ${K}, group ${j}: s ${s}, accBits ${acc}`).toBe(raised ? 44 : shared ? S : 0);
        if (ps[j] > 0) for (let c = 0; c < 8; c++) expect(pw[8 * j + c]).toBe(2 ** (ps[j] - s[c]));
      }
      const x = { n: 27, spec: xSpec, data: ints(27 * K, 0, 2 ** xBits - 1) };
      expectExact(`raised ${layer.name}`, referenceKernels.dense(layer, x), k.dense(layer, x), [27, 96]);
    }
  });

  it("8-bit outputs and the scalar build keep the other forms (no group fitted; on SIMD the f64 requant, ps = −2, where proven)", () => {
    for (const flavor of ["simd", "scalar"] as const) {
      const e = new WasmEngine({ flavor });
      const out = flavor === "simd" ? { name: "u8", spec: (shape: number[]): TensorSpec => ({ shape, bits: 8, signed: false, scale: 1 }), lo: 0, hi: 255 } : OUTS[0];
      const { layer, xSpec } = dense(16, 96, 4, 4, out, 0);
      const p = e.prepare(layer, xSpec);
      if (p.kind !== "dense") throw new Error("not prepared as dense");
      expect([...i32View(e.arena, p.gemm.ps, 12)].every((S) => (S >= 0 || (flavor === "simd" && S === -2)) && (flavor === "simd" || S !== 44)), `${flavor}: no fitted group (and none raised on the scalar build)`).toBe(true);
    }
  });
});
