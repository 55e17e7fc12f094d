// The backends `nipq run --backend` can name. Each entry loads its kernels lazily (wasm compiles a module).

import type { LayerKernels } from "../kernels/backend.js";
import type { WasmFlavor } from "../kernels/wasm/features.js";
import { referenceKernels } from "../kernels/reference/backend.js";

export const BACKENDS = ["reference", "wasm"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** The kernel builds `--kernels` can name (src/kernels/wasm/features.ts; README "Which engines get which build"). */
export const KERNEL_BUILDS = ["auto", "relaxed", "simd", "scalar"] as const;

/**
 * Loads the kernels of a backend by name. "wasm" takes `kernels` ("auto": the relaxed-SIMD build where the
 * engine computes it right as started, else SIMD where supported, else scalar); it throws
 * KernelsNotBuiltError (exit 2) when build/*.wasm is missing, RelaxedUnavailableError when "relaxed" cannot run.
 */
export async function loadBackend(name: BackendName, kernels: WasmFlavor | "auto" = "auto"): Promise<LayerKernels> {
  switch (name) {
    case "reference":
      return referenceKernels;
    case "wasm": {
      const { loadWasmKernels } = await import("../kernels/wasm/backend.js");
      return loadWasmKernels({ flavor: kernels });
    }
  }
}
