// Backend choice for training (DESIGN.md §7): @tensorflow/tfjs-node when it loads (it is an
// optionalDependency whose install downloads libtensorflow and fails offline), else
// @tensorflow/tfjs-backend-wasm with the gradient kernels it lacks registered from kernels it has
// (./wasm-grad-kernels.ts), else the pure-JS CPU backend (~100× slower for conv training).

import * as tf from "@tensorflow/tfjs";
import { UsageError } from "../errors.js";
import { registerWasmGradientKernels } from "./wasm-grad-kernels.js";
import { BACKEND_CHOICES, type BackendChoice } from "./choices.js";

export { BACKEND_CHOICES, type BackendChoice };

let wasmLoaded = false;

async function tryTensorflow(): Promise<boolean> {
  try {
    // Not a static dependency: the optional package is usually absent here.
    const name = "@tensorflow/tfjs-node";
    await import(name);
    return await tf.setBackend("tensorflow");
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    if (!wasmLoaded) {
      await import("@tensorflow/tfjs-backend-wasm"); // registers the "wasm" backend and its kernels
      registerWasmGradientKernels(); // after the import, so ours replace the backend's slow ones
      wasmLoaded = true;
    }
    return await tf.setBackend("wasm");
  } catch {
    return false;
  }
}

/**
 * tfjs's CPU backend prints a one-time banner on its first tensor: "install our node backend". Here that
 * advice does not apply (tfjs-node cannot install without general internet, DESIGN.md §7) and the backend
 * in use is printed by `nipq train` itself, so the banner is marked as already shown. (tfjs offers no
 * switch for this one warning; `enableProdMode` would silence every tfjs warning.)
 */
function quietCpuBanner(): void {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu && "firstUse" in cpu) cpu.firstUse = false;
}

/**
 * Selects and initializes the tfjs backend for training and returns its name ("tensorflow", "wasm" or
 * "cpu"). "auto" takes the first that loads; an explicit choice that fails to load is a UsageError.
 */
export async function selectBackend(choice: string = "auto"): Promise<string> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`--backend: expected one of ${BACKEND_CHOICES.join(", ")}, found ${JSON.stringify(choice)}`);
  }
  quietCpuBanner();
  const order: BackendChoice[] = choice === "auto" ? ["tensorflow", "wasm", "cpu"] : [choice as BackendChoice];
  for (const b of order) {
    const ok = b === "tensorflow" ? await tryTensorflow() : b === "wasm" ? await tryWasm() : await tf.setBackend("cpu");
    if (ok) {
      await tf.ready();
      return tf.getBackend();
    }
  }
  throw new UsageError(`--backend: ${choice} could not be loaded on this machine (try --backend auto)`);
}
