// The integer program: what lowering produces, what .qmodel files store, what every backend executes.
// The arithmetic these types describe is DESIGN.md §3; docs/FORMAT.md documents the file encoding.
//
// A program is a list of layers in topological order. Layer 0 is the input; every other layer names
// its inputs by index (always smaller than its own) and describes its one output tensor. Shapes are per
// sample, without the batch dimension: [H, W, C] for feature maps (NHWC), [N] for vectors.

/** A quantized tensor: integer values q with real value q·scale (zero point 0, DESIGN.md §3). */
export interface TensorSpec {
  /** Per-sample shape: [H, W, C] or [N]. */
  shape: number[];
  /** Bit-width b: 2..8 for activations and the input, 16 for the logits. */
  bits: number;
  /** Unsigned: q ∈ [0, 2^b − 1]. Signed (narrow, symmetric): q ∈ [−(2^(b−1) − 1), 2^(b−1) − 1]. */
  signed: boolean;
  /** Real value of one integer step; informational at run time (no float is used there). */
  scale: number;
}

export type Padding = "same" | "valid";

/** Per-output-channel requantization y = clamp(requant(acc, m[c], s[c]), lo, hi). */
export interface Requant {
  /** Multipliers, each in [2^30, 2^31 − 1]; the real multiplier of channel c is m[c]·2^−s[c]. */
  m: Int32Array;
  /** Shifts, each in [1, 62]. */
  s: Int32Array;
  /** Output clamp; within the output tensor's range (an unsigned output is ReLU; ReLU6 lowers hi). */
  lo: number;
  hi: number;
}

export interface InputLayer {
  op: "input";
  name: string;
  inputs: number[];
  /** u8 pixels: bits 8, unsigned, scale 1/255, shape [28, 28, 1] for the shipped datasets. */
  out: TensorSpec;
}

/** Conv2D, grouped or depthwise (groups = input channels). acc = bias + Σ w·x, then requant. */
export interface Conv2DLayer {
  op: "conv2d";
  name: string;
  inputs: number[];
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: Padding;
  groups: number;
  /** Weight bits 2..8, signed narrow range. */
  wBits: number;
  /** Integer weights, layout [outC][kh][kw][inC/groups], row-major. */
  weights: Int8Array;
  /** Real step of the weights, per output channel (informational; folded into m/s). */
  wScale: Float64Array;
  /** int32 bias at the accumulator scale, per output channel. */
  bias: Int32Array;
  rq: Requant;
}

/** Fully connected layer. Weights [out][in], row-major. */
export interface DenseLayer {
  op: "dense";
  name: string;
  inputs: number[];
  out: TensorSpec;
  wBits: number;
  weights: Int8Array;
  wScale: Float64Array;
  bias: Int32Array;
  rq: Requant;
}

export interface MaxPoolLayer {
  op: "maxpool";
  name: string;
  inputs: number[];
  /** Same bits, signedness and scale as the input. */
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: Padding;
}

/** Average pool: window sum, then requant with multiplier s_x/(kh·kw·s_y). `valid` padding only. */
export interface AvgPoolLayer {
  op: "avgpool";
  name: string;
  inputs: number[];
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: "valid";
  /** One multiplier and shift (arrays of length 1). */
  rq: Requant;
}

/** Global average pool: sum over H·W per channel, then requant with s_x/(H·W·s_y). Output [C]. */
export interface GlobalAvgPoolLayer {
  op: "gap";
  name: string;
  inputs: number[];
  out: TensorSpec;
  rq: Requant;
}

/** Residual add: y = clamp(floor((a·ma + b·mb + 2^(s−1)) / 2^s), lo, hi), one shared s. */
export interface AddLayer {
  op: "add";
  name: string;
  inputs: number[];
  out: TensorSpec;
  /** Multipliers of the two inputs, each in [0, 2^31 − 1]; shift s in [1, 62]. */
  ma: number;
  mb: number;
  s: number;
  lo: number;
  hi: number;
}

/** Flatten [H, W, C] to [H·W·C] in H, W, C order (a no-op on NHWC data). */
export interface FlattenLayer {
  op: "flatten";
  name: string;
  inputs: number[];
  out: TensorSpec;
}

export type Layer =
  | InputLayer
  | Conv2DLayer
  | DenseLayer
  | MaxPoolLayer
  | AvgPoolLayer
  | GlobalAvgPoolLayer
  | AddLayer
  | FlattenLayer;

/** Layers with weights, bias and per-channel requant. */
export type WeightLayer = Conv2DLayer | DenseLayer;

/**
 * An integer-only program. The last layer is the output: signed 16-bit logits, shape [classes];
 * the prediction is the argmax, lowest index on ties.
 */
export interface Program {
  /** Free-form name (e.g. "cnn-s-w4a4"). */
  name: string;
  /** Who wrote it (e.g. "nipq lower 0.1.0"). */
  producer: string;
  layers: Layer[];
}

/** The integer range of a tensor spec (DESIGN.md §3). */
export function tensorRange(t: Pick<TensorSpec, "bits" | "signed">): { lo: number; hi: number } {
  if (t.signed) {
    const hi = 2 ** (t.bits - 1) - 1;
    return { lo: -hi, hi };
  }
  return { lo: 0, hi: 2 ** t.bits - 1 };
}

/** Number of elements of a per-sample shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isWeightLayer(l: Layer): l is WeightLayer {
  return l.op === "conv2d" || l.op === "dense";
}

/** Output size of one spatial dimension (TensorFlow conventions, DESIGN.md §3). */
export function outDim(size: number, k: number, stride: number, padding: Padding): number {
  return padding === "same" ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
}

/** `same` padding: total = max((ceil(H/s) − 1)·s + k − H, 0); before (top/left) = floor(total/2). */
export function samePadding(size: number, k: number, stride: number): { before: number; after: number; total: number } {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before, total };
}

/** Padding before the first element of a dimension for either padding mode. */
export function padBefore(size: number, k: number, stride: number, padding: Padding): number {
  return padding === "same" ? samePadding(size, k, stride).before : 0;
}

/** Geometry of a conv2d or pool over an [H, W, C] input. */
export interface WindowGeometry {
  H: number;
  W: number;
  C: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  OH: number;
  OW: number;
}

/** The geometry of a windowed op on input shape [H, W, C] (TensorFlow `same`/`valid`, DESIGN.md §3). */
export function windowGeometry(shape: readonly number[], kernel: [number, number], stride: [number, number], padding: "same" | "valid"): WindowGeometry {
  const [H, W, C] = shape;
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  return { H, W, C, kh, kw, sh, sw, pt: padBefore(H, kh, sh, padding), pl: padBefore(W, kw, sw, padding), OH: outDim(H, kh, sh, padding), OW: outDim(W, kw, sw, padding) };
}
