// The backends under test. Every op test in this folder runs on each entry against the reference.
// Adding a backend (the simulator, say) is one entry here; no test changes.

import type { LayerKernels } from "../../src/kernels/backend.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { requireRelaxed, simdSupported } from "../../src/kernels/wasm/loader.js";
import { adHocChip } from "../../src/sim/chip/chip.js";
import { loadHwModel } from "../../src/sim/hw/hwmodel.js";
import { simKernels } from "../../src/sim/chip/kernels.js";

export interface BackendUnderTest {
  name: string;
  load(): Promise<LayerKernels>;
  /** Why this backend cannot run here (the suite skips it and says why), or undefined. */
  skip?: () => string | undefined;
  /** Runs .qmodel format 2 (zero points, full-range weights, input tables, explicit pads; issue 15b). */
  format2: boolean;
}

export const BACKENDS_UNDER_TEST: BackendUnderTest[] = [
  { name: "reference", load: async () => referenceKernels, format2: true },
  {
    name: "wasm-simd",
    load: async () => loadWasmKernels({ flavor: "simd" }),
    skip: () => (simdSupported() ? undefined : "this engine does not validate WASM SIMD"),
    format2: true,
  },
  { name: "wasm-scalar", load: async () => loadWasmKernels({ flavor: "scalar" }), format2: true },
  // The relaxed-SIMD build, by the route `--kernels relaxed` takes (on Node 20: V8 flags set in this test
  // process, then the probe; src/kernels/wasm/loader.ts). Its GEMM runs where activations are u7, in both
  // accumulation forms whatever this engine would pick (i32: what Chromium on AVX-VNNI runs; i16: Node's).
  ...(["i16", "i32"] as const).map((form) => ({
    name: `wasm-relaxed-${form}`,
    load: async () => loadWasmKernels({ flavor: "relaxed", relaxedForm: form }),
    skip: () => {
      try {
        requireRelaxed();
        return undefined;
      } catch (e) {
        return `${(e as Error).message}`;
      }
    },
    format2: true,
  })),
  // The simulator on the int8 systolic array: noise off, 32-bit accumulators, spec requant (31-bit m, half-up).
  { name: "sim", load: async () => simKernels(adHocChip(loadHwModel("int8-systolic-16x16").hw)), format2: true },
];
