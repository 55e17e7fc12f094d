// The reference backend: the LayerKernels interface (../backend.ts) over the plain-TS spec kernels of
// ./ops.ts, with each layer's geometry and clamp from the shared Prepare step (../prepare.ts).

import type { Activation, LayerKernels } from "../backend.js";
import { zeroOf, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type MaxPoolLayer } from "../../ir/types.js";
import { prepareOp } from "../prepare.js";
import { addRequant, avgPoolSum, conv2dAcc, denseAcc, globalSum, maxPool, requantTensor } from "./ops.js";

/** Executes every op with the reference kernels (exact, slow, the definition), format 1 and 2 alike: zero points
 * of the input (z_x) and the output (z_y) from the shared Prepare step, the add's from its tensors. */
export const referenceKernels: LayerKernels = {
  name: "reference",
  conv2d(l: Conv2DLayer, x: Activation): Int32Array {
    const op = prepareOp(l, x.spec);
    return requantTensor(conv2dAcc(x.data, x.n, op.geo, op.groups, op.outC, l.weights, l.bias, op.zx), op.outC, l.rq.m, l.rq.s, op.clamp.lo, op.clamp.hi, op.zy);
  },
  dense(l: DenseLayer, x: Activation): Int32Array {
    const op = prepareOp(l, x.spec);
    return requantTensor(denseAcc(x.data, x.n, op.inN, op.outN, l.weights, l.bias, op.zx), op.outN, l.rq.m, l.rq.s, op.clamp.lo, op.clamp.hi, op.zy);
  },
  maxpool(l: MaxPoolLayer, x: Activation): Int32Array {
    return maxPool(x.data, x.n, prepareOp(l, x.spec).geo);
  },
  avgpool(l: AvgPoolLayer, x: Activation): Int32Array {
    const op = prepareOp(l, x.spec);
    return requantTensor(avgPoolSum(x.data, x.n, op.geo, op.zx), op.geo.C, l.rq.m, l.rq.s, op.clamp.lo, op.clamp.hi, op.zy);
  },
  gap(l: GlobalAvgPoolLayer, x: Activation): Int32Array {
    const { geo: g, clamp, zx, zy } = prepareOp(l, x.spec);
    return requantTensor(globalSum(x.data, x.n, g.H, g.W, g.C, zx), g.C, l.rq.m, l.rq.s, clamp.lo, clamp.hi, zy);
  },
  add(l: AddLayer, a: Activation, b: Activation): Int32Array {
    return addRequant(a.data, b.data, l.ma, l.mb, l.s, l.lo, l.hi, zeroOf(a.spec), zeroOf(b.spec), zeroOf(l.out));
  },
};
