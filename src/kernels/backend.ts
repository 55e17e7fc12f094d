// The per-layer kernel interface every backend implements (reference, wasm, and the simulator's chip
// kernels). A backend executes one layer of an integer program on a batch; the interpreter
// (src/exec/interpret.ts) walks the program and never knows which backend it drives. Adding a backend
// touches no op: it implements this interface.

import type { AddLayer, AvgPoolLayer, Conv2DLayer, DenseLayer, GlobalAvgPoolLayer, MaxPoolLayer, TensorSpec } from "../ir/types.js";

/** A batch of activations: n samples of `spec.shape`, channels-last, one integer per element. */
export interface Activation {
  n: number;
  spec: TensorSpec;
  data: Int32Array;
}

/** One layer's kernels. Each returns the output's integers (n × size of layer.out.shape). */
export interface LayerKernels {
  readonly name: string;
  conv2d(layer: Conv2DLayer, x: Activation): Int32Array;
  dense(layer: DenseLayer, x: Activation): Int32Array;
  maxpool(layer: MaxPoolLayer, x: Activation): Int32Array;
  avgpool(layer: AvgPoolLayer, x: Activation): Int32Array;
  gap(layer: GlobalAvgPoolLayer, x: Activation): Int32Array;
  add(layer: AddLayer, a: Activation, b: Activation): Int32Array;
}
