// Shared benchmark plumbing: timing (median of repetitions, each ≥ a minimum duration), machine load,
// and the peers — @tensorflow/tfjs-backend-wasm (fp32, XNNPACK) and onnxruntime-web (int8, wasm, 1 thread),
// with the ONNX models built here with onnx-proto. Benchmarks, not tests: nothing here asserts a time.

import { existsSync, mkdirSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { InitConfig } from "../../src/init/index.js";
import { readQModel, writeQModel } from "../../src/ir/io.js";
import type { Program } from "../../src/ir/types.js";

const require = createRequire(import.meta.url);

/**
 * Calls fn repeatedly; returns the best (smallest) seconds per call over `reps` windows of ≥ minSeconds
 * each. Best-of rather than median: the CPU is shared with other jobs, and interference only ever adds time.
 */
export function timeIt(fn: () => void, minSeconds = 0.25, reps = 5): number {
  return timeInterleaved([fn], minSeconds, reps)[0];
}

/**
 * Times several functions in alternating windows (A, B, C, A, B, C, …) and returns each one's best
 * seconds per call: load drift then hits all of them alike, so their ratios hold better than with one
 * block of windows after the other.
 */
export function timeInterleaved(fns: (() => void)[], minSeconds = 0.15, reps = 8): number[] {
  for (const f of fns) for (let i = 0; i < 2; i++) f();
  const best = fns.map(() => Infinity);
  for (let r = 0; r < reps; r++)
    fns.forEach((fn, i) => {
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < minSeconds * 1000) {
        fn();
        n++;
        t = performance.now();
      }
      best[i] = Math.min(best[i], (t - t0) / 1000 / n);
    });
  return best;
}

/** Async variant for peers whose run is a promise (onnxruntime-web). */
export async function timeItAsync(fn: () => Promise<unknown>, minSeconds = 0.25, reps = 5): Promise<number> {
  for (let i = 0; i < 2; i++) await fn();
  const per: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < minSeconds * 1000) {
      await fn();
      n++;
      t = performance.now();
    }
    per.push((t - t0) / 1000 / n);
  }
  return Math.min(...per);
}

/**
 * This process's CPU ms (user + system) per call of f over a window of ≥ minMs wall time: on a loaded machine the
 * time other processes hold the core drops out (caches and a shared core still do not). Single-threaded work only.
 */
export function cpuMsPerCall(f: () => void, minMs: number): number {
  const t0 = performance.now();
  const c0 = cpuMs();
  let n = 0;
  do {
    f();
    n++;
  } while (performance.now() - t0 < minMs);
  return (cpuMs() - c0) / n;
}

/** The f-quantile of xs (0 ≤ f ≤ 1; the lower of the two middle values for an even median), xs unchanged. */
export function quantile(xs: number[], f: number): number {
  return [...xs].sort((u, v) => u - v)[Math.floor(f * (xs.length - 1))];
}

/** "median (q1–q3)" of xs with 3 decimals, as the A/B benches print their per-round ratios. */
export function medianQuartiles(xs: number[]): string {
  return `${quantile(xs, 0.5).toFixed(3)} (${quantile(xs, 0.25).toFixed(3)}–${quantile(xs, 0.75).toFixed(3)})`;
}

/** This process's CPU time in ms, user + system (getrusage: exact to the microsecond; the schedstat of a running thread lags by up to a tick). */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One line describing the machine and its load (other engineers share the CPU). */
export function machine(): string {
  const c = cpus();
  return `${c.length}× ${c[0]?.model ?? "cpu"}, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`;
}

/**
 * The file of a `nipq init` program, made (and cached in $NIPQ_BENCH_CACHE, else $TMPDIR/nipq-bench-scale)
 * on first use: the 224×224 calibrations take seconds to minutes on a loaded machine.
 */
export async function cachedInit(name: string, cfg: InitConfig): Promise<string> {
  const dir = process.env.NIPQ_BENCH_CACHE ?? join(tmpdir(), "nipq-bench-scale");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.qmodel`);
  if (!existsSync(file)) {
    // Imported here: tfjs loads only when a program must be made.
    const [{ initProgram }, { selectBackend }] = await Promise.all([import("../../src/init/index.js"), import("../../src/train/backend.js")]);
    await selectBackend("auto");
    writeQModel(file, initProgram(cfg));
  }
  return file;
}

/**
 * The `nipq init` program (seed 1, W and A at `bits`) of the benchmarks' networks: resnet20 at 32×32×3 with 10 classes,
 * mobilenetv2 and resnet18 at 224×224×3 with 1000, cached as bench/kernels/scale.ts's.
 */
export async function netProgram(arch: string, bits: number): Promise<Program> {
  const input: [number, number, number] = arch === "resnet20" ? [32, 32, 3] : [224, 224, 3];
  const classes = arch === "resnet20" ? 10 : 1000;
  return readQModel(await cachedInit(`${arch}-${input.join("x")}-${classes}-w${bits}a${bits}`, { arch, bits: { w: bits, a: bits }, input, classes, seed: 1 }));
}

/** The value after `--name` on the command line, else dflt. */
export function opt(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

// ---- tfjs-backend-wasm (fp32) ----------------------------------------------------------------------

type Tf = typeof import("@tensorflow/tfjs");
let tfReady: Tf | undefined;

/** @tensorflow/tfjs with the wasm backend (XNNPACK), single-threaded. */
export async function tfWasm(): Promise<Tf> {
  if (tfReady) return tfReady;
  const tf = (await import("@tensorflow/tfjs")) as Tf;
  const wasm = (await import("@tensorflow/tfjs-backend-wasm")) as typeof import("@tensorflow/tfjs-backend-wasm");
  wasm.setThreadsCount?.(1);
  const dir = require.resolve("@tensorflow/tfjs-backend-wasm/package.json").replace(/package\.json$/, "dist/");
  wasm.setWasmPaths(dir);
  await tf.setBackend("wasm");
  await tf.ready();
  tfReady = tf;
  return tf;
}

// ---- onnxruntime-web (int8) ------------------------------------------------------------------------

type Ort = typeof import("onnxruntime-web");
let ortReady: Ort | undefined;

/** onnxruntime-web, wasm execution provider, 1 thread, SIMD build. */
export async function ortWeb(): Promise<Ort> {
  if (ortReady) return ortReady;
  const ort = (await import("onnxruntime-web")) as Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  ortReady = ort;
  return ort;
}

// ONNX protobuf via onnx-proto (protobufjs static code). TensorProto.DataType: FLOAT 1, UINT8 2, INT8 3, INT32 6.
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const { onnx } = require("onnx-proto") as { onnx: any };

export function tensor(name: string, dataType: number, dims: number[], raw: ArrayBufferView): unknown {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) });
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]): unknown {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
}

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[] | string> = {}, domain = ""): unknown {
  const attribute = Object.entries(attrs).map(([name, v]) =>
    Array.isArray(v) ? { name, type: 7, ints: v } : typeof v === "string" ? { name, type: 3, s: new TextEncoder().encode(v) } : Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v },
  );
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, attribute, domain });
}

/** Serializes an ONNX model (opset 13 + com.microsoft 1). */
export function modelBytes(g: { nodes: unknown[]; inputs: unknown[]; outputs: unknown[]; initializers: unknown[] }): Uint8Array {
  const graph = onnx.GraphProto.create({ name: "g", node: g.nodes, input: g.inputs, output: g.outputs, initializer: g.initializers });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: "nipq-hw bench", opsetImport: [{ domain: "", version: 13 }, { domain: "com.microsoft", version: 1 }], graph });
  return onnx.ModelProto.encode(model).finish();
}
