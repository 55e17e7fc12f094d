// The Prepare step shared by every backend (TFLite Micro's Prepare/OpData, e.g. its conv_common.cc): for
// each layer, once, from the IR alone — the window geometry, the groups and the GEMM view of a weight
// layer, the accumulator bound and the output clamp. The reference kernels, the WASM engine (which adds
// its weight layout, ./wasm/prepare.ts) and the simulator (which adds the chip's stored weights and
// multipliers, src/sim/chip/) all read their geometry here; optimized kernels replace only the
// evaluation. Imported models (zero points, full-range tensors, an input lookup table) add their
// per-layer constants here: every backend then sees them the same way.

import { accumulatorBound, type AccBound } from "../ir/accbound.js";
import { windowGeometry, zeroOf, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type Layer, type MaxPoolLayer, type TensorSpec, type WeightLayer, type WindowGeometry } from "../ir/types.js";

/** A weight layer seen as GEMMs: `groups` independent products, each K (reduction) × opg (outputs). */
export interface GemmView {
  groups: number;
  /** Reduction length: kh·kw·inC/groups for a conv, the input length for a dense layer. */
  K: number;
  /** Output channels per group. */
  opg: number;
}

/**
 * The zero points of a requantizing op (format 2; 0 in format 1): zx of its input, read as x − zx (padded
 * taps are zx, the real 0), and zy of its output, added after the requantization, before the clamp.
 */
export interface Zeros {
  zx: number;
  zy: number;
}

/** The output clamp [lo, hi] of a requantizing op (within the output tensor's range): the layer's own lo, hi. */
export interface Clamp {
  lo: number;
  hi: number;
}

export interface ConvData extends Zeros {
  op: "conv2d";
  geo: WindowGeometry;
  groups: number;
  /** Input channels per group. */
  cpg: number;
  /** Output channels per group. */
  opg: number;
  outC: number;
  /** The layer as GEMMs. */
  view: GemmView;
  /** One input and one output channel per group (groups = C = outC): the channel-parallel kernels. */
  depthwise: boolean;
  /** Extreme accumulators over every input in range (DESIGN.md §3). */
  acc: AccBound;
  clamp: Clamp;
}

export interface DenseData extends Zeros {
  op: "dense";
  inN: number;
  outN: number;
  /** The layer as GEMMs. */
  view: GemmView;
  acc: AccBound;
  clamp: Clamp;
}

export interface MaxPoolData {
  op: "maxpool";
  geo: WindowGeometry;
}

/** Average pool, or global average pool (one window of H × W: OH = OW = 1). */
export interface AvgPoolData extends Zeros {
  op: "avgpool" | "gap";
  geo: WindowGeometry;
  acc: AccBound;
  clamp: Clamp;
}

export interface AddData {
  op: "add";
  clamp: Clamp;
}

export interface FlattenData {
  op: "flatten";
}

/** What every backend needs to know about a layer before running it, computed once. */
export type OpData = ConvData | DenseData | MaxPoolData | AvgPoolData | AddData | FlattenData;

/** The GEMM view of a weight layer from its weights and bias alone (no input needed; equal to OpData's `view`). */
export function gemmOf(l: WeightLayer): GemmView {
  const outC = l.bias.length;
  const groups = l.op === "conv2d" ? l.groups : 1;
  return { groups, K: l.weights.length / outC, opg: outC / groups };
}

function zeros(x: TensorSpec, y: TensorSpec): Zeros {
  return { zx: zeroOf(x), zy: zeroOf(y) };
}

/** The OpData of a conv2d (prepareOp's). */
export function convOp(l: Conv2DLayer, x: TensorSpec): ConvData {
  const geo = windowGeometry(x.shape, l.kernel, l.stride, l.padding);
  const outC = l.out.shape[2];
  const cpg = geo.C / l.groups;
  const opg = outC / l.groups;
  return { op: "conv2d", geo, groups: l.groups, cpg, opg, outC, view: { groups: l.groups, K: geo.kh * geo.kw * cpg, opg }, depthwise: cpg === 1 && opg === 1, acc: accumulatorBound(l, x)!, clamp: l.rq, ...zeros(x, l.out) };
}

/** The OpData of a dense layer (prepareOp's). */
export function denseOp(l: DenseLayer, x: TensorSpec): DenseData {
  const inN = x.shape[0];
  const outN = l.out.shape[0];
  return { op: "dense", inN, outN, view: { groups: 1, K: inN, opg: outN }, acc: accumulatorBound(l, x)!, clamp: l.rq, ...zeros(x, l.out) };
}

/**
 * The OpData of a pool (prepareOp's): max pool, average pool, or global average pool (one window of H × W).
 * The WASM engine calls convOp, denseOp and this directly, so the edge runtime does not carry the ops it
 * prepares nothing for.
 */
export function poolOp(l: MaxPoolLayer, x: TensorSpec): MaxPoolData;
export function poolOp(l: AvgPoolLayer | GlobalAvgPoolLayer, x: TensorSpec): AvgPoolData;
export function poolOp(l: MaxPoolLayer | AvgPoolLayer | GlobalAvgPoolLayer, x: TensorSpec): MaxPoolData | AvgPoolData;
export function poolOp(l: MaxPoolLayer | AvgPoolLayer | GlobalAvgPoolLayer, x: TensorSpec): MaxPoolData | AvgPoolData {
  if (l.op === "maxpool") return { op: "maxpool", geo: windowGeometry(x.shape, l.kernel, l.stride, l.padding) };
  const geo = l.op === "avgpool" ? windowGeometry(x.shape, l.kernel, l.stride, l.padding) : windowGeometry(x.shape, [x.shape[0], x.shape[1]], [1, 1], "valid");
  return { op: l.op, geo, acc: accumulatorBound(l, x)!, clamp: l.rq, ...zeros(x, l.out) };
}

/**
 * The OpData of layer `l` whose (first) input is `x`. The layer must be valid (src/ir/validate.ts); input
 * layers have none. A backend computes it once per layer where it prepares layers (the WASM engine keeps it
 * with the layer's weights in linear memory); the reference and the plain-TS chip kernels, which have no
 * prepare phase, compute it per call: O(weights), small beside the layer's O(weights × pixels) work.
 */
export function prepareOp(l: Conv2DLayer, x: TensorSpec): ConvData;
export function prepareOp(l: DenseLayer, x: TensorSpec): DenseData;
export function prepareOp(l: MaxPoolLayer, x: TensorSpec): MaxPoolData;
export function prepareOp(l: AvgPoolLayer | GlobalAvgPoolLayer, x: TensorSpec): AvgPoolData;
export function prepareOp(l: Layer, x: TensorSpec): OpData;
export function prepareOp(l: Layer, x: TensorSpec): OpData {
  switch (l.op) {
    case "conv2d":
      return convOp(l, x);
    case "dense":
      return denseOp(l, x);
    case "maxpool":
    case "avgpool":
    case "gap":
      return poolOp(l, x);
    case "add":
      return { op: "add", clamp: l };
    case "flatten":
      return { op: "flatten" };
    case "input":
      throw new Error("input layer");
  }
}
