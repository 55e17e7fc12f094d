// IDX files (the MNIST container format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// 00 00 <type> <ndims>, ndims big-endian u32 sizes, then the data. Only u8 data (type 0x08) is used here.
// Files may be gzip-compressed (detected by the 1F 8B gzip magic, not by the name).
//
// Nothing is allocated from the data before the header has been checked: the header is inflated alone
// (a few hundred bytes of input), its dims are checked against the expected item shape and
// MAX_DATASET_IMAGES, and only then is the data inflated, with zlib's maxOutputLength set to what the
// dims say. A gzip bomb stops at that size; with `take` (--limit) only the first items are inflated.

import { constants, gunzipSync } from "node:zlib";
import { DatasetError } from "../errors.js";
import { readDataFile } from "./read.js";
import { MAX_DATASET_IMAGES } from "../limits.js";

/** A decoded u8 IDX array: its dimensions (dims[0] as in the file) and the bytes of the items read. */
export interface IdxArray {
  dims: number[];
  /** The first `take` items (all by default), row-major. */
  data: Uint8Array;
}

export interface IdxOptions {
  /** Dims of one item, checked before any data is inflated: [28, 28] for images, [] for labels. */
  itemDims?: number[];
  /** Decode only the first `take` items (the rest of the file is not read past what zlib needs). */
  take?: number;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * The first `need` bytes of a gzip stream, inflating no more than about need + 1 MiB whatever the stream
 * holds: a prefix of the input is inflated with a sync flush (all its output, no end-of-stream check),
 * its length doubled until the output suffices; a prefix that would inflate past the cap is bisected.
 * Returns fewer bytes only when the whole stream holds fewer.
 */
function gunzipPrefix(raw: Uint8Array, need: number, file: string): Uint8Array {
  const cap = need + 2 ** 20;
  let lo = 0; // an input length known to give < need bytes
  let hi = raw.length + 1; // an input length known to give > cap bytes
  let k = Math.min(raw.length, 4096);
  for (;;) {
    let out: Uint8Array | undefined;
    try {
      out = gunzipSync(raw.subarray(0, k), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ERR_BUFFER_TOO_LARGE") throw gzipError(file, e);
    }
    if (out && (out.length >= need || k === raw.length)) return out.subarray(0, Math.min(need, out.length));
    if (out) lo = k;
    else hi = k;
    const next = hi > raw.length ? Math.min(raw.length, 2 * k) : Math.floor((lo + hi) / 2);
    if (next <= lo || next >= hi) throw gzipError(file, new Error("cannot inflate a prefix within the size limit"));
    k = next;
  }
}

function gzipError(file: string, e: unknown): DatasetError {
  return new DatasetError(`${file}: gzip: expected a valid gzip stream, found a corrupt one (${(e as Error).message})`);
}

/** Decodes IDX bytes (raw or gzip). `file` names the source in errors. */
export function decodeIdx(raw: Uint8Array, file: string, o: IdxOptions = {}): IdxArray {
  const gz = isGzip(raw);
  // The header first: magic, ndims and the dims (at most 4 + 4·4 bytes).
  const head = gz ? gunzipPrefix(raw, 20, file) : raw.subarray(0, 20);
  if (head.length < 4) throw new DatasetError(`${file}: header: expected an IDX magic of 4 bytes, found ${head.length} bytes`);
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08)
    throw new DatasetError(`${file}: magic: expected 00 00 08 <ndims> (IDX, unsigned bytes), found ${Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ")}`);
  const nd = head[3];
  if (nd < 1 || nd > 4) throw new DatasetError(`${file}: ndims: expected 1..4, found ${nd}`);
  if (head.length < 4 + 4 * nd) throw new DatasetError(`${file}: dims: expected ${nd} sizes, found a truncated header`);
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => dv.getUint32(4 + 4 * i, false));
  if (o.itemDims && (nd !== 1 + o.itemDims.length || o.itemDims.some((d, i) => dims[i + 1] !== d)))
    throw new DatasetError(`${file}: dims: expected [n${o.itemDims.map((d) => `, ${d}`).join("")}], found [${dims.join(", ")}]`);
  if (dims[0] > MAX_DATASET_IMAGES) throw new DatasetError(`${file}: dims[0]: expected at most ${MAX_DATASET_IMAGES} items (docs/SECURITY.md), found ${dims[0]}`);
  const itemBytes = dims.slice(1).reduce((a, b) => a * b, 1);
  if (itemBytes > 2 ** 24) throw new DatasetError(`${file}: dims: expected items of at most ${2 ** 24} bytes, found [${dims.join(", ")}]`);
  const off = 4 + 4 * nd;
  const total = dims[0] * itemBytes;
  const n = Math.min(dims[0], o.take ?? dims[0]);
  const short = (found: number | string) => new DatasetError(`${file}: data: expected ${total} bytes for dims [${dims.join(", ")}], found ${found}`);
  let bytes: Uint8Array;
  if (!gz) {
    if (raw.length - off !== total) throw short(raw.length - off);
    bytes = raw.subarray(off, off + n * itemBytes);
  } else if (n < dims[0]) {
    bytes = gunzipPrefix(raw, off + n * itemBytes, file).subarray(off);
    if (bytes.length < n * itemBytes) throw short(`${bytes.length} (the stream ends early)`);
  } else {
    try {
      bytes = gunzipSync(raw, { maxOutputLength: off + total }).subarray(off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw short("more (the stream inflates past what the dims say)");
      throw gzipError(file, e);
    }
    if (bytes.length !== total) throw short(bytes.length);
  }
  // A plain Uint8Array that owns its memory: gunzipSync and readFileSync return Node Buffers whose
  // slice() is a view and whose ArrayBuffer may be shared, which breaks transfers to worker threads.
  return { dims, data: new Uint8Array(bytes) };
}

/** Encodes u8 data as IDX bytes (uncompressed; the inverse of decodeIdx). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  if (dims.length < 1 || dims.length > 4) throw new RangeError(`IDX: expected 1..4 dims, found ${dims.length}`);
  if (dims.reduce((a, b) => a * b, 1) !== data.length) throw new RangeError(`IDX: dims [${dims.join(", ")}] do not hold ${data.length} bytes`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  out.set([0, 0, 0x08, dims.length]);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Reads and decodes an IDX file. */
export function readIdx(path: string, o: IdxOptions = {}): IdxArray {
  return decodeIdx(readDataFile(path), path, o);
}
