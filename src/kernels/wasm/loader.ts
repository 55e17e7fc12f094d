// Loading the compiled kernels: feature detection picks the SIMD or the scalar build (each SIMD kernel has
// its scalar twin in the same AssemblyScript source, assembly/), and a missing build is a one-line error.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelsNotBuiltError } from "./errors.js";

/** The exports of build/nipq-{simd,scalar}.wasm (pointers and sizes are byte offsets / counts). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  simd_enabled(): number;
  heap_base(): number;
  gemm_s16_8c2_requant(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, m: number, s: number, pw: number, ps: number, lo: number, hi: number, y: number, ldy: number): void;
  im2col_s16(x: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, c0: number, cpg: number, out: number, ldo: number): void;
  dwconv_s16_requant(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, w: number, Cp: number, bias: number, m: number, s: number, pw: number, ps: number, lo: number, hi: number, y: number): void;
  maxpool_s16(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, y: number): void;
  avgpool_s16_requant(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, OH: number, OW: number, m: number, s: number, lo: number, hi: number, simd: number, y: number): void;
  gap_s16_requant(x: number, n: number, HW: number, C: number, m: number, s: number, lo: number, hi: number, simd: number, y: number): void;
  add_s16_requant(a: number, b: number, count: number, ma: number, mb: number, s: number, lo: number, hi: number, y: number): void;
  u8_to_s16(x: number, count: number, y: number): void;
  requant_i32_perchannel(acc: number, out: number, n: number, channels: number, m: number, s: number, lo: number, hi: number): void;
  dot_i16x8_peak(iters: number, seed: number, chains: number): number;
}

export type WasmFlavor = "simd" | "scalar";

/**
 * A minimal module using SIMD (`i32.const 0; i8x16.splat; i8x16.popcnt` in a function returning v128),
 * the probe of wasm-feature-detect (GoogleChromeLabs/wasm-feature-detect, src/detectors/simd).
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this engine validates WASM SIMD (fixed-width 128-bit). */
export function simdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The build directory: <package root>/build (this file is src/kernels/wasm/ or dist/kernels/wasm/). */
export function buildDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "build");
}

/**
 * Path of the compiled kernels of a flavor: the edge build (assembly/index.ts), or with `sim` the
 * simulator's (assembly/sim.ts: the same kernels plus the sim-only ones).
 */
export function wasmFile(flavor: WasmFlavor, dir = buildDir(), sim = false): string {
  return join(dir, `nipq-${sim ? "sim-" : ""}${flavor === "simd" ? "simd" : "scalar"}.wasm`);
}

const modules = new Map<string, WebAssembly.Module>();

/** The imports the kernels expect (AssemblyScript's `env.abort`); for callers that instantiate themselves. */
export function kernelImports(): WebAssembly.Imports {
  return { env: { abort: () => { throw new Error("wasm kernels: abort"); } } };
}

/** Picks the flavor: "auto" is SIMD when the engine supports it, else scalar. */
export function resolveFlavor(flavor: WasmFlavor | "auto"): WasmFlavor {
  if (flavor !== "auto") return flavor;
  return simdSupported() ? "simd" : "scalar";
}

/**
 * Compiles (once per file, cached) and instantiates the kernels. Each instance has its own linear memory.
 * Throws KernelsNotBuiltError when the .wasm file is missing.
 */
export function instantiateKernels(flavor: WasmFlavor | "auto" = "auto", dir = buildDir(), sim = false): { exports: KernelExports; flavor: WasmFlavor; file: string } {
  const f = resolveFlavor(flavor);
  const file = wasmFile(f, dir, sim);
  let mod = modules.get(file);
  if (!mod) {
    if (!existsSync(file)) throw new KernelsNotBuiltError(file);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch {
      throw new KernelsNotBuiltError(file);
    }
    mod = new WebAssembly.Module(bytes);
    modules.set(file, mod);
  }
  const inst = new WebAssembly.Instance(mod, kernelImports());
  return { exports: inst.exports as unknown as KernelExports, flavor: f, file };
}
