// What the compiled kernels are, wherever they come from: their exports, the feature probes (SIMD here,
// relaxed SIMD in ./relaxed.ts), the choice of build, and the imports they need. No I/O here: the edge
// runtime (src/deploy/runtime.ts) fetches and compiles the kernels itself; Node reads them from build/
// (./loader.ts).

import { probeRelaxedDot, validates } from "./relaxed.js";

/**
 * The exports of build/nipq-{simd,scalar,relaxed}.wasm (pointers and sizes are byte offsets / counts); the
 * optional ones only in the relaxed build (assembly/relaxed.ts), or only in builds since they were added.
 */
export interface KernelExports {
  memory: WebAssembly.Memory;
  simd_enabled(): number;
  heap_base(): number;
  gemm_s16_8c2_requant(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, m: number, s: number, pw: number, ps: number, zy: number, lo: number, hi: number, y: number, ldy: number): void;
  im2col_s16(x: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, c0: number, cpg: number, out: number, ldo: number, pad: number): void;
  dwconv_s16_requant(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, w: number, Cp: number, bias: number, m: number, s: number, pw: number, ps: number, zx: number, zy: number, lo: number, hi: number, y: number, rf: number, a16: number, q: number, qs: number): void;
  maxpool_s16(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, y: number): void;
  avgpool_s16_requant(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, m: number, s: number, zx: number, zy: number, lo: number, hi: number, simd: number, y: number): void;
  gap_s16_requant(x: number, n: number, HW: number, C: number, m: number, s: number, zx: number, zy: number, lo: number, hi: number, simd: number, y: number): void;
  add_s16_requant(a: number, b: number, count: number, ma: number, mb: number, s: number, za: number, zb: number, zy: number, lo: number, hi: number, y: number): void;
  u8_to_s16(x: number, count: number, y: number): void;
  requant_i32_perchannel(acc: number, out: number, n: number, channels: number, m: number, s: number, lo: number, hi: number): void;
  requant_params(p: number, N: number, Np: number, accBits: number): void;
  /** Absent from builds before the fitted requant (bench/kernels/ab.ts loads main's): the GEMMs then keep the shared-shift form. */
  requant_fit?(p: number, N: number, Np: number, amin: number, amax: number, zy: number, lo: number, hi: number, accBits: number): void;
  /** Absent from builds before the f64 depthwise requant (bench/kernels/ab.ts loads main's): the layer then keeps the shared-shift one. */
  requant_f64_params?(p: number, N: number, Np: number, B: number, zy: number): number;
  /** Tests and A/B measurements only (assembly/requant.ts): the forms requant_fit may give GEMMs prepared afterwards (bit 0 fit, bit 1 f64). Absent before it. */
  requant_gemm_forms?(mask: number): void;
  requant_i32_params?(p: number, N: number, Np: number, amin: number, amax: number, zy: number, lo: number, hi: number): number;
  dot_i16x8_peak(iters: number, seed: number, chains: number): number;
  pack_8c2(w: number, N: number, K: number, Kp: number, c: number, out: number): void;
  pack_8c4?(w: number, N: number, K: number, Kp: number, out: number): void;
  gemm_u7_8c4_requant?(x: number, lda: number, M: number, Kp: number, w: number, T: number, acc: number, N: number, bias: number, m: number, s: number, pw: number, ps: number, zy: number, lo: number, hi: number, y: number, ldy: number): void;
  narrow_s16_u8?(x: number, lda: number, M: number, K: number, y: number, ldy: number): void;
  /** Absent from builds before the Winograd convolution (bench/kernels/ab.ts loads main's): the engine then keeps im2col. */
  winograd_f2x3_s16_requant?(x: number, H: number, W: number, C: number, pt: number, pl: number, OH: number, OW: number, zx: number, g0: number, g1: number, w: number, wbits: number, Kp: number, N: number, zbias: number, acc: number, tile: number, bias: number, m: number, s: number, pw: number, ps: number, zy: number, lo: number, hi: number, v: number, ldv: number, mo: number, patch: number, y: number): void;
  pack_8c2_s16?(w: number, N: number, K: number, Kp: number, c: number, out: number): void;
}

/** The kernel builds: baseline SIMD, its scalar twin, and SIMD plus the relaxed-SIMD GEMM. */
export type WasmFlavor = "simd" | "scalar" | "relaxed";

/**
 * A minimal module using SIMD (`i32.const 0; i8x16.splat; i8x16.popcnt` in a function returning v128),
 * the probe of wasm-feature-detect (GoogleChromeLabs/wasm-feature-detect, src/detectors/simd).
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this engine validates WASM SIMD (fixed-width 128-bit). */
export function simdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/** The imports the kernels expect (AssemblyScript's `env.abort`); for callers that instantiate themselves. */
export function kernelImports(): WebAssembly.Imports {
  return { env: { abort: () => { throw new Error("wasm kernels: abort"); } } };
}

/**
 * Picks the flavor: "auto" is the relaxed build when the engine computes relaxed SIMD right as it stands
 * (./relaxed.ts; nothing here changes engine flags), else SIMD when the engine validates it, else scalar.
 */
export function resolveFlavor(flavor: WasmFlavor | "auto"): WasmFlavor {
  if (flavor !== "auto") return flavor;
  return !simdSupported() ? "scalar" : probeRelaxedDot().correct ? "relaxed" : "simd";
}
