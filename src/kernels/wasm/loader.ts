// Loading the compiled kernels in Node: feature detection (./features.ts) picks the relaxed-SIMD, SIMD or
// scalar build from build/ (each SIMD kernel has its scalar twin in the same AssemblyScript source,
// assembly/), and a missing build is a one-line error. The edge runtime's bundle replaces this module
// (src/deploy/build.ts).
//
// Relaxed SIMD on Node 20 (docs/DECISIONS.md, "Relaxed SIMD: a third edge build"): "auto" takes the relaxed build only
// when the engine computes it right as started; asking for "relaxed" explicitly turns on V8's
// --experimental-wasm-relaxed-simd and --no-liftoff (the baseline tier miscomputes the instruction) before
// anything is compiled from it, then probes again, and refuses with a one-line error if it still fails.

import { existsSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_ACTIVATION_BYTES } from "../../limits.js";
import { KernelsNotBuiltError, RelaxedUnavailableError } from "./errors.js";
import { kernelImports, resolveFlavor, type KernelExports, type WasmFlavor } from "./features.js";
import { probeRelaxedDot, resetRelaxedProbe, type RelaxedProbe } from "./relaxed.js";

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
  if (flavor === "relaxed" && sim) throw new Error("the simulator has no relaxed-SIMD build");
  return join(dir, `nipq-${sim ? "sim-" : ""}${flavor}.wasm`);
}

/** The V8 flags under which Node 20 computes relaxed SIMD right (test/kernels/relaxed.test.ts). */
export const RELAXED_NODE20_FLAGS = ["--experimental-wasm-relaxed-simd", "--no-liftoff"];

/**
 * Makes sure this engine computes relaxed SIMD right, for an explicit request of the relaxed build: when the
 * probe fails on Node 20, sets RELAXED_NODE20_FLAGS (process-wide: every module compiled afterwards skips
 * the baseline tier) and probes again. Throws RelaxedUnavailableError when it still fails.
 */
export function requireRelaxed(): RelaxedProbe {
  let p = probeRelaxedDot();
  if (!p.correct && process.versions.node.split(".")[0] === "20") {
    for (const f of RELAXED_NODE20_FLAGS) setFlagsFromString(f);
    resetRelaxedProbe();
    p = probeRelaxedDot();
  }
  if (!p.correct) throw new RelaxedUnavailableError(p.detail);
  return p;
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
  let f = resolveFlavor(flavor);
  if (sim && flavor === "auto" && f === "relaxed") f = "simd"; // the simulator's builds: SIMD and scalar
  if (f === "relaxed") requireRelaxed();
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
