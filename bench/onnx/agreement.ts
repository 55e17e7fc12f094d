// How far the exported ONNX graph's logits are from nipq-hw's on a program of any size (docs/ONNX.md, "Float
// vs dyadic requant"): onnxruntime-node runs `exportOnnx(program)` on N seeded uniform-random images and the
// WASM kernels run the program (bit-exact with the reference kernels); prints the prediction agreement, the
// logits within 1 LSB and exact, the largest difference (and the logits' span), and the first layer whose output differs (with how
// many of its elements). Not a speed benchmark: no clock. test/onnx/export.test.ts asserts the bar on the
// shipped models and random programs; this measures the `nipq init` networks at 224×224.
//   npx tsx bench/onnx/agreement.ts [--exact] [--images N] FILE.qmodel...

import * as ort from "onnxruntime-node";
import { interpretLayers, runProgram } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { exportOnnx } from "../../src/onnx/export.js";
import { randomImages } from "../../test/backends/random-program.js";

const args = process.argv.slice(2);
const exact = args.includes("--exact");
const at = args.indexOf("--images");
const n = at >= 0 ? Number(args[at + 1]) : 4;
const files = args.filter((a, i) => !a.startsWith("--") && !(at >= 0 && i === at + 1));
if (files.length === 0 || !(n >= 1)) throw new Error("usage: npx tsx bench/onnx/agreement.ts [--exact] [--images N] FILE.qmodel...");

/** NHWC → NCHW for one image batch (the export's taps are NCHW). */
function toNchw(x: ArrayLike<number>, b: number, [H, W, C]: number[]): Int32Array {
  const y = new Int32Array(b * H * W * C);
  for (let i = 0; i < b; i++) for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[(i * C + c) * H * W + p] = x[(i * H * W + p) * C + c];
  return y;
}

const kernels = loadWasmKernels();
for (const file of files) {
  const p = readQModel(file);
  const images = randomImages(p, n, 7);
  const e = exportOnnx(p, { exact, taps: true });
  const session = await ort.InferenceSession.create(e.bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const r = await session.run({ [e.input]: new ort.Tensor("uint8", images, [n, ...e.inputShape]) });
  const got = r[e.output].data as Float32Array;
  const ref = runProgram(p, kernels, images, n);
  let within1 = 0, same = 0, predictions = 0, maxDiff = 0, lo = Infinity, hi = -Infinity;
  for (const v of ref.logits) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(Math.round(got[i] / e.logitScale) - ref.logits[i]);
    if (d <= 1) within1++;
    if (d === 0) same++;
    maxDiff = Math.max(maxDiff, d);
  }
  for (let b = 0; b < n; b++) {
    let best = 0;
    for (let k = 1; k < e.classes; k++) if (got[b * e.classes + k] > got[b * e.classes + best]) best = k;
    if (best === ref.predictions[b]) predictions++;
  }
  // The first layer that differs: the export's taps are every layer's output but the input's and the logits'.
  const layers = interpretLayers(p, kernels, images, n, true);
  const taps = Object.keys(r).filter((k) => k !== e.output);
  let first = "none";
  for (let i = 1; i < p.layers.length - 1 && first === "none"; i++) {
    const spec = p.layers[i].out;
    const tap = Int32Array.from(r[taps[i - 1]].data as Uint8Array, (v) => v - (spec.signed ? 128 : 0));
    const want = spec.shape.length === 3 ? toNchw(layers[i].data, n, spec.shape) : layers[i].data;
    let diff = 0;
    for (let k = 0; k < tap.length; k++) if (tap[k] !== want[k]) diff++;
    if (diff) first = `layer ${i} ${p.layers[i].name} (${diff} of ${tap.length} elements)`;
  }
  const pct = (v: number) => `${((100 * v) / got.length).toFixed(2)}%`;
  console.log(`${file} (${p.name}, ${exact ? "--exact" : "QLinearConv"}, ${n} images): predictions ${predictions}/${n}, logits within 1 LSB ${pct(within1)}, exact ${pct(same)}, largest difference ${maxDiff} LSB (nipq-hw's logits span ${lo}..${hi}); first differing layer: ${first}`);
}
