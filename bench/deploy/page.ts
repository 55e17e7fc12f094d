// The browser bench page's script (bundled by bench/deploy/browser.ts): loads the bundle's runtime,
// onnxruntime-web (ort.wasm.min.mjs, 1 thread: the page is not cross-origin isolated) and tfjs with its wasm
// backend (global `tf` from tf.min.js + tf-backend-wasm.min.js), then runs the cases it is given.

import { runCase, type Case, type CaseResult } from "./suite.js";

declare const tf: typeof import("@tensorflow/tfjs") & { wasm: { setWasmPaths(prefix: string): void } };

type PageCase = Omit<Case, "qmodel" | "onnx"> & { qmodelUrl: string; onnxUrl: string };

const here = (p: string) => new URL(p, location.href).href;
const bytes = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());

(window as unknown as { benchCase: (c: PageCase) => Promise<CaseResult> }).benchCase = async (c) => {
  const rt = (await import(here("./nipq-runtime.mjs"))) as typeof import("../../src/deploy/runtime.js");
  const ort = (await import(here("./ort/ort.wasm.min.mjs"))) as typeof import("onnxruntime-web");
  ort.env.wasm.wasmPaths = here("./ort/");
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  tf.wasm.setWasmPaths(here("./tfjs/"));
  if (tf.getBackend() !== "wasm") await tf.setBackend("wasm");
  await tf.ready();
  const [qmodel, onnx] = await Promise.all([bytes(c.qmodelUrl), bytes(c.onnxUrl)]);
  return runCase({ rt, ort, tf }, { ...c, qmodel, onnx });
};
