// Hostile or mismatched inputs that used to crash, hang or print meaningless numbers: a model whose input
// is not the dataset's shape, an empty dataset, a model whose one activation needs gigabytes on the
// reference backend, and edge-runtime options that looped forever or converted floats to bytes silently.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryLimitError } from "../../src/errors.js";
import { checkActivationMemory } from "../../src/exec/interpret.js";
import { crc32 } from "../../src/ir/crc32.js";
import { encodeQModel } from "../../src/ir/qmodel.js";
import type { Layer, Program } from "../../src/ir/types.js";
import { validateProgram } from "../../src/ir/validate.js";
import { randomProgram } from "../backends/random-program.js";
import { exportFixture } from "../deploy/helpers.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "nipq-inputs-"));

/** An IDX u8 file: magic 00 00 08 nd, big-endian dims, data. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, data]);
}

/**
 * 28×28×1 → conv 3×3 to 85,598 channels (28·28·85,598 = 67,108,832 ≤ 2^26 elements) → gap → dense to 10.
 * A 2 MB model whose first activation is 256 MiB per image as int32 on the reference backend.
 */
function wideModel(): Program {
  const C = 85_598;
  const u4 = { bits: 4, signed: false, scale: 0.1 };
  const layers: Layer[] = [
    { op: "input", name: "input", inputs: [], out: { shape: [28, 28, 1], bits: 8, signed: false, scale: 1 / 255 } },
    {
      op: "conv2d", name: "wide", inputs: [0], out: { shape: [28, 28, C], ...u4 }, kernel: [3, 3], stride: [1, 1], padding: "same", groups: 1,
      wBits: 2, weights: new Int8Array(9 * C), wScale: new Float64Array(C).fill(0.01), bias: new Int32Array(C),
      rq: { m: new Int32Array(C).fill(2 ** 30), s: new Int32Array(C).fill(40), lo: 0, hi: 15 },
    },
    { op: "gap", name: "gap", inputs: [1], out: { shape: [C], ...u4 }, rq: { m: Int32Array.of(2 ** 30), s: Int32Array.of(40), lo: 0, hi: 15 } },
    {
      op: "dense", name: "logits", inputs: [2], out: { shape: [10], bits: 16, signed: true, scale: 0.01 }, wBits: 2,
      weights: new Int8Array(10 * C), wScale: new Float64Array(10).fill(0.01), bias: new Int32Array(10),
      rq: { m: new Int32Array(10).fill(2 ** 30), s: new Int32Array(10).fill(40), lo: -32767, hi: 32767 },
    },
  ];
  return { name: "wide", producer: "test/security/inputs.test.ts", layers };
}

describe("the model's input and the dataset are checked against each other up front", () => {
  it("run, simulate, sweep and export: exit 2 naming both shapes", () => {
    const p = randomProgram(3); // input [H, W, C] with H, W in 5..14
    const f = join(tmp(), "small-input.qmodel");
    writeFileSync(f, encodeQModel(p));
    const shape = p.layers[0].out.shape.join("×");
    const why = new RegExp(`small-input\\.qmodel: input shape ${shape} does not match the 28×28×1 images of mnist`);
    expectInputError(nipq(["run", f, "--data", "mnist", "--limit", "3"]), why);
    expectInputError(nipq(["simulate", f, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "3"]), why);
    expectInputError(nipq(["sweep", f, "--hw", "lowbit-npu", "--set", "precision.promote=true", "--data", "mnist", "--limit", "3", "--vary", "noise.weightGaussian.sigma=0:1:2"]), why);
    expectInputError(nipq(["export", f, "--out", join(tmp(), "b")]), why);
    expect(nipq(["export", f, "--out", join(tmp(), "b"), "--samples", "0"]).code).toBe(0); // no images, nothing to check
  });

  it("an empty dataset (0 images) is exit 2, not accuracy NaN%", () => {
    const dir = tmp();
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), idx([0, 28, 28], new Uint8Array(0)));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), idx([0], new Uint8Array(0)));
    expectInputError(nipq(["run", "test/fixtures/cnn-s-w4a4-random.qmodel", "--data", `idx:${dir}`]), /t10k-images-idx3-ubyte: dims\[0\]: expected at least 1 image, found an empty dataset/);
  });
});

describe("the reference backend caps activation memory at 1 GiB, as the WASM engine does", () => {
  const p = wideModel();

  it("a batch whose activations need more fails before anything is allocated, naming the layer", () => {
    validateProgram(p, "wide.qmodel");
    expect(() => checkActivationMemory(p, 1)).not.toThrow(); // 3 MiB in + 2 × 256 MiB
    expect(() => checkActivationMemory(p, 5)).toThrow(MemoryLimitError);
    expect(() => checkActivationMemory(p, 5)).toThrow(/^layers\[1\] "wide": the activations of a batch of 5 need 2560\.0 MiB, over the limit of 1024\.0 MiB \(lower --batch\)$/);
  });

  it("nipq run --backend reference on that model: exit 2, one line (it used to take 4 GB)", () => {
    const f = join(tmp(), "wide.qmodel");
    writeFileSync(f, encodeQModel(p));
    expectInputError(nipq(["run", f, "--data", "mnist", "--backend", "reference", "--limit", "5", "--batch", "5", "--workers", "1"]), /layers\[1\] "wide": the activations of a batch of 5 need 2560\.0 MiB, over the limit of 1024\.0 MiB/);
  });
});

describe("edge runtime options and inputs", () => {
  type Runtime = typeof import("../../src/deploy/runtime.js");
  let rt: Runtime;
  let model: string;
  beforeAll(async () => {
    const dir = exportFixture(0).dir;
    rt = (await import(pathToFileURL(join(dir, "nipq-runtime.mjs")).href)) as Runtime;
    model = join(dir, "model.qmodel");
  });

  it("maxBatch 0, −1, NaN, 1.5, a huge memoryLimit or a stray flavor: the runtime's input error, not a hang", async () => {
    for (const [o, re] of [
      [{ maxBatch: 0 }, /^maxBatch: expected an integer in \[1, 65536\], found 0$/],
      [{ maxBatch: -1 }, /^maxBatch: expected an integer in \[1, 65536\], found -1$/],
      [{ maxBatch: NaN }, /^maxBatch: .* found NaN$/],
      [{ maxBatch: 1.5 }, /^maxBatch: .* found 1\.5$/],
      [{ memoryLimit: 2 ** 40 }, /^memoryLimit: expected an integer in \[1048576, 4294967296\], found 1099511627776$/],
      [{ flavor: "constructor" }, /^flavor: expected "auto", "simd", "scalar" or "relaxed", found "constructor"$/],
    ] as const) {
      await expect(rt.loadModel(model, o as never)).rejects.toBeInstanceOf(rt.NipqInputError);
      await expect(rt.loadModel(model, o as never)).rejects.toThrow(re);
    }
  });

  it("a model whose layer op is an inherited member's name: the runtime's format error, not a TypeError", async () => {
    const bytes = readFileSync(model);
    const L = bytes.readUInt32LE(8);
    for (const k of ["constructor", "toString", "__proto__"]) {
      const header = Buffer.from(bytes.subarray(12, 12 + L).toString("utf8").replace('"op":"maxpool"', `"op":${JSON.stringify(k)}`));
      const out = Buffer.concat([bytes.subarray(0, 12), header, bytes.subarray(12 + L)]);
      out.writeUInt32LE(header.length, 8);
      out.writeUInt32LE(crc32(out, 0, out.length - 4), out.length - 4);
      await expect(rt.loadModel(new Uint8Array(out), { name: "evil.qmodel" })).rejects.toBeInstanceOf(rt.QModelFormatError);
      await expect(rt.loadModel(new Uint8Array(out), { name: "evil.qmodel" })).rejects.toThrow(`evil.qmodel: layers[2].op: expected one of input, flatten, conv2d, dense, maxpool, avgpool, gap, add, found ${JSON.stringify(k)}`);
    }
  });

  it("predict takes u8 pixels only: Float32Array, plain arrays and null are the input error", async () => {
    const m = await rt.loadModel(model, { maxBatch: 1 });
    expect(m.predict(new Uint8Array(784 * 3)).n).toBe(3); // maxBatch 1: three calls
    for (const [x, found] of [
      [new Float32Array(784).fill(300.7), "Float32Array of 784 elements"],
      [Array.from({ length: 784 }, () => 1), "an array of length 784"],
      [null, "null"],
      [new Uint8ClampedArray(784), "Uint8ClampedArray of 784 elements"],
    ] as const) {
      expect(() => m.predict(x as never)).toThrow(rt.NipqInputError);
      expect(() => m.predict(x as never)).toThrow(new RegExp(`^images: expected a Uint8Array of a multiple of 784 bytes \\(28×28×1 u8 per image\\), found ${found}$`));
    }
  });
});
