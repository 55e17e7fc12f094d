// The backends `nipq run --backend` can name. Each entry loads its kernels lazily (wasm compiles a module).

import type { LayerKernels } from "./backend.js";
import { referenceKernels } from "../kernels/reference/backend.js";

export const BACKENDS = ["reference"] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Loads the kernels of a backend by name. */
export async function loadBackend(name: BackendName): Promise<LayerKernels> {
  switch (name) {
    case "reference":
      return referenceKernels;
  }
}
