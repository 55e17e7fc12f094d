// The shipped runtime (nipq-runtime.mjs from an exported bundle) imported in Node: zero imports, default
// kernel location next to the module, logits identical to the reference kernels on mnist test images on
// both builds, one-line errors for a corrupt or missing model; and the page's MNIST preprocessing.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.js";
import { mnistPreprocess, softmax } from "../../src/deploy/digits.js";
import { runProgram } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { probeRelaxedDot } from "../../src/kernels/wasm/relaxed.js";
import { writeBundle } from "../../src/deploy/bundle.js";
import { importOnnxFile } from "../../src/import/index.js";
import { formatVersion } from "../../src/ir/features.js";
import { encodeQModel } from "../../src/ir/qmodel.js";
import { importNorm, listFixtures, testImages } from "../../scripts/onnx-fixtures/fixtures.js";
import { exportFixture, FIXTURE } from "./helpers.js";

type Runtime = typeof import("../../src/deploy/runtime.js");

describe("nipq-runtime.mjs in Node", () => {
  let dir: string;
  let rt: Runtime;
  beforeAll(async () => {
    dir = exportFixture(20).dir;
    rt = (await import(pathToFileURL(join(dir, "nipq-runtime.mjs")).href)) as Runtime;
  });

  it("imports nothing: no static import, no require; only the guarded fallback to node:fs and node:worker_threads for Node < 20.16", () => {
    const text = readFileSync(join(dir, "nipq-runtime.mjs"), "utf8");
    expect(text).not.toMatch(/(^|[;\n}])\s*import\s*[\w{*"'`]/);
    expect(text).not.toMatch(/\bfrom\s*["'`]/);
    expect(text).not.toMatch(/\brequire\s*\(/);
    expect(text.match(/\bimport\s*\(/g) ?? []).toHaveLength(1);
  });

  it("gives the reference's int16 logits on 200 mnist test images, SIMD and scalar", async () => {
    const program = readQModel(FIXTURE);
    const d = loadDataset("mnist", "test");
    const n = 200;
    const images = d.images.subarray(0, n * 784);
    const ref = runProgram(program, referenceKernels, images, n);
    for (const flavor of ["simd", "scalar"] as const) {
      // The model as a file: URL; the kernels from their default place next to the module.
      const m = await rt.loadModel(pathToFileURL(join(dir, "model.qmodel")), { flavor, maxBatch: 16 });
      expect(m.flavor).toBe(flavor);
      expect(m.inputShape).toEqual([28, 28, 1]);
      const r = m.predict(images);
      expect(r.n).toBe(n);
      for (let i = 0; i < ref.logits.length; i++) if (r.logits[i] !== ref.logits[i]) throw new Error(`${flavor}: logit ${i} (image ${Math.floor(i / 10)}, class ${i % 10}): runtime ${r.logits[i]}, reference ${ref.logits[i]}`);
      expect(Array.from(r.predictions)).toEqual(Array.from(ref.predictions));
    }
  });

  it("keeps its public names: the bundle shortens only internal property names (src/deploy/build.ts INTERNAL_PROPS)", async () => {
    const m = await rt.loadModel(join(dir, "model.qmodel"), { flavor: "scalar" });
    expect(Object.keys(m).sort()).toEqual(["classes", "flavor", "inputSize", "modelBytes", "program", "runner"]);
    expect([m.name, m.inputSize, m.classes, m.inputShape, m.program.layers.length > 1]).toEqual([m.program.name, 784, 10, [28, 28, 1], true]);
    expect(Object.keys(m.predict(new Uint8Array(784))).sort()).toEqual(["classes", "logits", "n", "predictions"]);
    const bad = new Uint8Array(readFileSync(join(dir, "model.qmodel")));
    bad[0] ^= 1;
    const e = (() => {
      try {
        rt.decodeQModel(bad, "m.qmodel");
      } catch (err) {
        return err as InstanceType<Runtime["QModelFormatError"]>;
      }
    })();
    expect(e).toBeInstanceOf(rt.QModelFormatError);
    expect([e!.file, e!.field, e!.name]).toEqual(["m.qmodel", "magic", "QModelFormatError"]);
    expect(e!.expected).toMatch(/^"NQMD"/);
    expect(e!.found).toMatch(/^bytes /);
  });

  it("loads from bytes and from a plain path, with auto flavor = SIMD on Node 20", async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, "model.qmodel")));
    const wasm = { simd: readFileSync(join(dir, "nipq-simd.wasm")), scalar: join(dir, "nipq-scalar.wasm") };
    const a = await rt.loadModel(bytes, { wasm: { simd: new Uint8Array(wasm.simd), scalar: wasm.scalar } });
    const b = await rt.loadModel(join(dir, "model.qmodel"));
    expect(a.flavor).toBe("simd");
    expect(rt.detectFlavor()).toBe("simd");
    const img = loadDataset("mnist", "test").images.subarray(0, 3 * 784);
    expect(Array.from(a.predict(img).logits)).toEqual(Array.from(b.predict(img).logits));
    expect(a.modelBytes).toBe(bytes.length);
  });

  it("flavor \"relaxed\" where the probe fails is a one-line error; auto takes relaxed only where it passes", async () => {
    const p = probeRelaxedDot(); // this process's engine as started (Node 20: relaxed SIMD not validated)
    const file = join(dir, "model.qmodel");
    if (p.correct) expect((await rt.loadModel(file, { flavor: "relaxed" })).flavor).toBe("relaxed");
    else await expect(rt.loadModel(file, { flavor: "relaxed" })).rejects.toThrow(new RegExp(`^flavor: relaxed SIMD unavailable: ${p.detail.replace(/[().]/g, "\\$&")}$`));
    expect(rt.detectFlavor()).toBe(p.correct ? "relaxed" : "simd");
  });

  it("rejects a corrupt or missing model and a wrong-sized input with one-line NipqInputErrors", async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, "model.qmodel")));
    bytes[bytes.length >> 1] ^= 0xff;
    await expect(rt.loadModel(bytes, { name: "bad.qmodel" })).rejects.toThrow(/^bad\.qmodel: checksum: expected CRC-32/);
    await expect(rt.loadModel(bytes)).rejects.toBeInstanceOf(rt.QModelFormatError);
    await expect(rt.loadModel(join(dir, "nope.qmodel"))).rejects.toThrow(/nope\.qmodel: cannot read: no such file or directory$/);
    await expect(rt.loadModel(join(dir, "model.qmodel"), { wasm: { simd: join(dir, "nope.wasm") } })).rejects.toThrow(/nope\.wasm: cannot read/);
    const m = await rt.loadModel(join(dir, "model.qmodel"));
    expect(() => m.predict(new Uint8Array(100))).toThrow(/expected a Uint8Array of a multiple of 784 bytes .*, found Uint8Array of 100 elements/);
  });
});

describe("imported programs (.qmodel format 2) exported with nipq-runtime.mjs", () => {
  // 28×28×1 QDQ with an input table from mean/std; 32×32×3 QONNX with zero points, explicit pads and avgpool.
  for (const name of ["mnist-qdq-ptq", "synth-qonnx-w4a4"])
    it(`${name}: the bundle is written and its runtime gives the reference's logits on 100 test images, SIMD and scalar`, async () => {
      const f = listFixtures().find((x) => x.name === name)!;
      const program = importOnnxFile(f.onnxPath, { norm: importNorm(f.expected) }).program;
      expect(formatVersion(program)).toBe(2);
      const dir = join(mkdtempSync(join(tmpdir(), "nipq-f2-bundle-")), "bundle");
      writeBundle({ bytes: encodeQModel(program), file: `${name}.qmodel` }, dir, { data: f.expected.dataset, samples: 12 });
      const rt = (await import(pathToFileURL(join(dir, "nipq-runtime.mjs")).href)) as Runtime;
      const img = testImages(f.expected);
      const n = 100;
      const images = img.pixels.subarray(0, n * img.h * img.w * img.c);
      const ref = runProgram(program, referenceKernels, images, n);
      const samples = JSON.parse(readFileSync(join(dir, "samples.json"), "utf8")) as { width: number; height: number; channels: number; labels: number[] };
      expect([samples.height, samples.width, samples.channels, samples.labels.length]).toEqual([img.h, img.w, img.c, 12]);
      for (const flavor of ["simd", "scalar"] as const) {
        const m = await rt.loadModel(pathToFileURL(join(dir, "model.qmodel")), { flavor, maxBatch: 16 });
        expect(m.inputShape).toEqual([img.h, img.w, img.c]);
        const r = m.predict(images);
        expect(Array.from(r.logits), flavor).toEqual(Array.from(ref.logits));
      }
    });
});

describe("MNIST-style preprocessing of a drawing (src/deploy/digits.ts)", () => {
  it("scales the ink's bounding box to fit 20×20 and puts its centre of mass at (14, 14)", () => {
    const W = 280, H = 200;
    const ink = new Uint8Array(W * H);
    // An off-centre L: a 100-tall bar and a 60-wide foot.
    for (let y = 20; y < 120; y++) for (let x = 10; x < 22; x++) ink[y * W + x] = 255;
    for (let y = 108; y < 120; y++) for (let x = 10; x < 70; x++) ink[y * W + x] = 255;
    const out = mnistPreprocess(ink, W, H);
    let x0 = 28, x1 = -1, y0 = 28, y1 = -1, m = 0, mx = 0, my = 0;
    out.forEach((p, i) => {
      if (!p) return;
      const x = i % 28, y = Math.floor(i / 28);
      x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
      m += p, mx += p * (x + 0.5), my += p * (y + 0.5);
    });
    expect(y1 - y0 + 1).toBe(20); // the taller side is 20
    expect(x1 - x0 + 1).toBe(12); // 60/100 · 20, aspect kept
    expect(Math.abs(mx / m - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(my / m - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...out)).toBe(255);
  });

  it("returns zeros for an empty drawing, and is deterministic", () => {
    expect(mnistPreprocess(new Uint8Array(100), 10, 10).every((v) => v === 0)).toBe(true);
    const ink = Uint8Array.from({ length: 64 * 64 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff);
    expect(Array.from(mnistPreprocess(ink, 64, 64))).toEqual(Array.from(mnistPreprocess(ink, 64, 64)));
  });

  it("softmax of int16 logits sums to 1 and peaks at the argmax", () => {
    const p = softmax([100, -300, 700, 0], 0.01);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p.indexOf(Math.max(...p))).toBe(2);
  });
});
