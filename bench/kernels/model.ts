// Whole-model benchmark: cnn-s (test/fixtures/cnn-s-w4a4-random.qmodel, or any .qmodel of that shape
// family given as argument) at batch 1 and 64, images/s, on nipq-hw's three kernel builds (relaxed SIMD,
// SIMD, scalar; relaxed where this engine runs it, on Node 20 by the flags `--kernels relaxed` sets) against
// the same network on @tensorflow/tfjs-backend-wasm fp32 (dequantized weights), onnxruntime-web int8
// (QLinearConv / MaxPool uint8 / MatMulInteger, wasm, 1 thread; model built here with onnx-proto) and
// onnxruntime-node int8 (native, 1 thread, the same model). Then where nipq-hw's time goes, per layer.
// Peers run the same architecture; they are not bit-exact with nipq-hw (and need not be): the comparison
// is speed. Single-threaded.
//
//   npx tsx bench/kernels/model.ts [FILE.qmodel] [--json] [--quick]

import { readQModel } from "../../src/ir/io.js";
import { sizeOf, type Conv2DLayer, type DenseLayer, type Program } from "../../src/ir/types.js";
import * as ortNode from "onnxruntime-node";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import type { WasmFlavor } from "../../src/kernels/wasm/features.js";
import type { EngineOptions, WasmEngine } from "../../src/kernels/wasm/engine.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";
import { WasmProgram } from "../../src/exec/wasm-program.js";
import { mulberry32 } from "../../src/rng.js";
import { DT, machine, modelBytes, node, ortWeb, tensor, tfWasm, timeIt, valueInfo } from "./common.js";
import { layerProfile, timeWindows } from "./timing.js";

const quick = process.argv.includes("--quick");
const MIN_S = quick ? 0.1 : 0.25;

/** n synthetic images of `per` bytes each (a third of the pixels 0, the rest uniform). */
export function images(n: number, per = 784): Uint8Array {
  const a = new Uint8Array(n * per);
  const u = mulberry32(12345); // any bytes will do
  for (let i = 0; i < a.length; i++) a[i] = i % 3 === 0 ? 0 : Math.floor(u() * 256);
  return a;
}

/** nipq-hw: the whole program in linear memory (WasmProgram): one batch per call; `o`: more engine options (another build's directory, …). */
export function nipqRunner(p: Program, n: number, flavor: WasmFlavor = "simd", o: EngineOptions = {}): { call: () => void; profile: () => Float64Array; resident: number; arena: number; engine: WasmEngine } {
  const k = loadWasmKernels({ ...o, flavor });
  const prog = new WasmProgram(k.engine, p, n);
  const x = images(n, sizeOf(p.layers[0].out.shape));
  const profile = () => layerProfile(k.engine, p.layers, () => prog.run(x, n));
  return { call: () => void prog.run(x, n), profile, resident: k.engine.weightBytes + k.engine.paramBytes, arena: prog.arenaBytes, engine: k.engine };
}

/** nipq-hw alone: seconds per batch, per-layer milliseconds, resident bytes. */
export function nipqModel(p: Program, n: number, flavor: WasmFlavor = "simd"): { t: number; perLayer: Float64Array; resident: number; arena: number } {
  const r = nipqRunner(p, n, flavor);
  const t = timeIt(r.call, MIN_S);
  return { t, perLayer: r.profile(), resident: r.resident, arena: r.arena };
}


const convs = (p: Program) => p.layers.filter((l): l is Conv2DLayer => l.op === "conv2d");
const denses = (p: Program) => p.layers.filter((l): l is DenseLayer => l.op === "dense");

/** tfjs-backend-wasm fp32: conv2d+bias+relu, maxPool, mean, matMul with dequantized weights; one batch per call. */
async function tfRunner(p: Program, n: number): Promise<() => void> {
  const tf = await tfWasm();
  const cs = convs(p).map((l) => {
    const [kh, kw] = l.kernel;
    const outC = l.out.shape[2];
    const inC = l.weights.length / (outC * kh * kw);
    const w = new Float32Array(l.weights.length);
    // [outC][kh][kw][inC] → [kh][kw][inC][outC]
    for (let o = 0; o < outC; o++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < inC; c++)
      w[((y * kw + x) * inC + c) * outC + o] = l.weights[((o * kh + y) * kw + x) * inC + c] * l.wScale[o];
    return { l, w: tf.tensor4d(w, [kh, kw, inC, outC]), b: tf.tensor1d(Float32Array.from(l.bias, (v, o) => v * 1e-3 * l.wScale[o])) };
  });
  const d = denses(p).map((l) => {
    const outN = l.out.shape[0], inN = l.weights.length / outN;
    const w = new Float32Array(inN * outN);
    for (let o = 0; o < outN; o++) for (let i = 0; i < inN; i++) w[i * outN + o] = l.weights[o * inN + i] * l.wScale[o];
    return { w: tf.tensor2d(w, [inN, outN]), b: tf.tensor1d(new Float32Array(outN)) };
  });
  const x = tf.tensor4d(Float32Array.from(images(n), (v) => v / 255), [n, 28, 28, 1]);
  const pools = p.layers.filter((l) => l.op === "maxpool").length;
  const fwd = () =>
    tf.tidy(() => {
      let h = x as import("@tensorflow/tfjs").Tensor4D;
      cs.forEach((c, i) => {
        h = tf.relu(tf.add(tf.conv2d(h, c.w as import("@tensorflow/tfjs").Tensor4D, c.l.stride, c.l.padding as "same" | "valid"), c.b)) as import("@tensorflow/tfjs").Tensor4D;
        if (i < pools) h = tf.maxPool(h, 2, 2, "valid");
      });
      let v = tf.mean(h, [1, 2]) as import("@tensorflow/tfjs").Tensor2D;
      for (const dl of d) v = tf.add(tf.matMul(v, dl.w as import("@tensorflow/tfjs").Tensor2D), dl.b) as import("@tensorflow/tfjs").Tensor2D;
      return v;
    });
  return () => {
    const y = fwd();
    y.dataSync();
    y.dispose();
  };
}

/** Why the relaxed-SIMD build cannot run in this process, or undefined (Node 20: sets the flags it needs). */
export function relaxedUnavailable(): string | undefined {
  try {
    requireRelaxed();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * onnxruntime int8: QLinearConv (u8 x, s8 per-channel w, u8 y), MaxPool u8, GAP in float, MatMulInteger; one
 * batch per call. On onnxruntime-web (wasm, 1 thread) or, with `native`, onnxruntime-node (1 thread).
 */
async function ortRunner(p: Program, n: number, native = false): Promise<() => Promise<unknown>> {
  const ort = native ? (ortNode as unknown as Awaited<ReturnType<typeof ortWeb>>) : await ortWeb();
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  const scalar = (name: string, dt: number, v: number) => {
    inits.push(tensor(name, dt, [], dt === DT.FLOAT ? Float32Array.of(v) : dt === DT.UINT8 ? Uint8Array.of(v) : Int8Array.of(v)));
    return name;
  };
  let cur = "x";
  let curScale = p.layers[0].out.scale;
  const pools = p.layers.filter((l) => l.op === "maxpool").length;
  convs(p).forEach((l, i) => {
    const [kh, kw] = l.kernel;
    const outC = l.out.shape[2];
    const inC = l.weights.length / (outC * kh * kw);
    const w = new Int8Array(l.weights.length); // [outC][kh][kw][inC] → [outC][inC][kh][kw]
    for (let o = 0; o < outC; o++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < inC; c++)
      w[((o * inC + c) * kh + y) * kw + x] = l.weights[((o * kh + y) * kw + x) * inC + c];
    inits.push(tensor(`w${i}`, DT.INT8, [outC, inC, kh, kw], w));
    inits.push(tensor(`ws${i}`, DT.FLOAT, [outC], Float32Array.from(l.wScale)));
    inits.push(tensor(`wz${i}`, DT.INT8, [outC], new Int8Array(outC)));
    inits.push(tensor(`b${i}`, DT.INT32, [outC], l.bias));
    const pad = l.padding === "same" ? [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2), Math.ceil((kh - 1) / 2), Math.ceil((kw - 1) / 2)] : [0, 0, 0, 0];
    nodes.push(node("QLinearConv", [cur, scalar(`xs${i}`, DT.FLOAT, curScale), scalar(`xz${i}`, DT.UINT8, 0), `w${i}`, `ws${i}`, `wz${i}`, scalar(`ys${i}`, DT.FLOAT, l.out.scale), scalar(`yz${i}`, DT.UINT8, 0), `b${i}`], [`c${i}`], { kernel_shape: [kh, kw], strides: l.stride, pads: pad }));
    cur = `c${i}`;
    curScale = l.out.scale;
    if (i < pools) {
      nodes.push(node("MaxPool", [cur], [`p${i}`], { kernel_shape: [2, 2], strides: [2, 2] }));
      cur = `p${i}`;
    }
  });
  nodes.push(node("DequantizeLinear", [cur, scalar("gs", DT.FLOAT, curScale), scalar("gz", DT.UINT8, 0)], ["gf"]));
  nodes.push(node("GlobalAveragePool", ["gf"], ["ga"]));
  nodes.push(node("Flatten", ["ga"], ["gv"]));
  nodes.push(node("QuantizeLinear", ["gv", "gs", "gz"], ["gq"]));
  const dl = denses(p)[0];
  const outN = dl.out.shape[0], inN = dl.weights.length / outN;
  const wd = new Int8Array(inN * outN);
  for (let o = 0; o < outN; o++) for (let i = 0; i < inN; i++) wd[i * outN + o] = dl.weights[o * inN + i];
  inits.push(tensor("wd", DT.INT8, [inN, outN], wd));
  nodes.push(node("MatMulInteger", ["gq", "wd"], ["y"]));
  const bytes = modelBytes({ nodes, inputs: [valueInfo("x", DT.UINT8, ["N", 1, 28, 28])], outputs: [valueInfo("y", DT.INT32, ["N", outN])], initializers: inits });
  const session = native
    ? await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" })
    : await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const x = new ort.Tensor("uint8", images(n), [n, 1, 28, 28]);
  return () => session.run({ x });
}

/** Best seconds per call of each runner, in alternating windows (./timing.ts) of this bench's length. */
export const timeRunners = (calls: (() => unknown)[], reps = 6): Promise<number[]> => timeWindows(calls, MIN_S, reps);

async function main(): Promise<void> {
  const file = process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "test/fixtures/cnn-s-w4a4-random.qmodel";
  const json = process.argv.includes("--json");
  const p = readQModel(file);
  const out: Record<string, unknown>[] = [];
  const noRelaxed = relaxedUnavailable();
  const builds: WasmFlavor[] = noRelaxed ? ["simd", "scalar"] : ["relaxed", "simd", "scalar"];
  if (noRelaxed && !json) console.log(`relaxed SIMD build not measured: ${noRelaxed}`);
  for (const n of [1, 64]) {
    const nq = builds.map((b) => nipqRunner(p, n, b));
    const t = await timeRunners([...nq.map((r) => r.call), await tfRunner(p, n), await ortRunner(p, n), await ortRunner(p, n, true)]);
    const [tf, ort, nat] = t.slice(builds.length).map((v) => n / v);
    const nipq = Object.fromEntries(builds.map((b, i) => [b, n / t[i]]));
    const perLayer = nq.map((r) => Array.from(r.profile()));
    const row = { batch: n, nipq, tfjsFp32: tf, ortInt8: ort, ortNodeInt8: nat, perLayerMs: Object.fromEntries(builds.map((b, i) => [b, perLayer[i]])), residentWeightAndParamBytes: Object.fromEntries(builds.map((b, i) => [b, nq[i].resident])), arenaBytes: nq[0].arena };
    out.push(row);
    if (!json) {
      const x = (v: number) => `${v.toFixed(0)} images/s (${(v / tf).toFixed(2)}× tfjs-wasm fp32, ${(v / ort).toFixed(2)}× onnxruntime-web int8, ${(v / nat).toFixed(2)}× onnxruntime-node int8)`;
      console.log(`batch ${n}: tfjs-wasm fp32 ${tf.toFixed(0)}, onnxruntime-web int8 ${ort.toFixed(0)}, onnxruntime-node int8 ${nat.toFixed(0)} images/s`);
      for (const b of builds) console.log(`  nipq-hw ${b}: ${x(nipq[b])}`);
      if (nipq.relaxed) console.log(`  relaxed ÷ simd ${(nipq.relaxed / nipq.simd).toFixed(2)}×`);
      builds.forEach((b, i) => {
        const total = perLayer[i].reduce((a, v) => a + v, 0);
        console.log(`  where the time goes (${b}): ` + p.layers.map((l, j) => `${j === 0 ? "input→i16" : l.name} ${((100 * perLayer[i][j]) / total).toFixed(0)}%`).join(", "));
      });
    }
  }
  if (json) console.log(JSON.stringify({ machine: machine(), model: file, rows: out }, null, 2));
  else console.log(machine());
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
