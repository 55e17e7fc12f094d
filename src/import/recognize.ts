// Recognizing the quantization (src/import/index.ts pass "recognize-quantization"). After it the graph holds
// only real-valued ops, nipq:FakeQuant nodes (an activation quantizer: quantize then dequantize) and
// nipq:Scale nodes, and every quantized constant is a QConst with its integers.
//
// - QuantizeLinear of a constant folds into the integers (ONNX: saturate(roundHalfEven(x / scale) + zero)).
// - DequantizeLinear of integer constants is a QConst (weights, torch's int32 biases).
// - QuantizeLinear of a computed tensor is a FakeQuant; its integer output may pass through integer ops
//   that commute with dequantization (MaxPool, Flatten, Reshape: the map q ↦ s·(q − z) is increasing) or
//   narrow it (Clip, torch's reduce_range), and reaches a DequantizeLinear with the same zero point. A
//   different scale there is a Scale node of the ratio (ConvInteger's DequantizeLinear by 1).
// - QONNX `Quant` (Brevitas' onnx.brevitas domain, qonnx.custom_op.general, and the newer name IntQuant) of a
//   constant is a QConst (x / scale + zero, clamped, rounded half to even); of a computed tensor a FakeQuant.

import { roundHalfEven } from "../graph/quantize.js";
import { DT, count, fail, floatAttr, freshName, intAttr, intRange, pruneDead, replaceUses, scalarOf, stringAttr, type Graph, type Node, type QConst, type QParams, type Tensor } from "./graph.js";

/** The custom domains whose `Quant`/`IntQuant` is QONNX's. */
export const QONNX_DOMAINS = ["qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general"];

function isQonnxQuant(n: Node): boolean {
  return (n.op === "Quant" || n.op === "IntQuant") && QONNX_DOMAINS.includes(n.domain);
}

/** The per-axis index of flat element i of a tensor of `dims` along `axis`. */
function axisIndex(dims: number[], axis: number, i: number): number {
  return Math.floor(i / count(dims.slice(axis + 1))) % dims[axis];
}

/** Scale and zero point inputs of a QuantizeLinear/DequantizeLinear: per tensor, or per slice along `axis`. */
function params(g: Graph, n: Node, x: { dims: number[] }): { scale: Float64Array; zero: Float64Array; zeroType: number; axis: number } {
  const s = g.consts.get(n.inputs[1]);
  if (!s) fail(g, n, `the scale (input 2, "${n.inputs[1]}") must be a constant`);
  const zName = n.inputs[2];
  const z = zName ? g.consts.get(zName) : undefined;
  if (zName && !z) fail(g, n, `the zero point (input 3, "${zName}") must be a constant`);
  if (intAttr(g, n, "block_size", 0) !== 0) fail(g, n, "blocked quantization (block_size) is not supported");
  let axis = intAttr(g, n, "axis", 1);
  if (axis < 0) axis += x.dims.length;
  const per = s.dims.length > 0;
  if (per && (s.dims.length !== 1 || s.dims[0] !== x.dims[axis])) fail(g, n, `scale shape [${s.dims.join(", ")}] does not match axis ${axis} of [${x.dims.join(", ")}] (expected a scalar or [${x.dims[axis] ?? "?"}])`);
  if (z && z.data.length !== s.data.length) fail(g, n, `zero point shape [${z.dims.join(", ")}] does not match scale shape [${s.dims.join(", ")}]`);
  const bad = s.data.findIndex((v) => !(v > 0) || !Number.isFinite(v));
  if (bad >= 0) fail(g, n, `scale ${s.data[bad]} is not a finite positive number`);
  const outType = typeof n.attrs.output_dtype === "number" && n.attrs.output_dtype !== 0 ? n.attrs.output_dtype : undefined;
  const zeroType = z ? z.dtype : outType ?? DT.UINT8;
  return { scale: s.data, zero: z ? z.data : new Float64Array(s.data.length), zeroType, axis: per ? axis : 0 };
}

/** The activation quantizer of a QuantizeLinear: per tensor only (activations have one scale in the IR). */
function onnxQParams(g: Graph, n: Node, dims: number[]): QParams {
  const p = params(g, n, { dims });
  if (p.scale.length !== 1) fail(g, n, `per-channel quantization of an activation (scale [${p.scale.length}]) is not supported: activations have one scale`);
  const r = intRange(p.zeroType);
  if (!r || r.bits > 8) fail(g, n, `quantizing activations to ${r ? `${r.bits}-bit ` : ""}${p.zeroType === DT.INT32 ? "int32" : `type ${p.zeroType}`} is not supported (uint8, int8, uint4, int4)`);
  if (intAttr(g, n, "saturate", 1) !== 1) fail(g, n, "saturate 0 is not supported");
  return { scale: p.scale[0], zero: p.zero[0], bits: r.bits, signed: r.signed, lo: r.lo, hi: r.hi, rounding: "onnx" };
}

/**
 * QONNX Quant's attributes and parameters: integer zero point, bits 2..8 for an activation (1 is BipolarQuant's
 * job); a constant (`per`) may take up to 32 bits (Brevitas' Int32Bias), and lowering refuses weights past 8.
 */
function qonnxParams(g: Graph, n: Node, per: boolean): { scale: Float64Array; zero: Float64Array; bits: number; signed: boolean; narrow: boolean; lo: number; hi: number } {
  const s = g.consts.get(n.inputs[1]);
  const z = g.consts.get(n.inputs[2]);
  const b = g.consts.get(n.inputs[3]);
  if (!s || !z || !b) fail(g, n, "scale, zeropt and bitwidth must be constants");
  const bits = scalarOf(g, n, b, "bitwidth");
  const maxBits = per ? 32 : 8;
  if (!Number.isInteger(bits) || bits < 2 || bits > maxBits) fail(g, n, `bitwidth ${bits} is not supported (an integer in 2..${maxBits}${per ? " for a constant: weights up to 8, an int32 bias" : " for an activation"})`);
  const signed = intAttr(g, n, "signed", 1) === 1;
  const narrow = intAttr(g, n, "narrow", 0) === 1;
  const mode = stringAttr(g, n, "rounding_mode", "ROUND").toUpperCase();
  if (mode !== "ROUND" && mode !== "HALF_EVEN") fail(g, n, `rounding_mode ${mode} is not supported (ROUND, ties to even)`);
  if (!per && (s.data.length !== 1 || z.data.length !== 1)) fail(g, n, `per-channel quantization of an activation (scale shape [${s.dims.join(", ")}]) is not supported: activations have one scale`);
  const badS = s.data.findIndex((v) => !(v > 0) || !Number.isFinite(v));
  if (badS >= 0) fail(g, n, `scale ${s.data[badS]} is not a finite positive number`);
  const badZ = z.data.findIndex((v) => !Number.isInteger(v));
  if (badZ >= 0) fail(g, n, `zeropt ${z.data[badZ]} is not an integer (the IR's zero points are)`);
  const lo = signed ? -(2 ** (bits - 1)) + (narrow ? 1 : 0) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1 - (narrow ? 1 : 0);
  return { scale: s.data, zero: z.data, bits, signed, narrow, lo, hi };
}

/** QONNX Quant of a constant: q = roundHalfEven(clamp(x / scale + zero, min, max)), float32 as the spec's reference. */
function qonnxConst(g: Graph, n: Node, x: Tensor): QConst {
  const p = qonnxParams(g, n, true);
  const s = g.consts.get(n.inputs[1])!;
  // Per-channel scales have the weight's rank ([C_out, 1, 1, 1], [C_out, 1]): the axis is the non-1 one.
  let axis = 0;
  if (s.data.length > 1) {
    const nonOne = s.dims.flatMap((d, i) => (d !== 1 ? [i] : []));
    const sameRank = s.dims.length === x.dims.length;
    const ok = nonOne.length === 1 && (sameRank ? x.dims[nonOne[0]] === s.dims[nonOne[0]] : s.dims.length === 1 && x.dims[0] === s.dims[0]);
    if (!ok) fail(g, n, `scale shape [${s.dims.join(", ")}] is neither a scalar nor one per slice of [${x.dims.join(", ")}]`);
    axis = sameRank ? nonOne[0] : 0;
  }
  const per = p.scale.length > 1;
  const q = new Float64Array(x.data.length);
  for (let i = 0; i < q.length; i++) {
    const k = per ? axisIndex(x.dims, axis, i) : 0;
    const zk = p.zero[p.zero.length > 1 ? k : 0];
    const v = Math.fround(Math.fround(Math.fround(x.data[i]) / Math.fround(p.scale[k])) + zk);
    q[i] = roundHalfEven(v < p.lo ? p.lo : v > p.hi ? p.hi : v);
  }
  const zero = p.zero.length === p.scale.length ? p.zero : new Float64Array(p.scale.length).fill(p.zero[0]);
  return { dims: x.dims, q, scale: p.scale, zero, axis, lo: p.lo, hi: p.hi, quantNode: n.name };
}

/** ONNX QuantizeLinear of a constant: the integers, as an integer constant of the zero point's type. */
function quantizeConst(g: Graph, n: Node, x: Tensor): Tensor {
  const p = params(g, n, x);
  const r = intRange(p.zeroType);
  if (!r) fail(g, n, `quantizing to type ${p.zeroType} is not supported`);
  const per = p.scale.length > 1;
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) {
    const k = per ? axisIndex(x.dims, p.axis, i) : 0;
    const v = roundHalfEven(Math.fround(Math.fround(x.data[i]) / Math.fround(p.scale[k]))) + p.zero[k];
    data[i] = v < r.lo ? r.lo : v > r.hi ? r.hi : v;
  }
  return { dtype: p.zeroType, dims: x.dims, data };
}

/** DequantizeLinear of an integer constant: a QConst. */
function dequantizeConst(g: Graph, n: Node, x: Tensor): QConst {
  const r = intRange(x.dtype);
  if (!r) fail(g, n, `dequantizing a constant of type ${x.dtype} (expected an integer type)`);
  const p = params(g, n, x);
  return { dims: x.dims, q: x.data, scale: p.scale, zero: p.zero, axis: p.axis, lo: r.lo, hi: r.hi };
}

/** The integer output of a QuantizeLinear, on its way to a DequantizeLinear. */
interface IntView {
  /** The real-valued tensor on the quantizer's grid that carries it. */
  real: string;
  q: QParams;
  /** The FakeQuant's input, while nothing but a Clip came between (a Clip then re-quantizes it narrower). */
  src?: string;
}

/**
 * The pass: rewrites the graph as described above. Nodes are visited in graph order, so every integer
 * tensor is known (as an IntView) before its readers.
 */
export function recognizeQuantization(g: Graph, shapeOf: (name: string) => number[]): void {
  const views = new Map<string, IntView>();
  const out: Node[] = [];
  const fq = (base: Node, x: string, q: QParams): string => {
    const y = freshName(g, `${base.outputs[0]}/real`);
    out.push({ name: base.name, op: "FakeQuant", domain: "nipq", inputs: [x], outputs: [y], attrs: {}, q });
    return y;
  };
  for (const n of g.nodes) {
    const x = n.inputs[0];
    const xc = x ? g.consts.get(x) : undefined;
    const view = x ? views.get(x) : undefined;
    if (!n.domain && n.op === "QuantizeLinear") {
      if (xc) g.consts.set(n.outputs[0], quantizeConst(g, n, xc));
      else if (view) fail(g, n, "quantizes an integer tensor (a QuantizeLinear of a QuantizeLinear's output)");
      else {
        const q = onnxQParams(g, n, shapeOf(x));
        views.set(n.outputs[0], { real: fq(n, x, q), q, src: x });
      }
      continue;
    }
    if (!n.domain && n.op === "DequantizeLinear") {
      if (xc) {
        g.qconsts.set(n.outputs[0], dequantizeConst(g, n, xc));
        continue;
      }
      if (!view) fail(g, n, `dequantizes "${x}", which is neither an integer constant nor a QuantizeLinear's output`);
      const p = params(g, n, { dims: shapeOf(x) });
      if (p.scale.length !== 1) fail(g, n, "per-channel dequantization of an activation is not supported");
      if (p.zero[0] !== view.q.zero) fail(g, n, `its zero point ${p.zero[0]} differs from its QuantizeLinear's ${view.q.zero}; not supported`);
      if (p.scale[0] === view.q.scale) replaceUses(g, n.outputs[0], view.real);
      else out.push({ name: n.name, op: "Scale", domain: "nipq", inputs: [view.real], outputs: [n.outputs[0]], attrs: {}, factor: p.scale[0] / view.q.scale });
      continue;
    }
    if (isQonnxQuant(n)) {
      if (xc) g.qconsts.set(n.outputs[0], qonnxConst(g, n, xc));
      else {
        if (views.has(x)) fail(g, n, "quantizes an integer tensor");
        const p = qonnxParams(g, n, false);
        const q: QParams = { scale: p.scale[0], zero: p.zero[0], bits: p.bits, signed: p.signed, lo: p.lo, hi: p.hi, rounding: "qonnx" };
        out.push({ name: n.name, op: "FakeQuant", domain: "nipq", inputs: [x], outputs: [n.outputs[0]], attrs: {}, q });
      }
      continue;
    }
    if (view && !n.domain) {
      // Integer ops between QuantizeLinear and DequantizeLinear.
      if (n.op === "Clip") {
        const lo = n.inputs[1] ? g.consts.get(n.inputs[1]) : undefined;
        const hi = n.inputs[2] ? g.consts.get(n.inputs[2]) : undefined;
        if ((n.inputs[1] && !lo) || (n.inputs[2] && !hi)) fail(g, n, "its bounds must be constants");
        const min = n.attrs.min !== undefined ? floatAttr(g, n, "min") : lo ? scalarOf(g, n, lo, "min") : -Infinity;
        const max = n.attrs.max !== undefined ? floatAttr(g, n, "max") : hi ? scalarOf(g, n, hi, "max") : Infinity;
        const q: QParams = { ...view.q, lo: Math.max(view.q.lo, Math.ceil(min)), hi: Math.min(view.q.hi, Math.floor(max)) };
        if (q.lo > q.hi) fail(g, n, `clips the integers to an empty range [${q.lo}, ${q.hi}]`);
        if (!view.src) fail(g, n, "a Clip of integers after another integer op is not supported");
        views.set(n.outputs[0], { real: fq(n, view.src, q), q, src: view.src });
        continue;
      }
      if (["MaxPool", "Flatten", "Reshape", "Squeeze"].includes(n.op)) {
        const y = freshName(g, `${n.outputs[0]}/real`);
        out.push({ ...n, inputs: [view.real, ...n.inputs.slice(1)], outputs: [y] });
        views.set(n.outputs[0], { real: y, q: view.q });
        continue;
      }
    }
    const reader = n.inputs.findIndex((i) => views.has(i));
    if (reader >= 0) fail(g, n, `reads the integer output of a QuantizeLinear ("${n.inputs[reader]}") without a DequantizeLinear; not supported`);
    out.push(n);
  }
  g.nodes = out;
  const ov = views.get(g.output);
  if (ov) g.output = ov.real; // a model whose output is quantized: its real values are the logits
  pruneDead(g);
}
