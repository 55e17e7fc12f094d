// An integer program → an ONNX model in the QOperator format that onnxruntime (native and web) runs
// (`nipq export-onnx`, docs/ONNX.md). Encoding with `onnx-proto` (protobufjs code generated from the official
// onnx.proto). Standard ONNX ops only (opset 13):
//
//   input  uint8 [N, H, W, C] ─Transpose→ NCHW; every activation is uint8 (signed ones with zero point 128)
//   conv2d / dense (8-bit out)  QLinearConv (dense: 1×1 on [N, K, 1, 1]), per-channel int8 weights, int32 bias,
//                               then Clip when the clamp [lo, hi] is narrower than the container;
//                               `exact`: ConvInteger + bias + the exact int64 requant instead
//   avgpool / gap               ConvInteger with all-one weights / ReduceSum (exact sums), exact int64 requant
//   maxpool                     MaxPool on the integers
//   add                         a·ma + b·mb in int64, exact requant
//   flatten                     Transpose back to NHWC → Reshape [N, K, 1, 1] (nipq's H, W, C order)
//   dense → 16-bit logits       MatMulInteger + bias, exact int64 requant, × the logits' scale:
//                               output `logits` float32 [N, classes] in real units
//
// QLinearConv's scales: every activation keeps its real scale; a layer's per-channel weight scale is chosen so
// that x_scale·w_scale/y_scale is the dyadic multiplier m·2^−s (as float32). onnxruntime requantizes in float32
// with round-half-to-even where nipq-hw uses exact integers with ties toward +∞: an output differs by 1 LSB
// where the exact product lies within float rounding of a half, and such a difference propagates (docs/ONNX.md
// measures how far). The exact requant: floor((t·m + 2^(s−1)) / 2^s) with int64 Mul/Add/Div, bit for bit.

import onnxProto from "onnx-proto";
import { UsageError } from "../errors.js";
import { accumulatorBound } from "../ir/accbound.js";
import { format2Uses } from "../ir/features.js";
import { resolvePads, sizeOf, type Layer, type Program, type TensorSpec } from "../ir/types.js";

const { onnx } = onnxProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;

/** ONNX TensorProto.DataType codes used here. */
const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

/** Opset of the default domain the exported graphs use. */
export const ONNX_OPSET = 13;

export interface OnnxExport {
  /** The serialized ModelProto. */
  bytes: Uint8Array;
  /** Input name, uint8 [N, H, W, C]. */
  input: string;
  /** Output name, float32 [N, classes]: the integer logits times `logitScale`. */
  output: string;
  inputShape: number[];
  classes: number;
  /** Real value of one logit step: the output is q·logitScale with q nipq-hw's int16 logit. */
  logitScale: number;
  /** Node count by op type. */
  ops: Record<string, number>;
}

/** Where a layer's output lives in the graph and how it is laid out. */
interface Value {
  name: string;
  /** nchw: [N, C, H, W] of a feature map; vec: [N, K, 1, 1] of a vector (a dense layer's input/output). */
  layout: "nchw" | "vec";
}

/**
 * Every activation is a uint8 tensor; a signed one (narrow, [−127, 127]) carries zero point 128. So every
 * QLinearConv is u8 → u8 (onnxruntime has no mixed u8 → s8 kernel), and the values are exactly nipq-hw's.
 */
const zeroOf = (t: Pick<TensorSpec, "signed">) => (t.signed ? 128 : 0);

function typed(dt: number, values: ArrayLike<number | bigint>): ArrayBufferView {
  switch (dt) {
    case DT.FLOAT:
      return Float32Array.from(values as ArrayLike<number>);
    case DT.UINT8:
      return Uint8Array.from(values as ArrayLike<number>);
    case DT.INT8:
      return Int8Array.from(values as ArrayLike<number>);
    case DT.INT32:
      return Int32Array.from(values as ArrayLike<number>);
    case DT.INT64:
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    default:
      throw new Error(`no typed array for ONNX data type ${dt}`);
  }
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly ops: Record<string, number> = {};
  private readonly consts = new Map<string, string>();

  /** A constant initializer; identical scalar constants are shared. */
  constant(name: string, dt: number, dims: number[], values: ArrayLike<number | bigint>): string {
    const key = dims.length === 0 ? `${dt}:${values[0]}` : "";
    if (key && this.consts.has(key)) return this.consts.get(key)!;
    const raw = typed(dt, values);
    this.inits.push(onnx.TensorProto.create({ name, dataType: dt, dims, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) }));
    if (key) this.consts.set(key, name);
    return name;
  }

  scalar(dt: number, v: number | bigint): string {
    return this.constant(`c${this.inits.length}`, dt, [], [v]);
  }

  node(op: string, inputs: string[], output: string, attrs: Record<string, number | number[]> = {}): string {
    const attribute = Object.entries(attrs).map(([name, v]) => (Array.isArray(v) ? { name, type: 7, ints: v } : Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v }));
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: inputs, output: [output], attribute, name: output }));
    this.ops[op] = (this.ops[op] ?? 0) + 1;
    return output;
  }

  /** Clip to [lo, hi] (integer values, before the zero point) when that is narrower than uint8. */
  clip(x: string, spec: TensorSpec, lo: number, hi: number, out: string): string {
    const z = zeroOf(spec);
    if (lo + z <= 0 && hi + z >= 255) return x;
    return this.node("Clip", [x, this.scalar(DT.UINT8, lo + z), this.scalar(DT.UINT8, hi + z)], out);
  }

  zero(spec: TensorSpec): string {
    return this.scalar(DT.UINT8, zeroOf(spec));
  }
}

const multiplier = (m: number, s: number) => m * 2 ** -s;

export interface OnnxExportOptions {
  /**
   * Convolutions and dense layers as ConvInteger (weights + 128 in uint8, zero point 128) followed by the exact
   * int64 requant, instead of QLinearConv's float requant: bit-exact with nipq-hw, and slower.
   */
  exact?: boolean;
  /** Every hidden layer's uint8 value as a further output (NCHW, or [N, K, 1, 1]; signed ones + 128), for tests. */
  taps?: boolean;
  /** What error messages name (the .qmodel file; default: the program's name). */
  source?: string;
}

/** The exported model of a program (throws UsageError for a program this export cannot express). */
export function exportOnnx(p: Program, opts: OnnxExportOptions = {}): OnnxExport {
  const g = new GraphBuilder();
  const layers = p.layers;
  const last = layers.length - 1;
  const values: Value[] = [];
  const inShape = layers[0].out.shape;
  const where = opts.source ?? p.name;
  // Explicit pads (format 2) are ONNX's own; zero points, full-range tensors and input tables are not
  // expressed by this export yet: refuse them by name rather than write a graph that computes something else.
  const unsupported = format2Uses(p).find((u) => !u.field.endsWith(".padding"));
  if (unsupported) throw new UsageError(`${where}: ${unsupported.field}: export-onnx does not express ${unsupported.what} yet (format-1 programs and explicit pads only)`);
  if (layers[0].op !== "input" || inShape.length !== 3) throw new UsageError(`${where}: layer 0: expected an input of shape [H, W, C], found ${layers[0].op} ${JSON.stringify(inShape)}`);
  values.push({ name: g.node("Transpose", ["pixels"], "input_nchw", { perm: [0, 3, 1, 2] }), layout: "nchw" });

  for (let i = 1; i < layers.length; i++) {
    const l = layers[i];
    const name = `l${i}_${l.name.replace(/[^A-Za-z0-9_]/g, "_")}`;
    const x = values[l.inputs[0]];
    const xs = layers[l.inputs[0]].out;
    const at = `${where}: layer ${i} (${l.name})`;
    if (i === last && l.op !== "dense") throw new UsageError(`${at}: the logits layer must be dense for export-onnx, found ${l.op}`);
    if (i !== last && l.out.bits > 8) throw new UsageError(`${at}: expected at most 8 bits before the logits, found ${l.out.bits}`);
    try {
      values.push(i === last ? { name: logitsLayer(g, l as Layer & { op: "dense" }, x, xs, name), layout: "vec" } : hiddenLayer(g, l, values, layers, name, opts.exact ?? false));
    } catch (e) {
      // The layer helpers' refusals name neither the file nor the layer: add both.
      if (e instanceof UsageError) throw new UsageError(`${at}: ${e.message}`);
      throw e;
    }
  }
  const out = layers[last].out;
  const graph = onnx.GraphProto.create({
    name: p.name,
    node: g.nodes,
    initializer: g.inits,
    input: [valueInfo("pixels", DT.UINT8, ["N", ...inShape])],
    output: [valueInfo("logits", DT.FLOAT, ["N", out.shape[0]]), ...(opts.taps ? values.slice(1, -1).map((v) => onnx.ValueInfoProto.create({ name: v.name, type: { tensorType: { elemType: DT.UINT8 } } })) : [])],
    docString: `nipq-hw integer program ${p.name} (${p.producer}); logits = int16 logit × ${out.scale}`,
  });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: "nipq-hw", producerVersion: "export-onnx", opsetImport: [{ domain: "", version: ONNX_OPSET }], graph });
  return { bytes: onnx.ModelProto.encode(model).finish(), input: "pixels", output: "logits", inputShape: [...inShape], classes: out.shape[0], logitScale: out.scale, ops: { ...g.ops } };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } } });
}

/** A value as the [N, K, 1, 1] vector a dense layer reads: a feature map goes back to NHWC order first. */
function asVec(g: GraphBuilder, x: Value, xs: TensorSpec, name: string): string {
  if (x.layout === "vec") return x.name;
  const K = sizeOf(xs.shape);
  if (xs.shape.length === 3) {
    const nhwc = g.node("Transpose", [x.name], `${name}_nhwc`, { perm: [0, 2, 3, 1] });
    return g.node("Reshape", [nhwc, g.constant(`${name}_shape`, DT.INT64, [4], [-1, K, 1, 1])], `${name}_vec`);
  }
  return x.name;
}

function hiddenLayer(g: GraphBuilder, l: Layer, values: Value[], layers: Layer[], name: string, exact: boolean): Value {
  const x = values[l.inputs[0]];
  const xs = layers[l.inputs[0]].out;
  switch (l.op) {
    case "conv2d": {
      const [kh, kw] = l.kernel;
      const [H, W] = xs.shape;
      const pads = resolvePads(H, W, l.kernel, l.stride, l.padding);
      const outC = l.out.shape[2];
      const cin = l.weights.length / (outC * kh * kw);
      const w = new Int8Array(l.weights.length); // [outC][kh][kw][cin] → [outC][cin][kh][kw]
      for (let o = 0; o < outC; o++) for (let y = 0; y < kh; y++) for (let q = 0; q < kw; q++) for (let c = 0; c < cin; c++) w[((o * cin + c) * kh + y) * kw + q] = l.weights[((o * kh + y) * kw + q) * cin + c];
      return { name: weightLayer(g, l, name, x.name, xs, w, [outC, cin, kh, kw], { kernel_shape: [kh, kw], strides: [...l.stride], pads, group: l.groups }, exact), layout: "nchw" };
    }
    case "dense": {
      const outN = l.out.shape[0];
      const inN = l.weights.length / outN;
      return { name: weightLayer(g, l, name, asVec(g, x, xs, name), xs, l.weights, [outN, inN, 1, 1], { kernel_shape: [1, 1] }, exact), layout: "vec" };
    }
    case "avgpool": {
      // The window sum exactly (ConvInteger with all-one uint8 weights, one group per channel), then requant.
      const C = xs.shape[2];
      const [kh, kw] = l.kernel;
      const ones = g.constant(`${name}_ones`, DT.UINT8, [C, 1, kh, kw], new Uint8Array(C * kh * kw).fill(1));
      const pads = resolvePads(xs.shape[0], xs.shape[1], l.kernel, l.stride, l.padding); // padded taps hold the zero point: real 0
      const sum = g.node("ConvInteger", [x.name, ones, g.zero(xs)], `${name}_sum`, { kernel_shape: [kh, kw], strides: [...l.stride], pads, group: C });
      const q = requantInt64(g, g.node("Cast", [sum], `${name}_sum64`, { to: DT.INT64 }), accBound(l, xs), l.rq, [], name);
      return { name: toU8(g, q, l.out, name), layout: "nchw" };
    }
    case "gap": {
      const sum = g.node("ReduceSum", [int64Of(g, x.name, xs, name), g.constant(`${name}_axes`, DT.INT64, [2], [2, 3])], `${name}_sum`, { keepdims: 1 });
      return { name: toU8(g, requantInt64(g, sum, accBound(l, xs), l.rq, [], name), l.out, name), layout: "vec" };
    }
    case "maxpool": {
      const [H, W] = xs.shape;
      const [kh, kw] = l.kernel;
      const pads = resolvePads(H, W, l.kernel, l.stride, l.padding);
      return { name: g.node("MaxPool", [x.name], name, { kernel_shape: [kh, kw], strides: [...l.stride], pads }), layout: "nchw" };
    }
    case "add": {
      // Exact: a·ma + b·mb in int64, then the shared shift.
      const b = values[l.inputs[1]];
      const ta = g.node("Mul", [int64Of(g, x.name, xs, `${name}_a`), g.scalar(DT.INT64, l.ma)], `${name}_ama`);
      const tb = g.node("Mul", [int64Of(g, b.name, layers[l.inputs[1]].out, `${name}_b`), g.scalar(DT.INT64, l.mb)], `${name}_bmb`);
      const bound = 255 * (l.ma + l.mb); // |a|, |b| ≤ 255 after the zero point
      const q = requantInt64(g, g.node("Add", [ta, tb], `${name}_sum`), bound, { m: [1], s: [l.s], lo: l.lo, hi: l.hi }, [], name);
      return { name: toU8(g, q, l.out, name), layout: x.layout };
    }
    case "flatten":
      return { name: asVec(g, x, xs, name), layout: "vec" };
    case "input":
      throw new UsageError("expected one input layer (layer 0), found a second");
  }
}

/** x − z as int64. */
function int64Of(g: GraphBuilder, x: string, spec: TensorSpec, name: string): string {
  const v = g.node("Cast", [x], `${name}_i64`, { to: DT.INT64 });
  return spec.signed ? g.node("Sub", [v, g.scalar(DT.INT64, zeroOf(spec))], `${name}_centered`) : v;
}

/** Largest |acc| of a layer over every input in range (src/ir/accbound.ts). */
function accBound(l: Layer, xs: TensorSpec): number {
  const b = accumulatorBound(l, xs)!;
  return Math.max(Math.abs(b.min), Math.abs(b.max));
}

/**
 * DESIGN.md §3's requant on an int64 tensor t, exactly: clamp(floor((t·m + 2^(s−1)) / 2^s), lo, hi), int64.
 * ONNX's integer Div truncates toward zero, so the numerator is first made positive with 2^P = K·2^s (K taken
 * off after), P ≥ s and 2^P > |t·m| ≤ bound·max m; every term stays below 2^63. Per channel when m or s vary
 * (constants of shape `channelDims`, e.g. [C, 1, 1] for NCHW), else scalars.
 */
function requantInt64(g: GraphBuilder, t: string, bound: number, rq: { m: ArrayLike<number>; s: ArrayLike<number>; lo: number; hi: number }, channelDims: number[], name: string): string {
  const m = Array.from(rq.m), s = Array.from(rq.s);
  const uniform = m.every((v) => v === m[0]) && s.every((v) => v === s[0]);
  const P = Math.max(...s, Math.ceil(Math.log2(bound * Math.max(...m) + 1)) + 1);
  if (P > 62) throw new UsageError(`accumulators up to ${bound} times multipliers up to ${Math.max(...m)} do not fit the int64 requant`);
  const c = (vals: bigint[], what: string) => (uniform ? g.scalar(DT.INT64, vals[0]) : g.constant(`${name}_${what}`, DT.INT64, channelDims, vals));
  const pick = <T>(f: (m: bigint, s: bigint) => T) => (uniform ? [f(BigInt(m[0]), BigInt(s[0]))] : m.map((v, i) => f(BigInt(v), BigInt(s[i]))));
  const big = BigInt(P);
  const scaled = uniform && m[0] === 1 ? t : g.node("Mul", [t, c(pick((mv) => mv), "m")], `${name}_tm`);
  const num = g.node("Add", [scaled, c(pick((_, sv) => (1n << big) + (1n << (sv - 1n))), "offset")], `${name}_num`);
  const div = g.node("Div", [num, c(pick((_, sv) => 1n << sv), "pow2s")], `${name}_div`);
  const q = g.node("Sub", [div, c(pick((_, sv) => 1n << (big - sv)), "k")], `${name}_q`);
  return g.node("Clip", [q, g.scalar(DT.INT64, rq.lo), g.scalar(DT.INT64, rq.hi)], `${name}_clamp`);
}

/** An int64 value in its tensor's range → the uint8 activation (plus the zero point). */
function toU8(g: GraphBuilder, q: string, spec: TensorSpec, name: string): string {
  const z = zeroOf(spec);
  return g.node("Cast", [z ? g.node("Add", [q, g.scalar(DT.INT64, z)], `${name}_z`) : q], name, { to: DT.UINT8 });
}

/**
 * A conv2d or dense layer (weights already [outC][inC/groups][kh][kw]). Default: QLinearConv with per-channel
 * weight scales such that x_scale·w_scale/y_scale = m·2^−s, then Clip to [lo, hi]. Exact: ConvInteger (weights
 * + 128 as uint8 with zero point 128: onnxruntime's ConvInteger is uint8 only), + bias, the exact requant.
 */
function weightLayer(g: GraphBuilder, l: Layer & { op: "conv2d" | "dense" }, name: string, x: string, xs: TensorSpec, w: Int8Array, wDims: number[], attrs: Record<string, number | number[]>, exact: boolean): string {
  const outC = wDims[0];
  const ys = l.out;
  if (exact) {
    const wu = g.constant(`${name}_w`, DT.UINT8, wDims, Uint8Array.from(w, (v) => v + 128));
    const acc = g.node("Cast", [g.node("ConvInteger", [x, wu, g.zero(xs), g.scalar(DT.UINT8, 128)], `${name}_acc`, attrs)], `${name}_acc64`, { to: DT.INT64 });
    const biased = g.node("Add", [acc, g.constant(`${name}_bias`, DT.INT64, [outC, 1, 1], Array.from(l.bias, BigInt))], `${name}_biased`);
    return toU8(g, requantInt64(g, biased, accBound(l, xs), l.rq, [outC, 1, 1], name), ys, name);
  }
  const wScale = Float32Array.from({ length: outC }, (_, c) => (multiplier(l.rq.m[c], l.rq.s[c]) * ys.scale) / xs.scale);
  const inputs = [
    x,
    g.scalar(DT.FLOAT, xs.scale),
    g.zero(xs),
    g.constant(`${name}_w`, DT.INT8, wDims, w),
    g.constant(`${name}_wscale`, DT.FLOAT, [outC], wScale),
    g.constant(`${name}_wzero`, DT.INT8, [outC], new Int8Array(outC)),
    g.scalar(DT.FLOAT, ys.scale),
    g.zero(ys),
    g.constant(`${name}_bias`, DT.INT32, [outC], l.bias),
  ];
  return g.clip(g.node("QLinearConv", inputs, name, attrs), ys, l.rq.lo, l.rq.hi, `${name}_clip`);
}

/** The 16-bit logits, exactly: MatMulInteger, + bias, the int64 requant, then × the logits' scale as float32. */
function logitsLayer(g: GraphBuilder, l: Layer & { op: "dense" }, x: Value, xs: TensorSpec, name: string): string {
  const outN = l.out.shape[0];
  const inN = l.weights.length / outN;
  const v = asVec(g, x, xs, name);
  const flat = g.node("Reshape", [v, g.constant(`${name}_shape`, DT.INT64, [2], [-1, inN])], `${name}_flat`);
  const wt = new Int8Array(inN * outN); // [out][in] → [in][out]
  for (let o = 0; o < outN; o++) for (let k = 0; k < inN; k++) wt[k * outN + o] = l.weights[o * inN + k];
  const acc = g.node("Cast", [g.node("MatMulInteger", [flat, g.constant(`${name}_w`, DT.INT8, [inN, outN], wt), g.zero(xs)], `${name}_acc`)], `${name}_acc64`, { to: DT.INT64 });
  const biased = g.node("Add", [acc, g.constant(`${name}_bias`, DT.INT64, [outN], Array.from(l.bias, BigInt))], `${name}_biased`);
  const q = requantInt64(g, biased, accBound(l, xs), l.rq, [outN], name);
  const f = g.node("Cast", [q], `${name}_f32`, { to: DT.FLOAT });
  return g.node("Mul", [f, g.scalar(DT.FLOAT, l.out.scale)], "logits");
}
