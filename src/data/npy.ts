// NumPy .npy files (format 1.0–3.0, numpy/lib/format.py): the magic "\x93NUMPY", a version, a little-endian
// header length, a Python dict literal {'descr', 'fortran_order', 'shape'}, then the C-order data. Read are the
// integer types a dataset uses: u8 images, integer labels.

import { DatasetError } from "../errors.js";
import { readDataFile } from "./read.js";

/** A decoded .npy integer array. */
export interface NpyArray {
  shape: number[];
  /** numpy's type string, e.g. "|u1", "<i8". */
  descr: string;
  /** Values (exact: every integer type here fits a float64 except 64-bit beyond 2^53, refused). */
  data: Uint8Array | Float64Array;
}

const SIZES: Record<string, number> = { u1: 1, i1: 1, u2: 2, i2: 2, u4: 4, i4: 4, u8: 8, i8: 8 };

/** Decodes .npy bytes; `file` names the source in errors. u8 data stays a Uint8Array (no copy of images). */
export function decodeNpy(buf: Uint8Array, file: string): NpyArray {
  const bad = (field: string, expected: string, found: string) => new DatasetError(`${file}: ${field}: expected ${expected}, found ${found}`);
  if (buf.length < 10 || String.fromCharCode(...buf.subarray(0, 6)) !== "\x93NUMPY") throw bad("magic", '"\\x93NUMPY" (a .npy file)', `${buf.length < 6 ? `${buf.length} bytes` : JSON.stringify(String.fromCharCode(...buf.subarray(0, 6)))}`);
  const major = buf[6];
  if (major > 1 && buf.length < 12) throw bad("header", "a header length", "a truncated file");
  if (major < 1 || major > 3) throw bad("version", "1, 2 or 3", String(major));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + hlen;
  if (start > buf.length) throw bad("header", `${hlen} bytes`, `${buf.length - (major === 1 ? 10 : 12)} (truncated)`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(buf.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad("header", "a dict with 'descr', 'fortran_order' and 'shape'", JSON.stringify(header.slice(0, 60)));
  if (fortran === "True") throw bad("fortran_order", "False (C order; save with np.ascontiguousarray)", "True");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad("shape", "non-negative integers", `(${shapeText})`);
  const m = /^([<>|=])([ui][1248])$/.exec(descr);
  if (!m) throw bad("descr", "an integer type (|u1 images; |u1, <i4, <i8, … labels)", `'${descr}'`);
  const [, order, t] = m;
  const size = SIZES[t];
  if (order === ">" && size > 1) throw bad("descr", "little-endian data", `'${descr}' (big-endian)`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length - start < n * size) throw bad("data", `${n * size} bytes for shape (${shape.join(", ")})`, `${buf.length - start} (truncated)`);
  if (t === "u1") return { shape, descr, data: new Uint8Array(buf.subarray(start, start + n)) };
  const out = new Float64Array(n);
  const d = new DataView(buf.buffer, buf.byteOffset + start, n * size);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (t) {
      case "i1": out[i] = d.getInt8(o); break;
      case "u2": out[i] = d.getUint16(o, true); break;
      case "i2": out[i] = d.getInt16(o, true); break;
      case "u4": out[i] = d.getUint32(o, true); break;
      case "i4": out[i] = d.getInt32(o, true); break;
      default: {
        const v = t === "u8" ? d.getBigUint64(o, true) : d.getBigInt64(o, true);
        if (v > 2n ** 53n || v < -(2n ** 53n)) throw bad(`data[${i}]`, "a value within ±2^53", String(v));
        out[i] = Number(v);
      }
    }
  }
  return { shape, descr, data: out };
}

/** Reads and decodes a .npy file. */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readDataFile(path), path);
}

/**
 * A .npy file (format 1.0) holding `bytes`, the raw little-endian data of `shape` of numpy type `descr` (u8
 * images by default): what numpy.save writes. The header is padded with spaces to a multiple of 64 bytes and
 * ends in a newline (numpy/lib/format.py). `fortranOrder` only marks the header (tests of the reader's refusal).
 */
export function encodeNpy(shape: readonly number[], bytes: Uint8Array, descr = "|u1", fortranOrder = false): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  header += " ".repeat(63 - ((header.length + 10) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + bytes.length);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(bytes, 10 + header.length);
  return out;
}
