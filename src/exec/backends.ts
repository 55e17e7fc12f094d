// The backends `nipq run --backend` can name. Each entry loads its kernels lazily (wasm compiles a module).

import type { LayerKernels } from "../kernels/backend.js";
import { referenceKernels } from "../kernels/reference/backend.js";

export const BACKENDS = ["reference", "wasm"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Loads the kernels of a backend by name. "wasm" picks the SIMD build when the engine supports SIMD and
 * the scalar build otherwise; it throws KernelsNotBuiltError (exit 2) when build/*.wasm is missing.
 */
export async function loadBackend(name: BackendName): Promise<LayerKernels> {
  switch (name) {
    case "reference":
      return referenceKernels;
    case "wasm": {
      const { loadWasmKernels } = await import("../kernels/wasm/backend.js");
      return loadWasmKernels({ flavor: "auto" });
    }
  }
}
