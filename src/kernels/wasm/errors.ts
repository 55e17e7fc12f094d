// Errors of the WASM engine a user can act on. Both are NipqInputError values, so the CLI prints one line
// and exits with code 2 (DESIGN.md §5).

import { NipqInputError } from "../../errors.js";

/** The compiled kernels (build/*.wasm) are missing or unreadable. */
export class KernelsNotBuiltError extends NipqInputError {
  override name = "KernelsNotBuiltError";
  constructor(readonly file: string) {
    super(`wasm kernels not built: ${file} is missing; run \`npm run build\``);
  }
}

/** A model (or batch) that needs more linear memory than the engine is allowed to use. */
export class WasmMemoryError extends NipqInputError {
  override name = "WasmMemoryError";
  constructor(what: string, neededBytes: number, limitBytes: number) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    super(`wasm memory: ${what} needs ${mib(neededBytes)}, over the configured limit of ${mib(limitBytes)} (lower --batch, or raise NIPQ_WASM_MEMORY_MB)`);
  }
}

/** The relaxed-SIMD build was asked for, and this engine does not compute relaxed SIMD right even with the flags tried. */
export class RelaxedUnavailableError extends NipqInputError {
  override name = "RelaxedUnavailableError";
  constructor(detail: string) {
    super(`wasm kernels: relaxed SIMD unavailable on Node ${process.versions.node}: ${detail} (use --kernels simd or auto)`);
  }
}
