// The reference backend: the LayerKernels interface (../backend.ts) over the plain-TS spec kernels of ./ops.ts.

import type { Activation, LayerKernels } from "../backend.js";
import type { AddLayer, AvgPoolLayer, Conv2DLayer, DenseLayer, GlobalAvgPoolLayer, MaxPoolLayer } from "../../ir/types.js";
import { addRequant, avgPoolSum, conv2dAcc, denseAcc, globalSum, maxPool, requantTensor } from "./ops.js";

function hwc(x: Activation): [number, number, number] {
  const [H, W, C] = x.spec.shape;
  return [H, W, C];
}

/** Executes every op with the reference kernels (exact, slow, the definition). */
export const referenceKernels: LayerKernels = {
  name: "reference",
  conv2d(l: Conv2DLayer, x: Activation): Int32Array {
    const [H, W, C] = hwc(x);
    const outC = l.out.shape[2];
    const g = { H, W, C, kh: l.kernel[0], kw: l.kernel[1], sh: l.stride[0], sw: l.stride[1], padding: l.padding, groups: l.groups, outC };
    return requantTensor(conv2dAcc(x.data, x.n, g, l.weights, l.bias), outC, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi);
  },
  dense(l: DenseLayer, x: Activation): Int32Array {
    const inN = x.spec.shape[0];
    const outN = l.out.shape[0];
    return requantTensor(denseAcc(x.data, x.n, inN, outN, l.weights, l.bias), outN, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi);
  },
  maxpool(l: MaxPoolLayer, x: Activation): Int32Array {
    const [H, W, C] = hwc(x);
    return maxPool(x.data, x.n, H, W, C, l.kernel[0], l.kernel[1], l.stride[0], l.stride[1], l.padding);
  },
  avgpool(l: AvgPoolLayer, x: Activation): Int32Array {
    const [H, W, C] = hwc(x);
    const acc = avgPoolSum(x.data, x.n, H, W, C, l.kernel[0], l.kernel[1], l.stride[0], l.stride[1]);
    return requantTensor(acc, C, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi);
  },
  gap(l: GlobalAvgPoolLayer, x: Activation): Int32Array {
    const [H, W, C] = hwc(x);
    return requantTensor(globalSum(x.data, x.n, H, W, C), C, l.rq.m, l.rq.s, l.rq.lo, l.rq.hi);
  },
  add(l: AddLayer, a: Activation, b: Activation): Int32Array {
    return addRequant(a.data, b.data, l.ma, l.mb, l.s, l.lo, l.hi);
  },
};
