// Speed at real network sizes (issue 16): images/s of resnet20 (32×32×3, batch 8), mobilenetv2 ×1.0 and
// resnet18 (224×224×3, 1000 classes, batch 1), each at W8A8 and W4A4 (`nipq init` programs, cached in
// $NIPQ_BENCH_CACHE or the temp directory), single thread, on
//   - nipq-hw: the WASM SIMD kernels (WasmProgram, as `nipq run --backend wasm --kernels simd`), and the
//     relaxed-SIMD build (`--kernels relaxed`; its GEMM runs the layers with ≤ 7-bit unsigned inputs, so
//     W8A8 networks run as on SIMD but for the checks) where this engine runs it;
//   - onnxruntime-web int8: the `nipq export-onnx` graph (QLinearConv), wasm, 1 thread;
//   - tfjs-backend-wasm fp32 (XNNPACK): the same network in float (dequantized weights, fused conv+bias+ReLU);
//   - onnxruntime-node int8 (native, 1 thread): the same export, the reference.
// The four run in alternating timing windows (bench/kernels/model.ts timeRunners), so the load of the shared
// machine falls on all alike. Then, from nipq-hw's per-layer profile of mobilenetv2: the depthwise layers' MACs/s
// against the dense (groups = 1) convolutions'. Each row also checks that onnxruntime-web computes the network
// nipq-hw does (prediction agreement on the benchmark's images).
//
//   npx tsx bench/kernels/scale.ts [--json] [--quick] [--only resnet20|mobilenetv2|resnet18] [--bits 8/8|4/4]

import * as ortNode from "onnxruntime-node";
import { readQModel } from "../../src/ir/io.js";
import { programStats } from "../../src/ir/stats.js";
import { sizeOf, type Program } from "../../src/ir/types.js";
import { exportOnnx } from "../../src/onnx/export.js";
import { cachedInit, machine, ortWeb, tfWasm } from "./common.js";
import { images, nipqRunner, relaxedUnavailable, timeRunners } from "./model.js";
import { tfNetwork } from "./tf-network.js";


const NETS = [
  { arch: "resnet20", input: [32, 32, 3] as [number, number, number], classes: 10, batch: 8 },
  { arch: "mobilenetv2", input: [224, 224, 3] as [number, number, number], classes: 1000, batch: 1 },
  { arch: "resnet18", input: [224, 224, 3] as [number, number, number], classes: 1000, batch: 1 },
];
const BITS = [
  { w: 8, a: 8 },
  { w: 4, a: 4 },
];

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

/** The `nipq init` program (seed 1), from the cache or made (and cached) now. */
async function program(arch: string, input: [number, number, number], classes: number, bits: { w: number; a: number }): Promise<Program> {
  return readQModel(await cachedInit(`${arch}-${input.join("x")}-${classes}-w${bits.w}a${bits.a}`, { arch, bits, input, classes, seed: 1 }));
}

/** Share of the images on which two logit arrays have the same argmax (lowest index on ties). */
function agreement(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number): number {
  const arg = (x: ArrayLike<number>, r: number) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (x[r * k + j] > x[r * k + best]) best = j;
    return best;
  };
  let same = 0;
  for (let r = 0; r < n; r++) if (arg(a, r) === arg(b, r)) same++;
  return same / n;
}

interface Row {
  net: string;
  bits: string;
  batch: number;
  macs: number;
  imagesPerSecond: { nipq: number; ortWeb: number; tfjsWasm: number; ortNode: number; nipqRelaxed?: number };
  ratios: { vsOrtWeb: number; vsTfjsWasm: number; vsOrtNode: number };
  /** The relaxed-SIMD build against the peers and against the SIMD build (nipq above). */
  relaxedRatios?: { vsOrtWeb: number; vsTfjsWasm: number; vsOrtNode: number; vsSimd: number };
  ortWebAgreesWithNipq: number;
  depthwise?: { depthwiseMacsPerSecond: number; gemmMacsPerSecond: number; ratio: number; depthwiseShareOfTime: number };
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const only = arg("--only");
  const onlyBits = arg("--bits");
  const tf = await tfWasm();
  const ort = await ortWeb();
  const rows: Row[] = [];
  const log = (s: string) => json || console.log(s);
  log(machine());
  const noRelaxed = relaxedUnavailable();
  if (noRelaxed) log(`relaxed SIMD build not measured: ${noRelaxed}`);
  for (const net of NETS.filter((x) => !only || x.arch === only))
    for (const bits of BITS.filter((b) => !onlyBits || `${b.w}/${b.a}` === onlyBits)) {
      const p = await program(net.arch, net.input, net.classes, bits);
      if (tf.getBackend() !== "wasm") await tf.setBackend("wasm"); // making a program may have switched it
      const n = net.batch;
      const per = sizeOf(net.input);
      const x = images(n, per);
      const nq = nipqRunner(p, n);
      const onnx = exportOnnx(p).bytes;
      const web = await ort.InferenceSession.create(onnx, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      const nat = await ortNode.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
      const xWeb = new ort.Tensor("uint8", x, [n, ...net.input]);
      const xNat = new ortNode.Tensor("uint8", x, [n, ...net.input]);
      const tfFwd = tfNetwork(tf, p, n, x);
      const calls = [
        nq.call,
        () => web.run({ pixels: xWeb }),
        () => {
          const y = tfFwd();
          y.dataSync();
          y.dispose();
        },
        () => nat.run({ pixels: xNat }),
        ...(noRelaxed ? [] : [nipqRunner(p, n, "relaxed").call]),
      ];
      // The peer computes the same network: predictions of onnxruntime-web vs nipq-hw on these images.
      const { WasmProgram } = await import("../../src/exec/wasm-program.js");
      const { loadWasmKernels } = await import("../../src/kernels/wasm/backend.js");
      const ref = new WasmProgram(loadWasmKernels().engine, p, n).run(x, n).logits;
      const webLogits = (await web.run({ pixels: xWeb })).logits.data as Float32Array;
      const agrees = agreement(ref, webLogits, n, net.classes);
      const [tn, tw, tt, to, tr] = await timeRunners(calls, process.argv.includes("--quick") ? 3 : 5);
      const ips = { nipq: n / tn, ortWeb: n / tw, tfjsWasm: n / tt, ortNode: n / to, ...(tr ? { nipqRelaxed: n / tr } : {}) };
      const st = programStats(p);
      const row: Row = {
        net: `${net.arch} ${net.input.join("×")}`,
        bits: `W${bits.w}A${bits.a}`,
        batch: n,
        macs: st.totals.macs,
        imagesPerSecond: ips,
        ratios: { vsOrtWeb: ips.nipq / ips.ortWeb, vsTfjsWasm: ips.nipq / ips.tfjsWasm, vsOrtNode: ips.nipq / ips.ortNode },
        ortWebAgreesWithNipq: agrees,
      };
      if (ips.nipqRelaxed) {
        const r = ips.nipqRelaxed;
        row.relaxedRatios = { vsOrtWeb: r / ips.ortWeb, vsTfjsWasm: r / ips.tfjsWasm, vsOrtNode: r / ips.ortNode, vsSimd: r / ips.nipq };
      }
      if (p.layers.some((l) => l.op === "conv2d" && l.groups > 1)) {
        const prof = nq.profile();
        let dwT = 0, dwM = 0, gT = 0, gM = 0;
        p.layers.forEach((l, i) => {
          if (l.op !== "conv2d") return;
          if (l.groups > 1) (dwT += prof[i]), (dwM += st.layers[i].macs);
          else (gT += prof[i]), (gM += st.layers[i].macs);
        });
        const total = prof.reduce((a, b) => a + b, 0);
        const dw = (dwM * n) / (dwT / 1000), gemm = (gM * n) / (gT / 1000);
        row.depthwise = { depthwiseMacsPerSecond: dw, gemmMacsPerSecond: gemm, ratio: dw / gemm, depthwiseShareOfTime: dwT / total };
      }
      rows.push(row);
      const f = (v: number) => v.toFixed(v < 10 ? 2 : 1);
      log(
        `${row.net} ${row.bits} batch ${n} (${(row.macs / 1e6).toFixed(1)} M MACs): nipq-hw ${f(ips.nipq)} images/s; ` +
          `onnxruntime-web int8 ${f(ips.ortWeb)} (nipq ${row.ratios.vsOrtWeb.toFixed(2)}×); tfjs-wasm fp32 ${f(ips.tfjsWasm)} (${row.ratios.vsTfjsWasm.toFixed(2)}×); ` +
          `onnxruntime-node int8 ${f(ips.ortNode)} (${row.ratios.vsOrtNode.toFixed(2)}×); ort-web predictions = nipq on ${(100 * agrees).toFixed(0)}% of ${n}`,
      );
      if (row.relaxedRatios)
        log(
          `  nipq-hw relaxed SIMD ${f(ips.nipqRelaxed!)} images/s: ${row.relaxedRatios.vsSimd.toFixed(2)}× SIMD, ${row.relaxedRatios.vsOrtWeb.toFixed(2)}× onnxruntime-web, ` +
            `${row.relaxedRatios.vsTfjsWasm.toFixed(2)}× tfjs-wasm, ${row.relaxedRatios.vsOrtNode.toFixed(2)}× onnxruntime-node`,
        );
      if (row.depthwise)
        log(
          `  depthwise ${(row.depthwise.depthwiseMacsPerSecond / 1e9).toFixed(2)} GMAC/s vs dense convs ${(row.depthwise.gemmMacsPerSecond / 1e9).toFixed(2)} GMAC/s ` +
            `(${(100 * row.depthwise.ratio).toFixed(0)}%); depthwise layers take ${(100 * row.depthwise.depthwiseShareOfTime).toFixed(0)}% of the time`,
        );
      await web.release();
      await nat.release();
    }
  if (json) console.log(JSON.stringify({ machine: machine(), rows }, null, 2));
  else console.log(machine());
}

await main();
