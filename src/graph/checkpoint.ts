// Reading and writing a checkpoint directory: graph.json (the QuantGraph) + weights.bin (float32 LE).
// Writes are atomic for the whole directory: everything goes to a sibling temp directory that then
// replaces DIR by rename (DESIGN.md §5, src/fsutil.ts). No tfjs here (see ./types.ts).

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describeValue, NipqInputError } from "../errors.js";
import { writeOutputDir, type OutputDirKind } from "../fsutil.js";
import {
  ACTIVATIONS,
  GRAPH_FORMAT,
  GRAPH_VERSION,
  type GraphNode,
  type QuantGraph,
  type QuantizerSpec,
  type TensorRef,
} from "./types.js";

export const GRAPH_FILE = "graph.json";
export const WEIGHTS_FILE = "weights.bin";

/** A checkpoint file that is missing, unreadable or violates docs/CHECKPOINT.md. CLI exit code 2. */
export class CheckpointError extends NipqInputError {
  override name = "CheckpointError";
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}: ${field}: expected ${expected}, found ${found}`);
  }
}

type Dtype = NonNullable<TensorRef["dtype"]>;
const DTYPE_BYTES: Record<Dtype, number> = { float32: 4, float64: 8, int32: 4 };

/**
 * Collects named tensors into one little-endian buffer, in insertion order: float32 (what training writes),
 * and for imported graphs int32 and float64. Offsets are multiples of 4 (float64 ones of 8).
 */
export class TensorPacker {
  private chunks: { data: ArrayLike<number>; dtype: Dtype; offset: number }[] = [];
  private bytes = 0;

  /** Appends `data` (copied) as `dtype` and returns its reference. */
  add(data: ArrayLike<number>, shape: number[], dtype: Dtype = "float32"): TensorRef {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`TensorPacker: shape [${shape}] has ${n} elements, data has ${data.length}`);
    const size = DTYPE_BYTES[dtype];
    this.bytes = Math.ceil(this.bytes / size) * size;
    const ref: TensorRef = { offset: this.bytes, length: data.length, shape: [...shape], ...(dtype === "float32" ? {} : { dtype }) };
    this.chunks.push({ data: Array.from(data), dtype, offset: this.bytes });
    this.bytes += data.length * size;
    return ref;
  }

  /** The packed bytes (little-endian on every platform). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    const view = new DataView(out.buffer);
    for (const { data, dtype, offset } of this.chunks) {
      const size = DTYPE_BYTES[dtype];
      for (let i = 0; i < data.length; i++) {
        const o = offset + i * size;
        if (dtype === "float32") view.setFloat32(o, data[i], true);
        else if (dtype === "float64") view.setFloat64(o, data[i], true);
        else view.setInt32(o, data[i], true);
      }
    }
    return out;
  }
}

/** Reads the float32 tensor `ref` from packed bytes (little-endian). */
export function readTensor(bytes: Uint8Array, ref: TensorRef): Float32Array {
  if (ref.dtype && ref.dtype !== "float32") throw new Error(`readTensor: a ${ref.dtype} tensor (use readValues)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(ref.length);
  for (let i = 0; i < ref.length; i++) out[i] = view.getFloat32(ref.offset + 4 * i, true);
  return out;
}

/** Reads a tensor of any dtype as exact float64 values (every float32 and int32 is a float64). */
export function readValues(bytes: Uint8Array, ref: TensorRef): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(ref.length);
  const dtype = ref.dtype ?? "float32";
  const size = DTYPE_BYTES[dtype];
  for (let i = 0; i < ref.length; i++) {
    const o = ref.offset + size * i;
    out[i] = dtype === "float32" ? view.getFloat32(o, true) : dtype === "float64" ? view.getFloat64(o, true) : view.getInt32(o, true);
  }
  return out;
}

/** Files of a training run's checkpoint besides the graph: the optimizer state and the epoch log (src/train/trainer.ts). */
export const TRAIN_STATE_FILE = "train-state.json";
export const TRAIN_STATE_BIN = "train-state.bin";
export const TRAIN_LOG_FILE = "train.jsonl";

/** A checkpoint directory: replaced whole after every epoch, and only when it holds nothing but a checkpoint. */
export const CHECKPOINT_DIR: OutputDirKind = {
  what: "checkpoint",
  files: [GRAPH_FILE, WEIGHTS_FILE, TRAIN_STATE_FILE, TRAIN_STATE_BIN, TRAIN_LOG_FILE],
  isPrevious: (dir) => isCheckpointDir(dir),
};

/** Writes `files` (name → contents) as the checkpoint directory `dir`, atomically (writeOutputDir, src/fsutil.ts). */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): void {
  writeOutputDir(dir, Object.entries(files), CHECKPOINT_DIR);
}

/** Serializes a QuantGraph and its weight bytes to the two checkpoint files. */
export function graphFiles(graph: QuantGraph, weights: Uint8Array): Record<string, Uint8Array | string> {
  return { [GRAPH_FILE]: JSON.stringify(graph, null, 1) + "\n", [WEIGHTS_FILE]: weights };
}

/** Reads and validates DIR/graph.json and DIR/weights.bin. Throws CheckpointError naming file and field. */
export function readCheckpoint(dir: string): { graph: QuantGraph; weights: Uint8Array } {
  const gPath = join(dir, GRAPH_FILE);
  let text: string;
  try {
    text = readFileSync(gPath, "utf8");
  } catch {
    throw new CheckpointError(gPath, "(file)", "a readable QuantGraph JSON file", "no such file");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(gPath, "(file)", "valid JSON", `a parse error (${(e as Error).message.slice(0, 60)})`);
  }
  const wPath = join(dir, WEIGHTS_FILE);
  let weights: Uint8Array;
  try {
    weights = new Uint8Array(readFileSync(wPath));
  } catch {
    throw new CheckpointError(wPath, "(file)", "the float32 weights file", "no such file");
  }
  const graph = validateGraph(raw, gPath, weights.byteLength);
  return { graph, weights };
}

/** Does `dir` look like a checkpoint directory (has graph.json)? */
export function isCheckpointDir(dir: string): boolean {
  try {
    return statSync(join(dir, GRAPH_FILE)).isFile();
  } catch {
    return false;
  }
}

type Obj = Record<string, unknown>;

/**
 * Checks a parsed graph.json against docs/CHECKPOINT.md: format and version, topological inputs,
 * known ops and activations, quantizer ranges, tensor references inside the weights file with
 * element counts matching their shapes. Returns it typed.
 */
export function validateGraph(raw: unknown, file: string, weightsBytes: number): QuantGraph {
  const fail = (field: string, expected: string, v: unknown): never => {
    throw new CheckpointError(file, field, expected, describeValue(v));
  };
  const obj = (v: unknown, field: string): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : fail(field, "an object", v));
  const num = (v: unknown, field: string, pred: (x: number) => boolean = Number.isFinite, what = "a finite number"): number =>
    typeof v === "number" && pred(v) ? v : fail(field, what, v);
  const int = (v: unknown, field: string, min = 0): number => num(v, field, (x) => Number.isInteger(x) && x >= min, `an integer ≥ ${min}`);
  const shape = (v: unknown, field: string): number[] =>
    Array.isArray(v) ? v.map((d, i) => int(d, `${field}[${i}]`, 1)) : fail(field, "an array of positive integers", v);

  const g = obj(raw, "(root)");
  if (g.format !== GRAPH_FORMAT) fail("format", JSON.stringify(GRAPH_FORMAT), g.format);
  if (g.version !== GRAPH_VERSION) fail("version", String(GRAPH_VERSION), g.version);
  obj(g.meta, "meta");
  if (g.weightsBytes !== weightsBytes) fail("weightsBytes", `${weightsBytes} (the size of ${WEIGHTS_FILE})`, g.weightsBytes);
  if (!Array.isArray(g.nodes) || g.nodes.length < 2) fail("nodes", "an array of at least 2 nodes", g.nodes);
  const nodes = g.nodes as unknown[];

  // Fields only importers set (src/graph/types.ts "imported"): a training checkpoint never holds them.
  const notImported = (o: Obj, field: string, keys: string[]): void => {
    for (const k of keys) if (k in o) fail(`${field}.${k}`, "no such field in a training checkpoint (imported models only)", o[k]);
  };
  const tensor = (v: unknown, field: string, expectShape?: number[]): TensorRef => {
    const t = obj(v, field);
    notImported(t, field, ["dtype"]);
    const offset = int(t.offset, `${field}.offset`);
    if (offset % 4 !== 0) fail(`${field}.offset`, "a multiple of 4", offset);
    const length = int(t.length, `${field}.length`);
    const s = shape(t.shape, `${field}.shape`);
    const n = s.reduce((a, b) => a * b, 1);
    if (n !== length) fail(`${field}.length`, `${n} (the product of shape [${s}])`, length);
    if (offset + 4 * length > weightsBytes) fail(`${field}.offset`, `a range inside ${WEIGHTS_FILE} (${weightsBytes} bytes)`, offset);
    if (expectShape && (s.length !== expectShape.length || s.some((d, i) => d !== expectShape[i]))) {
      fail(`${field}.shape`, `[${expectShape}]`, `[${s}]`);
    }
    return t as unknown as TensorRef;
  };
  const quant = (v: unknown, field: string, nullable: boolean): QuantizerSpec | null => {
    if (v === null && nullable) return null;
    const q = obj(v, field);
    notImported(q, field, ["zero", "fullRange", "clip", "channelSteps"]);
    if (typeof q.id !== "string" || q.id === "") fail(`${field}.id`, "a non-empty string", q.id);
    const bits = num(q.bits, `${field}.bits`, (x) => Number.isInteger(x) && x >= 2 && x <= 8, "an integer in 2..8");
    num(q.alpha, `${field}.alpha`, (x) => Number.isFinite(x) && x > 0, "a positive number");
    num(q.step, `${field}.step`, (x) => Number.isFinite(x) && x > 0, "a positive number");
    if (typeof q.signed !== "boolean") fail(`${field}.signed`, "true or false", q.signed);
    if (typeof q.learned !== "boolean") fail(`${field}.learned`, "true or false", q.learned);
    void bits;
    return q as unknown as QuantizerSpec;
  };

  const out: GraphNode[] = [];
  nodes.forEach((nv, i) => {
    const f = `nodes[${i}]`;
    const n = obj(nv, f);
    if (typeof n.name !== "string") fail(`${f}.name`, "a string", n.name);
    if (!Array.isArray(n.inputs)) fail(`${f}.inputs`, "an array of node indices", n.inputs);
    (n.inputs as unknown[]).forEach((k, j) => num(k, `${f}.inputs[${j}]`, (x) => Number.isInteger(x) && x >= 0 && x < i, `an index < ${i}`));
    shape(n.outShape, `${f}.outShape`);
    if (i === 0 && n.op !== "input") fail(`${f}.op`, '"input"', n.op);
    notImported(n, f, ["lut", "intWeights", "intBias", "clip", "groups"]);
    const act = (v: unknown): void => {
      if (!(ACTIVATIONS as readonly unknown[]).includes(v)) fail(`${f}.activation`, ACTIVATIONS.join(" | "), v);
    };
    const nIn = (k: number): void => {
      if ((n.inputs as unknown[]).length !== k) fail(`${f}.inputs`, `${k} input(s)`, n.inputs);
    };
    switch (n.op) {
      case "input":
        if (i !== 0) fail(`${f}.op`, "input only at node 0", n.op);
        nIn(0);
        quant(n.quant, `${f}.quant`, false);
        break;
      case "conv2d":
      case "depthwiseConv2d":
      case "dense": {
        nIn(1);
        act(n.activation);
        quant(n.inputQuant, `${f}.inputQuant`, true);
        quant(n.weightQuant, `${f}.weightQuant`, true);
        int(n.macs, `${f}.macs`, 1);
        let ws: number[];
        let outC: number;
        if (n.op === "conv2d") {
          const [kh, kw] = shape(n.kernel, `${f}.kernel`);
          shape(n.strides, `${f}.strides`);
          if (n.padding !== "same" && n.padding !== "valid") fail(`${f}.padding`, '"same" | "valid"', n.padding);
          ws = [kh, kw, int(n.inChannels, `${f}.inChannels`, 1), (outC = int(n.outChannels, `${f}.outChannels`, 1))];
        } else if (n.op === "depthwiseConv2d") {
          const [kh, kw] = shape(n.kernel, `${f}.kernel`);
          shape(n.strides, `${f}.strides`);
          if (n.padding !== "same" && n.padding !== "valid") fail(`${f}.padding`, '"same" | "valid"', n.padding);
          outC = int(n.channels, `${f}.channels`, 1);
          ws = [kh, kw, outC, 1];
        } else {
          ws = [int(n.inFeatures, `${f}.inFeatures`, 1), (outC = int(n.outFeatures, `${f}.outFeatures`, 1))];
        }
        tensor(n.weights, `${f}.weights`, ws);
        if (n.bias !== null) tensor(n.bias, `${f}.bias`, [outC]);
        if (n.bn !== null) {
          const bn = obj(n.bn, `${f}.bn`);
          num(bn.epsilon, `${f}.bn.epsilon`, (x) => x > 0, "a positive number");
          for (const k of ["gamma", "beta", "movingMean", "movingVar"]) tensor(bn[k], `${f}.bn.${k}`, [outC]);
        }
        break;
      }
      case "maxPool":
        nIn(1);
        shape(n.pool, `${f}.pool`);
        shape(n.strides, `${f}.strides`);
        break;
      case "globalAvgPool":
        nIn(1);
        quant(n.inputQuant, `${f}.inputQuant`, true);
        break;
      case "flatten":
        nIn(1);
        break;
      case "add":
        nIn(2);
        act(n.activation);
        if (!Array.isArray(n.inputQuants) || n.inputQuants.length !== 2) fail(`${f}.inputQuants`, "an array of 2 quantizers", n.inputQuants);
        (n.inputQuants as unknown[]).forEach((q, j) => quant(q, `${f}.inputQuants[${j}]`, true));
        break;
      default:
        fail(`${f}.op`, "input | conv2d | depthwiseConv2d | dense | maxPool | globalAvgPool | flatten | add", n.op);
    }
    out.push(n as unknown as GraphNode);
  });
  return g as unknown as QuantGraph;
}
