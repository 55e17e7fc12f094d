// IDX files (the MNIST container format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// 00 00 <type> <ndims>, ndims big-endian u32 sizes, then the data. Only u8 data (type 0x08) is used here.
// Files may be gzip-compressed (detected by the 1F 8B gzip magic, not by the name).

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DatasetError } from "../errors.js";

/** A decoded u8 IDX array: its dimensions and its bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Decodes IDX bytes (raw or gzip). `file` names the source in errors. */
export function decodeIdx(raw: Uint8Array, file: string): IdxArray {
  let bytes = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new DatasetError(`${file}: gzip: expected a valid gzip stream, found a corrupt one (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4) throw new DatasetError(`${file}: header: expected an IDX magic of 4 bytes, found ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08)
    throw new DatasetError(`${file}: magic: expected 00 00 08 <ndims> (IDX, unsigned bytes), found ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ")}`);
  const nd = bytes[3];
  if (nd < 1 || nd > 4) throw new DatasetError(`${file}: ndims: expected 1..4, found ${nd}`);
  if (bytes.length < 4 + 4 * nd) throw new DatasetError(`${file}: dims: expected ${nd} sizes, found a truncated header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * nd;
  if (bytes.length - off !== n)
    throw new DatasetError(`${file}: data: expected ${n} bytes for dims [${dims.join(", ")}], found ${bytes.length - off}`);
  // A plain Uint8Array that owns its memory: gunzipSync and readFileSync return Node Buffers whose
  // slice() is a view and whose ArrayBuffer may be shared, which breaks transfers to worker threads.
  return { dims, data: new Uint8Array(bytes.subarray(off)) };
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
export function readIdx(path: string): IdxArray {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(`${path}: cannot read: ${code === "ENOENT" ? "no such file" : code ?? (e as Error).message}`);
  }
  return decodeIdx(raw, path);
}
