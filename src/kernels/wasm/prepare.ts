// The Prepare step of the WASM backend (op ≠ kernel): for each layer, once, in TypeScript — derive the
// geometry, pick the kernel, and lay the weights out the way that kernel reads them. Kernels then take
// only scalars and pointers. Nothing here runs per inference.

import { packBits } from "../../ir/pack.js";
import { padBefore, outDim, type Conv2DLayer, type DenseLayer, type TensorSpec } from "../../ir/types.js";

/** Output channels per GEMM panel and the k-pair interleave of assembly/gemm.ts (the 8c2 layout). */
export const PANEL_N = 8;

/**
 * Storage of GEMM weights in linear memory. `16`: i16 panels, resident, read directly by the kernel.
 * `8` / `4` / `2`: the same panel order packed at that many bits per value (two's complement, LSB-first),
 * unpacked one panel at a time into a Kp·16-byte tile right before use.
 */
export type WeightContainer = 16 | 8 | 4 | 2;

/** How the backend stores weights of each bit-width: the default keeps ≤ 4-bit weights packed. */
export interface WeightPolicy {
  /** Container for 5..8-bit weights: 16 (resident i16 panels, fastest) or 8 (int8, half the memory). */
  wide: 16 | 8;
  /** Container for 2..4-bit weights: packed (2 or 4 bits) or 16. */
  narrow: "packed" | 16;
}

export const DEFAULT_POLICY: WeightPolicy = { wide: 16, narrow: "packed" };

/** The container a layer's weights get under a policy. */
export function containerFor(wBits: number, policy: WeightPolicy = DEFAULT_POLICY): WeightContainer {
  if (wBits > 4) return policy.wide;
  if (policy.narrow === 16) return 16;
  return wBits <= 2 ? 2 : 4;
}

/** Host-side image of one GEMM's operands (copied into linear memory by the engine). */
export interface GemmHost {
  K: number;
  /** K rounded up to even (the k-pair interleave). */
  Kp: number;
  N: number;
  /** N rounded up to a multiple of PANEL_N. */
  Np: number;
  container: WeightContainer;
  /** Panels: Int16Array for container 16, else packed bytes. */
  panels: Int16Array | Uint8Array;
  bias: Int32Array;
  m: Int32Array;
  s: Int32Array;
}

/**
 * Lays out W[n][k] = w(n, k) (n < N, k < K) as 8c2 panels: panel j, k-pair p, half h (channels 0–3 / 4–7),
 * channel c, t ∈ {0, 1} ↦ index ((j·Kp/2 + p)·2 + h)·8 + 2c + t. Zero rows/columns pad K and N.
 */
export function gemmHost(N: number, K: number, w: (n: number, k: number) => number, bias: ArrayLike<number>, m: ArrayLike<number>, s: ArrayLike<number>, container: WeightContainer): GemmHost {
  const Kp = K + (K & 1);
  const Np = Math.ceil(N / PANEL_N) * PANEL_N;
  const vals = new Int16Array(Np * Kp);
  let i = 0;
  for (let j = 0; j < Np / PANEL_N; j++)
    for (let p = 0; p < Kp / 2; p++)
      for (let h = 0; h < 2; h++)
        for (let c = 0; c < 4; c++) {
          const n = j * PANEL_N + h * 4 + c;
          for (let t = 0; t < 2; t++) {
            const k = 2 * p + t;
            vals[i++] = n < N && k < K ? w(n, k) : 0;
          }
        }
  const pad = (a: ArrayLike<number>) => {
    const r = new Int32Array(Np);
    for (let c = 0; c < N; c++) r[c] = a[c];
    return r;
  };
  const panels = container === 16 ? vals : packBits(vals, container);
  // Padded channels keep m = 2^30, s = 1 so the kernel's requant of a padded lane is well defined (never stored).
  const mm = pad(m).map((v, c) => (c < N ? v : 2 ** 30));
  const ss = pad(s).map((v, c) => (c < N ? v : 1));
  return { K, Kp, N, Np, container, panels, bias: pad(bias), m: mm, s: ss };
}

/** Geometry of a conv2d or pool over an [H, W, C] input. */
export interface WindowGeometry {
  H: number;
  W: number;
  C: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  OH: number;
  OW: number;
}

/** The geometry of a windowed op on input shape [H, W, C] (TensorFlow `same`/`valid`, DESIGN.md §3). */
export function windowGeometry(shape: readonly number[], kernel: [number, number], stride: [number, number], padding: "same" | "valid"): WindowGeometry {
  const [H, W, C] = shape;
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  return { H, W, C, kh, kw, sh, sw, pt: padBefore(H, kh, sh, padding), pl: padBefore(W, kw, sw, padding), OH: outDim(H, kh, sh, padding), OW: outDim(W, kw, sw, padding) };
}

/** A conv2d lowered to GEMMs: one per group over im2col rows (or directly on x for 1×1, stride 1). */
export interface ConvGemmHost {
  kind: "conv-gemm";
  geo: WindowGeometry;
  groups: number;
  cpg: number;
  opg: number;
  outC: number;
  /** 1×1, stride 1, groups 1, even C: x itself is the GEMM's [H·W][C] operand, no im2col. */
  direct: boolean;
  gemms: GemmHost[];
  lo: number;
  hi: number;
}

/** A depthwise conv2d (groups = C = outC): channel-parallel kernel, weights i16 [kh·kw][Cp]. */
export interface DepthwiseHost {
  kind: "depthwise";
  geo: WindowGeometry;
  Cp: number;
  w: Int16Array;
  bias: Int32Array;
  m: Int32Array;
  s: Int32Array;
  lo: number;
  hi: number;
}

export interface DenseHost {
  kind: "dense";
  inN: number;
  gemm: GemmHost;
  lo: number;
  hi: number;
}

/** Prepare for conv2d: depthwise kernel when groups = C = outC, else GEMM per group. */
export function prepareConv(l: Conv2DLayer, x: TensorSpec, policy: WeightPolicy = DEFAULT_POLICY): ConvGemmHost | DepthwiseHost {
  const geo = windowGeometry(x.shape, l.kernel, l.stride, l.padding);
  const outC = l.out.shape[2];
  const cpg = geo.C / l.groups;
  const opg = outC / l.groups;
  const taps = geo.kh * geo.kw;
  if (cpg === 1 && opg === 1) {
    const Cp = Math.ceil(outC / 8) * 8;
    const w = new Int16Array(taps * Cp);
    for (let c = 0; c < outC; c++) for (let t = 0; t < taps; t++) w[t * Cp + c] = l.weights[c * taps + t];
    const pad = (a: ArrayLike<number>, fill: number) => Int32Array.from({ length: Cp }, (_, c) => (c < outC ? a[c] : fill));
    return { kind: "depthwise", geo, Cp, w, bias: pad(l.bias, 0), m: pad(l.rq.m, 2 ** 30), s: pad(l.rq.s, 1), lo: l.rq.lo, hi: l.rq.hi };
  }
  const K = taps * cpg;
  const container = containerFor(l.wBits, policy);
  const gemms: GemmHost[] = [];
  for (let g = 0; g < l.groups; g++) {
    const o0 = g * opg;
    gemms.push(gemmHost(opg, K, (n, k) => l.weights[(o0 + n) * K + k], l.bias.subarray(o0, o0 + opg), l.rq.m.subarray(o0, o0 + opg), l.rq.s.subarray(o0, o0 + opg), container));
  }
  const direct = geo.kh === 1 && geo.kw === 1 && geo.sh === 1 && geo.sw === 1 && l.groups === 1 && geo.C % 2 === 0;
  return { kind: "conv-gemm", geo, groups: l.groups, cpg, opg, outC, direct, gemms, lo: l.rq.lo, hi: l.rq.hi };
}

/** Prepare for dense: one GEMM, W[n][k] = weights[n·inN + k]. */
export function prepareDense(l: DenseLayer, x: TensorSpec, policy: WeightPolicy = DEFAULT_POLICY): DenseHost {
  const inN = x.shape[0];
  const outN = l.out.shape[0];
  const gemm = gemmHost(outN, inN, (n, k) => l.weights[n * inN + k], l.bias, l.rq.m, l.rq.s, containerFor(l.wBits, policy));
  return { kind: "dense", inN, gemm, lo: l.rq.lo, hi: l.rq.hi };
}
