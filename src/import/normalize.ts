// The normalizing passes of the importer (src/import/index.ts): what exporters write in many ways becomes one
// way. Constant nodes and initializers are constants; Identity, Dropout and value-preserving Casts are
// aliases; subgraphs of constants are folded (torch's ConstantOfShape → Cast zero points, ZeroPad2d's pad
// chains, `x.view(x.size(0), -1)`'s Shape → Gather → Concat); one-element scales and zero points become
// scalars; a Reshape, Squeeze or ReduceMean that only flattens or averages spatially becomes Flatten or
// GlobalAveragePool.

import { DT, constInput, count, dtypeName, fail, intAttr, intRange, intsAttr, producer, pruneDead, replaceUses, type Attr, type Graph, type Node, type Tensor } from "./graph.js";
import { broadcast, inferShapes } from "./shapes.js";

/** Constant nodes become constants (value, value_float(s), value_int(s)). */
export function constants(g: Graph): void {
  g.nodes = g.nodes.filter((n) => {
    if (n.op !== "Constant" || n.domain) return true;
    const a = n.attrs;
    let t: Tensor | undefined;
    if (a.value && typeof a.value === "object" && !Array.isArray(a.value)) t = a.value as Tensor;
    else if (typeof a.value_float === "number") t = { dtype: DT.FLOAT, dims: [], data: Float64Array.of(a.value_float) };
    else if (Array.isArray(a.value_floats)) t = { dtype: DT.FLOAT, dims: [a.value_floats.length], data: Float64Array.from(a.value_floats as number[]) };
    else if (typeof a.value_int === "number") t = { dtype: DT.INT64, dims: [], data: Float64Array.of(a.value_int) };
    else if (Array.isArray(a.value_ints)) t = { dtype: DT.INT64, dims: [a.value_ints.length], data: Float64Array.from(a.value_ints as number[]) };
    if (!t) fail(g, n, "a Constant with no value this importer reads (value, value_float(s) or value_int(s))");
    g.consts.set(n.outputs[0], t);
    return false;
  });
}

/**
 * The integer element type of a computed tensor (QuantizeLinear's output, ConvInteger's int32, and what
 * integer-preserving ops make of them), or undefined for a real-valued one.
 */
function integerType(g: Graph, name: string): number | undefined {
  const c = g.consts.get(name);
  if (c) return intRange(c.dtype) ? c.dtype : undefined;
  const p = producer(g, name);
  if (!p) return undefined;
  switch (p.op) {
    case "QuantizeLinear": {
      const z = constInput(g, p, 2);
      return typeof p.attrs.output_dtype === "number" && p.attrs.output_dtype !== 0 ? p.attrs.output_dtype : z ? z.dtype : DT.UINT8;
    }
    case "QLinearConv": case "QLinearMatMul": case "QLinearAdd": case "QLinearGlobalAveragePool": case "QGemm":
      return constInput(g, p, p.op === "QLinearConv" ? 7 : p.op === "QLinearMatMul" ? 7 : p.op === "QLinearAdd" ? 7 : p.op === "QGemm" ? 8 : 4)?.dtype ?? DT.UINT8;
    case "ConvInteger": case "MatMulInteger":
      return DT.INT32;
    case "MaxPool": case "Flatten": case "Reshape": case "Squeeze": case "Clip": case "Identity":
      return integerType(g, p.inputs[0]);
    case "Cast":
      return intRange(p.attrs.to as number) ? (p.attrs.to as number) : undefined;
    default:
      return undefined;
  }
}

const FLOAT_TYPES: number[] = [DT.FLOAT, DT.DOUBLE, DT.FLOAT16];

/** Identity, Dropout (inference) and value-preserving Casts of computed tensors become aliases. */
export function aliases(g: Graph): void {
  for (const n of [...g.nodes]) {
    let alias = false;
    if (!n.domain && (n.op === "Identity" || n.op === "Dropout")) alias = true;
    if (!n.domain && n.op === "Cast" && !g.consts.has(n.inputs[0])) {
      const to = n.attrs.to as number;
      const from = integerType(g, n.inputs[0]);
      const r = intRange(to);
      const fr = from === undefined ? undefined : intRange(from);
      if (FLOAT_TYPES.includes(to)) alias = true; // integers and reals keep their value as floats
      else if (r && fr && fr.lo >= r.lo && fr.hi <= r.hi) alias = true; // a widening (or no-op) integer cast
      else if (fr && !r) fail(g, n, `a Cast of ${dtypeName(from!)} to ${dtypeName(to)}: ${dtypeName(to)} tensors are not supported (integers of at most 32 bits)`);
      else fail(g, n, `a Cast of ${from === undefined ? "a real-valued tensor" : dtypeName(from)} to ${dtypeName(to)} changes values (truncation); not supported`);
    }
    if (!alias) continue;
    if (n.op === "Dropout" && n.outputs.slice(1).some((o) => o && g.nodes.some((m) => m.inputs.includes(o)))) fail(g, n, "its mask output is used; not supported");
    replaceUses(g, n.outputs[0], n.inputs[0]);
    g.nodes.splice(g.nodes.indexOf(n), 1);
  }
}

// ---- constant folding ---------------------------------------------------------------------------------------

function strides(dims: number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** Values of a float32 computation: every result rounded to float32, as a float32 runtime computes it. */
function round32(dtype: number, v: number): number {
  return dtype === DT.FLOAT ? Math.fround(v) : dtype === DT.FLOAT16 || dtype === DT.DOUBLE ? v : Math.trunc(v);
}

function elementwise(g: Graph, n: Node, ts: Tensor[], f: (...v: number[]) => number): Tensor {
  let dims = ts[0].dims;
  for (const t of ts.slice(1)) {
    const b = broadcast(dims, t.dims);
    if (!b) fail(g, n, `constant shapes [${dims.join(", ")}] and [${t.dims.join(", ")}] do not broadcast`);
    dims = b;
  }
  const st = strides(dims);
  const out = new Float64Array(count(dims));
  const idx = ts.map((t) => {
    const ts2 = strides(t.dims);
    const off = dims.length - t.dims.length;
    return (i: number) => {
      let k = 0;
      for (let a = 0; a < dims.length; a++) {
        const d = Math.floor(i / st[a]) % dims[a];
        if (a >= off && t.dims[a - off] !== 1) k += d * ts2[a - off];
      }
      return k;
    };
  });
  const dtype = ts[0].dtype;
  for (let i = 0; i < out.length; i++) out[i] = round32(dtype, f(...ts.map((t, j) => t.data[idx[j](i)])));
  return { dtype, dims, data: out };
}

function castValues(to: number, v: Float64Array): Float64Array {
  if (to === DT.FLOAT) return v.map((x) => Math.fround(x));
  if (to === DT.BOOL) return v.map((x) => (x !== 0 ? 1 : 0));
  if (FLOAT_TYPES.includes(to)) return v.slice();
  const r = intRange(to);
  return v.map((x) => {
    const t = Math.trunc(x);
    if (!r) return t;
    const m = r.hi - r.lo + 1; // wrap like a C cast of an out-of-range integer
    return ((((t - r.lo) % m) + m) % m) + r.lo;
  });
}

type Folder = (g: Graph, n: Node, ins: (Tensor | undefined)[], shapeOf: (name: string) => number[]) => Tensor;

const ints = (t: Tensor | undefined) => (t ? Array.from(t.data) : undefined);

/** How each foldable op computes on constants. */
const FOLDERS: Record<string, Folder> = {
  Identity: (_g, _n, [x]) => x!,
  Cast: (_g, n, [x]) => ({ dtype: n.attrs.to as number, dims: x!.dims, data: castValues(n.attrs.to as number, x!.data) }),
  ConstantOfShape: (_g, n, [s]) => {
    const v = (n.attrs.value as Tensor | undefined) ?? { dtype: DT.FLOAT, dims: [1], data: Float64Array.of(0) };
    const dims = Array.from(s!.data);
    return { dtype: v.dtype, dims, data: new Float64Array(count(dims)).fill(v.data[0]) };
  },
  Shape: (g, n, [x], shapeOf) => {
    const dims = x ? x.dims : shapeOf(n.inputs[0]);
    const r = dims.length;
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const dimsOut = dims.slice(norm(intAttr(g, n, "start", 0)), norm(intAttr(g, n, "end", r)));
    return { dtype: DT.INT64, dims: [dimsOut.length], data: Float64Array.from(dimsOut) };
  },
  Reshape: (g, n, [x, s]) => {
    const spec = Array.from(s!.data).map((d, i) => (d === 0 ? x!.dims[i] : d));
    const known = count(spec.filter((d) => d !== -1));
    const dims = spec.map((d) => (d === -1 ? count(x!.dims) / known : d));
    if (count(dims) !== count(x!.dims)) fail(g, n, `cannot reshape [${x!.dims.join(", ")}] to [${spec.join(", ")}]`);
    return { ...x!, dims };
  },
  Flatten: (g, n, [x]) => {
    const axis = intAttr(g, n, "axis", 1);
    return { ...x!, dims: [count(x!.dims.slice(0, axis)), count(x!.dims.slice(axis))] };
  },
  Unsqueeze: (g, n, [x, a]) => {
    const axes = ints(a) ?? intsAttr(g, n, "axes");
    const r = x!.dims.length + axes.length;
    const ax = axes.map((v) => (v < 0 ? v + r : v));
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) dims.push(ax.includes(i) ? 1 : x!.dims[k++]);
    return { ...x!, dims };
  },
  Squeeze: (g, n, [x, a]) => {
    const axes = (ints(a) ?? intsAttr(g, n, "axes", x!.dims.map((d, i) => (d === 1 ? i : -99)).filter((i) => i >= 0))).map((v) => (v < 0 ? v + x!.dims.length : v));
    return { ...x!, dims: x!.dims.filter((_, i) => !axes.includes(i)) };
  },
  Concat: (g, n, ins) => {
    const ts = ins as Tensor[];
    const r = ts[0].dims.length;
    let axis = intAttr(g, n, "axis");
    if (axis < 0) axis += r;
    const dims = [...ts[0].dims];
    dims[axis] = ts.reduce((a, t) => a + t.dims[axis], 0);
    const outer = count(dims.slice(0, axis));
    const data: number[] = [];
    for (let o = 0; o < outer; o++) for (const t of ts) {
      const inner = count(t.dims.slice(axis));
      data.push(...t.data.subarray(o * inner, (o + 1) * inner));
    }
    return { dtype: ts[0].dtype, dims, data: Float64Array.from(data) };
  },
  Gather: (g, n, [x, idx]) => {
    const r = x!.dims.length;
    let axis = intAttr(g, n, "axis", 0);
    if (axis < 0) axis += r;
    const outer = count(x!.dims.slice(0, axis));
    const inner = count(x!.dims.slice(axis + 1));
    const size = x!.dims[axis];
    const data: number[] = [];
    for (let o = 0; o < outer; o++)
      for (const i0 of idx!.data) {
        const i = i0 < 0 ? i0 + size : i0;
        if (i < 0 || i >= size) fail(g, n, `index ${i0} is outside [0, ${size})`);
        data.push(...x!.data.subarray((o * size + i) * inner, (o * size + i + 1) * inner));
      }
    return { dtype: x!.dtype, dims: [...x!.dims.slice(0, axis), ...idx!.dims, ...x!.dims.slice(axis + 1)], data: Float64Array.from(data) };
  },
  Slice: (_g, _n, [x, st, en, ax, sp]) => {
    const r = x!.dims.length;
    const axes = (ints(ax) ?? x!.dims.map((_, i) => i).slice(0, st!.data.length)).map((a) => (a < 0 ? a + r : a));
    const lo = x!.dims.map(() => 0);
    const hi = [...x!.dims];
    const step = x!.dims.map(() => 1);
    axes.forEach((a, k) => {
      const d = x!.dims[a];
      const s = ints(sp)?.[k] ?? 1;
      // ONNX Slice: negative indices count from the end, then clamp to [0, d] (step > 0) or [−1, d − 1].
      const clampIdx = (v: number) => {
        const w = v < 0 ? v + d : v;
        return s > 0 ? Math.min(Math.max(w, 0), d) : Math.min(Math.max(w, -1), d - 1);
      };
      lo[a] = clampIdx(st!.data[k]);
      hi[a] = clampIdx(en!.data[k]);
      step[a] = s;
    });
    const dims = x!.dims.map((_, a) => Math.max(0, Math.ceil((hi[a] - lo[a]) / step[a])));
    const xs = strides(x!.dims);
    const os = strides(dims);
    const data = new Float64Array(count(dims));
    for (let i = 0; i < data.length; i++) {
      let k = 0;
      for (let a = 0; a < r; a++) k += (lo[a] + (Math.floor(i / os[a]) % dims[a]) * step[a]) * xs[a];
      data[i] = x!.data[k];
    }
    return { dtype: x!.dtype, dims, data };
  },
  Transpose: (g, n, [x]) => {
    const r = x!.dims.length;
    const perm = intsAttr(g, n, "perm", x!.dims.map((_, i) => r - 1 - i));
    const dims = perm.map((p) => x!.dims[p]);
    const xs = strides(x!.dims);
    const os = strides(dims);
    const data = new Float64Array(x!.data.length);
    for (let i = 0; i < data.length; i++) {
      let k = 0;
      for (let a = 0; a < r; a++) k += (Math.floor(i / os[a]) % dims[a]) * xs[perm[a]];
      data[i] = x!.data[k];
    }
    return { dtype: x!.dtype, dims, data };
  },
  Add: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a, b) => a + b),
  Sub: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a, b) => a - b),
  Mul: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a, b) => a * b),
  Div: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a, b) => a / b),
  Neg: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a) => -a),
  Sqrt: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a) => Math.sqrt(a)),
  Reciprocal: (g, n, ins) => elementwise(g, n, ins as Tensor[], (a) => 1 / a),
};

/**
 * Evaluates every node of a foldable op whose inputs are all constants (Shape also from a computed tensor's
 * static shape), in graph order, so chains fold in one sweep.
 */
export function foldConstants(g: Graph): void {
  let shapes: Map<string, number[]> | undefined;
  const shapeOf = (name: string) => {
    // Shapes of computed tensors, for Shape nodes: inferred over the graph up to the first node not yet folded.
    if (!shapes || !shapes.has(name)) {
      const upTo = g.nodes.findIndex((m) => m.op === "Shape" && m.inputs[0] === name);
      shapes = inferShapes({ ...g, nodes: g.nodes.slice(0, upTo) });
    }
    const v = shapes.get(name);
    if (!v) throw new Error(`no shape for ${name}`);
    return v;
  };
  for (const n of [...g.nodes]) {
    const f = n.domain ? undefined : FOLDERS[n.op];
    if (!f) continue;
    const ins = n.inputs.map((x) => (x ? g.consts.get(x) : undefined));
    const computed = n.inputs.filter((x, i) => x && !ins[i]);
    if (computed.length > 0 && !(n.op === "Shape" && computed.length === 1)) continue;
    const t = f(g, n, ins, shapeOf);
    g.consts.set(n.outputs[0], t);
    g.nodes.splice(g.nodes.indexOf(n), 1);
    shapes = undefined;
  }
  pruneDead(g);
}

// ---- shapes of quantization parameters, flattening ----------------------------------------------------------

/** The inputs of each quantization op that are scales or zero points (0-based slots). */
export const QUANT_PARAM_SLOTS: Record<string, number[]> = {
  QuantizeLinear: [1, 2],
  DequantizeLinear: [1, 2],
  QLinearConv: [1, 2, 4, 5, 6, 7],
  QLinearMatMul: [1, 2, 4, 5, 6, 7],
  QLinearAdd: [1, 2, 4, 5, 6, 7],
  QLinearGlobalAveragePool: [1, 2, 3, 4],
  QGemm: [1, 2, 4, 5, 7, 8],
  ConvInteger: [2, 3],
  MatMulInteger: [2, 3],
  Quant: [1, 2, 3],
  IntQuant: [1, 2, 3],
};

/**
 * One-element scales and zero points (torch's `[1]`-shaped ones, Brevitas' `[]`) become rank-0 scalars, so
 * every later pass tells per-tensor from per-channel by rank alone.
 */
export function scalarQuantParams(g: Graph): void {
  for (const n of g.nodes) {
    for (const slot of QUANT_PARAM_SLOTS[n.op] ?? []) {
      const name = n.inputs[slot];
      const t = name ? g.consts.get(name) : undefined;
      if (!t || t.dims.length === 0 || t.data.length !== 1) continue;
      // Per-axis zero points of size 1 along a size-1 channel axis are per-tensor too.
      const scalarName = `${name}:scalar`;
      g.consts.set(scalarName, { dtype: t.dtype, dims: [], data: t.data });
      n.inputs[slot] = scalarName;
    }
  }
}

/**
 * Reshape/Squeeze to [N, K] of a 4-D tensor, and ReduceMean over H and W, become Flatten (axis 1) and
 * GlobalAveragePool: the shapes say which (a Reshape that is not a flatten is refused by name).
 */
export function flattenReshapes(g: Graph): void {
  const shapes = inferShapes(g);
  for (const n of [...g.nodes]) {
    if (n.domain) continue;
    const x = shapes.get(n.inputs[0]);
    const y = shapes.get(n.outputs[0]);
    if (!x || !y) continue;
    if (n.op === "Reshape" || n.op === "Squeeze") {
      if (y.length === 2 && y[0] === x[0] && x.length >= 2) {
        Object.assign(n, { op: "Flatten", inputs: [n.inputs[0]], attrs: { axis: 1 } as Record<string, Attr> });
      } else if (!(y.length === x.length && y.every((d, i) => d === x[i]))) fail(g, n, `a reshape of [${x.join(", ")}] to [${y.join(", ")}] is not a flatten to [N, K]; not supported`);
      else replaceUses(g, n.outputs[0], n.inputs[0]);
    } else if (n.op === "ReduceMean") {
      const ax = x.length === 4 && y[0] === x[0] && y[1] === x[1] && count(y) === x[0] * x[1];
      if (!ax) fail(g, n, `a mean over other axes than H and W of an NCHW tensor is not supported`);
      const gapOut = y.length === 4 ? n.outputs[0] : `${n.outputs[0]}:gap`;
      const gap: Node = { name: n.name, op: "GlobalAveragePool", domain: "", inputs: [n.inputs[0]], outputs: [gapOut], attrs: {} };
      const at = g.nodes.indexOf(n);
      if (y.length === 4) g.nodes[at] = gap;
      else g.nodes.splice(at, 1, gap, { name: `${n.name}:flatten`, op: "Flatten", domain: "", inputs: [gapOut], outputs: [n.outputs[0]], attrs: { axis: 1 } });
    }
  }
  pruneDead(g);
}
