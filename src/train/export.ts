// Net (tfjs variables) → QuantGraph (framework-neutral, ../graph/types.ts) + weights.bin bytes.

import { TensorPacker } from "../graph/checkpoint.js";
import {
  type BatchNormSpec,
  type GraphMeta,
  type GraphNode,
  GRAPH_FORMAT,
  GRAPH_VERSION,
  type QuantGraph,
  type QuantizerSpec,
} from "../graph/types.js";
import { INPUT_QUANT_ID } from "./archs.js";
import { BN_EPSILON, type Net } from "./model.js";

/** The fixed quantizer of the input image: u8 pixels, step = fround(1/255). */
export const INPUT_QUANT: QuantizerSpec = { id: INPUT_QUANT_ID, bits: 8, alpha: 1, step: Math.fround(1 / 255), signed: false, learned: false };

/** Builds the QuantGraph of `net` (its current values) and the packed float32 weights. */
export function exportGraph(net: Net, meta: GraphMeta): { graph: QuantGraph; weights: Uint8Array } {
  const packer = new TensorPacker();
  const specs = new Map<string, QuantizerSpec>();
  const spec = (id: string | undefined): QuantizerSpec | null => {
    if (id === undefined) return null;
    if (id === INPUT_QUANT_ID) return INPUT_QUANT;
    const q = net.quants.get(id);
    if (!q) return null;
    let s = specs.get(id);
    if (!s) specs.set(id, (s = q.spec()));
    return s;
  };
  const tensor = (v: { dataSync(): ArrayLike<number>; shape: number[] }) => packer.add(Float32Array.from(v.dataSync()), v.shape);
  const nodes: GraphNode[] = net.arch.nodes.map((n) => {
    const base = { name: n.name, inputs: [...n.inputs], outShape: [...n.outShape] };
    switch (n.op) {
      case "input":
        return { ...base, op: "input", quant: INPUT_QUANT };
      case "maxPool":
        return { ...base, op: "maxPool", pool: n.pool!, strides: n.strides!, padding: n.padding! as "valid" };
      case "flatten":
        return { ...base, op: "flatten" };
      case "globalAvgPool":
        return { ...base, op: "globalAvgPool", inputQuant: spec(n.inQ) };
      case "add":
        return { ...base, op: "add", inputQuants: [spec(n.addQ![0]), spec(n.addQ![1])], activation: n.activation ?? "none" };
      default: {
        const kernel = net.params.get(`${n.name}/kernel`)!;
        const bias = net.params.get(`${n.name}/bias`);
        let bn: BatchNormSpec | null = null;
        if (n.bn) {
          bn = {
            epsilon: BN_EPSILON,
            gamma: tensor(net.params.get(`${n.name}/gamma`)!),
            beta: tensor(net.params.get(`${n.name}/beta`)!),
            movingMean: tensor(net.stats.get(`${n.name}/movingMean`)!),
            movingVar: tensor(net.stats.get(`${n.name}/movingVar`)!),
          };
        }
        const common = {
          ...base,
          weights: tensor(kernel),
          bias: bias ? tensor(bias) : null,
          bn,
          activation: n.activation ?? "none",
          inputQuant: spec(n.inQ),
          weightQuant: spec(n.wQ),
          macs: n.macs!,
        };
        if (n.op === "conv2d") return { ...common, op: "conv2d", kernel: n.kernel!, strides: n.strides!, padding: n.padding!, inChannels: n.inC!, outChannels: n.outC! };
        if (n.op === "depthwiseConv2d") return { ...common, op: "depthwiseConv2d", kernel: n.kernel!, strides: n.strides!, padding: n.padding!, channels: n.outC! };
        return { ...common, op: "dense", inFeatures: n.inC!, outFeatures: n.outC! };
      }
    }
  }) as GraphNode[];
  const weights = packer.finish();
  return { graph: { format: GRAPH_FORMAT, version: GRAPH_VERSION, meta, nodes, weightsFile: "weights.bin", weightsBytes: weights.byteLength }, weights };
}
