// QuantGraph: the framework-neutral hand-off between training and lowering (DESIGN.md §2). A network is
// a list of nodes in topological order; node i reads the outputs of `inputs` (indices of earlier nodes).
// Float32 weights and BN statistics live in a binary file and are referenced by TensorRef. For every
// quantized tensor the graph records {bits, alpha, step, signed}. This module must never import tfjs:
// lowering and other front ends (an ONNX/QONNX importer, say) use it without a training framework.
// docs/CHECKPOINT.md is the normative description of every field.

/** Format tag and version written into graph.json. */
export const GRAPH_FORMAT = "nipq-quantgraph";
export const GRAPH_VERSION = 1;

/** The nonlinearity applied after a layer (after its BN, when there is one). */
export type Activation = "relu" | "relu6" | "none";
export const ACTIVATIONS: readonly Activation[] = ["relu", "relu6", "none"];

/**
 * A uniform quantizer with zero point 0 (DESIGN.md §3). The deployed value of x is
 * q = roundHalfEven(clamp(fround(x / step), qmin, qmax)) with qmin = signed ? −(2^(bits−1) − 1) : 0 and
 * qmax = signed ? 2^(bits−1) − 1 : 2^bits − 1, all in float32 as tfjs computes it; x ≈ q·step.
 * `step` is authoritative; `alpha` = the truncation bound (for NIPQ step = fround(alpha / qmax); for LSQ
 * alpha = step·qmax, informative).
 */
export interface QuantizerSpec {
  /** Identifies the quantizer; consumers of one tensor carry the same id (and identical fields). */
  id: string;
  bits: number;
  alpha: number;
  step: number;
  signed: boolean;
  /** False for fixed quantizers (the input image: 8-bit unsigned, step 1/255). */
  learned: boolean;
}

/** A float32 little-endian tensor in weights.bin: byte offset, element count, shape (row-major). */
export interface TensorRef {
  offset: number;
  length: number;
  shape: number[];
}

/** Batch normalization in inference form: y = gamma·(x − movingMean)/sqrt(movingVar + epsilon) + beta. */
export interface BatchNormSpec {
  epsilon: number;
  gamma: TensorRef;
  beta: TensorRef;
  movingMean: TensorRef;
  movingVar: TensorRef;
}

interface NodeBase {
  /** Unique name, e.g. "conv2". */
  name: string;
  /** Indices of the nodes whose outputs this node reads, all smaller than this node's index. */
  inputs: number[];
  /** Output shape without the batch dimension: [H, W, C] or [F]. */
  outShape: number[];
}

/** The network input: u8 pixels, fed as pixel/255. Always node 0. */
export interface InputNode extends NodeBase {
  op: "input";
  quant: QuantizerSpec;
}

/** Fields shared by the MAC layers. */
interface ComputeNodeBase extends NodeBase {
  /** Weights: conv [kh][kw][inC][outC], depthwise [kh][kw][C][1], dense [in][out] (tfjs layouts). */
  weights: TensorRef;
  /** Per-output-channel float bias, or null. */
  bias: TensorRef | null;
  /** BN applied to the layer's output before the activation, or null. */
  bn: BatchNormSpec | null;
  activation: Activation;
  /** Quantizer of the layer's input tensor; null in float checkpoints. */
  inputQuant: QuantizerSpec | null;
  /** Quantizer of the weights (per tensor); null in float checkpoints. */
  weightQuant: QuantizerSpec | null;
  /** Multiply-accumulates per example. */
  macs: number;
}

export interface Conv2DNode extends ComputeNodeBase {
  op: "conv2d";
  kernel: [number, number];
  strides: [number, number];
  padding: "same" | "valid";
  inChannels: number;
  outChannels: number;
}

export interface DepthwiseConv2DNode extends ComputeNodeBase {
  op: "depthwiseConv2d";
  kernel: [number, number];
  strides: [number, number];
  padding: "same" | "valid";
  channels: number;
}

export interface DenseNode extends ComputeNodeBase {
  op: "dense";
  inFeatures: number;
  outFeatures: number;
}

export interface MaxPoolNode extends NodeBase {
  op: "maxPool";
  pool: [number, number];
  strides: [number, number];
  padding: "valid" | "same";
}

/** Mean over H and W. Its input tensor is quantized by `inputQuant` (it reads a layer's output). */
export interface GlobalAvgPoolNode extends NodeBase {
  op: "globalAvgPool";
  inputQuant: QuantizerSpec | null;
}

/** [H, W, C] → [H·W·C] in H, W, C order. */
export interface FlattenNode extends NodeBase {
  op: "flatten";
}

/** Elementwise sum of two tensors, each read through its quantizer (inputQuants[i] for inputs[i]). */
export interface AddNode extends NodeBase {
  op: "add";
  inputQuants: (QuantizerSpec | null)[];
  activation: Activation;
}

export type GraphNode =
  | InputNode
  | Conv2DNode
  | DepthwiseConv2DNode
  | DenseNode
  | MaxPoolNode
  | GlobalAvgPoolNode
  | FlattenNode
  | AddNode;

export type ComputeNode = Conv2DNode | DepthwiseConv2DNode | DenseNode;

/** Is `n` a MAC layer (has weights and a weight quantizer)? */
export function isComputeNode(n: GraphNode): n is ComputeNode {
  return n.op === "conv2d" || n.op === "depthwiseConv2d" || n.op === "dense";
}

/** Training summary stored with the graph (informative; lowering needs none of it). */
export interface GraphMeta {
  arch: string;
  method: "nipq" | "lsq" | "float";
  dataset: string;
  epochsDone: number;
  epochsTotal: number;
  seed: number;
  backend: string;
  /** Test accuracy of the tfjs fake-quantized model (eval quantizers) after the last epoch, or null. */
  accuracy: number | null;
  /** Σ MACs·b_w·b_a over the MAC layers, with each layer's own input-activation bits (32 for float). */
  bops: number;
  macs: number;
}

/** The whole QuantGraph (graph.json plus the weights it references). */
export interface QuantGraph {
  format: typeof GRAPH_FORMAT;
  version: number;
  meta: GraphMeta;
  /** The last node's output is the float logits [classes]. */
  nodes: GraphNode[];
  /** Name of the binary file beside graph.json. */
  weightsFile: string;
  weightsBytes: number;
}
