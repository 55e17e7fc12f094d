// The datasets beyond the 28×28 ones, on small synthetic files written to temp dirs: npy:DIR, cifar10:DIR and
// images:DIR (PNG and JPEG), their layout errors, and the check that a dataset fits a model.

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { checkModelFitsData, dataFor, loadDataset } from "../../src/data/index.js";
import { encodeNpy } from "../../src/data/npy.js";
import { DatasetError } from "../../src/errors.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "nipq-data-"));

/** A .npy file (format 1.0) of `descr` with `shape` and raw little-endian bytes. */
const npy = (descr: string, shape: number[], bytes: Uint8Array, fortran = false) => encodeNpy(shape, bytes, descr, fortran);

function int64s(v: number[]): Uint8Array {
  const b = new Uint8Array(8 * v.length);
  v.forEach((x, i) => new DataView(b.buffer).setBigInt64(8 * i, BigInt(x), true));
  return b;
}

function expectDatasetError(f: () => unknown, pattern: RegExp): void {
  let e: unknown;
  try {
    f();
  } catch (err) {
    e = err;
  }
  expect(e, String(pattern)).toBeInstanceOf(DatasetError);
  expect((e as Error).message).toMatch(pattern);
}

describe("npy:DIR", () => {
  it("u8 NHWC images and int64 labels; NHW is one channel", () => {
    const d = tmp();
    const px = Uint8Array.from({ length: 3 * 2 * 4 * 3 }, (_, i) => i);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [3, 2, 4, 3], px));
    writeFileSync(join(d, "y_test.npy"), npy("<i8", [3], int64s([2, 0, 11])));
    const ds = loadDataset(`npy:${d}`, "test");
    expect([ds.n, ds.height, ds.width, ds.channels]).toEqual([3, 2, 4, 3]);
    expect(Array.from(ds.images)).toEqual(Array.from(px));
    expect(Array.from(ds.labels)).toEqual([2, 0, 11]);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [3, 5, 5], new Uint8Array(75)));
    expect(loadDataset(`npy:${d}`, "test").channels).toBe(1);
  });

  it("layout errors name the file and what was found", () => {
    const d = tmp();
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /expected x_test\.npy .*found an empty directory/);
    // The file is named as such whatever the directory is spelled: "/" and "." used to give "_test.npy" and "test.npy".
    for (const dir of ["/", "."]) expectDatasetError(() => loadDataset(`npy:${dir}`, "test"), /^\S+: expected x_test\.npy \(npy:DIR holds/);
    writeFileSync(join(d, "x_test.npy"), npy("<f4", [1, 2, 2], new Uint8Array(16)));
    writeFileSync(join(d, "y_test.npy"), npy("<i8", [1], int64s([0])));
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /x_test\.npy: descr: expected an integer type .*found '<f4'/);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [1, 2, 2], new Uint8Array(4), true));
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /fortran_order: expected False/);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [2, 2, 2], new Uint8Array(8)));
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /y_test\.npy: count: expected 2 labels .*found 1/);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [1, 3, 8, 8], new Uint8Array(192)));
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /shape: expected NHWC \[n, H, W, C\], found \[1, 3, 8, 8\] \(channels first/);
    writeFileSync(join(d, "x_test.npy"), npy("|u1", [1, 2, 2], new Uint8Array(3)));
    expectDatasetError(() => loadDataset(`npy:${d}`, "test"), /data: expected 4 bytes .* found 3 \(truncated\)/);
  });
});

describe("cifar10:DIR", () => {
  it("records of 1 label + R, G, B planes become NHWC images", () => {
    const d = tmp();
    const rec = (label: number, seed: number) => Uint8Array.from({ length: 3073 }, (_, i) => (i === 0 ? label : (i * seed) % 256));
    writeFileSync(join(d, "test_batch.bin"), Buffer.concat([rec(3, 7), rec(9, 11)]));
    const ds = loadDataset(`cifar10:${d}`, "test");
    expect([ds.n, ds.height, ds.width, ds.channels, ds.classes]).toEqual([2, 32, 32, 3, 10]);
    expect(Array.from(ds.labels)).toEqual([3, 9]);
    // Pixel (y 5, x 7) of image 1, channel c is byte 1 + c·1024 + 5·32 + 7 of its record.
    for (let c = 0; c < 3; c++) expect(ds.images[3072 + (5 * 32 + 7) * 3 + c]).toBe(((1 + c * 1024 + 5 * 32 + 7) * 11) % 256);
  });

  it("a wrong size or label is named", () => {
    const d = tmp();
    writeFileSync(join(d, "test_batch.bin"), new Uint8Array(3072));
    expectDatasetError(() => loadDataset(`cifar10:${d}`, "test"), /test_batch\.bin: size: expected a multiple of 3073 bytes .*found 3072/);
    const bad = new Uint8Array(3073);
    bad[0] = 10;
    writeFileSync(join(d, "test_batch.bin"), bad);
    expectDatasetError(() => loadDataset(`cifar10:${d}`, "test"), /record 0: label: expected a class 0\.\.9, found 10/);
    expectDatasetError(() => loadDataset(`cifar10:${d}`, "train"), /expected data_batch_1\.bin/);
  });
});

describe("images:DIR", () => {
  const png = (w: number, h: number, f: (x: number, y: number) => [number, number, number]) => {
    const p = new PNG({ width: w, height: h });
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set([...f(x, y), 255], 4 * (y * w + x));
    return PNG.sync.write(p);
  };
  const dir = () => {
    const d = tmp();
    for (const c of ["cat", "dog"]) mkdirSync(join(d, c));
    writeFileSync(join(d, "cat", "a.png"), png(4, 3, (x, y) => [x * 60, y * 80, 10]));
    writeFileSync(join(d, "cat", "b.png"), png(4, 3, () => [200, 100, 50]));
    const j = jpeg.encode({ width: 4, height: 3, data: Buffer.alloc(48, 128) }, 100);
    writeFileSync(join(d, "dog", "c.jpg"), j.data);
    return d;
  };

  it("a folder per class (sorted), PNG and JPEG, interleaved by class; RGB as is, gray by PIL's luma", () => {
    const d = dir();
    const ds = loadDataset(`images:${d}`, "test", undefined, { shape: { height: 3, width: 4, channels: 3 } });
    expect([ds.n, ds.classes]).toEqual([3, 2]);
    expect(Array.from(ds.labels)).toEqual([0, 1, 0]); // cat/a, dog/c, cat/b
    expect(Array.from(ds.images.subarray(0, 3))).toEqual([0, 0, 10]);
    expect(Array.from(ds.images.subarray((1 * 4 + 2) * 3, (1 * 4 + 2) * 3 + 3))).toEqual([120, 80, 10]);
    const gray = loadDataset(`images:${d}`, "test", undefined, { shape: { height: 3, width: 4, channels: 1 } });
    // (19595·200 + 38470·100 + 7471·50 + 32768) >> 16 = 118 for image b (index 2)
    expect(gray.images[2 * 12]).toBe((19595 * 200 + 38470 * 100 + 7471 * 50 + 32768) >> 16);
  });

  it("another size is refused unless --resize; an empty or flat directory is named", () => {
    const d = dir();
    expectDatasetError(() => loadDataset(`images:${d}`, "test", undefined, { shape: { height: 8, width: 8, channels: 3 } }), /a\.png: image is 3×4, the model expects 8×8 \(resize with --resize\)/);
    expect(loadDataset(`images:${d}`, "test", undefined, { shape: { height: 8, width: 8, channels: 3 }, resize: true }).images.length).toBe(3 * 64 * 3);
    const flat = tmp();
    writeFileSync(join(flat, "x.png"), png(2, 2, () => [0, 0, 0]));
    expectDatasetError(() => loadDataset(`images:${flat}`, "test"), /expected one subfolder per class .*found no subfolders/);
    expectDatasetError(() => loadDataset(`images:${d}`, "train"), /no train\/ folder/);
  });
});

describe("a dataset must fit the model", () => {
  it("shape and class-count mismatches name both", () => {
    const ds = loadDataset("mnist", "test");
    expectDatasetError(() => checkModelFitsData("m.qmodel", [32, 32, 3], ds, 10), /m\.qmodel: input shape 32×32×3 does not match the 28×28×1 images of mnist/);
    expectDatasetError(() => checkModelFitsData("m.qmodel", [28, 28, 1], ds, 5), /m\.qmodel: 5 classes do not cover the 10 of mnist \(labels up to 9\)/);
    expect(dataFor("mnist", { input: [28, 28, 1], classes: 10, name: "m" }, { limit: 7 }).n).toBe(7);
  });

  it("nipq run: exit 2 with both shapes named", () => {
    const r = nipq(["run", "test/fixtures/cnn-s-w4a4-random.qmodel", "--data", "npy:test/fixtures/onnx/synth32", "--backend", "reference"]);
    expectInputError(r, /test\/fixtures\/cnn-s-w4a4-random\.qmodel: input shape 28×28×1 does not match the 32×32×3 images of npy:test\/fixtures\/onnx\/synth32/);
  });
});
