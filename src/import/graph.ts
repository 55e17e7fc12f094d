// The importer's working graph: an ONNX graph decoded into plain data (src/import/decode.ts) that the passes
// of src/import/index.ts rewrite in place — constants folded, quantizers recognized, layers fused — until the
// hand-off turns it into a QuantGraph. Values are exact float64 numbers whatever the ONNX element type (int64
// beyond 2^53 is refused when decoded). Nothing here depends on onnx-proto.

import { NipqInputError } from "../errors.js";

/** ONNX TensorProto.DataType codes this importer reads (onnx/onnx.proto3). */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT4: 21, INT4: 22 } as const;

/** The name of a data type code, for messages. */
export function dtypeName(t: number): string {
  const e = Object.entries(DT).find(([, v]) => v === t);
  return e ? e[0] : `data type ${t}`;
}

/** Integer range of an integer data type (quantized tensors: uint8, int8, uint4, int4, int32 biases). */
export function intRange(t: number): { lo: number; hi: number; bits: number; signed: boolean } | null {
  switch (t) {
    case DT.UINT8:
      return { lo: 0, hi: 255, bits: 8, signed: false };
    case DT.INT8:
      return { lo: -128, hi: 127, bits: 8, signed: true };
    case DT.UINT4:
      return { lo: 0, hi: 15, bits: 4, signed: false };
    case DT.INT4:
      return { lo: -8, hi: 7, bits: 4, signed: true };
    case DT.UINT16:
      return { lo: 0, hi: 65535, bits: 16, signed: false };
    case DT.INT16:
      return { lo: -32768, hi: 32767, bits: 16, signed: true };
    case DT.INT32:
      return { lo: -(2 ** 31), hi: 2 ** 31 - 1, bits: 32, signed: true };
    default:
      return null;
  }
}

/** A constant tensor: element type, dims (row-major) and exact values. */
export interface Tensor {
  dtype: number;
  dims: number[];
  data: Float64Array;
}

export type Attr = number | number[] | string | string[] | Tensor;

export interface Node {
  /** The ONNX node name, or `#k` (its index) for an unnamed node. */
  name: string;
  op: string;
  /** "" for the default ONNX domain ("ai.onnx" is normalized to ""); "nipq" for the passes' own ops. */
  domain: string;
  /** Input tensor names; "" for an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  /** nipq:FakeQuant — the quantizer (quantize, then dequantize: a real-valued output on its grid). */
  q?: QParams;
  /** nipq:Scale — multiply by this positive constant (a DequantizeLinear whose scale is not its quantizer's). */
  factor?: number;
  /** nipq:Mac — a convolution or dense layer with everything folded into it (src/import/fold.ts). */
  mac?: MacSpec;
  /** nipq:Mac and Add — the activation after the layer: a real-valued clamp [lo, hi] (ReLU is [0, ∞]). */
  clip?: [number, number];
}

/** A convolution or dense layer with its bias, the per-channel affine after it and its input's scaling. */
export interface MacSpec {
  kind: "conv" | "dense";
  /** The weights as read: Conv [O][I/groups][kh][kw]; dense [out][in] (already transposed from Gemm/MatMul). */
  w: QConst;
  groups: number;
  /** The node the window attributes come from (Conv), for explicit pads. */
  window?: Node;
  /** Extra begin/end pads merged from a Pad before the layer [top, left, bottom, right]. */
  extraPads?: [number, number, number, number];
  /** The bias: integers with their scales, or real values, or none. */
  bias: QConst | Float64Array | null;
  /** y = a[c]·layer(x) + b[c]: Div/Mul/Add/Sub by constants and BatchNormalization after the layer. */
  a: Float64Array;
  b: Float64Array;
  /** The input is read as f·x (a DequantizeLinear whose scale differs from its QuantizeLinear's, Gemm's alpha). */
  inFactor: number;
}

/**
 * A quantized constant (weights, biases): integers q with real value (q − zero)·scale, per tensor or per
 * slice along `axis`. From DequantizeLinear of an integer constant, QuantizeLinear→DequantizeLinear of a float
 * constant, or a QONNX Quant of a constant.
 */
export interface QConst {
  dims: number[];
  q: Float64Array;
  /** Scales: one (per tensor) or dims[axis] of them. */
  scale: Float64Array;
  zero: Float64Array;
  axis: number;
  /** The integer type's range the values lie in (e.g. int8: −128..127, QONNX narrow 4-bit: −7..7). */
  lo: number;
  hi: number;
  /** The QONNX Quant node that quantized it (its scale is the model's word, not a storage format's). */
  quantNode?: string;
}

/** The quantizer of a fake-quantized activation tensor (nipq:FakeQuant nodes, see src/import/recognize.ts). */
export interface QParams {
  scale: number;
  zero: number;
  /** The integer type: bits and signedness (uint8 → 8, false; QONNX by its attributes). */
  bits: number;
  signed: boolean;
  /** The integers it produces lie in [lo, hi] (the type's range, narrowed by QONNX narrow or a Clip). */
  lo: number;
  hi: number;
  /** Whose rounding: ONNX QuantizeLinear (round, then + zero, then saturate) or QONNX Quant (+ zero, clamp, round). */
  rounding: "onnx" | "qonnx";
}

/** The input the model declares. */
export interface GraphInput {
  name: string;
  /** Dims as declared: numbers, or symbolic names (a dynamic batch). */
  dims: (number | string)[];
  elemType: number;
}

export interface Graph {
  /** The model file, for messages. */
  file: string;
  nodes: Node[];
  consts: Map<string, Tensor>;
  qconsts: Map<string, QConst>;
  input: GraphInput;
  output: string;
  /** Operator set versions by domain ("" is the default domain). */
  opsets: Map<string, number>;
  producer: string;
}

/** A model the importer cannot represent: one line naming the file, the node, its op and why. CLI exit 2. */
export class ImportError extends NipqInputError {
  override name = "ImportError";
}

/** Throws the ImportError for `node`: `<file>: node "<name>" (<op>): <why>`. */
export function fail(g: Graph, node: Node | null, why: string): never {
  if (!node) throw new ImportError(`${g.file}: ${why}`);
  const op = node.domain ? `${node.domain}:${node.op}` : node.op;
  throw new ImportError(`${g.file}: node "${node.name}" (${op}): ${why}`);
}

/** The nodes that read tensor `name` (each once per input slot it appears in). */
export function readers(g: Graph, name: string): Node[] {
  return g.nodes.filter((n) => n.inputs.includes(name));
}

/** Is `name` read by any node or the graph output? */
export function isUsed(g: Graph, name: string): boolean {
  return g.output === name || g.nodes.some((n) => n.inputs.includes(name));
}

/** Replaces every use of tensor `from` (node inputs and the graph output) by `to`. */
export function replaceUses(g: Graph, from: string, to: string): void {
  for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x === from ? to : x));
  if (g.output === from) g.output = to;
}

/** The node producing tensor `name`, if any. */
export function producer(g: Graph, name: string): Node | undefined {
  return g.nodes.find((n) => n.outputs.includes(name));
}

/** Removes nodes no longer needed for the output (dead code after rewrites), keeping graph order. */
export function pruneDead(g: Graph): void {
  const live = new Set<string>([g.output]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => live.has(o))) n.inputs.forEach((x) => x && live.add(x));
  }
  g.nodes = g.nodes.filter((n) => n.outputs.some((o) => live.has(o)));
  for (const k of [...g.consts.keys()]) if (!live.has(k)) g.consts.delete(k);
  for (const k of [...g.qconsts.keys()]) if (!live.has(k)) g.qconsts.delete(k);
}

/** A fresh tensor name derived from `base`. */
export function freshName(g: Graph, base: string): string {
  const taken = (s: string) => g.consts.has(s) || g.qconsts.has(s) || g.nodes.some((n) => n.outputs.includes(s)) || s === g.input.name;
  let k = 1;
  while (taken(`${base}:${k}`)) k++;
  return `${base}:${k}`;
}

// ---- attributes ------------------------------------------------------------------------------------------

/** Attribute `key` of node n, checked by `ok` (what it is: `expected`), or `dflt` when absent. */
function attr<T>(g: Graph, n: Node, key: string, dflt: T | undefined, ok: (v: unknown) => boolean, expected: string): T {
  const v = n.attrs[key];
  if (v === undefined) {
    if (dflt === undefined) fail(g, n, `attribute ${key} is missing`);
    return dflt;
  }
  if (!ok(v)) fail(g, n, `attribute ${key}: expected ${expected}, found ${JSON.stringify(v)}`);
  return v as T;
}

/** An integer attribute, or `dflt` when absent. */
export function intAttr(g: Graph, n: Node, key: string, dflt?: number): number {
  return attr(g, n, key, dflt, (v) => typeof v === "number" && Number.isInteger(v), "an integer");
}

export function floatAttr(g: Graph, n: Node, key: string, dflt?: number): number {
  return attr(g, n, key, dflt, (v) => typeof v === "number", "a number");
}

export function intsAttr(g: Graph, n: Node, key: string, dflt?: number[]): number[] {
  return attr(g, n, key, dflt, (v) => Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x)), "integers");
}

export function stringAttr(g: Graph, n: Node, key: string, dflt?: string): string {
  return attr(g, n, key, dflt, (v) => typeof v === "string", "a string");
}

// ---- constants --------------------------------------------------------------------------------------------

/** Number of elements of dims. */
export function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The constant named by input `slot` of `n`, or undefined when that input is a computed tensor or absent. */
export function constInput(g: Graph, n: Node, slot: number): Tensor | undefined {
  const name = n.inputs[slot];
  return name ? g.consts.get(name) : undefined;
}

/** The constant at input `slot`, failing with `what` when it is not one. */
export function requireConst(g: Graph, n: Node, slot: number, what: string): Tensor {
  const t = constInput(g, n, slot);
  if (!t) fail(g, n, `${what} (input ${slot + 1}, "${n.inputs[slot] ?? ""}") must be a constant`);
  return t;
}

/** A single value (rank 0, or one element: the `[1]`-shaped scales torch writes). */
export function scalarOf(g: Graph, n: Node, t: Tensor, what: string): number {
  if (t.data.length !== 1) fail(g, n, `${what}: expected one value, found shape [${t.dims.join(", ")}]`);
  return t.data[0];
}
