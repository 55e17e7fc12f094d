// Lowering: a trained QuantGraph (checkpoint directory) → an integer-only program (DESIGN.md §3).
// A flat list of small named passes over one state; each says in one line what it does. No tfjs here.
//
// Notation for a MAC layer: input integers q_x with step s_x, weights q_w with step s_w (per tensor),
// float bias b, BN (γ, β, μ, σ², ε), activation, output read by its consumers through a quantizer of
// step s_y. The float model computes y = k·(s_x·s_w·Σ q_w·q_x + b) + t with k = γ/√(σ² + ε), t = β − k·μ,
// i.e. y = k·s_x·s_w·(Σ q_w·q_x + (b + t/k)/(s_x·s_w)). So the integer layer is
//   acc = Σ q_w·q_x + round((b + t/k)/(s_x·s_w)),   y_q = clamp(requant(acc, M), lo, hi),   M = k·s_x·s_w/s_y,
// with BN folded into M and the bias, never into the weights (a channel with k < 0 has its integer
// weights and bias negated, which is exact for narrow symmetric ranges).
//
// Imported models (src/import/) reach the same passes through the same QuantGraph, with the fields
// DESIGN.md §2 and §3 "Imported models" add: integer weights with a step per output channel (s_w → s_w[c]),
// integer biases already at the accumulator step, zero points (the kernels subtract z_x and add z_y; the
// multipliers do not change), full-range and clipped ranges (the output clamp), an input lookup table,
// average pools and back-to-back quantizers (an add with mb = 0).

import { join } from "node:path";
import { NipqInputError } from "../errors.js";
import { readCheckpoint, readValues } from "../graph/checkpoint.js";
import { isComputeNode, type ComputeNode, type GraphNode, type QuantGraph, type QuantizerSpec, type TensorRef } from "../graph/types.js";
import { accumulatorBound } from "../ir/accbound.js";
import { validateProgram } from "../ir/validate.js";
import type { InputLayer, Layer, Program, Requant, TensorSpec } from "../ir/types.js";
import { dyadic } from "./dyadic.js";
import { INPUT_PIXELS, quantizeValue, quantRange, roundHalfEven, sameQuantization } from "../graph/quantize.js";

/** Raised for a checkpoint that cannot become a valid integer program; names the layer. CLI exit 2. */
export class LoweringError extends NipqInputError {
  override name = "LoweringError";
}

/** What the passes share. Arrays are indexed by graph node. */
export interface LowerState {
  /** The checkpoint directory (for messages). */
  dir: string;
  graph: QuantGraph;
  weights: Uint8Array;
  /** The quantizer each node's output is read through ("logits" for the last node). */
  outQuant: (QuantizerSpec | "logits")[];
  /** Output tensor of each node. */
  spec: TensorSpec[];
  /** MAC layers: integer weights in the IR layout. */
  qw: (Int8Array | undefined)[];
  /** MAC layers: per-channel BN scale k and the real bias in accumulator-step units (b + t/k)/(s_x·s_w). */
  k: (Float64Array | undefined)[];
  biasSteps: (Float64Array | undefined)[];
  /** MAC layers: integer bias and requant. */
  bias: (Int32Array | undefined)[];
  rq: (Requant | undefined)[];
  /** add layers: multipliers with one shared shift. */
  addRq: ({ ma: number; mb: number; s: number } | undefined)[];
  layers: Layer[];
}

type Pass = { name: string; what: string; run: (st: LowerState) => void };

function nodeName(st: LowerState, i: number): string {
  return `${st.dir}: layer ${st.graph.nodes[i].name} (nodes[${i}])`;
}

function fail(st: LowerState, i: number, msg: string): never {
  throw new LoweringError(`${nodeName(st, i)}: ${msg}`);
}

function tensorOf(st: LowerState, ref: TensorRef): Float64Array {
  return readValues(st.weights, ref);
}

/** The step of output channel c of a weight quantizer (per channel for imported models). */
function wStep(q: QuantizerSpec, c: number): number {
  return q.channelSteps ? q.channelSteps[c] : q.step;
}

/** Consumers of node i: [consumer index, input slot]. */
function consumers(g: QuantGraph, i: number): [number, number][] {
  const out: [number, number][] = [];
  g.nodes.forEach((n, j) => n.inputs.forEach((k, slot) => k === i && out.push([j, slot])));
  return out;
}

/** The quantizer through which `reader` reads its input `slot`; passthrough nodes defer to their own readers. */
function readQuant(st: LowerState, reader: number, slot: number): QuantizerSpec | "logits" {
  const n = st.graph.nodes[reader];
  let q: QuantizerSpec | null;
  switch (n.op) {
    case "maxPool":
    case "flatten":
      return st.outQuant[reader];
    case "add":
      q = n.inputQuants[slot];
      break;
    case "globalAvgPool":
    case "avgPool":
    case "requant":
    case "conv2d":
    case "depthwiseConv2d":
    case "dense":
      q = n.inputQuant;
      break;
    default:
      q = null;
  }
  if (!q) fail(st, reader, "has no input quantizer: a float checkpoint cannot be lowered (train with --method nipq or lsq)");
  return q;
}

function sameQuant(a: QuantizerSpec | "logits", b: QuantizerSpec | "logits"): boolean {
  if (a === "logits" || b === "logits") return a === b;
  const same = (x?: [number, number], y?: [number, number]) => (x === undefined ? y === undefined : y !== undefined && x[0] === y[0] && x[1] === y[1]);
  return sameQuantization(a, b) && same(a.clip, b.clip);
}

/** The integer tensor a quantizer produces; the format-2 fields only when they differ from the defaults. */
function tensorSpec(shape: number[], q: QuantizerSpec): TensorSpec {
  return { shape, bits: q.bits, signed: q.signed, scale: q.step, ...(q.zero ? { zero: q.zero } : {}), ...(q.fullRange ? { fullRange: true } : {}) };
}

/** Does the input node carry a lookup table (imported models)? Then its tensor is any quantizer's. */
function hasLut(st: LowerState): boolean {
  const n0 = st.graph.nodes[0];
  return n0.op === "input" && n0.lut !== undefined;
}

/** Step (real scale) of node i's input slot. */
function inScale(st: LowerState, i: number, slot = 0): number {
  return st.spec[st.graph.nodes[i].inputs[slot]].scale;
}

/**
 * Weights in the IR layout from the tfjs layouts: conv [kh][kw][in/groups][out] → [out][kh][kw][in/groups];
 * depthwise [kh][kw][C][1] → [C][kh][kw][1]; dense [in][out] → [out][in].
 */
function transposeWeights(n: ComputeNode, w: ArrayLike<number>): number[] {
  const out: number[] = new Array(w.length);
  if (n.op === "dense") {
    const I = n.inFeatures;
    const O = n.outFeatures;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) out[o * I + i] = w[i * O + o];
    return out;
  }
  const [kh, kw] = n.kernel;
  const C = n.op === "conv2d" ? n.inChannels / (n.groups ?? 1) : 1;
  const O = n.op === "conv2d" ? n.outChannels : n.channels;
  // depthwise [kh][kw][C][1] is [kh][kw][in=1][out=C] for this purpose: output channel c reads channel c.
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let c = 0; c < C; c++) for (let o = 0; o < O; o++) out[((o * kh + y) * kw + x) * C + c] = w[((y * kw + x) * C + c) * O + o];
  return out;
}

const INT32_MAX = 2 ** 31 - 1;

/** The passes, in order. */
export const PASSES: Pass[] = [
  {
    name: "check-finite",
    what: "rejects NaN or infinite weights, biases, BN statistics and quantizer steps, naming the layer",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        if (!isComputeNode(n)) return;
        const refs: [string, { offset: number; length: number; shape: number[] } | null][] = [["weights", n.weights], ["bias", n.bias]];
        if (n.bn) refs.push(["bn.gamma", n.bn.gamma], ["bn.beta", n.bn.beta], ["bn.movingMean", n.bn.movingMean], ["bn.movingVar", n.bn.movingVar]);
        for (const [what, ref] of refs) {
          if (!ref) continue;
          const t = tensorOf(st, ref);
          const bad = t.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0) fail(st, i, `${what}[${bad}]: expected a finite number, found ${t[bad]}`);
        }
        if (n.bn) tensorOf(st, n.bn.movingVar).forEach((v, c) => v + n.bn!.epsilon > 0 || fail(st, i, `bn.movingVar[${c}]: expected variance + epsilon > 0, found ${v}`));
      });
    },
  },
  {
    name: "assign-tensor-quant",
    what: "gives every node output the quantizer its readers use (through max pools and flattens); the last node is the s16 logits",
    run(st) {
      const g = st.graph;
      const last = g.nodes.length - 1;
      for (let i = last; i >= 0; i--) {
        if (i === last) {
          st.outQuant[i] = "logits";
          continue;
        }
        const cs = consumers(g, i);
        if (cs.length === 0) fail(st, i, "its output is never read (only the last node may be unread)");
        const qs = cs.map(([j, slot]) => readQuant(st, j, slot));
        if (!qs.every((q) => sameQuant(q, qs[0]))) fail(st, i, "its output is read through different quantizers; lowering needs one integer tensor per output");
        st.outQuant[i] = qs[0];
      }
      const n0 = g.nodes[0];
      if (n0.op !== "input") fail(st, 0, "expected the input node first");
      const q0 = st.outQuant[0];
      if (q0 === "logits") fail(st, 0, "the input cannot be the logits");
      // With a lookup table (imported models) the input is whatever its readers' quantizer is.
      if (!hasLut(st) && !sameQuantization(q0, INPUT_PIXELS))
        fail(st, 0, `the input must be read as u8 pixels (8 bits, unsigned, step 1/255), found ${JSON.stringify(q0)}`);
    },
  },
  {
    name: "tensor-specs",
    what: "derives each output's integer tensor (shape, bits, signedness, scale); max pool and flatten keep their input's; s16 logits get their scale in choose-logit-scale",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        const q = st.outQuant[i];
        if (n.op === "input") st.spec[i] = hasLut(st) ? tensorSpec(n.outShape, q as QuantizerSpec) : { shape: n.outShape, bits: INPUT_PIXELS.bits, signed: INPUT_PIXELS.signed, scale: INPUT_PIXELS.step };
        else if (q === "logits") st.spec[i] = { shape: n.outShape, bits: 16, signed: true, scale: NaN };
        else if (n.op === "maxPool" || n.op === "flatten") {
          const x = st.spec[n.inputs[0]];
          if (!sameQuantization({ ...x, step: x.scale }, q)) fail(st, i, `a max pool or flatten must pass its input's quantization through unchanged: input ${x.bits} bits, ${x.signed ? "signed" : "unsigned"}, step ${x.scale}; read as ${q.bits} bits, ${q.signed ? "signed" : "unsigned"}, step ${q.step}`);
          st.spec[i] = { ...x, shape: n.outShape }; // the very same integers: the input's exact scale
        } else st.spec[i] = tensorSpec(n.outShape, q);
      });
    },
  },
  {
    name: "quantize-weights",
    what: "q_w = roundHalfEven(clamp(fround(w/step), ±(2^(b−1)−1))) exactly as training's eval quantizer (imported: their integers), in the IR layout",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        if (!isComputeNode(n)) return;
        const wq = n.weightQuant;
        if (!wq) fail(st, i, "has no weight quantizer: a float checkpoint cannot be lowered (train with --method nipq or lsq)");
        if (!wq.signed) fail(st, i, "weights must use a signed quantizer");
        const { qmin, qmax } = quantRange(wq);
        if (n.intWeights) {
          const q = transposeWeights(n, tensorOf(st, n.intWeights));
          const bad = q.findIndex((v) => !Number.isInteger(v) || v < qmin || v > qmax);
          if (bad >= 0) fail(st, i, `weights[${bad}]: expected an integer in [${qmin}, ${qmax}], found ${q[bad]}`);
          st.qw[i] = Int8Array.from(q);
          return;
        }
        const w = tensorOf(st, n.weights);
        st.qw[i] = Int8Array.from(transposeWeights(n, w).map((v) => quantizeValue(v, wq.step, qmin, qmax)));
      });
    },
  },
  {
    name: "fold-bn",
    what: "per channel k = γ/√(σ²+ε) and the real bias (b + β/k − μ) in accumulator steps; k < 0 negates the channel's weights",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        if (!isComputeNode(n)) return;
        const C = n.op === "conv2d" ? n.outChannels : n.op === "depthwiseConv2d" ? n.channels : n.outFeatures;
        const b = n.bias ? tensorOf(st, n.bias) : new Float32Array(C);
        const k = new Float64Array(C).fill(1);
        const t = new Float64Array(C);
        if (n.bn) {
          const [g, be, mu, v] = [n.bn.gamma, n.bn.beta, n.bn.movingMean, n.bn.movingVar].map((r) => tensorOf(st, r));
          for (let c = 0; c < C; c++) {
            k[c] = g[c] / Math.sqrt(v[c] + n.bn.epsilon);
            t[c] = be[c] - k[c] * mu[c];
          }
        }
        const wq = n.weightQuant!;
        const ib = n.intBias ? tensorOf(st, n.intBias) : null;
        const steps = new Float64Array(C);
        const qw = st.qw[i]!;
        const per = qw.length / C;
        for (let c = 0; c < C; c++) {
          const acc = inScale(st, i) * wStep(wq, c); // real value of one accumulator step (before k)
          if (k[c] === 0) {
            // A dead channel (γ = 0) outputs the constant t: zero weights, the constant goes in the bias.
            qw.fill(0, c * per, (c + 1) * per);
            steps[c] = t[c] / acc;
            continue;
          }
          // An imported integer bias is already in accumulator steps: kept exact when there is no BN shift.
          steps[c] = ib ? (t[c] === 0 ? ib[c] : ib[c] + t[c] / k[c] / acc) : (b[c] + t[c] / k[c]) / acc;
          if (k[c] < 0) {
            const { qmin } = quantRange(wq);
            for (let j = c * per; j < (c + 1) * per; j++) {
              // Exact for narrow ranges; a full-range −2^(b−1) has no b-bit negation.
              if (wq.fullRange && qw[j] === qmin) fail(st, i, `channel ${c}: its BN scale is negative, and negating its full-range weight ${qmin} needs ${wq.bits + 1} bits`);
              qw[j] = -qw[j];
            }
            steps[c] = -steps[c];
            k[c] = -k[c];
          }
        }
        st.k[i] = k;
        st.biasSteps[i] = steps;
      });
    },
  },
  {
    name: "choose-logit-scale",
    what: "one per-tensor scale for the s16 logits: one accumulator step per logit step (imported: the model's own output step) when the proven bound fits 32767, else scaled down to fit",
    run(st) {
      const i = st.graph.nodes.length - 1;
      const n = st.graph.nodes[i];
      if (!isComputeNode(n)) fail(st, i, "the last node must be a conv2d or dense layer producing the logits");
      const k = st.k[i]!;
      const bias = st.biasSteps[i]!.map((v) => Math.round(v));
      const layer = { op: "dense", weights: st.qw[i]!, bias: Int32Array.from(bias) } as unknown as Layer;
      const bound = accumulatorBound(layer, st.spec[n.inputs[0]])!;
      // The largest real value of one accumulator step over the channels (k·s_x·s_w, per channel when imported).
      const maxStep = Math.max(...Array.from(k, (kc, c) => inScale(st, i) * wStep(n.weightQuant!, c) * kc));
      const need = Math.max(-bound.min, bound.max) / 32767;
      // An imported model's own output step, when every logit it can produce fits 16 bits at that step.
      const own = st.graph.logitStep;
      st.spec[i].scale = own !== undefined && maxStep * need <= own ? own : maxStep * Math.max(1, need);
    },
  },
  {
    name: "quantize-bias",
    what: "int32 bias = round(real bias in accumulator steps); a bias beyond int32 is an error naming the layer",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        if (!isComputeNode(n)) return;
        // A dead channel (k = 0) gets its bias in dyadic-multipliers, at the output scale.
        const k = st.k[i]!;
        const b = st.biasSteps[i]!.map((v, c) => (k[c] === 0 ? 0 : roundHalfEven(v)));
        const bad = b.findIndex((v) => Math.abs(v) > INT32_MAX);
        if (bad >= 0) fail(st, i, `bias[${bad}]: expected |bias / (s_x·s_w)| < 2^31, found ${b[bad]}`);
        st.bias[i] = Int32Array.from(b);
      });
    },
  },
  {
    name: "dyadic-multipliers",
    what: "M = k·s_x·s_w/s_y per channel (s_x/(H·W·s_y) for global average pool) as m·2^−s, m ∈ [2^30, 2^31−1], s ∈ [1, 62]",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        const dy = (r: number, c: number) => {
          try {
            return dyadic(r);
          } catch {
            return fail(st, i, `channel ${c}: requant multiplier ${r} is outside what m·2^−s can represent ([2^-31, 2^30])`);
          }
        };
        if (isComputeNode(n)) {
          const k = st.k[i]!;
          const m = new Int32Array(k.length);
          const s = new Int32Array(k.length);
          k.forEach((kc, c) => {
            const base = (inScale(st, i) * wStep(n.weightQuant!, c)) / st.spec[i].scale;
            // A dead channel's output is its bias: multiplier 1/2 with a doubled bias is exact.
            const d = kc === 0 ? { m: 2 ** 30, s: 31 } : dy(kc * base, c);
            if (kc === 0) st.bias[i]![c] = Math.max(-INT32_MAX, Math.min(INT32_MAX, 2 * Math.round(st.biasSteps[i]![c] * base)));
            m[c] = d.m;
            s[c] = d.s;
          });
          st.rq[i] = { m, s, lo: 0, hi: 0 };
        } else if (n.op === "globalAvgPool" || n.op === "avgPool") {
          const [H, W] = st.spec[n.inputs[0]].shape;
          const window = n.op === "avgPool" ? n.pool[0] * n.pool[1] : H * W;
          const d = dy(inScale(st, i) / (window * st.spec[i].scale), 0);
          st.rq[i] = { m: Int32Array.of(d.m), s: Int32Array.of(d.s), lo: 0, hi: 0 };
        } else if (n.op === "requant") {
          // One input, read twice by an add with weight 0 on the second (src/ir/types.ts AddLayer).
          const d = dy(inScale(st, i) / st.spec[i].scale, 0);
          st.addRq[i] = { ma: d.m, mb: 0, s: d.s };
        } else if (n.op === "add") {
          const sy = st.spec[i].scale;
          const ra = inScale(st, i, 0) / sy;
          const rb = inScale(st, i, 1) / sy;
          const d = dy(Math.max(ra, rb), 0); // the larger multiplier sets the shared shift
          const ma = Math.round(ra * 2 ** d.s);
          const mb = Math.round(rb * 2 ** d.s);
          st.addRq[i] = { ma: Math.min(ma, INT32_MAX), mb: Math.min(mb, INT32_MAX), s: d.s };
        }
      });
    },
  },
  {
    name: "activation-clamps",
    what: "output clamps: the output range (unsigned = ReLU), ReLU → lo = z_y, ReLU6 → hi = min(qmax, z_y + round(6/s_y)); imported real clips and integer clips narrow it",
    run(st) {
      st.graph.nodes.forEach((n, i) => {
        if (!st.rq[i] && !st.addRq[i]) return;
        const sp = st.spec[i];
        const { qmin, qmax } = quantRange(sp);
        const z = sp.zero ?? 0; // the integer of the real 0
        let lo = qmin;
        let hi = qmax;
        const act = n.op === "add" || isComputeNode(n) ? n.activation : "none";
        if (act === "relu" || act === "relu6") lo = Math.max(lo, z);
        if (act === "relu6") hi = Math.min(qmax, z + roundHalfEven(6 / sp.scale));
        // A real clip [a, b] before the quantizer is the integer clamp [z + round(a/s), z + round(b/s)]
        // (rounding is monotone, so clip-then-round equals round-then-clamp).
        const clip = n.op === "add" || n.op === "requant" || isComputeNode(n) ? n.clip : undefined;
        if (clip && clip[0] > -Infinity) lo = Math.max(lo, z + roundHalfEven(clip[0] / sp.scale));
        if (clip && clip[1] < Infinity) hi = Math.min(hi, z + roundHalfEven(clip[1] / sp.scale));
        const q = st.outQuant[i];
        if (q !== "logits" && q.clip) {
          lo = Math.max(lo, q.clip[0]);
          hi = Math.min(hi, q.clip[1]);
        }
        if (lo > hi) fail(st, i, `its output clamp is empty: [${lo}, ${hi}] after its activation and clips`);
        if (st.rq[i]) Object.assign(st.rq[i]!, { lo, hi });
        else Object.assign(st.addRq[i]!, { lo, hi });
      });
    },
  },
  {
    name: "emit-program",
    what: "builds the IR layers (depthwise becomes a grouped conv2d with groups = channels)",
    run(st) {
      st.layers = st.graph.nodes.map((n: GraphNode, i): Layer => {
        const base = { name: n.name, inputs: [...n.inputs], out: st.spec[i] };
        switch (n.op) {
          case "input": {
            const layer: InputLayer = { ...base, op: "input" };
            if (n.lut) layer.lut = Int16Array.from(tensorOf(st, n.lut));
            return layer;
          }
          case "conv2d":
          case "depthwiseConv2d":
          case "dense": {
            const C = st.bias[i]!.length;
            const wq = n.weightQuant!;
            const w = { wBits: wq.bits, ...(wq.fullRange ? { wFullRange: true } : {}), weights: st.qw[i]!, wScale: Float64Array.from({ length: C }, (_, c) => wStep(wq, c)), bias: st.bias[i]!, rq: st.rq[i]! };
            if (n.op === "dense") return { ...base, op: "dense", ...w };
            return { ...base, op: "conv2d", kernel: n.kernel, stride: n.strides, padding: n.padding, groups: n.op === "conv2d" ? n.groups ?? 1 : n.channels, ...w };
          }
          case "maxPool":
            return { ...base, op: "maxpool", kernel: n.pool, stride: n.strides, padding: n.padding };
          case "avgPool":
            return { ...base, op: "avgpool", kernel: n.pool, stride: n.strides, padding: n.padding, rq: st.rq[i]! };
          case "globalAvgPool":
            return { ...base, op: "gap", rq: st.rq[i]! };
          case "flatten":
            return { ...base, op: "flatten" };
          case "add":
          case "requant": {
            const a = st.addRq[i]! as { ma: number; mb: number; s: number; lo: number; hi: number };
            const inputs = n.op === "requant" ? [n.inputs[0], n.inputs[0]] : base.inputs;
            return { ...base, inputs, op: "add", ma: a.ma, mb: a.mb, s: a.s, lo: a.lo, hi: a.hi };
          }
        }
      });
    },
  },
  {
    name: "prove-accumulators",
    what: "from the integer weights and the input range, the largest |acc| per layer; a layer that could reach 2^31 is rejected by name",
    run(st) {
      st.layers.forEach((l, i) => {
        if (i === 0) return;
        const b = accumulatorBound(l, st.layers[l.inputs[0]].out);
        if (b && (b.min < -(2 ** 31) || b.max > INT32_MAX))
          fail(st, i, `its accumulator could reach ${b.min < -(2 ** 31) ? b.min : b.max} (${b.bits} bits) for inputs in range; int32 accumulators cannot hold it`);
      });
    },
  },
];

/**
 * Runs every pass on a loaded checkpoint (or an imported graph) and returns the validated integer program.
 * `name`/`producer` override the ones made from the graph's meta (front ends name their own).
 */
export function lowerGraph(graph: QuantGraph, weights: Uint8Array, dir = "<memory>", o: { name?: string; producer?: string } = {}): Program {
  const n = graph.nodes.length;
  const st: LowerState = { dir, graph, weights, outQuant: new Array(n), spec: new Array(n), qw: new Array(n), k: new Array(n), biasSteps: new Array(n), bias: new Array(n), rq: new Array(n), addRq: new Array(n), layers: [] };
  for (const p of PASSES) p.run(st);
  const program: Program = {
    name: o.name ?? `${graph.meta.arch}-${graph.meta.method}`,
    producer: o.producer ?? `nipq lower (${graph.meta.method}, ${graph.meta.dataset}, seed ${graph.meta.seed})`,
    layers: st.layers,
  };
  validateProgram(program, join(dir, "(lowered)"));
  return program;
}

/** Reads a checkpoint directory and lowers it. */
export function lowerCheckpoint(dir: string): Program {
  const { graph, weights } = readCheckpoint(dir);
  return lowerGraph(graph, weights, dir);
}
