// What the blobs of a queued study hold, and how a worker reads them back: the .qmodel bytes (decoded by the
// same validator as a .qmodel file), the point's hw-model as JSON (validated against the same schema as a
// hw-model file) and the dataset as two IDX arrays, images [n, bytes per image] and labels [n] (decoded by
// the same reader as IDX files). Datasets travel as bytes, whatever their name, so a worker needs no
// dataset installed and cannot use a different copy: see docs/DISTRIBUTED.md.

import { decodeIdx, encodeIdx } from "../data/idx.js";
import { DatasetError, UsageError } from "../errors.js";
import { decodeQModel } from "../ir/qmodel.js";
import { sizeOf, type Program } from "../ir/types.js";
import type { SimData } from "../sim/chip/run.js";
import { parseHwJson, validateHwModel, type HwModel } from "../sim/hw/hwmodel.js";

/** The hw-model of one point as bytes (its validated, defaults-filled form). */
export function encodeHw(hw: HwModel): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(hw));
}

/** The dataset's images and labels as IDX bytes. */
export function encodeData(data: SimData): { images: Uint8Array; labels: Uint8Array } {
  const per = data.n ? data.images.length / data.n : 0;
  // Labels travel as u8 IDX: an images:DIR dataset of more than 256 classes (u16 labels) is refused, not truncated.
  let labels: Uint8Array;
  if (data.labels instanceof Uint8Array) labels = data.labels;
  else {
    const top = data.labels.reduce((a, b) => Math.max(a, b), 0);
    if (top > 255) throw new UsageError(`--queue: a dataset's labels travel as bytes; found class ${top}, expected at most 255 (run this dataset without --queue)`);
    labels = Uint8Array.from(data.labels);
  }
  return { images: encodeIdx([data.n, per], data.images), labels: encodeIdx([data.n], labels) };
}

/** A short name for a blob in error messages: what it is and the start of its address. */
export function blobName(kind: string, sha: string): string {
  return `${kind} blob ${sha.slice(0, 12)}`;
}

export function decodeModel(bytes: Uint8Array, sha: string): Program {
  return decodeQModel(bytes, blobName("model", sha));
}

export function decodeHw(bytes: Uint8Array, sha: string): HwModel {
  const name = blobName("hw-model", sha);
  return validateHwModel(parseHwJson(() => new TextDecoder("utf-8", { fatal: true }).decode(bytes), name), name);
}

/** Images and labels from their IDX blobs, checked against each other and against the program's input size. */
export function decodeData(images: Uint8Array, labels: Uint8Array, shas: { images: string; labels: string }, program: Program): SimData {
  const imgName = blobName("images", shas.images);
  const lblName = blobName("labels", shas.labels);
  const img = decodeIdx(images, imgName);
  const lbl = decodeIdx(labels, lblName);
  const per = sizeOf(program.layers[0].out.shape);
  if (img.dims.length !== 2 || img.dims[1] !== per) throw new DatasetError(`${imgName}: dims: expected [n, ${per}] (the model's input size), found [${img.dims.join(", ")}]`);
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) throw new DatasetError(`${lblName}: dims: expected [${img.dims[0]}] (one label per image), found [${lbl.dims.join(", ")}]`);
  return { n: img.dims[0], images: img.data, labels: lbl.data };
}
