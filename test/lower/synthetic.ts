// A synthetic trained network as a QuantGraph. Lowering tests compare its integer program against the
// independent float64 evaluator src/graph/evaluate.ts.

import { TensorPacker } from "../../src/graph/checkpoint.js";
import { GRAPH_FORMAT, GRAPH_VERSION, type GraphNode, type QuantGraph, type QuantizerSpec, type TensorRef } from "../../src/graph/types.js";
import { evalGraph } from "../../src/graph/evaluate.js";
import { mulberry32 } from "../../src/rng.js";

const INPUTQ: QuantizerSpec = { id: "input", bits: 8, alpha: 1, step: Math.fround(1 / 255), signed: false, learned: false };

/**
 * A small mbv2-like network with every op lowering handles: conv+BN+ReLU (one channel with negative γ),
 * max pool, depthwise+BN+ReLU6, 1×1 project+BN (signed, no activation), residual add, global average
 * pool, dense to logits. Quantizer steps are calibrated on float activations of `calib` images.
 */
export function syntheticGraph(seed: number, calib: Uint8Array[], bits = { w: 4, a: 4 }): { graph: QuantGraph; weights: Uint8Array } {
  const C = 8;
  const build = (steps: Map<string, number>) => {
    const pk = new TensorPacker();
    const rr = mulberry32(seed + 1);
    const g2 = () => Math.sqrt(-2 * Math.log(1 - rr())) * Math.cos(2 * Math.PI * rr());
    const t = (n: number, f: () => number, shape: number[]) => pk.add(Float32Array.from({ length: n }, f), shape);
    const q = (id: string, b: number, signed: boolean): QuantizerSpec => {
      const step = Math.fround(steps.get(id) ?? 1);
      const qmax = signed ? 2 ** (b - 1) - 1 : 2 ** b - 1;
      return { id, bits: b, alpha: Math.fround(step * qmax), step, signed, learned: true };
    };
    const bn = (n: number) => ({
      epsilon: 0.001,
      gamma: t(n, () => 0.5 + rr(), [n]),
      beta: t(n, () => 0.2 * g2(), [n]),
      movingMean: t(n, () => 0.1 * g2(), [n]),
      movingVar: t(n, () => 0.5 + rr(), [n]),
    });
    const c1bn = bn(C);
    // One channel with negative γ: lowering must negate its integer weights (DESIGN.md §3).
    const nodes: GraphNode[] = [
      { op: "input", name: "input", inputs: [], outShape: [28, 28, 1], quant: INPUTQ },
      { op: "conv2d", name: "conv1", inputs: [0], outShape: [28, 28, C], kernel: [3, 3], strides: [1, 1], padding: "same", inChannels: 1, outChannels: C, weights: t(9 * C, () => 0.4 * g2(), [3, 3, 1, C]), bias: t(C, () => 0.05 * g2(), [C]), bn: c1bn, activation: "relu", inputQuant: INPUTQ, weightQuant: q("w1", bits.w, true), macs: 28 * 28 * 9 * C },
      { op: "maxPool", name: "pool1", inputs: [1], outShape: [14, 14, C], pool: [2, 2], strides: [2, 2], padding: "valid" },
      { op: "depthwiseConv2d", name: "dw", inputs: [2], outShape: [7, 7, C], kernel: [3, 3], strides: [2, 2], padding: "same", channels: C, weights: t(9 * C, () => 0.5 * g2(), [3, 3, C, 1]), bias: null, bn: bn(C), activation: "relu6", inputQuant: q("a1", bits.a, false), weightQuant: q("w2", bits.w, true), macs: 49 * 9 * C },
      { op: "conv2d", name: "project", inputs: [3], outShape: [7, 7, C], kernel: [1, 1], strides: [1, 1], padding: "valid", inChannels: C, outChannels: C, weights: t(C * C, () => 0.5 * g2(), [1, 1, C, C]), bias: null, bn: bn(C), activation: "none", inputQuant: q("a2", bits.a, false), weightQuant: q("w3", bits.w, true), macs: 49 * C * C },
      { op: "maxPool", name: "pool2", inputs: [2], outShape: [7, 7, C], pool: [2, 2], strides: [2, 2], padding: "valid" },
      { op: "add", name: "add", inputs: [4, 5], outShape: [7, 7, C], inputQuants: [q("a3", bits.a, true), q("a1", bits.a, false)], activation: "relu" },
      { op: "globalAvgPool", name: "gap", inputs: [6], outShape: [C], inputQuant: q("a5", bits.a, false) },
      { op: "dense", name: "dense", inputs: [7], outShape: [10], inFeatures: C, outFeatures: 10, weights: t(10 * C, () => 0.6 * g2(), [C, 10]), bias: t(10, () => 0.1 * g2(), [10]), bn: null, activation: "none", inputQuant: q("a6", bits.a, false), weightQuant: q("w4", bits.w, true), macs: 10 * C },
    ];
    // conv1's first channel gets γ < 0.
    const w = pk.finish();
    new DataView(w.buffer).setFloat32(c1bn.gamma.offset, -0.8, true);
    const graph: QuantGraph = { format: GRAPH_FORMAT, version: GRAPH_VERSION, meta: { arch: "synthetic", method: "nipq", dataset: "mnist", epochsDone: 1, epochsTotal: 1, seed, backend: "none", accuracy: null, bops: 0, macs: 0 }, nodes, weightsFile: "weights.bin", weightsBytes: w.byteLength };
    return { graph, weights: w };
  };
  // Calibrate: weight steps from max |w|, activation steps from the 99.9th percentile of float activations.
  const first = build(new Map());
  const steps = new Map<string, number>();
  const dv = new DataView(first.weights.buffer);
  const qmaxW = 2 ** (bits.w - 1) - 1;
  for (const n of first.graph.nodes) {
    if (n.op === "conv2d" || n.op === "depthwiseConv2d" || n.op === "dense") {
      let m = 0;
      for (let k = 0; k < n.weights.length; k++) m = Math.max(m, Math.abs(dv.getFloat32(n.weights.offset + 4 * k, true)));
      steps.set(n.weightQuant!.id, (0.8 * m) / qmaxW);
    }
  }
  // Activation steps: the 99.9th percentile of |activation| per quantizer, from a float-activation forward.
  const perTensor = new Map<string, number[]>();
  const g0 = first.graph;
  for (const img of calib) {
    const outs = evalGraph(g0, first.weights, img, { floatActivations: true });
    g0.nodes.forEach((reader) => {
      reader.inputs.forEach((k, slot) => {
        const qq = reader.op === "add" ? reader.inputQuants[slot] : "inputQuant" in reader ? reader.inputQuant : null;
        if (!qq || !qq.learned) return;
        const arr = perTensor.get(qq.id) ?? [];
        outs[k].forEach((v) => arr.push(Math.abs(v)));
        perTensor.set(qq.id, arr);
      });
    });
  }
  for (const [id, vals] of perTensor) {
    vals.sort((a, b) => a - b);
    const p = vals[Math.floor(0.999 * (vals.length - 1))] || 1;
    const signed = id === "a3";
    steps.set(id, p / (signed ? 2 ** (bits.a - 1) - 1 : 2 ** bits.a - 1));
  }
  return build(steps);
}

export { evalGraph };
