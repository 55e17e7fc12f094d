// The reference backend: the LayerKernels interface over the plain-TS spec kernels of ./ops.ts.

import type { Activation, LayerKernels } from "../../exec/backend.js";
import { windowGeometry, zeroOf, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type MaxPoolLayer } from "../../ir/types.js";
import { addRequant, avgPoolSum, conv2dAcc, denseAcc, globalSum, maxPool, requantTensor } from "./ops.js";

/** Executes every op with the reference kernels (exact, slow, the definition), format 1 and 2 alike. */
export const referenceKernels: LayerKernels = {
  name: "reference",
  conv2d(l: Conv2DLayer, x: Activation): Int32Array {
    const g = windowGeometry(x.spec.shape, l.kernel, l.stride, l.padding);
    const outC = l.out.shape[2];
    return requantTensor(conv2dAcc(x.data, x.n, g, l.groups, outC, l.weights, l.bias, zeroOf(x.spec)), outC, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi, zeroOf(l.out));
  },
  dense(l: DenseLayer, x: Activation): Int32Array {
    const inN = x.spec.shape[0];
    const outN = l.out.shape[0];
    return requantTensor(denseAcc(x.data, x.n, inN, outN, l.weights, l.bias, zeroOf(x.spec)), outN, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi, zeroOf(l.out));
  },
  maxpool(l: MaxPoolLayer, x: Activation): Int32Array {
    return maxPool(x.data, x.n, windowGeometry(x.spec.shape, l.kernel, l.stride, l.padding));
  },
  avgpool(l: AvgPoolLayer, x: Activation): Int32Array {
    const g = windowGeometry(x.spec.shape, l.kernel, l.stride, l.padding);
    return requantTensor(avgPoolSum(x.data, x.n, g, zeroOf(x.spec)), g.C, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi, zeroOf(l.out));
  },
  gap(l: GlobalAvgPoolLayer, x: Activation): Int32Array {
    const [H, W, C] = x.spec.shape;
    return requantTensor(globalSum(x.data, x.n, H, W, C, zeroOf(x.spec)), C, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi, zeroOf(l.out));
  },
  add(l: AddLayer, a: Activation, b: Activation): Int32Array {
    return addRequant(a.data, b.data, l.ma, l.mb, l.s, l.lo, l.hi, zeroOf(a.spec), zeroOf(b.spec), zeroOf(l.out));
  },
};
