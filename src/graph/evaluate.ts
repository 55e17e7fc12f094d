// A plain float64 evaluator of a QuantGraph in eval mode (hard quantizers, BN moving statistics), in the
// tfjs weight layouts, with no tfjs: an independent model of what training's eval mode computes, for
// checking lowering (tests, bench/lower) and for front ends without a training framework.
//
// `deployedBias` rounds each MAC layer's folded bias (b + t/k)/(s_x·s_w) to an integer, as lowering does
// (DESIGN.md §3) and as training's eval mode does; without it the bias stays real (the pre-lowering view).

import { quantizeValue, quantRange } from "./quantize.js";
import type { GraphNode, QuantGraph, QuantizerSpec, TensorRef } from "./types.js";

/** Top (or left) padding of a "same" window: floor(max((ceil(size/s) − 1)·s + k − size, 0)/2) (DESIGN.md §3). */
function samePad(size: number, k: number, s: number): number {
  return Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
}

export interface EvalOptions {
  /** Skip learned activation quantizers whose id starts with "a" (calibration helpers). */
  floatActivations?: boolean;
  /** Round the folded bias to accumulator steps as the integer program does. */
  deployedBias?: boolean;
}

/** Float eval forward of a QuantGraph; returns every node's output (float, NHWC per sample). */
export function evalGraph(g: QuantGraph, weights: Uint8Array, image: Uint8Array, o: EvalOptions = {}): Float64Array[] {
  const floatActivations = !!o.floatActivations;
  const dv = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  const T = (r: TensorRef) => Float64Array.from({ length: r.length }, (_, i) => dv.getFloat32(r.offset + 4 * i, true));
  const fq = (x: Float64Array, q: QuantizerSpec | null) => {
    if (floatActivations && q!.learned && q!.id.startsWith("a")) return x;
    const { qmin, qmax } = quantRange(q!);
    return x.map((v) => quantizeValue(v, q!.step, qmin, qmax) * q!.step);
  };
  const outs: Float64Array[] = [];
  g.nodes.forEach((n: GraphNode, i) => {
    const x = i > 0 ? outs[n.inputs[0]] : new Float64Array(0);
    const inShape = i > 0 ? g.nodes[n.inputs[0]].outShape : [];
    let y: Float64Array;
    switch (n.op) {
      case "input":
        y = Float64Array.from(image, (p) => Math.fround(p / 255));
        break;
      case "conv2d":
      case "depthwiseConv2d": {
        const xq = fq(x, n.inputQuant);
        const w = fq(T(n.weights), n.weightQuant);
        const [H, W, C] = inShape;
        const [OH, OW, O] = n.outShape;
        const [kh, kw] = n.kernel;
        const [sh, sw] = n.strides;
        const pt = n.padding === "same" ? samePad(H, kh, sh) : 0;
        const pl = n.padding === "same" ? samePad(W, kw, sw) : 0;
        y = new Float64Array(OH * OW * O);
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let o = 0; o < O; o++) {
              let s = 0;
              for (let ky = 0; ky < kh; ky++)
                for (let kx = 0; kx < kw; kx++) {
                  const iy = oy * sh + ky - pt;
                  const ix = ox * sw + kx - pl;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  if (n.op === "conv2d") for (let c = 0; c < C; c++) s += w[((ky * kw + kx) * C + c) * O + o] * xq[(iy * W + ix) * C + c];
                  else s += w[(ky * kw + kx) * C + o] * xq[(iy * W + ix) * C + o];
                }
              y[(oy * OW + ox) * O + o] = s;
            }
        y = post(n, y, O, n.inputQuant!.step * n.weightQuant!.step);
        break;
      }
      case "dense": {
        const xq = fq(x, n.inputQuant);
        const w = fq(T(n.weights), n.weightQuant);
        const I = n.inFeatures;
        const O = n.outFeatures;
        y = new Float64Array(O);
        for (let o = 0; o < O; o++) for (let k = 0; k < I; k++) y[o] += w[k * O + o] * xq[k];
        y = post(n, y, O, n.inputQuant!.step * n.weightQuant!.step);
        break;
      }
      case "maxPool": {
        const [H, W, C] = inShape;
        const [OH, OW] = n.outShape;
        // "same" padding: padded taps are ignored (TensorFlow semantics, as the reference kernel).
        const pt = n.padding === "same" ? samePad(H, n.pool[0], n.strides[0]) : 0;
        const pl = n.padding === "same" ? samePad(W, n.pool[1], n.strides[1]) : 0;
        y = new Float64Array(OH * OW * C).fill(-Infinity);
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let c = 0; c < C; c++)
              for (let ky = 0; ky < n.pool[0]; ky++)
                for (let kx = 0; kx < n.pool[1]; kx++) {
                  const iy = oy * n.strides[0] + ky - pt;
                  const ix = ox * n.strides[1] + kx - pl;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  const v = x[(iy * W + ix) * C + c];
                  if (v > y[(oy * OW + ox) * C + c]) y[(oy * OW + ox) * C + c] = v;
                }
        break;
      }
      case "globalAvgPool": {
        const xq = fq(x, n.inputQuant);
        const [H, W, C] = inShape;
        y = new Float64Array(C);
        for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) y[c] += xq[p * C + c] / (H * W);
        break;
      }
      case "flatten":
        y = x;
        break;
      case "add": {
        const a = fq(x, n.inputQuants[0]);
        const b = fq(outs[n.inputs[1]], n.inputQuants[1]);
        y = a.map((v, k) => v + b[k]);
        if (n.activation !== "none") y = y.map((v) => Math.max(0, n.activation === "relu6" ? Math.min(6, v) : v));
        break;
      }
      case "avgPool":
      case "requant":
        // Training graphs have neither; imported models are checked against their own runtimes instead.
        throw new Error(`evalGraph: node ${n.name} (${n.op}) occurs only in imported graphs, which it does not evaluate`);
    }
    outs.push(y);

    function post(node: GraphNode & { bias: TensorRef | null; bn: any; activation: string }, z: Float64Array, O: number, accStep: number): Float64Array {
      const b = node.bias ? T(node.bias) : new Float64Array(O);
      const bn = node.bn ? { g: T(node.bn.gamma), be: T(node.bn.beta), mu: T(node.bn.movingMean), v: T(node.bn.movingVar), eps: node.bn.epsilon } : null;
      const k = new Float64Array(O).map((_, c) => (bn ? bn.g[c] / Math.sqrt(bn.v[c] + bn.eps) : 1));
      const t = new Float64Array(O).map((_, c) => (bn ? bn.be[c] - k[c] * bn.mu[c] : 0));
      // y = k·(z + b) + t = k·(z + b + t/k); the deployed bias rounds (b + t/k) to accumulator steps.
      const shift = new Float64Array(O).map((_, c) => {
        if (k[c] === 0 || !o.deployedBias) return b[c] + (k[c] === 0 ? 0 : t[c] / k[c]);
        const steps = (b[c] + t[c] / k[c]) / accStep;
        const r = Math.round(steps);
        return (r - steps === 0.5 && r % 2 !== 0 ? r - 1 : r) * accStep;
      });
      return z.map((v, i) => {
        const c = i % O;
        let r = k[c] === 0 ? t[c] : k[c] * (v + shift[c]);
        if (node.activation === "relu") r = Math.max(0, r);
        if (node.activation === "relu6") r = Math.min(6, Math.max(0, r));
        return r;
      });
    }
  });
  return outs;
}

