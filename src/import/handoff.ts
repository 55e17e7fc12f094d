// The hand-off (src/import/index.ts passes "nchw-to-nhwc" and "quantgraph"): the folded ONNX graph becomes a
// QuantGraph (src/graph/types.ts) that the lowering passes turn into the integer program, exactly as they
// lower this tool's own training checkpoints.
//
// Layout. ONNX is NCHW; the QuantGraph and the IR are NHWC with tfjs weight layouts. Conv weights
// [O][I/g][kh][kw] become [kh][kw][I/g][O] (depthwise [kh][kw][C][1]); dense weights [out][in] become
// [in][out]. A Flatten of NCHW data orders features c·H·W + y·W + x, the IR's flatten (y·W + x)·C + c, so the
// dense layer after it reads its weight columns through that permutation and computes the same sums.
//
// Quantizers. Every quantized tensor is the output of one QuantGraph node read through one quantizer (its
// scale, zero point, bits, signedness and range, from the FakeQuant that made it). What the IR needs and the
// ONNX graph leaves implicit is made explicit here:
// - the input's quantizer with the normalization becomes the input lookup table (DESIGN.md §3), computed in
//   float64 with the model's float32 steps and rounding, as the model's own runtime quantizes its input;
// - two quantizers in a row (with a Relu or Clip between, torch's ReLU6) become a requant node;
// - an average the model leaves unquantized before a layer (torch's GlobalAveragePool → Flatten → Gemm with
//   no observer) is requantized to 8 bits at the finest step that holds its range (docs/DECISIONS.md).

import { TensorPacker } from "../graph/checkpoint.js";
import type { Activation, ComputeNode, GraphNode, InputNode, Pads, QuantGraph, QuantizerSpec, TensorRef } from "../graph/types.js";
import { roundHalfEven } from "../graph/quantize.js";
import { samePadding } from "../ir/types.js";
import { count, fail, intAttr, type Graph, type Node, type QConst, type QParams } from "./graph.js";
import { inferShapes, macWindow, windowOf, type Window } from "./shapes.js";

/** The normalization of the u8 pixels before the model's input: x = (p/255 − mean[c]) / std[c]. */
export interface InputNorm {
  mean: number[];
  std: number[];
}

/** The value a tensor name holds during the hand-off. */
type Val =
  | { kind: "input"; pre: { op: string; c: Float64Array }[] }
  | { kind: "q"; node: number; quant: QuantizerSpec; clip?: [number, number] }
  | { kind: "raw"; node: number; pool: boolean };

/** What the hand-off returns: the graph, its tensors, and notes on what it had to decide. */
export interface HandOff {
  graph: QuantGraph;
  weights: Uint8Array;
  /** One line per decision a user should know about (an unquantized average requantized, say). */
  notes: string[];
}

/** The integer an ONNX QuantizeLinear or a QONNX Quant gives the real value x (float32 inputs). */
export function quantizeReal(x: number, q: QParams): number {
  const s = Math.fround(q.scale);
  let v: number;
  if (q.rounding === "onnx") v = roundHalfEven(Math.fround(Math.fround(x) / s)) + q.zero; // round, + zero, saturate
  else {
    const t = Math.fround(Math.fround(Math.fround(x) / s) + q.zero); // + zero, clamp, round
    return roundHalfEven(t < q.lo ? q.lo : t > q.hi ? q.hi : t);
  }
  return v < q.lo ? q.lo : v > q.hi ? q.hi : v;
}

/** The QuantizerSpec of a FakeQuant's parameters; `id` names it. */
export function quantizerOf(id: string, q: QParams): QuantizerSpec {
  const full = q.signed && q.lo === -(2 ** (q.bits - 1));
  const tlo = q.signed ? -(2 ** (q.bits - 1)) + (full ? 0 : 1) : 0;
  const thi = q.signed ? 2 ** (q.bits - 1) - 1 : 2 ** q.bits - 1;
  const spec: QuantizerSpec = { id, bits: q.bits, alpha: q.scale * thi, step: q.scale, signed: q.signed, learned: false };
  if (q.zero) spec.zero = q.zero;
  if (full) spec.fullRange = true;
  if (q.lo > tlo || q.hi < thi) spec.clip = [q.lo, q.hi];
  if (q.zero < tlo || q.zero > thi) throw new Error(`zero point ${q.zero} outside [${tlo}, ${thi}]`);
  return spec;
}

function sameQuant(a: QuantizerSpec, b: QuantizerSpec): boolean {
  return a.bits === b.bits && a.signed === b.signed && a.step === b.step && (a.zero ?? 0) === (b.zero ?? 0) && !!a.fullRange === !!b.fullRange && (a.clip?.[0] ?? null) === (b.clip?.[0] ?? null) && (a.clip?.[1] ?? null) === (b.clip?.[1] ?? null);
}

/** The integer range a quantizer's values take (its clip, else its type's range). */
function qRange(q: QuantizerSpec): [number, number] {
  if (q.clip) return q.clip;
  const hi = q.signed ? 2 ** (q.bits - 1) - 1 : 2 ** q.bits - 1;
  return [q.signed ? (q.fullRange ? -hi - 1 : -hi) : 0, hi];
}

/** The smallest weight bit-width (2..8, narrow preferred) that holds [lo, hi], or null. */
function weightBits(lo: number, hi: number): { bits: number; fullRange: boolean } | null {
  for (let b = 2; b <= 8; b++) {
    const m = 2 ** (b - 1) - 1;
    if (lo >= -m && hi <= m) return { bits: b, fullRange: false };
    if (lo >= -m - 1 && hi <= m) return { bits: b, fullRange: true };
  }
  return null;
}

/** `same`, `valid` or explicit pads for an IR window: the format-1 names whenever they say the same thing. */
function paddingOf(H: number, W: number, win: Window): "same" | "valid" | Pads {
  const p = win.pads;
  if (p.every((v) => v === 0)) return "valid";
  const v = samePadding(H, win.kernel[0], win.strides[0]);
  const h = samePadding(W, win.kernel[1], win.strides[1]);
  if (p[0] === v.before && p[2] === v.after && p[1] === h.before && p[3] === h.after) return "same";
  return [p[0], p[1], p[2], p[3]];
}

/** Builds the QuantGraph. `norm` is the pixel normalization (default mean 0, std 1 on every channel). */
export function toQuantGraph(g: Graph, norm: InputNorm | undefined): HandOff {
  const shapes = inferShapes(g);
  const nodes: GraphNode[] = [];
  const packer = new TensorPacker();
  const notes: string[] = [];
  const vals = new Map<string, Val>();
  /** For a flattened NCHW tensor: perm[i] = the ONNX feature index of IR feature i (absent: identity). */
  const perms = new Map<string, Int32Array>();
  /** The quantizer each QuantGraph node's output is read through, once some reader fixed it. */
  const boundQuant = new Map<number, QuantizerSpec>();
  const usedNames = new Set<string>();
  const nameOf = (n: Node) => {
    let base = n.name.slice(0, 180) || n.op;
    while (usedNames.has(base)) base = `${n.name.slice(0, 180)}#${usedNames.size}`;
    usedNames.add(base);
    return base;
  };
  const nhwc = (name: string): number[] => {
    const s = shapes.get(name)!;
    return s.length === 4 ? [s[2], s[3], s[1]] : s.length === 2 ? [s[1]] : s.slice(1);
  };
  const push = (n: GraphNode): number => nodes.push(n) - 1;

  const inDims = shapes.get(g.input.name)!;
  if (inDims.length !== 4 || inDims[0] !== 1) fail(g, null, `input "${g.input.name}": expected an NCHW image [batch, C, H, W], found [${g.input.dims.join(", ")}]`);
  const C0 = inDims[1];
  if (norm && (norm.mean.length !== C0 || norm.std.length !== C0)) fail(g, null, `--input-mean/--input-std: expected ${C0} values (one per input channel), found ${norm.mean.length} and ${norm.std.length}`);
  vals.set(g.input.name, { kind: "input", pre: [] });

  /** The value of `name` as a quantized tensor, or a refusal naming the reader. */
  const quantized = (n: Node, name: string, what = "its input"): Extract<Val, { kind: "q" }> => {
    const v = vals.get(name);
    if (!v) fail(g, n, `${what} "${name}" is not a tensor this importer knows (a constant where a tensor was expected?)`);
    if (v.kind === "q" && !v.clip) return v;
    if (v.kind === "q") fail(g, n, `${what} is a quantized tensor clipped by a Relu/Clip that no quantizer follows; not supported`);
    if (v.kind === "input") fail(g, n, `${what} is the model input before any quantizer (QuantizeLinear or Quant); an integer program needs its input quantized`);
    if (v.pool) return bindPoolGrid(n, v.node);
    fail(g, n, `${what} is the unquantized output of "${nodes[v.node].name}" (${nodes[v.node].op}); a quantizer must come between`);
  };

  /**
   * An average the model leaves unquantized: requantized to 8 bits at the finest step s/f that holds its
   * range [s(lo − z), s(hi − z)], f = ⌊255/(hi − lo)⌋, zero point f·(z − lo). The rounding error is at most
   * half that step, s/(2f).
   */
  const bindPoolGrid = (reader: Node, i: number): Extract<Val, { kind: "q" }> => {
    const pool = nodes[i] as Extract<GraphNode, { inputQuant: QuantizerSpec | null }>;
    const qx = pool.inputQuant!;
    const [lo, hi] = qRange(qx);
    const f = Math.max(1, Math.floor(255 / Math.max(1, hi - lo)));
    const quant: QuantizerSpec = { id: `${pool.name}:grid`, bits: 8, alpha: (qx.step / f) * 255, step: qx.step / f, signed: false, learned: false };
    const z = f * ((qx.zero ?? 0) - lo);
    if (z) quant.zero = z;
    if (f * (hi - lo) < 255) quant.clip = [0, f * (hi - lo)];
    const bound = boundQuant.get(i);
    if (bound && !sameQuant(bound, quant)) fail(g, reader, `reads "${pool.name}" unquantized while another reader quantizes it; not supported`);
    boundQuant.set(i, quant);
    notes.push(`"${pool.name}" (average pool) has no quantizer before "${reader.name}": requantized to 8 bits at step ${quant.step.toPrecision(6)} (input step / ${f}), rounding by at most half a step`);
    return { kind: "q", node: i, quant };
  };

  /** A MaxPool's or AveragePool's quantized input and window; pads must leave every window a real tap. */
  const poolOf = (n: Node, x: string) => {
    const v = quantized(n, x);
    const [H, W] = nhwc(x);
    const k = n.attrs.kernel_shape as number[];
    const win = windowOf(g, n, H, W, [k[0], k[1]]);
    if (win.pads.some((p, j) => p >= win.kernel[j % 2])) fail(g, n, `pads [${win.pads.join(", ")}] reach a full window (${win.kernel.join("×")}); not supported`);
    return { v, H, W, win };
  };

  for (const n of g.nodes) {
    const out = n.outputs[0];
    const x = n.inputs[0];
    const xv = vals.get(x);
    const op = n.domain === "nipq" ? n.op : n.domain ? `${n.domain}:${n.op}` : n.op;
    switch (op) {
      case "FakeQuant": {
        const q = n.q!;
        if (!xv) fail(g, n, `its input "${x}" is not a tensor this importer knows`);
        const tlo = q.signed ? -(2 ** (q.bits - 1)) : 0;
        const thi = q.signed ? 2 ** (q.bits - 1) - 1 : 2 ** q.bits - 1;
        if (q.zero < tlo || q.zero > thi) fail(g, n, `zero point ${q.zero} is outside the ${q.bits}-bit range [${tlo}, ${thi}]`);
        const quant = quantizerOf(out, q);
        if (xv.kind === "input") {
          if (nodes.length > 0) fail(g, n, "a second quantizer on the model input; not supported");
          nodes.push(inputNode(g, n, quant, xv.pre, C0, inDims, norm, packer));
          vals.set(out, { kind: "q", node: 0, quant });
        } else if (xv.kind === "raw") {
          const bound = boundQuant.get(xv.node);
          if (bound && !sameQuant(bound, quant)) fail(g, n, `quantizes "${nodes[xv.node].name}" differently from another reader; not supported`);
          boundQuant.set(xv.node, quant);
          vals.set(out, { kind: "q", node: xv.node, quant });
        } else {
          // A quantized tensor quantized again: nothing when the grids agree, else a requantization.
          const [lo, hi] = qRange(xv.quant);
          const s = xv.quant.step;
          const z = xv.quant.zero ?? 0;
          const cuts = xv.clip && (xv.clip[0] > s * (lo - z) || xv.clip[1] < s * (hi - z));
          if (sameQuant(xv.quant, quant) && !cuts) vals.set(out, xv);
          else {
            const r = push({ op: "requant", name: nameOf(n), inputs: [xv.node], outShape: nhwc(out), inputQuant: xv.quant, ...(cuts ? { clip: xv.clip } : {}) });
            vals.set(out, { kind: "q", node: r, quant });
          }
        }
        if (perms.has(x)) perms.set(out, perms.get(x)!);
        break;
      }
      case "Sub":
      case "Add":
      case "Mul":
      case "Div": {
        const xin = [xv, vals.get(n.inputs[1])].find((v) => v?.kind === "input") as Extract<Val, { kind: "input" }> | undefined;
        if (xin && (xv === xin || op === "Add" || op === "Mul")) {
          // Preprocessing inside the model ((x − mean) / std, x·255, …) before its input quantizer.
          const cName = n.inputs.find((i) => vals.get(i)?.kind !== "input")!;
          const c = g.consts.get(cName);
          const per = c ? perChannel(c.data, c.dims, C0) : null;
          if (!per) fail(g, n, `preprocessing of the input by "${cName}": expected a constant scalar or one value per channel`);
          vals.set(out, { kind: "input", pre: [...xin.pre, { op, c: per }] });
          break;
        }
        if (op !== "Add") fail(g, n, `op ${op} between layers is not supported (it is folded only right after a Conv, Gemm or MatMul)`);
        const ci = n.inputs.findIndex((i) => g.consts.has(i) || g.qconsts.has(i));
        if (ci >= 0) {
          // A constant added to a quantized tensor (onnxruntime's QLinearMatMul + QLinearAdd of the bias).
          const xi = n.inputs[1 - ci];
          const v = quantized(n, xi);
          const i = push(biasLayer(g, n, v.node, v.quant, nhwc(xi), n.inputs[ci], nameOf(n), packer, notes));
          vals.set(out, { kind: "raw", node: i, pool: false });
          if (perms.has(xi)) perms.set(out, perms.get(xi)!);
          break;
        }
        // A residual add of two tensors.
        const a = quantized(n, n.inputs[0], "its first input");
        const b = quantized(n, n.inputs[1], "its second input");
        const sa = nhwc(n.inputs[0]);
        const sb = nhwc(n.inputs[1]);
        if (sa.join() !== sb.join()) fail(g, n, `adds tensors of shapes [${sa.join(", ")}] and [${sb.join(", ")}] (broadcasting is not supported)`);
        const pa = perms.get(n.inputs[0]);
        const pb = perms.get(n.inputs[1]);
        if ((pa || pb) && (!pa || !pb || pa.some((v, i) => v !== pb[i]))) fail(g, n, "adds flattened tensors of different layouts; not supported");
        const relu = n.clip && n.clip[0] === 0 && n.clip[1] === Infinity;
        const i = push({ op: "add", name: nameOf(n), inputs: [a.node, b.node], outShape: sa, inputQuants: [a.quant, b.quant], activation: relu ? "relu" : "none", ...(n.clip && !relu ? { clip: n.clip } : {}) });
        vals.set(out, { kind: "raw", node: i, pool: false });
        if (pa) perms.set(out, pa);
        break;
      }
      case "Relu":
      case "Clip": {
        const v = quantized(n, x);
        const c = op === "Relu" ? ([0, Infinity] as [number, number]) : clipBounds(g, n);
        vals.set(out, { ...v, clip: c });
        if (perms.has(x)) perms.set(out, perms.get(x)!);
        break;
      }
      case "Mac": {
        const v = quantized(n, x);
        const i = push(macNode(g, n, v.node, v.quant, nhwc(x), nhwc(out), shapes.get(x)!, perms.get(x), nameOf(n), packer, notes));
        vals.set(out, { kind: "raw", node: i, pool: false });
        break;
      }
      case "MaxPool": {
        const { v, H, W, win } = poolOf(n, x);
        const i = push({ op: "maxPool", name: nameOf(n), inputs: [v.node], outShape: nhwc(out), pool: win.kernel, strides: win.strides, padding: paddingOf(H, W, win) });
        vals.set(out, { kind: "q", node: i, quant: v.quant });
        break;
      }
      case "AveragePool": {
        const { v, win } = poolOf(n, x);
        const padded = win.pads.some((p) => p > 0);
        if (padded && intAttr(g, n, "count_include_pad", 0) !== 1) fail(g, n, "pads with count_include_pad 0 divide border windows by fewer taps, which one multiplier cannot express; not supported");
        const i = push({ op: "avgPool", name: nameOf(n), inputs: [v.node], outShape: nhwc(out), pool: win.kernel, strides: win.strides, padding: padded ? [win.pads[0], win.pads[1], win.pads[2], win.pads[3]] : "valid", inputQuant: v.quant });
        vals.set(out, { kind: "raw", node: i, pool: true });
        break;
      }
      case "GlobalAveragePool": {
        const v = quantized(n, x);
        const i = push({ op: "globalAvgPool", name: nameOf(n), inputs: [v.node], outShape: [nhwc(x)[2]], inputQuant: v.quant });
        vals.set(out, { kind: "raw", node: i, pool: true });
        break;
      }
      case "Flatten": {
        const s = shapes.get(x)!;
        if (intAttr(g, n, "axis", 1) !== 1) fail(g, n, "only axis 1 (keep the batch) is supported");
        if (!xv) fail(g, n, `its input "${x}" is not a tensor this importer knows`);
        if (s.length !== 4 || (s[2] === 1 && s[3] === 1 && xv.kind === "raw")) {
          vals.set(out, xv); // already flat (a global average's [C]), or [N, K]: nothing to do
          if (perms.has(x)) perms.set(out, perms.get(x)!);
          break;
        }
        const v = quantized(n, x);
        const [, C, H, W] = s;
        const i = push({ op: "flatten", name: nameOf(n), inputs: [v.node], outShape: [H * W * C] });
        vals.set(out, { kind: "q", node: i, quant: v.quant });
        if (C > 1 && H * W > 1) {
          const p = new Int32Array(H * W * C);
          for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) for (let c = 0; c < C; c++) p[(y * W + xx) * C + c] = c * H * W + y * W + xx;
          perms.set(out, p);
        }
        break;
      }
      case "Scale":
        fail(g, n, "a DequantizeLinear whose scale differs from its QuantizeLinear's is supported only right before a Conv, Gemm or MatMul");
      default:
        fail(g, n, `op ${op} is not supported here`);
    }
  }
  const ov = vals.get(g.output);
  const last = nodes.length - 1;
  if (!ov || ov.kind === "input" || ov.node !== last || !(nodes[last].op === "conv2d" || nodes[last].op === "depthwiseConv2d" || nodes[last].op === "dense"))
    fail(g, null, `the output "${g.output}" must be the logits of a last Conv, Gemm or MatMul (found ${ov && ov.kind !== "input" ? `the output of "${nodes[ov.node].name}" (${nodes[ov.node].op})` : "no layer"})`);
  // The model's own output quantizer (torch's converted models quantize the logits to u8): the logits take its
  // step (lowering, "choose-logit-scale") and its range, so ties and saturation are the model's, and the argmax
  // picks the lowest of tied classes as the model's runtime does.
  if (ov.kind === "q") {
    const [lo, hi] = qRange(ov.quant);
    const z = ov.quant.zero ?? 0;
    const range: [number, number] = [ov.quant.step * (lo - z), ov.quant.step * (hi - z)];
    const l = nodes[last] as ComputeNode;
    const c = l.clip ?? (l.activation === "relu" ? [0, Infinity] : [-Infinity, Infinity]);
    l.clip = [Math.max(c[0], range[0]), Math.min(c[1], range[1])];
    l.activation = "none";
  }
  const logitStep = ov.kind === "q" ? ov.quant.step : undefined;
  const macs = nodes.reduce((a, n) => a + ("macs" in n ? (n as ComputeNode).macs : 0), 0);
  const weights = packer.finish();
  const graph: QuantGraph = {
    format: "nipq-quantgraph",
    version: 1,
    meta: { arch: g.file, method: "imported", dataset: "", epochsDone: 0, epochsTotal: 0, seed: 0, backend: "", accuracy: null, bops: 0, macs },
    nodes,
    ...(logitStep !== undefined ? { logitStep } : {}),
    weightsFile: "",
    weightsBytes: weights.length,
  };
  return { graph, weights, notes };
}

/** A constant's values broadcast over C channels of an NCHW tensor (a scalar, or one per channel at axis 1). */
function perChannel(data: Float64Array, dims: number[], C: number): Float64Array | null {
  if (data.length === 1) return new Float64Array(C).fill(data[0]);
  const nonOne = dims.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (nonOne.length !== 1 || dims[nonOne[0]] !== C || dims.length - nonOne[0] !== 3) return null;
  return data.slice();
}

function clipBounds(g: Graph, n: Node): [number, number] {
  const lo = n.inputs[1] ? g.consts.get(n.inputs[1]) : undefined;
  const hi = n.inputs[2] ? g.consts.get(n.inputs[2]) : undefined;
  if ((n.inputs[1] && !lo) || (n.inputs[2] && !hi)) fail(g, n, "its bounds must be constants");
  const min = typeof n.attrs.min === "number" ? n.attrs.min : lo ? lo.data[0] : -Infinity;
  const max = typeof n.attrs.max === "number" ? n.attrs.max : hi ? hi.data[0] : Infinity;
  return [min, max];
}

/** The input node: its quantizer and, unless it maps every pixel to itself, the lookup table. */
function inputNode(g: Graph, n: Node, quant: QuantizerSpec, pre: { op: string; c: Float64Array }[], C: number, dims: number[], norm: InputNorm | undefined, packer: TensorPacker): InputNode {
  const q = n.q!;
  const lut = new Int32Array(C * 256);
  let identity = q.bits === 8 && !q.signed && q.zero === 0 && q.lo === 0 && q.hi === 255 && pre.length === 0 && Math.abs(q.scale * 255 - 1) <= 1e-6;
  for (let c = 0; c < C; c++)
    for (let p = 0; p < 256; p++) {
      // The model's float32 input, computed in float64 and rounded once (as the fixtures' runtimes are fed).
      let x = Math.fround((p / 255 - (norm?.mean[c] ?? 0)) / (norm?.std[c] ?? 1));
      for (const s of pre) {
        const k = s.c[c];
        x = Math.fround(s.op === "Sub" ? x - k : s.op === "Add" ? x + k : s.op === "Mul" ? x * k : x / k);
      }
      const v = quantizeReal(x, q);
      lut[c * 256 + p] = v;
      if (v !== p) identity = false;
    }
  const node: InputNode = { op: "input", name: g.input.name || "input", inputs: [], outShape: [dims[2], dims[3], dims[1]], quant };
  if (!identity) node.lut = packer.add(lut, [C, 256], "int32");
  return node;
}

/**
 * A constant c added to a quantized tensor x, as a layer the IR has: y = K·x·(1/K) + c, a dense layer with
 * weights K on the diagonal (K = 127, 8 bits) for a vector, a depthwise 1×1 convolution for a feature map.
 * The constant becomes its bias at the accumulator step s_x/K, so it is rounded by at most s_x/(2K).
 */
function biasLayer(g: Graph, n: Node, xNode: number, xq: QuantizerSpec, shape: number[], cName: string, name: string, packer: TensorPacker, notes: string[]): ComputeNode {
  const K = 127;
  const qc = g.qconsts.get(cName);
  const t = g.consts.get(cName);
  const dims = qc ? qc.dims : t!.dims;
  const vals = qc ? Float64Array.from(qc.q, (q, i) => (q - qc.zero[qc.zero.length > 1 ? i : 0]) * qc.scale[qc.scale.length > 1 ? i : 0]) : t!.data;
  const C = shape[shape.length - 1];
  const per = vals.length === 1 ? new Float64Array(C).fill(vals[0]) : vals.length === C && dims.filter((d) => d !== 1).length === 1 && (shape.length === 1 || dims.length - dims.findIndex((d) => d !== 1) === 3) ? vals : null;
  if (!per) fail(g, n, `adds a constant of shape [${dims.join(", ")}] to a [${shape.join(", ")}] tensor: only a scalar or one value per channel is supported`);
  const wq: QuantizerSpec = { id: `${name}:w`, bits: 8, alpha: 1, step: 1 / K, signed: true, learned: false };
  const bias = packer.add(per, [C], "float64");
  notes.push(`"${name}": a constant added to a quantized tensor becomes a ${shape.length === 1 ? "dense layer with a diagonal" : "depthwise 1×1 convolution"} of weight ${K}/${K} and that bias`);
  const base = { name, inputs: [xNode], outShape: shape, bias, bn: null, activation: "none" as Activation, inputQuant: xq, weightQuant: wq };
  if (shape.length === 1) {
    const w = new Int32Array(C * C);
    for (let i = 0; i < C; i++) w[i * C + i] = K;
    return { ...base, op: "dense", inFeatures: C, outFeatures: C, intWeights: packer.add(w, [C, C], "int32"), weights: packer.add(Float64Array.from(w, (v) => v / K), [C, C], "float64"), macs: C * C };
  }
  const w = new Int32Array(C).fill(K);
  return { ...base, op: "depthwiseConv2d", kernel: [1, 1], strides: [1, 1], padding: "valid", channels: C, intWeights: packer.add(w, [1, 1, C, 1], "int32"), weights: packer.add(new Float64Array(C).fill(1), [1, 1, C, 1], "float64"), macs: shape[0] * shape[1] * C };
}

/** A nipq:Mac as a conv2d, depthwiseConv2d or dense QuantGraph node, in tfjs layouts. */
function macNode(g: Graph, n: Node, xNode: number, xq: QuantizerSpec, inHWC: number[], outShape: number[], nchwIn: number[], perm: Int32Array | undefined, name: string, packer: TensorPacker, notes: string[]): ComputeNode {
  const m = n.mac!;
  const w = m.w;
  const O = w.dims[0];
  // Integer weights w − zero per output channel; their bit-width from the declared range.
  const zc = (o: number) => w.zero[w.zero.length > 1 ? o : 0];
  const zmin = Math.min(...w.zero);
  const zmax = Math.max(...w.zero);
  const wb = weightBits(w.lo - zmax, w.hi - zmin);
  if (!wb) fail(g, n, `weights in [${w.lo - zmax}, ${w.hi - zmin}] (after their zero points) need more than 8 bits`);
  const step = (o: number) => w.scale[w.scale.length > 1 ? o : 0] * m.inFactor;
  const channelSteps = Array.from({ length: O }, (_, o) => step(o));
  const wq: QuantizerSpec = { id: `${name}:w`, bits: wb.bits, alpha: Math.max(...channelSteps) * (2 ** (wb.bits - 1) - 1), step: Math.max(...channelSteps), signed: true, learned: false, channelSteps };
  if (wb.fullRange) wq.fullRange = true;
  const per = w.q.length / O;
  const qv = (o: number, k: number) => w.q[o * per + k] - zc(o);
  let tf: Int32Array;
  let shape: number[];
  const C = inHWC[inHWC.length - 1];
  const depthwise = m.kind === "conv" && m.groups === C && m.groups === O && m.groups > 1;
  if (m.kind === "conv") {
    const [, Ig, kh, kw] = w.dims;
    if (depthwise) {
      tf = new Int32Array(kh * kw * C);
      for (let c = 0; c < C; c++) for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) tf[(y * kw + xx) * C + c] = qv(c, y * kw + xx);
      shape = [kh, kw, C, 1];
    } else {
      tf = new Int32Array(kh * kw * Ig * O);
      for (let o = 0; o < O; o++) for (let i = 0; i < Ig; i++) for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) tf[((y * kw + xx) * Ig + i) * O + o] = qv(o, (i * kh + y) * kw + xx);
      shape = [kh, kw, Ig, O];
    }
  } else {
    const K = w.dims[1];
    tf = new Int32Array(K * O);
    for (let i = 0; i < K; i++) for (let o = 0; o < O; o++) tf[i * O + o] = qv(o, perm ? perm[i] : i);
    shape = [K, O];
  }
  const intWeights = packer.add(tf, shape, "int32");
  // The real weights (informative; lowering reads the integers): channel j mod O in [..][O] layouts, j mod C depthwise.
  const weights = packer.add(Float64Array.from(tf, (v, j) => v * step(depthwise ? j % C : j % O)), shape, "float64");
  // The bias: integers already at the accumulator step s_x·s_w[c] stay integers (exactly the exporter's).
  let bias: TensorRef | null = null;
  let intBias: TensorRef | undefined;
  if (m.bias instanceof Float64Array) bias = packer.add(m.bias, [O], "float64");
  else if (m.bias) {
    const b = m.bias as QConst;
    const bs = (o: number) => b.scale[b.scale.length > 1 ? o : 0];
    const bz = (o: number) => b.zero[b.zero.length > 1 ? o : 0];
    // float32 products (torch, Brevitas) sit within 2^-24 relative of the float64 one.
    const off = Array.from({ length: O }, (_, o) => o).find((o) => !(Math.abs(bs(o) - xq.step * step(o)) <= 1e-6 * xq.step * step(o) && bz(o) === 0));
    if (off === undefined) intBias = packer.add(b.q, [O], "int32");
    else if (b.quantNode !== undefined)
      // A Quant'd bias (Brevitas' Int32Bias) is the model's own integer at its own scale: taken exactly or not at all.
      fail(g, n, `its bias is quantized by Quant "${b.quantNode}" at scale ${bs(off)}${bz(off) !== 0 ? `, zeropt ${bz(off)}` : ""} (channel ${off}), not at the accumulator step s_x·s_w = ${xq.step * step(off)} with zeropt 0`);
    else {
      bias = packer.add(Float64Array.from({ length: O }, (_, o) => (b.q[o] - bz(o)) * bs(o)), [O], "float64");
      notes.push(`"${name}": the bias scale is not input scale × weight scale; the bias is requantized to the accumulator step`);
    }
  }
  const affine = m.a.some((v) => v !== 1) || m.b.some((v) => v !== 0);
  const bn = affine
    ? { epsilon: 0, gamma: packer.add(m.a, [O], "float64"), beta: packer.add(m.b, [O], "float64"), movingMean: packer.add(new Float64Array(O), [O], "float64"), movingVar: packer.add(new Float64Array(O).fill(1), [O], "float64") }
    : null;
  const relu = n.clip && n.clip[0] === 0 && n.clip[1] === Infinity;
  const activation: Activation = relu ? "relu" : "none";
  const base = { name, inputs: [xNode], outShape, weights, bias, bn, activation, inputQuant: xq, weightQuant: wq, intWeights, ...(intBias ? { intBias } : {}), ...(n.clip && !relu ? { clip: n.clip } : {}) };
  if (m.kind === "dense") return { ...base, op: "dense", inFeatures: w.dims[1], outFeatures: O, macs: w.dims[1] * O };
  const [H, W] = [nchwIn[2], nchwIn[3]];
  const win = macWindow(g, n, H, W);
  if (win.pads.some((p, j) => p >= win.kernel[j % 2])) fail(g, n, `pads [${win.pads.join(", ")}] reach a full ${win.kernel.join("×")} window; not supported`);
  const padding = paddingOf(H, W, win);
  const macs = outShape[0] * outShape[1] * O * count(w.dims.slice(1));
  if (depthwise) return { ...base, op: "depthwiseConv2d", kernel: win.kernel, strides: win.strides, padding, channels: C, macs };
  return { ...base, op: "conv2d", kernel: win.kernel, strides: win.strides, padding, inChannels: C, outChannels: O, ...(m.groups > 1 ? { groups: m.groups } : {}), macs };
}
