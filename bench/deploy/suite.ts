// One case of the edge speed bench (bench/deploy/browser.ts), the same code in Node and in a Chromium page:
// a model at one batch size through the shipped runtime (nipq-runtime.mjs: scalar, SIMD, relaxed SIMD, and a
// 2-worker pool) and through the two peers, onnxruntime-web int8 (the `nipq export-onnx` graph, wasm, 1 thread)
// and @tensorflow/tfjs-backend-wasm fp32 (XNNPACK, 1 thread; dequantized weights), timed in alternating
// windows (bench/kernels/timing.ts). Free of Node APIs: the environment hands in the runtime and the peers.

import type { Program } from "../../src/ir/types.js";
import { tfNetwork } from "../kernels/tf-network.js";
import { timeWindows } from "../kernels/timing.js";

type Rt = typeof import("../../src/deploy/runtime.js");
type Ort = typeof import("onnxruntime-web");
type Tf = typeof import("@tensorflow/tfjs");

export interface Env {
  rt: Rt;
  ort: Ort;
  tf: Tf;
}

export interface Case {
  model: string;
  qmodel: Uint8Array;
  onnx: Uint8Array;
  batch: number;
  workers: number;
  minSeconds: number;
  reps: number;
}

/** The rows of the table, in order; a row the runtime cannot run yet is null with the reason. */
export const ROWS = ["nipq scalar", "nipq SIMD", "nipq relaxed SIMD", "nipq SIMD + workers", "nipq relaxed + workers", "onnxruntime-web", "tfjs-wasm"] as const;
export type RowName = (typeof ROWS)[number];

export interface CaseResult {
  model: string;
  batch: number;
  workers: number;
  /** Images/s per row, or why there is none. */
  imagesPerSecond: Record<RowName, number | string>;
  /** nipq's rows gave the same int16 logits (all of them, pool included). */
  nipqRowsAgree: boolean;
  /** Share of the images where onnxruntime-web's argmax is nipq's (it runs the same integer network). */
  ortAgrees: number;
}

/** n pseudo-random images of `per` bytes (a third of the pixels 0); any bytes will do. */
export function benchImages(n: number, per: number): Uint8Array {
  let s = 12345;
  return Uint8Array.from({ length: n * per }, (_, i) => (i % 3 === 0 ? 0 : (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24));
}

function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number): number {
  let same = 0;
  for (let r = 0; r < n; r++) {
    let ia = 0;
    let ib = 0;
    for (let j = 1; j < k; j++) {
      if (a[r * k + j] > a[r * k + ia]) ia = j;
      if (b[r * k + j] > b[r * k + ib]) ib = j;
    }
    if (ia === ib) same++;
  }
  return same / n;
}

/** The relaxed-SIMD rows run where this engine computes relaxed SIMD right (the runtime's own probe), else say n/a. */
function relaxedOption(rt: Rt): { flavor: "relaxed" } | null {
  return rt.detectFlavor() === "relaxed" ? { flavor: "relaxed" } : null;
}

export async function runCase({ rt, ort, tf }: Env, c: Case): Promise<CaseResult> {
  const program: Program = rt.decodeQModel(c.qmodel, c.model);
  const shape = program.layers[0].out.shape;
  const per = shape[0] * shape[1] * shape[2];
  const n = c.batch;
  const x = benchImages(n, per);
  const relaxed = relaxedOption(rt);
  const na = "n/a (relaxed SIMD not on this engine)";
  const models = {
    "nipq scalar": await rt.loadModel(c.qmodel, { flavor: "scalar" }),
    "nipq SIMD": await rt.loadModel(c.qmodel, { flavor: "simd" }),
    "nipq relaxed SIMD": relaxed ? await rt.loadModel(c.qmodel, relaxed) : null,
  };
  const pools = {
    "nipq SIMD + workers": await rt.createPool(c.qmodel, { workers: c.workers, flavor: "simd" }),
    "nipq relaxed + workers": relaxed ? await rt.createPool(c.qmodel, { workers: c.workers, ...relaxed }) : null,
  };
  try {
    const session = await ort.InferenceSession.create(c.onnx, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const xo = new ort.Tensor("uint8", x, [n, ...shape]);
    const fwd = tfNetwork(tf, program, n, x);
    const calls: Partial<Record<RowName, () => unknown>> = {
      "onnxruntime-web": () => session.run({ pixels: xo }),
      "tfjs-wasm": () => {
        const y = fwd();
        y.dataSync();
        y.dispose();
      },
    };
    for (const [k, m] of Object.entries(models)) if (m) calls[k as RowName] = () => m.predict(x);
    for (const [k, p] of Object.entries(pools)) if (p) calls[k as RowName] = () => p.run(x);
    // Same logits from every nipq row, pool included; onnxruntime-web's argmax against nipq's.
    const ref = models["nipq SIMD"].predict(x).logits;
    const outs = [...Object.values(models).map((m) => m?.predict(x).logits), ...(await Promise.all(Object.values(pools).map(async (p) => (await p?.run(x))?.logits)))];
    const nipqRowsAgree = outs.every((o) => !o || (o.length === ref.length && o.every((v, i) => v === ref[i])));
    const y = (await session.run({ pixels: xo }))[session.outputNames[0]].data as ArrayLike<number>;
    const classes = ref.length / n;
    const names = ROWS.filter((r) => calls[r]);
    const t = await timeWindows(names.map((r) => calls[r]!), c.minSeconds, c.reps);
    const imagesPerSecond = Object.fromEntries(ROWS.map((r) => [r, calls[r] ? n / t[names.indexOf(r)] : na])) as Record<RowName, number | string>;
    return { model: c.model, batch: n, workers: c.workers, imagesPerSecond, nipqRowsAgree, ortAgrees: argmaxAgreement(ref, y, n, classes) };
  } finally {
    await Promise.all(Object.values(pools).map((p) => p?.close()));
  }
}
