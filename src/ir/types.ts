// The integer program: what lowering produces, what .qmodel files store, what every backend executes.
// The arithmetic these types describe is DESIGN.md §3; docs/FORMAT.md documents the file encoding.
//
// A program is a list of layers in topological order. Layer 0 is the input; every other layer names
// its inputs by index (always smaller than its own) and describes its one output tensor. Shapes are per
// sample, without the batch dimension: [H, W, C] for feature maps (NHWC), [N] for vectors.
//
// Fields marked "format 2" exist for imported models (DESIGN.md §3 "Imported models"): zero points,
// full-range signed tensors, the input lookup table and explicit pads. They are optional; a program that
// uses none of them is a format-1 program, exactly as before (src/ir/features.ts lists what needs 2).

/** A quantized tensor: integer values q with real value (q − zero)·scale (DESIGN.md §3). */
export interface TensorSpec {
  /** Per-sample shape: [H, W, C] or [N]. */
  shape: number[];
  /** Bit-width b: 2..8 for activations and the input, 16 for the logits. */
  bits: number;
  /**
   * Unsigned: q ∈ [0, 2^b − 1]. Signed: narrow and symmetric, q ∈ [−(2^(b−1) − 1), 2^(b−1) − 1], or with
   * `fullRange` q ∈ [−2^(b−1), 2^(b−1) − 1].
   */
  signed: boolean;
  /** Real value of one integer step; informational at run time (no float is used there). */
  scale: number;
  /** Format 2: the integer zero point z, inside the range; real = scale·(q − z). Absent = 0. */
  zero?: number;
  /** Format 2, signed tensors only: the range includes −2^(b−1). Absent = false (narrow). */
  fullRange?: boolean;
}

/** Explicit padding (format 2): [top, left, bottom, right], each in [0, k − 1] of its dimension. */
export type Pads = [number, number, number, number];

/** TensorFlow's padding modes (DESIGN.md §3). */
export type Padding = "same" | "valid";

/** A windowed layer's padding: `same`/`valid`, or explicit pads (imported models: PyTorch's symmetric pad 1 at stride 2 is not `same`). */
export type LayerPadding = Padding | Pads;

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
  /**
   * Without `lut`: u8 pixels, bits 8, unsigned, zero point 0 (scale 1/255 for this tool's own models).
   * With `lut`: the tensor the table maps pixels to (any bits, signedness, zero point).
   */
  out: TensorSpec;
  /**
   * Format 2: per channel c, lut[c·256 + p] is the first quantized value of pixel p (u8) on channel c,
   * inside out's range; C × 256 entries. Computed at import from the model's normalization and input
   * quantizer (DESIGN.md §3), so any normalization stays integer-only at run time.
   */
  lut?: Int16Array;
}

/** Conv2D, grouped or depthwise (groups = input channels). acc = bias + Σ w·(x − z_x), then requant. */
export interface Conv2DLayer {
  op: "conv2d";
  name: string;
  inputs: number[];
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: LayerPadding;
  groups: number;
  /** Weight bits 2..8, signed narrow range (full range with `wFullRange`). */
  wBits: number;
  /** Format 2: weights may be −2^(wBits−1) (PyTorch, onnxruntime). Absent = false. Weights keep z = 0. */
  wFullRange?: boolean;
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
  wFullRange?: boolean;
  weights: Int8Array;
  wScale: Float64Array;
  bias: Int32Array;
  rq: Requant;
}

export interface MaxPoolLayer {
  op: "maxpool";
  name: string;
  inputs: number[];
  /** Same bits, signedness, scale, zero point and range as the input (max commutes with the dequantization). */
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: LayerPadding;
}

/**
 * Average pool: window sum of (x − z_x), then requant with multiplier s_x/(kh·kw·s_y). `valid` padding, or
 * explicit pads (format 2) whose taps count as real 0 (ONNX count_include_pad = 1): the divisor never varies.
 */
export interface AvgPoolLayer {
  op: "avgpool";
  name: string;
  inputs: number[];
  out: TensorSpec;
  kernel: [number, number];
  stride: [number, number];
  padding: "valid" | Pads;
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

/**
 * Residual add: y = clamp(floor(((a − z_a)·ma + (b − z_b)·mb + 2^(s−1)) / 2^s) + z_y, lo, hi), one shared s.
 * With mb = 0 and both inputs the same tensor it is a plain requantization (imported models' back-to-back
 * quantizers).
 */
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

/** The integer range of a tensor spec (DESIGN.md §3): unsigned, signed narrow, or signed full range. */
export function tensorRange(t: Pick<TensorSpec, "bits" | "signed" | "fullRange">): { lo: number; hi: number } {
  if (t.signed) {
    const hi = 2 ** (t.bits - 1) - 1;
    return { lo: t.fullRange ? -hi - 1 : -hi, hi };
  }
  return { lo: 0, hi: 2 ** t.bits - 1 };
}

/** The zero point of a tensor (0 when absent). */
export function zeroOf(t: Pick<TensorSpec, "zero">): number {
  return t.zero ?? 0;
}

/** The integer range of a weight layer's weights: narrow symmetric, or full range with `wFullRange`. */
export function weightRange(l: { wBits: number; wFullRange?: boolean }): { lo: number; hi: number } {
  return tensorRange({ bits: l.wBits, signed: true, fullRange: l.wFullRange });
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

/** Output size of one spatial dimension with `same`/`valid` padding (TensorFlow conventions, DESIGN.md §3). */
export function outDim(size: number, k: number, stride: number, padding: Padding): number {
  return padding === "same" ? Math.ceil(size / stride) : Math.floor((size - k) / stride) + 1;
}

/** `same` padding: total = max((ceil(H/s) − 1)·s + k − H, 0); before (top/left) = floor(total/2). */
export function samePadding(size: number, k: number, stride: number): { before: number; after: number; total: number } {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return { before, after: total - before, total };
}

/** Padding before the first element of a dimension with `same`/`valid` padding. */
export function padBefore(size: number, k: number, stride: number, padding: Padding): number {
  return padding === "same" ? samePadding(size, k, stride).before : 0;
}

/** The pads [top, left, bottom, right] a padding means on an H × W input (explicit pads are themselves). */
export function resolvePads(H: number, W: number, kernel: [number, number], stride: [number, number], padding: LayerPadding): Pads {
  if (Array.isArray(padding)) return [padding[0], padding[1], padding[2], padding[3]];
  if (padding === "valid") return [0, 0, 0, 0];
  const v = samePadding(H, kernel[0], stride[0]);
  const h = samePadding(W, kernel[1], stride[1]);
  return [v.before, h.before, v.after, h.after];
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

/**
 * The geometry of a windowed op on input shape [H, W, C] (TensorFlow `same`/`valid`, DESIGN.md §3, or
 * explicit pads): OH = ⌊(H + top + bottom − kh)/sh⌋ + 1, which is ⌈H/sh⌉ for `same`.
 */
export function windowGeometry(shape: readonly number[], kernel: [number, number], stride: [number, number], padding: LayerPadding): WindowGeometry {
  const [H, W, C] = shape;
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  const [pt, pl, pb, pr] = resolvePads(H, W, kernel, stride, padding);
  return { H, W, C, kh, kw, sh, sw, pt, pl, OH: Math.floor((H + pt + pb - kh) / sh) + 1, OW: Math.floor((W + pl + pr - kw) / sw) + 1 };
}
