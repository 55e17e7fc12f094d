// The .qmodel file format: encoder and decoder, free of Node APIs so the edge runtime bundles them
// (file I/O is in ./io.ts). docs/FORMAT.md documents every byte.
//
//   offset        size  field
//   0             4     magic "NQMD" (4E 51 4D 44)
//   4             2     version, u16 LE: 1, or 2 when the program uses a format-2 feature (./features.ts)
//   6             2     flags, u16 LE = 0 (reserved)
//   8             4     header length L, u32 LE
//   12            L     header: UTF-8 JSON (graph, tensors, requant parameters, section table)
//   12+L          …     sections, in the order of the header's section table, back to back
//   size−4        4     CRC-32 (IEEE) of bytes [0, size−4), u32 LE
//
// Decoding never trusts a length before checking it against the file size, verifies the checksum before
// parsing, and then validates the program (validateProgram): it returns a valid Program or throws
// QModelFormatError — never another exception.

import { QModelFormatError } from "../errors.js";
import { accumulatorBound } from "./accbound.js";
import { crc32 } from "./crc32.js";
import { format2Uses, formatVersion } from "./features.js";
import { packBits, packedBytes, unpackBits } from "./pack.js";
import { isWeightLayer, type InputLayer, type Layer, type Program, type Requant, type TensorSpec } from "./types.js";
import { Checker, validateProgram } from "./validate.js";
import { MAX_HEADER_BYTES, MAX_HEADER_DEPTH, MAX_LAYERS } from "../limits.js";

export const MAGIC = [0x4e, 0x51, 0x4d, 0x44]; // "NQMD"
/** The versions this reader accepts; a writer uses the lowest that holds the program (formatVersion). */
export const VERSIONS = [1, 2];
const FIXED = 12; // magic + version + flags + header length

/** One entry of the section table: which layer, which kind, how many bytes. */
export interface SectionEntry {
  layer: number;
  kind: "lut" | "weights" | "bias";
  bytes: number;
}

/**
 * The sections a program has, in file order: the input's lookup table when it has one (format 2, one byte
 * per entry), then for each weight layer its packed weights then its bias.
 */
export function expectedSections(p: Program): SectionEntry[] {
  const out: SectionEntry[] = [];
  p.layers.forEach((l, i) => {
    if (l.op === "input" && l.lut) out.push({ layer: i, kind: "lut", bytes: l.lut.length });
    if (!isWeightLayer(l)) return;
    out.push({ layer: i, kind: "weights", bytes: packedBytes(l.weights.length, l.wBits) });
    out.push({ layer: i, kind: "bias", bytes: l.bias.length * 4 });
  });
  return out;
}

/** A tensor's header object; the format-2 keys appear only when they differ from their defaults. */
function tensorJson(t: TensorSpec): object {
  return { shape: t.shape, bits: t.bits, signed: t.signed, scale: t.scale, ...(t.zero ? { zero: t.zero } : {}), ...(t.fullRange ? { fullRange: true } : {}) };
}

function layerJson(l: Layer, p: Program): Record<string, unknown> {
  const base: Record<string, unknown> = { name: l.name, op: l.op, inputs: l.inputs, out: tensorJson(l.out) };
  const rq = (r: Requant) => ({ m: Array.from(r.m), s: Array.from(r.s), lo: r.lo, hi: r.hi });
  const acc = () => accumulatorBound(l, p.layers[l.inputs[0]].out)!.bits;
  const wfr = (w: { wFullRange?: boolean }) => (w.wFullRange ? { wFullRange: true } : {});
  switch (l.op) {
    case "input":
    case "flatten":
      return base;
    case "conv2d":
      return { ...base, kernel: l.kernel, stride: l.stride, padding: l.padding, groups: l.groups, wBits: l.wBits, ...wfr(l), wScale: Array.from(l.wScale), ...rq(l.rq), accBits: acc() };
    case "dense":
      return { ...base, wBits: l.wBits, ...wfr(l), wScale: Array.from(l.wScale), ...rq(l.rq), accBits: acc() };
    case "maxpool":
      return { ...base, kernel: l.kernel, stride: l.stride, padding: l.padding };
    case "avgpool":
      return { ...base, kernel: l.kernel, stride: l.stride, padding: l.padding, ...rq(l.rq), accBits: acc() };
    case "gap":
      return { ...base, ...rq(l.rq), accBits: acc() };
    case "add":
      return { ...base, ma: l.ma, mb: l.mb, s: l.s, lo: l.lo, hi: l.hi };
  }
}

/** Encodes a program (validated first) into .qmodel bytes. */
export function encodeQModel(p: Program): Uint8Array {
  validateProgram(p);
  const sections = expectedSections(p);
  const header = { format: "nipq-qmodel", name: p.name, producer: p.producer, layers: p.layers.map((l) => layerJson(l, p)), sections };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const payloads: Uint8Array[] = [];
  for (const s of sections) {
    const l = p.layers[s.layer];
    if (l.op === "input" && s.kind === "lut") payloads.push(Uint8Array.from(l.lut!, (v) => v & 0xff));
    if (!isWeightLayer(l)) continue;
    if (s.kind === "weights") payloads.push(packBits(l.weights, l.wBits));
    else {
      const b = new Uint8Array(l.bias.length * 4);
      const dv = new DataView(b.buffer);
      l.bias.forEach((v, i) => dv.setInt32(i * 4, v, true));
      payloads.push(b);
    }
  }
  const size = FIXED + headerBytes.length + payloads.reduce((a, b) => a + b.length, 0) + 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint16(4, formatVersion(p), true);
  dv.setUint16(6, 0, true);
  dv.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, FIXED);
  let off = FIXED + headerBytes.length;
  for (const b of payloads) {
    out.set(b, off);
    off += b.length;
  }
  dv.setUint32(size - 4, crc32(out, 0, size - 4), true);
  return out;
}

type Json = Record<string, unknown>;

/** Field access on parsed JSON with errors that name the field. */
class JsonReader extends Checker {
  obj(field: string, v: unknown): Json {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, "an object", v);
    return v as Json;
  }
  arr(field: string, v: unknown): unknown[] {
    if (!Array.isArray(v)) this.fail(field, "an array", v);
    return v;
  }
  str(field: string, v: unknown): string {
    if (typeof v !== "string") this.fail(field, "a string", v);
    return v;
  }
  ints(field: string, v: unknown, lo: number, hi: number): number[] {
    return this.arr(field, v).map((x, i) => this.int(`${field}[${i}]`, x, lo, hi));
  }
  /** `o` has no key outside `allowed` (space-separated names, listed in the message in that order). */
  keys(field: string, o: Json, allowed: string): void {
    const names = allowed.split(" ");
    for (const k of Object.keys(o)) if (!names.includes(k)) this.fail(`${field}.${k}`, `no such field (allowed: ${names.join(", ")})`, o[k]);
  }
}

// Each op's header fields after the common "name op inputs out", space-separated (fewer bytes in the edge
// runtime than arrays of strings), in the order the error messages list them; parseLayer tells the ops with
// weights or a requant by their groups of fields.
const WINDOW = " kernel stride padding";
const RQ = " m s lo hi accBits";
const WEIGHTS = " wBits wFullRange wScale";
const FIELDS: Record<string, string> = {
  input: "",
  flatten: "",
  conv2d: `${WINDOW} groups${WEIGHTS}${RQ}`,
  dense: WEIGHTS + RQ,
  maxpool: WINDOW,
  avgpool: WINDOW + RQ,
  gap: RQ,
  add: " ma mb s lo hi",
};

/**
 * One header layer as a Layer: its fields checked against the op's (no others), the numbers that become
 * typed arrays checked here (a typed array would convert a stray value silently: 2^32 + 2^30 → 2^30), every
 * other field as found — validateProgram checks each (type, range, shape along the graph) right after.
 * Weights and bias are filled from the sections afterwards.
 */
function parseLayer(r: JsonReader, f: string, v: unknown): Layer {
  const o = r.obj(f, v);
  const op = r.str(`${f}.op`, o.op);
  // Own keys only: "constructor" or "__proto__" is no op.
  if (!Object.hasOwn(FIELDS, op)) r.fail(`${f}.op`, `one of ${Object.keys(FIELDS).join(", ")}`, op);
  r.keys(f, o, `name op inputs out${FIELDS[op]}`);
  const { accBits: _, m, s, lo, hi, ...l } = o;
  r.keys(`${f}.out`, r.obj(`${f}.out`, o.out), "shape bits signed scale zero fullRange");
  if (FIELDS[op].includes(WEIGHTS)) {
    l.wScale = Float64Array.from(r.arr(`${f}.wScale`, o.wScale), (x, i) => (typeof x === "number" ? x : r.fail(`${f}.wScale[${i}]`, "a number", x)));
    l.weights = new Int8Array(0);
    l.bias = new Int32Array(0);
  }
  if (FIELDS[op].includes(RQ)) l.rq = { m: Int32Array.from(r.ints(`${f}.m`, m, 2 ** 30, 2 ** 31 - 1)), s: Int32Array.from(r.ints(`${f}.s`, s, 1, 62)), lo, hi };
  else if (op === "add") Object.assign(l, { s, lo, hi });
  return l as unknown as Layer;
}

/** Number of weights of a weight layer of a structurally valid program: outC × kh × kw × C/groups, or out × in. */
function weightCount(p: Program, i: number): number {
  const l = p.layers[i];
  const x = p.layers[l.inputs[0]].out.shape;
  if (l.op === "conv2d") return l.out.shape[2] * l.kernel[0] * l.kernel[1] * (x[2] / l.groups);
  return l.op === "dense" ? l.out.shape[0] * x[0] : 0;
}

/** `v` in `digits` lower-case hex digits, zero-padded. */
const hex = (v: number, digits: number) => v.toString(16).padStart(digits, "0");

/**
 * Decodes and validates .qmodel bytes. `file` names the source in errors.
 * Returns a valid Program or throws QModelFormatError.
 */
export function decodeQModel(bytes: Uint8Array, file = "<memory>"): Program {
  const fail = (field: string, expected: string, found: string): never => {
    throw new QModelFormatError(file, field, expected, found);
  };
  if (bytes.length < FIXED + 4) fail("file", `at least ${FIXED + 4} bytes`, `${bytes.length} bytes (truncated)`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) fail("magic", `"NQMD" (4E 51 4D 44), a .qmodel file`, `bytes ${Array.from(bytes.subarray(0, 4), (b) => hex(b, 2).toUpperCase()).join(" ")}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (!VERSIONS.includes(version)) fail("version", VERSIONS.join(" or "), `${version}`);
  const flags = dv.getUint16(6, true);
  if (flags !== 0) fail("flags", "0", `${flags}`);
  const hlen = dv.getUint32(8, true);
  if (hlen > MAX_HEADER_BYTES || FIXED + hlen + 4 > bytes.length) fail("headerLength", `at most ${Math.min(MAX_HEADER_BYTES, bytes.length - FIXED - 4)} bytes`, `${hlen}`);
  const stored = dv.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes, 0, bytes.length - 4);
  if (stored !== actual) fail("checksum", `CRC-32 0x${hex(actual, 8)} of bytes [0, ${bytes.length - 4})`, `0x${hex(stored, 8)} (corrupt or truncated file)`);
  if (bytes[FIXED] === 0xef && bytes[FIXED + 1] === 0xbb && bytes[FIXED + 2] === 0xbf) fail("header", "UTF-8 JSON without a byte-order mark", "EF BB BF (a BOM)");
  // Nesting is bounded before parsing: JSON.parse of deeply nested arrays costs ~100 bytes of heap per byte.
  for (let i = FIXED, depth = 0, str = false; i < FIXED + hlen; i++) {
    const c = bytes[i];
    if (str) {
      if (c === 0x5c) i++; // \x: skip the escaped character
      else if (c === 0x22) str = false;
    } else if (c === 0x22) str = true;
    else if ((c | 0x20) === 0x7b && ++depth > MAX_HEADER_DEPTH) fail("header", `JSON nested at most ${MAX_HEADER_DEPTH} deep`, `deeper nesting at byte ${i}`); // [ or {
    else if ((c | 0x20) === 0x7d) depth--; // ] or }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(FIXED, FIXED + hlen)));
  } catch (e) {
    fail("header", "UTF-8 JSON", `unparsable text (${(e as Error).message.split("\n")[0].slice(0, 80)})`);
  }
  const r = new JsonReader(file);
  const h = r.obj("header", json);
  r.keys("header", h, "format name producer layers sections");
  r.eq("header.format", h.format, "nipq-qmodel", `"nipq-qmodel"`);
  const layersJson = r.arr("layers", h.layers);
  if (layersJson.length > MAX_LAYERS) r.fail("layers", `at most ${MAX_LAYERS} layers`, layersJson);
  const program: Program = {
    name: r.str("name", h.name),
    producer: r.str("producer", h.producer),
    layers: layersJson.map((v, i) => parseLayer(r, `layers[${i}]`, v)),
  };
  // Whether the input has a lookup table is the one thing the header says only through the section table:
  // a "lut" entry first. Until its section is read the table is an empty placeholder.
  const table = r.arr("sections", h.sections);
  const hasLut = table.length > 0 && (table[0] as Json)?.kind === "lut";
  if (hasLut && program.layers[0]?.op === "input") program.layers[0].lut = new Int16Array(0);
  // The graph (shapes, bits, requant) first: the section sizes are derived from it.
  validateProgram(program, file, true);
  // Section table: exactly the expected list, sizes derived from the header's shapes.
  const expect: SectionEntry[] = [];
  if (hasLut) expect.push({ layer: 0, kind: "lut", bytes: program.layers[0].out.shape[2] * 256 });
  program.layers.forEach((l, i) => {
    if (!isWeightLayer(l)) return;
    const outC = l.op === "conv2d" ? l.out.shape[2] : l.out.shape[0];
    expect.push({ layer: i, kind: "weights", bytes: packedBytes(weightCount(program, i), l.wBits) });
    expect.push({ layer: i, kind: "bias", bytes: outC * 4 });
  });
  if (table.length !== expect.length) r.fail("sections", `${expect.length} sections (${hasLut ? "the input's lookup table, then " : ""}weights and bias of each conv2d/dense layer)`, table);
  let off = FIXED + hlen;
  const end = bytes.length - 4;
  table.forEach((v, k) => {
    const f = `sections[${k}]`;
    const s = r.obj(f, v);
    r.keys(f, s, "layer kind bytes");
    const e = expect[k];
    r.eq(`${f}.layer`, s.layer, e.layer);
    r.eq(`${f}.kind`, s.kind, e.kind, `"${e.kind}"`);
    r.eq(`${f}.bytes`, s.bytes, e.bytes, `${e.bytes} (derived from layers[${e.layer}])`);
    if (off + e.bytes > end) fail(f, `${e.bytes} bytes at offset ${off}`, `only ${end - off} bytes before the checksum (truncated)`);
    const l = program.layers[e.layer];
    const data = bytes.subarray(off, off + e.bytes);
    if (e.kind === "lut") {
      const signed = l.out.signed;
      (l as InputLayer).lut = Int16Array.from(data, (b) => (signed && b >= 128 ? b - 256 : b));
      off += e.bytes;
      return;
    }
    if (!isWeightLayer(l)) return;
    if (e.kind === "weights") {
      const n = weightCount(program, e.layer);
      const usedBits = n * l.wBits;
      if (usedBits % 8 !== 0 && data[data.length - 1] >> usedBits % 8 !== 0) fail(`${f}`, "zero padding bits after the last weight", `non-zero bits in the last byte`);
      l.weights = unpackBits(data, n, l.wBits, true, new Int8Array(n)) as Int8Array;
    } else {
      const b = new Int32Array(e.bytes / 4);
      const sdv = new DataView(bytes.buffer, bytes.byteOffset + off, e.bytes);
      for (let i = 0; i < b.length; i++) b[i] = sdv.getInt32(i * 4, true);
      l.bias = b;
    }
    off += e.bytes;
  });
  if (off !== end) fail("file", `${off + 4} bytes (header, sections and checksum)`, `${bytes.length} bytes (${end - off} bytes of trailing garbage)`);
  // A version-1 file holds format-1 programs only (docs/FORMAT.md lists what needs version 2).
  const uses = version === 1 ? format2Uses(program) : [];
  if (uses.length > 0) fail(uses[0].field, `no ${uses[0].what} in a version-1 file (it needs format version 2)`, `${uses[0].what}`);
  validateProgram(program, file);
  // accBits is derived; a stored value that disagrees means the file was edited or corrupted.
  program.layers.forEach((l, i) => {
    const stored = (layersJson[i] as Json).accBits;
    const b = i > 0 ? accumulatorBound(l, program.layers[l.inputs[0]].out) : null;
    r.eq(`layers[${i}].accBits`, stored, b?.bits, b ? `${b.bits} (derived from the weights and the input range)` : "no such field for this op");
  });
  return program;
}

