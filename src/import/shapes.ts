// Static shapes of every tensor of the importer's graph (NCHW, with the batch dimension as 1: the program runs
// one image at a time), and the window attributes of Conv/pool nodes resolved into explicit pads. One table
// of per-op shape rules; an op without a rule is one the importer does not support, named in the error.

import { ImportError, constInput, count, fail, intAttr, intsAttr, stringAttr, type Graph, type Node } from "./graph.js";

/** Kernel, strides and explicit pads [top, left, bottom, right] of a 2-D window op, and its output size. */
export interface Window {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
  out: [number, number];
}

/**
 * The window of a Conv/ConvInteger/QLinearConv/MaxPool/AveragePool node on an H × W input: auto_pad resolved
 * (SAME_UPPER is TensorFlow's `same`, SAME_LOWER puts the odd pad first), dilations other than 1 refused, and
 * for max pool a ceil_mode that adds a last window starting inside the input turned into extra end padding
 * (the padded taps of a max pool are ignored, so this is the same window).
 */
export function windowOf(g: Graph, n: Node, H: number, W: number, kernel: [number, number]): Window {
  const strides = intsAttr(g, n, "strides", [1, 1]);
  const dil = intsAttr(g, n, "dilations", [1, 1]);
  if (strides.length !== 2 || dil.length !== 2) fail(g, n, `expected 2-D strides and dilations, found ${strides.length}-D`);
  const d = dil.find((v) => v !== 1);
  if (d !== undefined) fail(g, n, `dilation ${d} is not supported`);
  if (strides.some((s) => s < 1)) fail(g, n, `strides [${strides.join(", ")}] are not positive`);
  const auto = stringAttr(g, n, "auto_pad", "NOTSET");
  let pads: number[];
  if (auto === "NOTSET") pads = intsAttr(g, n, "pads", [0, 0, 0, 0]);
  else if (auto === "VALID") pads = [0, 0, 0, 0];
  else if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    const tot = (size: number, k: number, s: number) => Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
    const th = tot(H, kernel[0], strides[0]);
    const tw = tot(W, kernel[1], strides[1]);
    const first = (t: number) => (auto === "SAME_UPPER" ? Math.floor(t / 2) : Math.ceil(t / 2));
    pads = [first(th), first(tw), th - first(th), tw - first(tw)];
  } else fail(g, n, `auto_pad ${JSON.stringify(auto)} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  if (pads.length !== 4) fail(g, n, `expected 4 pads (2-D), found ${pads.length}`);
  if (pads.some((p) => p < 0)) fail(g, n, `negative pads [${pads.join(", ")}] are not supported`);
  const outOf = (size: number, k: number, s: number, p0: number, p1: number, ceil: boolean) => (ceil ? Math.ceil : Math.floor)((size + p0 + p1 - k) / s) + 1;
  let out: [number, number] = [outOf(H, kernel[0], strides[0], pads[0], pads[2], false), outOf(W, kernel[1], strides[1], pads[1], pads[3], false)];
  if (intAttr(g, n, "ceil_mode", 0) === 1) {
    const ceil: [number, number] = [outOf(H, kernel[0], strides[0], pads[0], pads[2], true), outOf(W, kernel[1], strides[1], pads[1], pads[3], true)];
    for (const a of [0, 1]) {
      if (ceil[a] === out[a]) continue;
      const size = a === 0 ? H : W;
      // The extra window must start inside the input (or the begin padding), else ONNX drops it.
      if (n.op !== "MaxPool" || (ceil[a] - 1) * strides[a] >= size + pads[a]) fail(g, n, `ceil_mode 1 adds a window that ${n.op === "MaxPool" ? "starts in the end padding" : "averages over a varying count"}; not supported`);
      pads[a + 2] += (ceil[a] - 1) * strides[a] + kernel[a] - (size + pads[a] + pads[a + 2]);
    }
    out = ceil;
  }
  if (out[0] < 1 || out[1] < 1) fail(g, n, `a ${kernel.join("×")} window does not fit the ${H}×${W} input`);
  return { kernel, strides: [strides[0], strides[1]], pads: [pads[0], pads[1], pads[2], pads[3]], out };
}

/** The window of a nipq:Mac convolution: its Conv's attributes, plus the pads of a Pad merged before it. */
export function macWindow(g: Graph, n: Node, H: number, W: number): Window {
  const m = n.mac!;
  const [et, el, eb, er] = m.extraPads ?? [0, 0, 0, 0];
  const win = windowOf(g, m.window!, H + et + eb, W + el + er, [m.w.dims[2], m.w.dims[3]]);
  return { ...win, pads: [win.pads[0] + et, win.pads[1] + el, win.pads[2] + eb, win.pads[3] + er] };
}

/** Numpy-style broadcast of two shapes, or null when they do not broadcast. */
export function broadcast(a: number[], b: number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(Math.max(x, y));
  }
  return out;
}

type ShapeOf = (name: string) => number[];
type Rule = (g: Graph, n: Node, s: ShapeOf) => number[][];

const same: Rule = (_g, n, s) => [s(n.inputs[0])];

function nchw(g: Graph, n: Node, shape: number[]): [number, number, number, number] {
  if (shape.length !== 4) fail(g, n, `expected a 4-D NCHW input, found shape [${shape.join(", ")}]`);
  return shape as [number, number, number, number];
}

const conv: Rule = (g, n, s) => {
  const wi = n.op === "QLinearConv" ? 3 : 1;
  const [N, , H, W] = nchw(g, n, s(n.inputs[0]));
  const w = s(n.inputs[wi]);
  if (w.length !== 4) fail(g, n, `expected 4-D weights [O, I/groups, kh, kw] (2-D convolution), found [${w.join(", ")}]`);
  const win = windowOf(g, n, H, W, [w[2], w[3]]);
  return [[N, w[0], win.out[0], win.out[1]]];
};

const pool: Rule = (g, n, s) => {
  const [N, C, H, W] = nchw(g, n, s(n.inputs[0]));
  const k = intsAttr(g, n, "kernel_shape");
  if (k.length !== 2) fail(g, n, `expected a 2-D kernel_shape, found [${k.join(", ")}]`);
  const win = windowOf(g, n, H, W, [k[0], k[1]]);
  return [[N, C, win.out[0], win.out[1]]];
};

const gap: Rule = (g, n, s) => {
  const [N, C] = nchw(g, n, s(n.inputs[0]));
  return [[N, C, 1, 1]];
};

const flatten: Rule = (g, n, s) => {
  const x = s(n.inputs[0]);
  let axis = intAttr(g, n, "axis", 1);
  if (axis < 0) axis += x.length;
  return [[count(x.slice(0, axis)), count(x.slice(axis))]];
};

const matmul = (ai: number, bi: number): Rule => (g, n, s) => {
  const a = s(n.inputs[ai]);
  const b = s(n.inputs[bi]);
  if (a.length !== 2 || b.length !== 2 || a[1] !== b[0]) fail(g, n, `expected [N, K] × [K, M] (a flattened input), found [${a.join(", ")}] × [${b.join(", ")}]`);
  return [[a[0], b[1]]];
};

const gemm = (ai: number, bi: number): Rule => (g, n, s) => {
  const a = s(n.inputs[ai]);
  const b = s(n.inputs[bi]);
  if (intAttr(g, n, "transA", 0) !== 0) fail(g, n, "transA 1 is not supported (the input must be [N, K])");
  const tb = intAttr(g, n, "transB", 0) === 1;
  const K = tb ? b[1] : b[0];
  if (a.length !== 2 || b.length !== 2 || a[1] !== K) fail(g, n, `expected [N, K] × B with K = ${a[1]}, found [${a.join(", ")}] × [${b.join(", ")}] (transB ${tb ? 1 : 0})`);
  return [[a[0], tb ? b[0] : b[1]]];
};

const binary: Rule = (g, n, s) => {
  const a = s(n.inputs[0]);
  const b = s(n.inputs[n.op === "QLinearAdd" ? 3 : 1]);
  const r = broadcast(a, b);
  if (!r) fail(g, n, `shapes [${a.join(", ")}] and [${b.join(", ")}] do not broadcast`);
  return [r];
};

const reshape: Rule = (g, n, s) => {
  const x = s(n.inputs[0]);
  const t = constInput(g, n, 1);
  if (!t) fail(g, n, "the target shape must be a constant");
  const spec = Array.from(t.data);
  const out = spec.map((d, i) => (d === 0 && intAttr(g, n, "allowzero", 0) === 0 ? x[i] : d));
  const known = count(out.filter((d) => d !== -1));
  const unknown = out.filter((d) => d === -1).length;
  if (unknown > 1 || (unknown === 1 && count(x) % known !== 0) || (unknown === 0 && known !== count(x))) fail(g, n, `cannot reshape [${x.join(", ")}] to [${spec.join(", ")}]`);
  return [out.map((d) => (d === -1 ? count(x) / known : d))];
};

const squeeze: Rule = (g, n, s) => {
  const x = s(n.inputs[0]);
  const axesT = constInput(g, n, 1);
  const axes = (axesT ? Array.from(axesT.data) : intsAttr(g, n, "axes", x.map((_, i) => i).filter((i) => x[i] === 1))).map((a) => (a < 0 ? a + x.length : a));
  if (axes.some((a) => x[a] !== 1)) fail(g, n, `cannot squeeze axes [${axes.join(", ")}] of [${x.join(", ")}]`);
  return [x.filter((_, i) => !axes.includes(i))];
};

const reduceMean: Rule = (g, n, s) => {
  const x = s(n.inputs[0]);
  const axesT = constInput(g, n, 1);
  const axes = (axesT ? Array.from(axesT.data) : intsAttr(g, n, "axes", x.map((_, i) => i))).map((a) => (a < 0 ? a + x.length : a));
  const keep = intAttr(g, n, "keepdims", 1) === 1;
  return [keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i))];
};

const pad: Rule = (g, n, s) => {
  const x = s(n.inputs[0]);
  const t = constInput(g, n, 1);
  const p = t ? Array.from(t.data) : intsAttr(g, n, "pads");
  if (p.length !== 2 * x.length) fail(g, n, `expected ${2 * x.length} pads, found ${p.length}`);
  return [x.map((d, i) => d + p[i] + p[i + x.length])];
};

/** Shape rules by op (default domain and com.microsoft's QLinear ops; nipq: internal ops of the passes). */
export const SHAPE_RULES: Record<string, Rule> = {
  Conv: conv,
  ConvInteger: conv,
  QLinearConv: conv,
  MaxPool: pool,
  AveragePool: pool,
  GlobalAveragePool: gap,
  QLinearGlobalAveragePool: gap,
  Flatten: flatten,
  Reshape: reshape,
  Squeeze: squeeze,
  ReduceMean: reduceMean,
  Pad: pad,
  MatMul: matmul(0, 1),
  MatMulInteger: matmul(0, 1),
  QLinearMatMul: matmul(0, 3),
  Gemm: gemm(0, 1),
  QGemm: gemm(0, 3),
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  QLinearAdd: binary,
  Relu: same,
  Clip: same,
  BatchNormalization: same,
  QuantizeLinear: same,
  DequantizeLinear: same,
  Quant: same,
  IntQuant: same,
  Cast: same,
  Identity: same,
  Dropout: same,
  Softmax: same,
  LogSoftmax: same,
  FakeQuant: same,
  Scale: same,
  Mac: (g, n, s) => {
    const m = n.mac!;
    const x = s(n.inputs[0]);
    if (m.kind === "dense") {
      if (x.length !== 2 || x[1] !== m.w.dims[1]) fail(g, n, `expects a flat input of ${m.w.dims[1]} features, found shape [${x.join(", ")}]`);
      return [[x[0], m.w.dims[0]]];
    }
    const [N, C, H, W] = nchw(g, n, x);
    if (C !== m.w.dims[1] * m.groups) fail(g, n, `weights [${m.w.dims.join(", ")}] with group ${m.groups} expect ${m.w.dims[1] * m.groups} input channels, found ${C}`);
    const win = macWindow(g, n, H, W);
    return [[N, m.w.dims[0], win.out[0], win.out[1]]];
  },
};

/** Shapes of every tensor (constants, the input with batch 1, every node output), in graph order. */
export function inferShapes(g: Graph): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const [k, t] of g.consts) shapes.set(k, t.dims);
  for (const [k, t] of g.qconsts) shapes.set(k, t.dims);
  const dims = g.input.dims.map((d, i) => (typeof d === "number" && d > 0 ? d : i === 0 ? 1 : NaN));
  if (dims.some((d) => Number.isNaN(d))) throw new ImportError(`${g.file}: input "${g.input.name}": dims [${g.input.dims.join(", ")}] must be numbers (only the batch may be symbolic)`);
  shapes.set(g.input.name, dims);
  const s: ShapeOf = (name) => {
    const v = shapes.get(name);
    if (!v) throw new ImportError(`${g.file}: tensor "${name}" is read before it is computed (or is missing: no initializer, constant or node output has that name)`);
    return v;
  };
  for (const n of g.nodes) {
    const rule = SHAPE_RULES[n.op];
    if (!rule) fail(g, n, `op ${n.domain ? `${n.domain}:` : ""}${n.op} is not supported`);
    rule(g, n, s).forEach((shape, i) => n.outputs[i] && shapes.set(n.outputs[i], shape));
  }
  return shapes;
}
