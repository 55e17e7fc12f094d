// Loading the compiled kernels in Node: feature detection (./features.ts) picks the SIMD or the scalar
// build from build/ (each SIMD kernel has its scalar twin in the same AssemblyScript source, assembly/),
// and a missing build is a one-line error. The edge runtime's bundle replaces this module (src/deploy/build.ts).

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_ACTIVATION_BYTES } from "../../limits.js";
import { KernelsNotBuiltError } from "./errors.js";
import { kernelImports, resolveFlavor, type KernelExports, type WasmFlavor } from "./features.js";

export { kernelImports, resolveFlavor, simdSupported, type KernelExports, type WasmFlavor } from "./features.js";

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

/** Default limit on linear memory: 1 GiB (MAX_ACTIVATION_BYTES), overridable with NIPQ_WASM_MEMORY_MB. */
export const DEFAULT_LIMIT_BYTES = MAX_ACTIVATION_BYTES;

/** The configured limit: NIPQ_WASM_MEMORY_MB when set to a positive integer (at most 4 GiB − 64 KiB), else DEFAULT_LIMIT_BYTES. */
export function configuredLimit(): number {
  const v = process.env.NIPQ_WASM_MEMORY_MB;
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? Math.min(n * 2 ** 20, 4 * 2 ** 30 - 65536) : DEFAULT_LIMIT_BYTES;
}

const modules = new Map<string, WebAssembly.Module>();

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
