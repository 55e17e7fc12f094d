// Folding into layers (src/import/index.ts pass "fold-layers"): each Conv, Gemm and MatMul becomes one nipq:Mac
// node that carries everything around it that lowering folds into integer weights, bias and requant:
// - the weights (a QConst) in one layout: Conv [O][I/groups][kh][kw], dense [out][in];
// - the bias: Conv's and Gemm's third input, or MatMul's following Add of a constant;
// - a per-channel affine y = a·layer(x) + b from the constant Mul/Div/Add/Sub and BatchNormalization that
//   follow (torch's QAT Conv → Div → Add → BatchNormalization; Brevitas' Conv → BatchNormalization) — BN
//   folding, kept out of the weights as DESIGN.md §3 says;
// - the activation after it: Relu, or Clip with constant bounds (ReLU6), as a real clamp;
// - the scaling of its input (a Scale node before it, Gemm's alpha) and a zero Pad before a Conv.
// A residual Add takes its Relu/Clip the same way. A trailing Softmax/LogSoftmax is dropped: it does not
// change the argmax, and the program's output is the logits.

import { fail, intAttr, floatAttr, producer, pruneDead, readers, scalarOf, type Graph, type MacSpec, type Node, type QConst, type Tensor } from "./graph.js";

/** Per-channel values of a constant that broadcasts over `channels` channels at axis `axis` of a rank-`rank` tensor, or null. */
function perChannel(t: Tensor, channels: number, axis: number, rank: number): Float64Array | null {
  if (t.data.length === 1) return new Float64Array(channels).fill(t.data[0]);
  // Shapes like [C], [1, C], [1, C, 1, 1], [C, 1, 1]: one non-1 dim, at the channel axis counted from the end.
  const nonOne = t.dims.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (nonOne.length !== 1 || t.dims[nonOne[0]] !== channels) return null;
  const fromEnd = t.dims.length - 1 - nonOne[0];
  if (fromEnd !== rank - 1 - axis) return null;
  return t.data.slice();
}

/** Transposes a [K, M] QConst (MatMul's B, Gemm's B without transB) to [M, K] with its per-column scales as per-row. */
function transpose2d(w: QConst): QConst {
  const [K, M] = w.dims;
  const q = new Float64Array(K * M);
  for (let k = 0; k < K; k++) for (let m = 0; m < M; m++) q[m * K + k] = w.q[k * M + m];
  return { ...w, dims: [M, K], q, axis: w.scale.length > 1 ? (w.axis === 1 ? 0 : 1) : 0 };
}

/** The bias input as integers with scales (DequantizeLinear of int32) or real values; null when absent. */
function biasOf(g: Graph, n: Node, slot: number, channels: number, beta: number): QConst | Float64Array | null {
  const name = n.inputs[slot];
  if (!name) return null;
  const qc = g.qconsts.get(name);
  if (qc) {
    if (qc.q.length !== channels) fail(g, n, `bias of ${qc.q.length} values for ${channels} output channels`);
    return { ...qc, scale: qc.scale.map((s) => s * beta) };
  }
  const t = g.consts.get(name);
  if (!t) fail(g, n, `the bias (input ${slot + 1}, "${name}") must be a constant`);
  const v = perChannel(t, channels, 1, Math.max(2, t.dims.length));
  if (!v) fail(g, n, `bias shape [${t.dims.join(", ")}] is not one value per output channel (${channels})`);
  return v.map((x) => x * beta);
}

/** The weights of a Conv/Gemm/MatMul as a QConst [O][…], or a one-line refusal naming what they are. */
function weightsOf(g: Graph, n: Node, slot: number): QConst {
  const name = n.inputs[slot];
  const qc = g.qconsts.get(name);
  if (qc) return qc;
  if (g.consts.has(name)) fail(g, n, `its weights "${name}" are not quantized (no DequantizeLinear or Quant on them): a float layer cannot become integers`);
  fail(g, n, `its weights "${name}" are computed, not a constant`);
}

/** A layer's Mac spec from its node (weights, bias, groups), before the following ops are absorbed. */
function macOf(g: Graph, n: Node): MacSpec {
  if (n.op === "Conv") {
    const w = weightsOf(g, n, 1);
    if (w.dims.length !== 4) fail(g, n, `expected 4-D weights (2-D convolution), found [${w.dims.join(", ")}]`);
    if (w.scale.length > 1 && w.axis !== 0) fail(g, n, `weights quantized per slice of axis ${w.axis}; only per output channel (axis 0) is supported`);
    const O = w.dims[0];
    return { kind: "conv", w, groups: intAttr(g, n, "group", 1), window: n, bias: biasOf(g, n, 2, O, 1), a: new Float64Array(O).fill(1), b: new Float64Array(O), inFactor: 1 };
  }
  const gemm = n.op === "Gemm";
  let w = weightsOf(g, n, 1);
  if (w.dims.length !== 2) fail(g, n, `expected 2-D weights, found [${w.dims.join(", ")}]`);
  const transB = gemm && intAttr(g, n, "transB", 0) === 1;
  if (gemm && intAttr(g, n, "transA", 0) !== 0) fail(g, n, "transA 1 is not supported");
  // Dense weights as [out][in]: Gemm with transB already is; MatMul's B and Gemm's B without transB are [in][out].
  if (!transB) w = transpose2d(w);
  if (w.scale.length > 1 && w.axis !== 0) fail(g, n, "weights quantized per input feature; only per output feature is supported");
  const O = w.dims[0];
  const alpha = gemm ? floatAttr(g, n, "alpha", 1) : 1;
  const beta = gemm ? floatAttr(g, n, "beta", 1) : 1;
  if (!(alpha > 0)) fail(g, n, `alpha ${alpha} is not supported (a positive scaling)`);
  return { kind: "dense", w, groups: 1, bias: gemm ? biasOf(g, n, 2, O, beta) : null, a: new Float64Array(O).fill(1), b: new Float64Array(O), inFactor: alpha };
}

/** Adds a real per-channel constant to the bias/affine: y = a·L + b + c. */
function addConst(m: MacSpec, c: Float64Array): void {
  for (let i = 0; i < c.length; i++) m.b[i] += c[i];
}

/** The only reader of `name`, if it has exactly one and the graph output is not `name`. */
function soleReader(g: Graph, name: string): Node | undefined {
  const rs = readers(g, name);
  return rs.length === 1 && g.output !== name && rs[0].inputs.filter((x) => x === name).length === 1 ? rs[0] : undefined;
}

/** A constant Clip/Relu after a layer: its real clamp [lo, hi]. */
function clampOf(g: Graph, n: Node): [number, number] | null {
  if (n.op === "Relu") return [0, Infinity];
  if (n.op !== "Clip") return null;
  const lo = n.inputs[1] ? g.consts.get(n.inputs[1]) : undefined;
  const hi = n.inputs[2] ? g.consts.get(n.inputs[2]) : undefined;
  if ((n.inputs[1] && !lo) || (n.inputs[2] && !hi)) fail(g, n, "its bounds must be constants");
  const min = n.attrs.min !== undefined ? floatAttr(g, n, "min") : lo ? scalarOf(g, n, lo, "min") : -Infinity;
  const max = n.attrs.max !== undefined ? floatAttr(g, n, "max") : hi ? scalarOf(g, n, hi, "max") : Infinity;
  if (min > max) fail(g, n, `min ${min} > max ${max}`);
  return [min, max];
}

/** Absorbs the chain after a layer into its Mac spec; returns the last absorbed node's output. */
function absorb(g: Graph, m: MacSpec, out: string, rank: number, remove: Set<Node>): { out: string; clip?: [number, number] } {
  const O = m.a.length;
  for (;;) {
    const r = soleReader(g, out);
    if (!r || r.domain && r.op !== "Scale") break;
    const other = (r.op === "Add" || r.op === "Sub" || r.op === "Mul" || r.op === "Div") ? r.inputs.find((x) => x !== out) : undefined;
    const c = other ? g.consts.get(other) : undefined;
    const v = c ? perChannel(c, O, 1, rank) : null;
    if ((r.op === "Add" || r.op === "Sub") && v) {
      if (r.op === "Sub" && r.inputs[0] !== out) break; // c − y flips the sign: not folded
      addConst(m, r.op === "Add" ? v : v.map((x) => -x));
    } else if (r.op === "Mul" && v) {
      for (let i = 0; i < O; i++) ((m.a[i] *= v[i]), (m.b[i] *= v[i]));
    } else if (r.op === "Div" && v && r.inputs[0] === out) {
      for (let i = 0; i < O; i++) ((m.a[i] /= v[i]), (m.b[i] /= v[i]));
    } else if (r.op === "Scale" && r.domain === "nipq") {
      for (let i = 0; i < O; i++) ((m.a[i] *= r.factor!), (m.b[i] *= r.factor!));
    } else if (r.op === "BatchNormalization" && !r.domain) {
      const [, sc, bi, mu, va] = r.inputs.map((x) => g.consts.get(x));
      if (!sc || !bi || !mu || !va) fail(g, r, "its scale, bias, mean and variance must be constants");
      if (r.outputs.slice(1).some((o) => o && readers(g, o).length > 0)) fail(g, r, "training mode (running statistics as outputs) is not supported");
      const eps = floatAttr(g, r, "epsilon", 1e-5);
      const P = [sc, bi, mu, va].map((t) => perChannel(t, O, 0, 1));
      if (P.some((p) => !p)) fail(g, r, `expected ${O} channels in its parameters`);
      const [gam, be, mean, vr] = P as Float64Array[];
      for (let i = 0; i < O; i++) {
        if (!(vr[i] + eps > 0)) fail(g, r, `channel ${i}: variance + epsilon is ${vr[i] + eps}, expected > 0`);
        const k = gam[i] / Math.sqrt(vr[i] + eps);
        m.a[i] *= k;
        m.b[i] = k * (m.b[i] - mean[i]) + be[i];
      }
    } else break;
    remove.add(r);
    out = r.outputs[0];
  }
  return absorbClamps(g, out, remove);
}

/** The activation after `out`: any number of Relu/Clip (a Relu after a Clip, say), their ranges intersected. */
function absorbClamps(g: Graph, out: string, remove: Set<Node>): { out: string; clip?: [number, number] } {
  let clip: [number, number] | undefined;
  for (;;) {
    const r = soleReader(g, out);
    const c = r && !r.domain ? clampOf(g, r) : null;
    if (!r || !c) break;
    clip = clip ? [Math.max(clip[0], c[0]), Math.min(clip[1], c[1])] : c;
    remove.add(r);
    out = r.outputs[0];
  }
  return { out, clip };
}

/** The pass. */
export function foldLayers(g: Graph): void {
  // A trailing Softmax/LogSoftmax: the logits are its input.
  for (;;) {
    const p = producer(g, g.output);
    if (!p || p.domain || (p.op !== "Softmax" && p.op !== "LogSoftmax")) break;
    g.output = p.inputs[0];
  }
  pruneDead(g);
  const remove = new Set<Node>();
  for (const n of [...g.nodes]) {
    if (remove.has(n) || n.domain) continue;
    if (n.op === "Conv" || n.op === "Gemm" || n.op === "MatMul") {
      const m = macOf(g, n);
      // The input's scaling (a Scale node) folds into the layer: layer(f·x) = f·layer(x) for the linear part.
      const sp = producer(g, n.inputs[0]);
      let x = n.inputs[0];
      if (sp && sp.domain === "nipq" && sp.op === "Scale") {
        m.inFactor *= sp.factor!;
        x = sp.inputs[0];
      }
      // A zero Pad before a Conv: its pads add to the Conv's (the real 0 is what conv padding reads).
      const pp = producer(g, x);
      if (pp && !pp.domain && pp.op === "Pad" && m.kind === "conv" && readers(g, x).length === 1) {
        m.extraPads = padOf(g, pp);
        x = pp.inputs[0];
        remove.add(pp);
      }
      // MatMul + Add of a constant is a dense layer's bias.
      let out = n.outputs[0];
      if (n.op === "MatMul") {
        const r = soleReader(g, out);
        const c = r && !r.domain && r.op === "Add" ? g.consts.get(r.inputs.find((i) => i !== out)!) : undefined;
        const v = c ? perChannel(c, m.a.length, 1, 2) : null;
        if (r && v) {
          m.bias = v;
          remove.add(r);
          out = r.outputs[0];
        }
      }
      const rank = m.kind === "conv" ? 4 : 2;
      const done = absorb(g, m, out, rank, remove);
      const mac: Node = { name: n.name, op: "Mac", domain: "nipq", inputs: [x], outputs: [done.out], attrs: {}, mac: m, clip: done.clip };
      g.nodes[g.nodes.indexOf(n)] = mac;
    } else if (n.op === "Add" && n.inputs.every((i) => !g.consts.has(i) && !g.qconsts.has(i))) {
      // A residual add: its activation folds in.
      const { out, clip } = absorbClamps(g, n.outputs[0], remove);
      if (out !== n.outputs[0]) g.nodes[g.nodes.indexOf(n)] = { ...n, outputs: [out], clip };
    }
  }
  g.nodes = g.nodes.filter((n) => !remove.has(n));
  for (const n of g.nodes) if (n.op === "Pad" && !n.domain) fail(g, n, "a Pad is supported only right before a Conv (as its padding)");
  pruneDead(g);
}

/** A Pad node's spatial pads [top, left, bottom, right]: constant mode, value 0, NCHW with no N or C padding. */
function padOf(g: Graph, n: Node): [number, number, number, number] {
  const mode = typeof n.attrs.mode === "string" ? n.attrs.mode : "constant";
  if (mode !== "constant") fail(g, n, `mode ${mode} is not supported (constant zero padding only)`);
  const t = n.inputs[1] ? g.consts.get(n.inputs[1]) : undefined;
  const p = t ? Array.from(t.data) : Array.isArray(n.attrs.pads) ? (n.attrs.pads as number[]) : null;
  if (!p) fail(g, n, "its pads must be a constant");
  const v = n.inputs[2] ? g.consts.get(n.inputs[2]) : undefined;
  const value = v ? v.data[0] : typeof n.attrs.value === "number" ? n.attrs.value : 0;
  if (value !== 0) fail(g, n, `padding with ${value} is not supported (zero padding only)`);
  if (n.inputs[3]) fail(g, n, "the axes input is not supported");
  if (p.length !== 8 || p[0] || p[1] || p[4] || p[5] || p.some((x) => x < 0)) fail(g, n, `pads [${p.join(", ")}] are not non-negative spatial pads of an NCHW tensor`);
  return [p[2], p[3], p[6], p[7]];
}
