// GEMM benchmark: (M, K, N) shapes of cnn-s-like layers, nipq-hw int8 and 4-bit weights (the WASM SIMD
// kernel gemm_s16_8c2_requant, requant included) against tfjs-backend-wasm fp32 matMul (XNNPACK),
// onnxruntime-web int8 MatMulInteger (wasm, 1 thread), and the register-resident peak of
// i32x4.dot_i16x8_s measured here. GMAC/s = M·K·N / time (no credit for padding). Single-threaded.
//
//   npx tsx bench/kernels/gemm.ts [--json] [--quick]

import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { mulberry32 } from "../../src/rng.js";
import { containerFor, gemmHost, type WeightContainer } from "../../src/kernels/wasm/prepare.js";
import { DT, machine, modelBytes, node, ortWeb, tensor, tfWasm, timeInterleaved, timeIt, timeItAsync, valueInfo } from "./common.js";

export const SHAPES: [number, number, number][] = [
  [1, 1152, 128],
  [64, 576, 64],
  [196, 288, 64],
  [784, 9, 32],
  [3136, 288, 64],
  [1, 1024, 1000],
];

const quick = process.argv.includes("--quick");
const MIN_S = quick ? 0.1 : 0.3;

const rand = mulberry32;

/** Register-resident peak of i32x4.dot_i16x8_s + i32x4.add (8 MACs per dot), GMAC/s: the faster of 8 and 12 chains. */
export function dotPeak(e: WasmEngine): number {
  const iters = 1_000_000;
  return Math.max(...[8, 12].map((chains) => (iters * chains * 8) / timeIt(() => e.k.dot_i16x8_peak(iters, 3, chains), MIN_S) / 1e9));
}

/** The simulator build's accumulate-only GEMM (assembly/sim.ts; an engine made with `sim: true`). */
interface SimGemm {
  gemm_s16_8c2_acc(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, y: number, ldy: number): void;
}

/**
 * A nipq-hw GEMM call for one shape and weight bit-width (container chosen as the backend does, or
 * given), with its operands in linear memory. Returns the call and the resident weight bytes. With `raw`
 * (an engine of the simulator build): the accumulate-only gemm_s16_8c2_acc instead, i32 out.
 */
export function nipqGemm(e: WasmEngine, M: number, K: number, N: number, wBits: number, container?: WeightContainer, raw = false): { call: () => void; resident: number } {
  const r = rand(M * 7 + K * 13 + N);
  const wmax = 2 ** (wBits - 1) - 1;
  const W = Int8Array.from({ length: N * K }, () => Math.round((r() * 2 - 1) * wmax));
  const c: WeightContainer = container ?? containerFor(wBits);
  // Requant as a real layer has it: per-channel m (odd, as lowering's 31-bit multipliers mostly are: m = 2^30 would
  // make exact ties possible, which the f64 requant refuses), s (here one shift; the SIMD shared-shift form applies).
  const accBits = 1 + Math.ceil(Math.log2(K * 255 * wmax + 1)) + 1;
  const mult = Int32Array.from({ length: N }, (_, n) => 2 ** 30 + 19088743 + 1954 * n);
  const h = gemmHost(N, K, W, new Int32Array(N), mult, new Int32Array(N).fill(40), c, accBits);
  const a = e.arena;
  const before = e.weightBytes;
  // With the layer's accumulator bound, zero point and clamp, as a real layer's prepare passes them: the forms
  // requant_fit chooses by them (the raised shift FIXED_S, the f64 requant of session 30) apply here too.
  const B = K * 255 * wmax;
  const { w, bias, m, s, pw, ps } = e.gemmDev(h, "w", { acc: { min: -B, max: B, bits: accBits }, zy: 0, clamp: { lo: -128, hi: 127 } });
  const resident = e.weightBytes - before;
  const x = a.putI16(Int16Array.from({ length: M * h.Kp }, (_, i) => (i % h.Kp < K ? Math.floor(r() * 256) : 0)), "x");
  const y = a.alloc(M * N * (raw ? 4 : 2), "y");
  const acc = a.alloc(192, "acc");
  const tile = a.alloc(h.Kp * 16, "tile");
  if (raw) {
    const k = e.k as unknown as SimGemm;
    return { call: () => k.gemm_s16_8c2_acc(x, h.Kp, M, h.Kp, w, c, acc, tile, N, bias, y, N), resident };
  }
  return { call: () => e.k.gemm_s16_8c2_requant(x, h.Kp, M, h.Kp, w, c, acc, tile, N, bias, m, s, pw, ps, 0, -128, 127, y, N), resident };
}

async function tfGemm(M: number, K: number, N: number): Promise<number> {
  const tf = await tfWasm();
  const r = rand(1);
  const a = tf.tensor2d(Float32Array.from({ length: M * K }, () => r()), [M, K]);
  const b = tf.tensor2d(Float32Array.from({ length: K * N }, () => r() - 0.5), [K, N]);
  const t = timeIt(() => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  }, MIN_S);
  a.dispose();
  b.dispose();
  return t;
}

async function ortGemm(M: number, K: number, N: number): Promise<number> {
  const ort = await ortWeb();
  const r = rand(2);
  const B = Int8Array.from({ length: K * N }, () => Math.round((r() * 2 - 1) * 127));
  const bytes = modelBytes({
    nodes: [node("MatMulInteger", ["A", "B"], ["Y"])],
    inputs: [valueInfo("A", DT.UINT8, [M, K])],
    outputs: [valueInfo("Y", DT.INT32, [M, N])],
    initializers: [tensor("B", DT.INT8, [K, N], B)],
  });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const A = new ort.Tensor("uint8", Uint8Array.from({ length: M * K }, () => Math.floor(r() * 256)), [M, K]);
  const t = await timeItAsync(() => session.run({ A }), MIN_S);
  await session.release();
  return t;
}

export interface GemmRow {
  M: number; K: number; N: number;
  nipqInt8: number; nipq4: number; tfjsFp32: number; ortInt8: number;
  /** int8 weights in the 1-byte container (the default, WeightPolicy.wide = 8); nipqInt8 is the i16 container. */
  nipqInt8c8: number;
  peak: number;
  /** Resident weight bytes as the kernel reads them (int8 as i16 panels; 4-bit packed nibbles). */
  residentInt8: number; resident4: number;
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const e = new WasmEngine({ flavor: "simd" });
  let peak = dotPeak(e);
  const rows: GemmRow[] = [];
  const g = (M: number, K: number, N: number, t: number) => (M * K * N) / t / 1e9;
  for (const [M, K, N] of SHAPES) {
    peak = Math.max(peak, dotPeak(e)); // re-measured beside every shape: the best seen is the roofline
    // The three nipq variants in alternating windows (their ratios are the point), then the peers.
    const mark = e.arena.mark();
    const v = [nipqGemm(e, M, K, N, 8, 16), nipqGemm(e, M, K, N, 4), nipqGemm(e, M, K, N, 8, 8)];
    const [t8, t4, t8c8] = timeInterleaved(v.map((x) => x.call), quick ? 0.08 : 0.15);
    e.arena.release(mark);
    const row: GemmRow = {
      M, K, N, peak,
      nipqInt8: g(M, K, N, t8),
      nipq4: g(M, K, N, t4),
      nipqInt8c8: g(M, K, N, t8c8),
      residentInt8: v[0].resident, resident4: v[1].resident,
      tfjsFp32: g(M, K, N, await tfGemm(M, K, N)),
      ortInt8: g(M, K, N, await ortGemm(M, K, N)),
    };
    rows.push(row);
    if (!json)
      console.log(
        `(${M}, ${K}, ${N})`.padEnd(16) +
          ` nipq int8 (i16 panels) ${row.nipqInt8.toFixed(2)} GMAC/s (${((100 * row.nipqInt8) / peak).toFixed(0)}% of peak)` +
          `  4-bit ${row.nipq4.toFixed(2)} (${(row.nipq4 / row.nipqInt8).toFixed(2)}× int8)` +
          `  int8 in 1-byte container (default) ${row.nipqInt8c8.toFixed(2)} (${(row.nipqInt8c8 / row.nipqInt8).toFixed(2)}×)` +
          `  tfjs fp32 ${row.tfjsFp32.toFixed(2)} (${(row.nipqInt8 / row.tfjsFp32).toFixed(2)}×)` +
          `  ort int8 ${row.ortInt8.toFixed(2)} (${(row.nipqInt8 / row.ortInt8).toFixed(2)}×)` +
          `  resident weights ${row.residentInt8} B (int8 as i16) / ${row.resident4} B (4-bit)`,
      );
  }
  for (const r of rows) r.peak = peak;
  const doc = { machine: machine(), peakGmacs: peak, rows };
  if (json) console.log(JSON.stringify(doc, null, 2));
  else console.log(`register-resident dot_i16x8_s peak ${peak.toFixed(2)} GMAC/s; ${doc.machine}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
