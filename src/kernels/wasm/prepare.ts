// The WASM backend's part of the Prepare step (op ≠ kernel): for each layer, once, in TypeScript — take
// the shared OpData (../prepare.ts: geometry, groups, accumulator bound, clamp), pick the kernel and the
// weights' layout, and gather the per-channel parameters. The engine then lays the weights out in linear
// memory with the kernels' own pack functions (assembly/pack.ts; the depthwise weights here) and has the
// kernels pad the parameters and derive the shared shifts (assembly/requant.ts requant_params). Kernels take
// only scalars and pointers. Nothing here runs per inference.

import type { AccBound } from "../../ir/accbound.js";
import { tensorRange, type Conv2DLayer, type DenseLayer, type TensorSpec, type WeightLayer } from "../../ir/types.js";
import { convOp, denseOp, type ConvData, type DenseData } from "../prepare.js";

/** Output channels per GEMM panel and the k-pair interleave of assembly/gemm.ts (the 8c2 layout). */
export const PANEL_N = 8;

/**
 * Storage of GEMM weights in linear memory (assembly/gemm.ts): `16` keeps each weight vector as 8 i16;
 * `8` / `4` / `2` pack 2 / 4 / 8 weight vectors into the 8 i16 lanes of one 16-byte block (c-bit fields,
 * field j = vector j), decoded in registers by two shifts. Resident bytes = c/8 per weight.
 */
export type WeightContainer = 16 | 8 | 4 | 2;

/**
 * How the backend stores weights of each bit-width. The default keeps every weight at (about) its packed
 * size: 8-bit containers for 5..8-bit weights, 4-bit fields for 3..4-bit, 2-bit for 2-bit. Measured in
 * bench/kernels/gemm.ts, the int8 container is as fast as i16 on tall GEMMs (panels decoded into a tile)
 * and faster at M = 1 (half the bytes to stream); i16 remains available.
 */
export interface WeightPolicy {
  /** Container for 5..8-bit weights: 8 (int8, 1 byte per weight) or 16 (i16 panels, 2 bytes). */
  wide: 16 | 8;
  /** Container for 2..4-bit weights: packed (2 or 4 bits) or 16. */
  narrow: "packed" | 16;
}

export const DEFAULT_POLICY: WeightPolicy = { wide: 8, narrow: "packed" };

/** The container a layer's weights get under a policy. */
export function containerFor(wBits: number, policy: WeightPolicy = DEFAULT_POLICY): WeightContainer {
  if (wBits > 4) return policy.wide;
  if (policy.narrow === 16) return 16;
  return wBits <= 2 ? 2 : 4;
}

/** K padding a container needs: k-pairs (2), × the k-pairs one 16-byte block holds (c = 4: 2, c = 2: 4). */
export function kAlign(c: WeightContainer): number {
  return c === 2 ? 8 : c === 4 ? 4 : 2;
}

/** Host-side image of one GEMM's operands (copied into linear memory by the engine). */
export interface GemmHost {
  K: number;
  /** K rounded up to kAlign(container); x rows are zero-padded to it. */
  Kp: number;
  N: number;
  /** N rounded up to a multiple of PANEL_N. */
  Np: number;
  container: WeightContainer;
  /**
   * The GEMM's weights W[n][k], row-major [N][K] (a view of the layer's). The engine lays them out as the
   * kernel reads them, in linear memory (assembly/pack.ts): 8c2 panels in `container`, or for the relaxed
   * GEMM 8c4 i8 panels; Np·Kp·container/8 bytes either way.
   */
  weights: Int8Array;
  /** Present for the relaxed-SIMD GEMM (8c4 i8 panels, Kp a multiple of 4): its k-quads per i16 block (relaxedBlock; 1: the i32 form). */
  relaxedT?: number;
  /** Bias (zero-point folded), multipliers and shifts of the N channels. */
  bias: Int32Array;
  m: Int32Array;
  s: Int32Array;
  /** The accumulator bits that decide where the SIMD requant is exact (requantBits). */
  rqBits: number;
}

/**
 * A layer's per-channel requant parameters as the prepare step leaves them: N channels' bias, m and s, and
 * the accumulator bits. The engine pads them to the kernel's channel count and derives each 8 channels'
 * shared shift in linear memory (assembly/requant.ts requant_params, the rule of sharedShift).
 */
export type ParamsHost = Pick<GemmHost, "bias" | "m" | "s" | "rqBits">;

/**
 * Shared-shift requant parameters of one panel (assembly/gemm.ts, file comment): S = max s over the
 * panel's channels, usable when every channel has s ≥ accBits − 1 (result within i32) and S − s ≤ 31 − accBits
 * (a·2^(S−s) within i32) for accumulators of `accBits` signed bits. The pools use it for their one channel;
 * GEMM and depthwise layers get the same rule per 8 channels from the kernels (assembly/requant.ts
 * requant_params; test/kernels/wasm.test.ts holds the two together).
 */
export function sharedShift(s: ArrayLike<number>, from: number, to: number, accBits: number): number {
  let S = 0;
  for (let c = from; c < to; c++) S = Math.max(S, s[c]);
  for (let c = from; c < to; c++) if (s[c] < accBits - 1 || S - s[c] > 31 - accBits) return 0;
  return S;
}

/**
 * The accumulator bits sharedShift is given: the proven bound's, plus one when an output zero point is
 * added after the SIMD requant (requantClamp8Shared's contract: the result plus zy still fits i32).
 */
export function requantBits(acc: AccBound, zy: number): number {
  return acc.bits + (zy !== 0 ? 1 : 0);
}

/**
 * The biases of output channels o0..o0+N−1 of a GEMM (K weights per channel) whose input has zero point
 * zx: bias[o] − zx·Σ_k w[o][k]. The kernel then sums w·x from that start and ends at bias + Σ w·(x − zx)
 * (im2col pads with zx, so a padded tap adds w·zx − w·zx = 0). The store wraps modulo 2^32 like the
 * kernel's i32 accumulators, whose final value is within the proven bound: the result is exact.
 */
export function zeroFoldedBias(l: WeightLayer, K: number, o0: number, N: number, zx: number): Int32Array {
  const b = Int32Array.from(l.bias.subarray(o0, o0 + N));
  if (zx === 0) return b;
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += l.weights[(o0 + n) * K + k];
    b[n] = l.bias[o0 + n] - zx * sum;
  }
  return b;
}

/**
 * One GEMM's operands: W[n][k] = weights[n·K + k] (n < N, k < K), K padded to kAlign(container) — or for
 * the relaxed GEMM (T > 0, relaxedBlock) to a multiple of 4 in 8c4 i8 panels — and N to a multiple of
 * PANEL_N; the engine lays the panels out (assembly/pack.ts, pack_8c2 and pack_8c4). `accBits` bounds the
 * accumulators (the lowering proof) and decides where the SIMD requant is exact.
 */
export function gemmHost(N: number, K: number, weights: Int8Array, bias: Int32Array, m: Int32Array, s: Int32Array, container: WeightContainer, accBits = 32, T = 0): GemmHost {
  const a = T > 0 ? 4 : kAlign(container);
  const Kp = Math.ceil(K / a) * a;
  const Np = Math.ceil(N / PANEL_N) * PANEL_N;
  return { K, Kp, N, Np, container: T > 0 ? 8 : container, weights, ...(T > 0 ? { relaxedT: T } : {}), bias, m, s, rqBits: accBits };
}

/** Largest i16 block of the relaxed GEMM worth telling apart: any T ≥ Kp/4 runs one block per panel. */
const MAX_RELAXED_T = 2 ** 16;

/**
 * Whether the relaxed-SIMD GEMM (assembly/gemm-relaxed.ts) computes a layer exactly, and how: its k-quads per
 * i16 block T, or 0 when the layer must use the baseline GEMM. The proof, per layer:
 *  - the input's stored values are in [0, 127] (unsigned, ≤ 7 bits; a format-2 zero point lies inside that
 *    range, so im2col's padding value does too): the relaxed dot's second operand is then in its
 *    deterministic range; signed or 8-bit activations are refused;
 *  - every weight fits i8, so each product |w·x| ≤ 128·127 and a pair sum (x86's pmaddubsw, which
 *    saturates at ±32767) is at most 2·max|w|·max x ≤ 32512: the i32 form (T = 1) never saturates;
 *  - T pair sums accumulate in one i16 lane: exact while T·2·max|w|·max x ≤ 32767, so
 *    T = ⌊32767 / (2·max|w|·max x)⌋ (W4A4: max|w| = 8, max x = 15, T = 136; W8A7: T = 1).
 * The i32 sums are then the same integers the baseline GEMM forms, under the same accumulator bound.
 */
export function relaxedBlock(x: TensorSpec, weights: ArrayLike<number>): number {
  const { lo, hi } = tensorRange(x);
  if (lo < 0 || hi > 127) return 0;
  let wmax = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w < -128 || w > 127) return 0;
    wmax = Math.max(wmax, Math.abs(w));
  }
  const pair = 2 * wmax * hi;
  return pair === 0 ? MAX_RELAXED_T : Math.min(MAX_RELAXED_T, Math.floor(32767 / pair));
}

/**
 * How the relaxed GEMM accumulates on this engine (assembly/gemm-relaxed.ts): "i16", blocks of T k-quads in
 * i16 lanes (T from relaxedBlock), or "i32", straight into i32 lanes (T = 1), which is exact for every layer
 * relaxedBlock accepts and faster where the engine's i32 dot is one fused instruction (RelaxedProbe.fused).
 * Same integers either way.
 */
export type RelaxedForm = "i16" | "i32";

/** The T a layer runs the relaxed GEMM with in `form` (0: the baseline GEMM; no form: not the relaxed build). */
function relaxedT(x: TensorSpec, weights: ArrayLike<number>, form?: RelaxedForm): number {
  const T = form ? relaxedBlock(x, weights) : 0;
  return T > 0 && form === "i32" ? 1 : T;
}

/** A conv2d lowered to GEMMs (its OpData plus): one per group over im2col rows (or directly on x for 1×1, stride 1). */
export interface ConvGemmHost extends ConvData {
  kind: "conv-gemm";
  /** 1×1, stride 1, groups 1, even C: x itself is the GEMM's [H·W][C] operand, no im2col. */
  direct: boolean;
  gemms: GemmHost[];
}

/** A depthwise conv2d (its OpData plus): channel-parallel kernel, weights i16 [kh·kw][Cp]; the kernel handles zx (assembly/dwconv.ts). */
export interface DepthwiseHost extends ConvData {
  kind: "depthwise";
  Cp: number;
  w: Int16Array;
  /** The layer's bias, m and s, and the accumulator bits of its requant, as in GemmHost (padded to Cp in linear memory). */
  bias: Int32Array;
  m: Int32Array;
  s: Int32Array;
  rqBits: number;
}

/** A dense layer (its OpData plus): one GEMM. */
export interface DenseHost extends DenseData {
  kind: "dense";
  gemm: GemmHost;
}

/**
 * Prepare for conv2d: depthwise kernel when groups = C = outC, else GEMM per group — on the relaxed build
 * (`relaxed`: the form its GEMM accumulates in) the relaxed GEMM where relaxedBlock proves it exact.
 */
export function prepareConv(l: Conv2DLayer, x: TensorSpec, policy: WeightPolicy = DEFAULT_POLICY, relaxed?: RelaxedForm): ConvGemmHost | DepthwiseHost {
  const op = convOp(l, x);
  const { geo, groups, opg, outC, view: { K }, acc, zx } = op;
  const bits = requantBits(acc, op.zy);
  if (op.depthwise) {
    const taps = geo.kh * geo.kw;
    const Cp = Math.ceil(outC / 8) * 8;
    const w = new Int16Array(taps * Cp);
    for (let c = 0; c < outC; c++) for (let t = 0; t < taps; t++) w[t * Cp + c] = l.weights[c * taps + t];
    return { ...op, kind: "depthwise", Cp, w, bias: l.bias, m: l.rq.m, s: l.rq.s, rqBits: bits };
  }
  const container = containerFor(l.wBits, policy);
  const T = relaxedT(x, l.weights, relaxed);
  const gemms: GemmHost[] = [];
  for (let g = 0; g < groups; g++) {
    const o0 = g * opg;
    gemms.push(gemmHost(opg, K, l.weights.subarray(o0 * K, (o0 + opg) * K), zeroFoldedBias(l, K, o0, opg, zx), l.rq.m.subarray(o0, o0 + opg), l.rq.s.subarray(o0, o0 + opg), container, bits, T));
  }
  const direct = geo.kh === 1 && geo.kw === 1 && geo.sh === 1 && geo.sw === 1 && groups === 1 && gemms[0].Kp === geo.C;
  return { ...op, kind: "conv-gemm", direct, gemms };
}

/** Prepare for dense: one GEMM, W[n][k] = weights[n·inN + k] (relaxed as in prepareConv). */
export function prepareDense(l: DenseLayer, x: TensorSpec, policy: WeightPolicy = DEFAULT_POLICY, relaxed?: RelaxedForm): DenseHost {
  const op = denseOp(l, x);
  const { inN, outN } = op;
  const T = relaxedT(x, l.weights, relaxed);
  const gemm = gemmHost(outN, inN, l.weights, zeroFoldedBias(l, inN, 0, outN, op.zx), l.rq.m, l.rq.s, containerFor(l.wBits, policy), requantBits(op.acc, op.zy), T);
  return { ...op, kind: "dense", gemm };
}
