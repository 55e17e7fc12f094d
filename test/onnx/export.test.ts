// `nipq export-onnx`: the exported graph in onnxruntime-node agrees with nipq-hw's integer program — the shipped
// models on the digits, random programs through every op (signed and unsigned 2..8-bit activations, grouped,
// depthwise and strided convs, pools, residual adds, flatten), `nipq init` resnet20 and mobilenetv2 ×0.35 —
// with ≥ 99% of predictions equal and ≥ 99% of logits within 1 LSB (the bar; QLinearConv requantizes in
// float, docs/ONNX.md). The exact fraction is printed. The --exact graph equals nipq-hw bit for bit, every
// layer. And the CLI contract.

import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { loadDataset } from "../../src/data/index.js";
import { interpretLayers, runProgram } from "../../src/exec/interpret.js";
import { initProgram } from "../../src/init/index.js";
import { readQModel } from "../../src/ir/io.js";
import { format2Uses } from "../../src/ir/features.js";
import { resolvePads, type Program } from "../../src/ir/types.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { exportOnnx, type OnnxExportOptions } from "../../src/onnx/export.js";
import { selectBackend } from "../../src/train/backend.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "nipq-onnx-"));

interface Agreement {
  predictions: number;
  within1: number;
  exact: number;
}

async function ortRun(p: Program, images: Uint8Array, n: number, opts: OnnxExportOptions = {}) {
  const e = exportOnnx(p, opts);
  const session = await ort.InferenceSession.create(e.bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  return { e, r: await session.run({ [e.input]: new ort.Tensor("uint8", images, [n, ...e.inputShape]) }) };
}

/** Runs the export in onnxruntime-node and compares with nipq-hw's logits (reference or WASM kernels, which are bit-exact with each other). */
async function agreement(p: Program, images: Uint8Array, n: number, kernels = referenceKernels): Promise<Agreement> {
  const { e, r } = await ortRun(p, images, n);
  const out = r[e.output];
  expect(out.dims).toEqual([n, e.classes]);
  const got = out.data as Float32Array;
  const ref = runProgram(p, kernels, images, n);
  let within1 = 0, exact = 0, predictions = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(Math.round(got[i] / e.logitScale) - ref.logits[i]);
    if (d <= 1) within1++;
    if (d === 0) exact++;
  }
  for (let b = 0; b < n; b++) {
    let best = 0;
    for (let k = 1; k < e.classes; k++) if (got[b * e.classes + k] > got[b * e.classes + best]) best = k;
    if (best === ref.predictions[b]) predictions++;
  }
  return { predictions: predictions / n, within1: within1 / got.length, exact: exact / got.length };
}

function expectAgreement(what: string, a: Agreement): void {
  console.log(`${what}: predictions ${(100 * a.predictions).toFixed(1)}%, logits within 1 LSB ${(100 * a.within1).toFixed(2)}%, exact ${(100 * a.exact).toFixed(2)}%`);
  expect(a.predictions, `${what}: prediction agreement`).toBeGreaterThanOrEqual(0.99);
  expect(a.within1, `${what}: logits within 1 LSB`).toBeGreaterThanOrEqual(0.99);
}

describe("export-onnx in onnxruntime-node agrees with nipq-hw", () => {
  it("the shipped models on 200 test digits", async () => {
    const ds = loadDataset("mnist", "test");
    const n = 200;
    const images = ds.images.subarray(0, n * 784);
    for (const f of ["models/cnn-s-mnist-nipq-mp.qmodel", "models/cnn-s-fashion-nipq-mp.qmodel"]) expectAgreement(f, await agreement(readQModel(f), images, n, loadWasmKernels()));
  });

  it("random programs through every op (24 seeds, 16 images each)", async () => {
    let worst = 1;
    for (let seed = 1; seed <= 24; seed++) {
      const p = randomProgram(seed);
      const a = await agreement(p, randomImages(p, 16, seed), 16);
      worst = Math.min(worst, a.within1);
      expectAgreement(`random program ${seed}`, a);
    }
    console.log(`random programs: worst within-1-LSB fraction ${worst}`);
  });

  const inits: [string, Parameters<typeof initProgram>[0]][] = [
    ["nipq init resnet20 W4A4 32×32×3", { arch: "resnet20", bits: { w: 4, a: 4 }, seed: 3 }],
    ["nipq init mobilenetv2 ×0.35 W4A4 96×96×3", { arch: "mobilenetv2", bits: { w: 4, a: 4 }, width: 0.35, input: [96, 96, 3], classes: 100, seed: 5 }],
  ];
  for (const [what, cfg] of inits)
    it(what, async () => {
      await selectBackend("auto");
      const p = initProgram(cfg);
      expectAgreement(what, await agreement(p, randomImages(p, 8, 7), 8, loadWasmKernels()));
    });

  it("nipq init resnet20 W8A8: predictions agree; a float-requant flip propagates (measured, docs/ONNX.md)", async () => {
    await selectBackend("auto");
    const p = initProgram({ arch: "resnet20", bits: { w: 8, a: 8 }, seed: 4 });
    const a = await agreement(p, randomImages(p, 8, 7), 8, loadWasmKernels());
    console.log(`resnet20 W8A8 (QLinearConv): predictions ${(100 * a.predictions).toFixed(1)}%, logits within 1 LSB ${(100 * a.within1).toFixed(2)}%, exact ${(100 * a.exact).toFixed(2)}%`);
    expect(a.predictions).toBeGreaterThanOrEqual(0.99);
  });
});

describe("export-onnx --exact: bit for bit", () => {
  it("every layer of random programs (12 seeds) and the logits of resnet20 W8A8 and mobilenetv2 ×0.35 W8A8", async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const p = randomProgram(seed);
      const n = 4;
      const images = randomImages(p, n, seed);
      const { e, r } = await ortRun(p, images, n, { exact: true, taps: true });
      const ref = interpretLayers(p, referenceKernels, images, n, true);
      const taps = Object.keys(r).filter((k) => k !== e.output);
      expect(taps.length).toBe(p.layers.length - 2);
      for (let i = 1; i < p.layers.length - 1; i++) {
        const spec = p.layers[i].out;
        const got = Int32Array.from(r[taps[i - 1]].data as Uint8Array, (v) => v - (spec.signed ? 128 : 0));
        expect(got, `program ${seed}, layer ${i} (${p.layers[i].op})`).toEqual(spec.shape.length === 3 ? toNchw(ref[i].data, n, spec.shape) : ref[i].data);
      }
      expect(Int32Array.from(r[e.output].data as Float32Array, (v) => Math.round(v / e.logitScale))).toEqual(ref[ref.length - 1].data);
    }
    await selectBackend("auto");
    for (const cfg of [
      { arch: "resnet20", bits: { w: 8, a: 8 }, seed: 4 },
      { arch: "mobilenetv2", bits: { w: 8, a: 8 }, width: 0.35, input: [64, 64, 3] as [number, number, number], classes: 10, seed: 6 },
    ]) {
      const p = initProgram(cfg);
      const images = randomImages(p, 4, 9);
      const { e, r } = await ortRun(p, images, 4, { exact: true });
      expect(Int32Array.from(r[e.output].data as Float32Array, (v) => Math.round(v / e.logitScale)), cfg.arch).toEqual(Int32Array.from(runProgram(p, loadWasmKernels(), images, 4).logits));
    }
  });
});

function toNchw(x: ArrayLike<number>, n: number, [H, W, C]: number[]): Int32Array {
  const y = new Int32Array(n * H * W * C);
  for (let b = 0; b < n; b++) for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[(b * C + c) * H * W + p] = x[(b * H * W + p) * C + c];
  return y;
}

describe("nipq export-onnx: the CLI contract", () => {
  it("--help explains the input and the output", () => {
    const r = nipq(["export-onnx", "--help"]);
    expect(r.code).toBe(0);
    for (const s of ["--out", "--exact", "--json", "uint8 [N, H, W, C]", "float32 [N, classes]"]) expect(r.stdout).toContain(s);
  });

  it("--json: one document; the file is the model onnxruntime loads", async () => {
    const out = join(dir, "m.onnx");
    const r = nipq(["export-onnx", "models/cnn-s-mnist-nipq-mp.qmodel", "--out", out, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ out, exact: false, opset: 13, input: { name: "pixels", dtype: "uint8", shape: ["N", 28, 28, 1] }, output: { name: "logits", dtype: "float32", shape: ["N", 10] } });
    const bytes = readFileSync(out);
    expect(doc.bytes).toBe(bytes.length);
    const s = await ort.InferenceSession.create(bytes);
    expect(s.inputNames).toEqual(["pixels"]);
    expect(s.outputNames).toEqual(["logits"]);
  });

  it("bad input: one line, exit 2, nothing written, the input untouched", () => {
    const out = join(dir, "bad.onnx");
    expectInputError(nipq(["export-onnx", join(dir, "missing.qmodel"), "--out", out]), /missing\.qmodel/);
    const corrupt = join(dir, "corrupt.qmodel");
    writeFileSync(corrupt, "not a qmodel");
    expectInputError(nipq(["export-onnx", corrupt, "--out", out]), /corrupt\.qmodel/);
    expect(readFileSync(corrupt, "utf8")).toBe("not a qmodel");
    expectInputError(nipq(["export-onnx", "models/cnn-s-mnist-nipq-mp.qmodel", "--out", join(dir, "no-such-dir", "m.onnx")]), /no-such-dir/);
    expectInputError(nipq(["export-onnx", "models/cnn-s-mnist-nipq-mp.qmodel"]), /--out/);
    expect(existsSync(out)).toBe(false);
  });

  it("an imported program with zero points or an input table is refused by field, not exported wrong; explicit pads export", async () => {
    const q = join(dir, "imported.qmodel");
    expect(nipq(["import", "test/fixtures/onnx/mnist-qdq-ptq.onnx", "--out", q]).code).toBe(0);
    const out = join(dir, "imported.onnx");
    expectInputError(nipq(["export-onnx", q, "--out", out]), /^nipq: [^ ]*imported\.qmodel: layers\[0\]\.lut: export-onnx does not express an input lookup table yet/);
    expect(existsSync(out)).toBe(false);
    // Explicit pads alone are ONNX's own: random programs with every `same` window written as its explicit
    // (often asymmetric) pads export and agree like any other.
    let padded = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const p = randomProgram(seed);
      const layers = p.layers.map((l) => ((l.op === "conv2d" || l.op === "maxpool" || l.op === "avgpool") && l.padding === "same" ? { ...l, padding: resolvePads(p.layers[l.inputs[0]].out.shape[0], p.layers[l.inputs[0]].out.shape[1], l.kernel, l.stride, l.padding) } : l));
      const q: Program = { ...p, layers };
      if (format2Uses(q).length === 0) continue;
      padded++;
      expectAgreement(`random program ${seed}, explicit pads`, await agreement(q, randomImages(q, 16, seed), 16));
    }
    expect(padded).toBeGreaterThan(3);
  });

  it("a program whose logits do not come from a dense layer is refused, naming the file and the layer", () => {
    const p = randomProgram(3);
    const last = p.layers[p.layers.length - 1];
    const bad: Program = { ...p, layers: [...p.layers.slice(0, -1), { op: "flatten", name: "odd", inputs: last.inputs, out: last.out }] };
    expect(() => exportOnnx(bad)).toThrow(/layer \d+ \(odd\): the logits layer must be dense for export-onnx, found flatten/);
    // Through the CLI the message names the file, not the program's name.
    expect(() => exportOnnx(bad, { source: "odd.qmodel" })).toThrow(/^odd\.qmodel: layer \d+ \(odd\): the logits layer must be dense/);
  });
});
