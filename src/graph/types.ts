// QuantGraph: the framework-neutral hand-off between training and lowering (DESIGN.md §2). A network is
// a list of nodes in topological order; node i reads the outputs of `inputs` (indices of earlier nodes).
// Float32 weights and BN statistics live in a binary file and are referenced by TensorRef. For every
// quantized tensor the graph records {bits, alpha, step, signed}. This module must never import tfjs:
// lowering and other front ends (src/import/, the ONNX importer) use it without a training framework.
// docs/CHECKPOINT.md is the normative description of every field.
//
// Fields marked "imported" exist for models trained elsewhere (DESIGN.md §2, §3 "Imported models"): the
// scale and zero point each quantizer was trained with, full-range and clipped integer ranges, integer
// weights with per-channel scales, integer biases, an input lookup table, explicit pads, groups, average
// pools, back-to-back quantizers and real-valued clips. The importer builds such graphs in memory and hands
// them to the same lowering passes; `nipq train` never writes them and the checkpoint reader rejects them.

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
  /** Imported: the integer zero point of an activation quantizer, inside its range (x ≈ (q − zero)·step). */
  zero?: number;
  /** Imported: a signed quantizer's range includes −2^(bits−1) (PyTorch and onnxruntime int8). */
  fullRange?: boolean;
  /**
   * Imported: the integers this quantizer produces are clamped to [clip[0], clip[1]] inside its range (QONNX's
   * narrow unsigned [0, 2^b − 2], torch's reduce_range as Clip(0, 127) between QuantizeLinear and
   * DequantizeLinear). Lowering makes it the producing layer's output clamp.
   */
  clip?: [number, number];
  /** Imported weight quantizers: one step per output channel (`step` is then the largest, informative). */
  channelSteps?: number[];
}

/** A little-endian tensor in weights.bin: byte offset, element count, shape (row-major). */
export interface TensorRef {
  offset: number;
  length: number;
  shape: number[];
  /** Element type; absent = float32 (everything `nipq train` writes). Imported graphs also use int32 and float64. */
  dtype?: "float32" | "float64" | "int32";
}

/** Explicit pads [top, left, bottom, right] (imported models; see src/ir/types.ts Pads). */
export type Pads = [number, number, number, number];

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
  /**
   * Imported: int32 [C, 256], the quantized value of each pixel on each channel (in `quant`'s range), from the
   * model's normalization and input quantizer. Without it the input must be u8 pixels (step 1/255, zero 0).
   */
  lut?: TensorRef;
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
  /** Imported: the integer weights (int32 TensorRef, same layout as `weights`), authoritative over `weights`. */
  intWeights?: TensorRef;
  /** Imported: an int32 bias already at the accumulator step s_x·step_c of each channel (the exporter's). */
  intBias?: TensorRef;
  /** Imported: a real-valued clamp [min, max] after the activation (ONNX Clip); ±Infinity for an open end. */
  clip?: [number, number];
}

export interface Conv2DNode extends ComputeNodeBase {
  op: "conv2d";
  kernel: [number, number];
  strides: [number, number];
  /** `same`/`valid`, or imported explicit pads. */
  padding: "same" | "valid" | Pads;
  inChannels: number;
  outChannels: number;
  /** Imported: grouped convolution (weights [kh][kw][inC/groups][outC]); absent = 1. */
  groups?: number;
}

export interface DepthwiseConv2DNode extends ComputeNodeBase {
  op: "depthwiseConv2d";
  kernel: [number, number];
  strides: [number, number];
  padding: "same" | "valid" | Pads;
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
  padding: "valid" | "same" | Pads;
}

/** Imported: average pool over pool windows; explicit pads count as real zeros (ONNX count_include_pad = 1). */
export interface AvgPoolNode extends NodeBase {
  op: "avgPool";
  pool: [number, number];
  strides: [number, number];
  padding: "valid" | Pads;
  inputQuant: QuantizerSpec | null;
}

/** Imported: a requantization of one quantized tensor to another quantizer (two quantizers in a row). */
export interface RequantNode extends NodeBase {
  op: "requant";
  inputQuant: QuantizerSpec | null;
  /** A real-valued clamp between the two quantizers (torch's float ReLU6 Clip), ±Infinity for an open end. */
  clip?: [number, number];
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
  /** Imported: a real-valued clamp after the activation. */
  clip?: [number, number];
}

export type GraphNode =
  | InputNode
  | Conv2DNode
  | DepthwiseConv2DNode
  | DenseNode
  | MaxPoolNode
  | AvgPoolNode
  | GlobalAvgPoolNode
  | FlattenNode
  | AddNode
  | RequantNode;

export type ComputeNode = Conv2DNode | DepthwiseConv2DNode | DenseNode;

/** Is `n` a MAC layer (has weights and a weight quantizer)? */
export function isComputeNode(n: GraphNode): n is ComputeNode {
  return n.op === "conv2d" || n.op === "depthwiseConv2d" || n.op === "dense";
}

/** Training summary stored with the graph (informative; lowering needs none of it). */
export interface GraphMeta {
  arch: string;
  /** How it was trained; "imported" for a model read by a front end (`arch` is then its file name). */
  method: "nipq" | "lsq" | "float" | "imported";
  dataset: string;
  /** [H, W, C] of the images it was trained on (also nodes[0].outShape); absent in checkpoints before issue 16. */
  input?: number[];
  /** Classes of the last layer (also its outShape); absent in checkpoints before issue 16. */
  classes?: number;
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
  /**
   * Imported: the step of the model's own output quantizer (torch's converted models quantize the logits to
   * u8). The logits take it, so their ties are the model's, when the proven accumulator range fits 16 bits.
   */
  logitStep?: number;
  /** Name of the binary file beside graph.json. */
  weightsFile: string;
  weightsBytes: number;
}
