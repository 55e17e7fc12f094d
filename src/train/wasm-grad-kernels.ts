// Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter, both depthwise
// backprops) or implements slowly (Conv2DBackpropInput is a naive C loop there), rebuilt from kernels the
// backend has and that XNNPACK makes fast: Conv2D, DepthwiseConv2dNative, Transpose, PadV2, Reverse,
// Slice, Multiply, Sum. DESIGN.md §7 records the measurements that motivated the Conv2D forms.
//
// Each kernel here is a tfjs kernel function: it receives TensorInfos and returns one, and calls the
// wasm backend's own kernel functions directly (not tfjs ops), so nothing is recorded on a gradient tape
// and every intermediate is released with `backend.disposeData` — the same pattern the wasm backend's own
// composite kernels (e.g. Reverse, which calls Reshape) follow.

import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs";

const BACKEND = "wasm";

/** A backend as the wasm kernels see it: only `disposeData` is needed here. */
interface KernelBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

type Pad4 = { top: number; bottom: number; left: number; right: number };

/** Calls the wasm backend's own kernel `name` (throws if the backend lacks it). */
function call(
  backend: KernelBackend,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown>,
): TensorInfo {
  const k = tf.getKernel(name, BACKEND);
  if (k === undefined) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap } as never) as TensorInfo;
}

/** Releases intermediates created inside a kernel. */
function free(backend: KernelBackend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function pair(v: number | [number, number] | number[]): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** tfjs' own SAME/VALID/explicit padding arithmetic (conv_util.computeConv2DInfo), for an NHWC conv. */
function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: unknown,
  dimRoundingMode: unknown,
  depthwise: boolean,
): { pad: Pad4; outH: number; outW: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as "same",
    dimRoundingMode as "round" | undefined,
    depthwise,
  );
  return { pad: info.padInfo, outH: info.outHeight, outW: info.outWidth };
}

/**
 * Inserts (s−1) zeros between the rows and columns of an NHWC tensor (dy of a strided conv), via
 * reshape [N, H, 1, W, 1, C] → pad → reshape [N, H·sh, W·sw, C] → slice off the trailing zeros.
 */
function dilate(backend: KernelBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  if (sh === 1 && sw === 1) return call(backend, "Identity", { x: dy }, {});
  const [n, h, w, c] = dy.shape;
  const r = call(backend, "Reshape", { x: dy }, { shape: [n, h, 1, w, 1, c] });
  const p = call(backend, "PadV2", { x: r }, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
    constantValue: 0,
  });
  const r2 = call(backend, "Reshape", { x: p }, { shape: [n, h * sh, w * sw, c] });
  const s = call(backend, "Slice", { x: r2 }, { begin: [0, 0, 0, 0], size: [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c] });
  free(backend, r, p, r2);
  return s;
}

/**
 * Conv2DBackpropFilter as one Conv2D (DESIGN.md §7):
 * dW[i,j,ci,co] = Σ_{n,oh,ow} xpad[n, oh·s+i, ow·s+j, ci] · dy[n, oh, ow, co],
 * i.e. a VALID conv of xpadᵀ [Cin, Hp, Wp, N] (N as channels) with dyᵀ [OH, OW, N, Cout] as the filter,
 * dilation = the forward stride; the output [Cin, KH′, KW′, Cout] is cropped to [Cin, kh, kw, Cout] and
 * transposed to [kh, kw, Cin, Cout].
 */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as KernelBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as {
    strides: [number, number] | number; pad: unknown; dimRoundingMode: unknown; filterShape: number[]; dataFormat?: string;
  };
  if (dataFormat !== undefined && dataFormat !== "NHWC") throw new Error(`Conv2DBackpropFilter: only NHWC, got ${dataFormat}`);
  const [kh, kw, cin, cout] = filterShape;
  const [sh, sw] = pair(strides);
  const { pad: p } = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, false);
  const xp = call(backend, "PadV2", { x }, { paddings: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]], constantValue: 0 });
  const xt = call(backend, "Transpose", { x: xp }, { perm: [3, 1, 2, 0] }); // [Cin, Hp, Wp, N]
  const dyt = call(backend, "Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, Cout]
  const g = call(backend, "Conv2D", { x: xt, filter: dyt }, {
    strides: [1, 1], pad: "valid", dilations: [sh, sw], dataFormat: "NHWC", dimRoundingMode: undefined,
  }); // [Cin, KH', KW', Cout], KH' ≥ kh
  let gc = g;
  if (g.shape[1] !== kh || g.shape[2] !== kw) {
    gc = call(backend, "Slice", { x: g }, { begin: [0, 0, 0, 0], size: [cin, kh, kw, cout] });
  }
  const out = call(backend, "Transpose", { x: gc }, { perm: [1, 2, 0, 3] });
  free(backend, xp, xt, dyt, g);
  if (gc !== g) free(backend, gc);
  return out;
};

/**
 * Conv2DBackpropInput as one Conv2D: dy dilated by the stride, padded by (k − 1 − pad_before) before and
 * enough after to give the input size, convolved (VALID, stride 1) with the filter rotated 180° in
 * (kh, kw) and with its channel axes swapped: [kh, kw, Cout, Cin].
 */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as KernelBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dimRoundingMode, inputShape, dataFormat } = attrs as unknown as {
    strides: [number, number] | number; pad: unknown; dimRoundingMode: unknown; inputShape: number[]; dataFormat?: string;
  };
  if (dataFormat !== undefined && dataFormat !== "NHWC") throw new Error(`Conv2DBackpropInput: only NHWC, got ${dataFormat}`);
  const [kh, kw] = filter.shape;
  const [sh, sw] = pair(strides);
  const { pad: p } = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, false);
  const dyd = dilate(backend, dy, sh, sw);
  const [, hd, wd] = dyd.shape;
  const top = kh - 1 - p.top;
  const left = kw - 1 - p.left;
  const bottom = inputShape[1] + kh - 1 - hd - top;
  const right = inputShape[2] + kw - 1 - wd - left;
  const dyp = call(backend, "PadV2", { x: dyd }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
  const rot = call(backend, "Reverse", { x: filter }, { dims: [0, 1] });
  const ft = call(backend, "Transpose", { x: rot }, { perm: [0, 1, 3, 2] }); // [kh, kw, Cout, Cin]
  const out = call(backend, "Conv2D", { x: dyp, filter: ft }, {
    strides: [1, 1], pad: "valid", dilations: [1, 1], dataFormat: "NHWC", dimRoundingMode: undefined,
  });
  free(backend, dyd, dyp, rot, ft);
  return out;
};

/**
 * DepthwiseConv2dNativeBackpropFilter (channel multiplier 1): one multiply-and-reduce per filter tap,
 * dW[i,j,c,0] = Σ_{n,oh,ow} xpad[n, oh·s+i, ow·s+j, c] · dy[n, oh, ow, c]. Depthwise layers are cheap
 * (kh·kw MACs per output), so kh·kw strided slices cost about as much as the forward pass.
 */
const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as KernelBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape, dilations } = attrs as unknown as {
    strides: [number, number] | number; pad: unknown; dimRoundingMode: unknown; filterShape: number[]; dilations?: number | number[];
  };
  const [kh, kw, c, mult] = filterShape;
  if (mult !== 1) throw new Error(`DepthwiseConv2dNativeBackpropFilter: channel multiplier ${mult} not supported (only 1)`);
  if (dilations !== undefined && pair(dilations as number).some((d) => d !== 1)) throw new Error("depthwise backprop: dilation > 1 not supported");
  const [sh, sw] = pair(strides);
  const { pad: p } = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, true);
  const [n, oh, ow] = dy.shape;
  const xp = call(backend, "PadV2", { x }, { paddings: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]], constantValue: 0 });
  const taps: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const xs = call(backend, "StridedSlice", { x: xp }, {
        begin: [0, i, j, 0], end: [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], strides: [1, sh, sw, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      const prod = call(backend, "Multiply", { a: xs, b: dy }, {});
      taps.push(call(backend, "Sum", { x: prod }, { axis: [0, 1, 2], keepDims: false }));
      free(backend, xs, prod);
    }
  }
  const stacked = call(backend, "Pack", taps as unknown as Record<string, TensorInfo>, { axis: 0 }); // Pack takes an array
  const out = call(backend, "Reshape", { x: stacked }, { shape: [kh, kw, c, 1] });
  free(backend, xp, stacked, ...taps);
  return out;
};

/**
 * DepthwiseConv2dNativeBackpropInput (channel multiplier 1): the same transposed-conv form as
 * Conv2DBackpropInput, with a depthwise conv of the dilated, padded dy and the 180°-rotated filter
 * (depthwise filters need no channel swap).
 */
const depthwiseBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as KernelBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dimRoundingMode, inputShape, dilations } = attrs as unknown as {
    strides: [number, number] | number; pad: unknown; dimRoundingMode: unknown; inputShape: number[]; dilations?: number | number[];
  };
  const [kh, kw, , mult] = filter.shape;
  if (mult !== 1) throw new Error(`DepthwiseConv2dNativeBackpropInput: channel multiplier ${mult} not supported (only 1)`);
  if (dilations !== undefined && pair(dilations as number).some((d) => d !== 1)) throw new Error("depthwise backprop: dilation > 1 not supported");
  const [sh, sw] = pair(strides);
  const { pad: p } = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, true);
  const dyd = dilate(backend, dy, sh, sw);
  const [, hd, wd] = dyd.shape;
  const top = kh - 1 - p.top;
  const left = kw - 1 - p.left;
  const bottom = inputShape[1] + kh - 1 - hd - top;
  const right = inputShape[2] + kw - 1 - wd - left;
  const dyp = call(backend, "PadV2", { x: dyd }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
  const rot = call(backend, "Reverse", { x: filter }, { dims: [0, 1] });
  const out = call(backend, "DepthwiseConv2dNative", { x: dyp, filter: rot }, {
    strides: [1, 1], pad: "valid", dilations: [1, 1], dimRoundingMode: undefined,
  });
  free(backend, dyd, dyp, rot);
  return out;
};

const KERNELS: KernelConfig[] = [
  { kernelName: "Conv2DBackpropFilter", backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
  { kernelName: "Conv2DBackpropInput", backendName: BACKEND, kernelFunc: conv2DBackpropInput },
  { kernelName: "DepthwiseConv2dNativeBackpropFilter", backendName: BACKEND, kernelFunc: depthwiseBackpropFilter },
  { kernelName: "DepthwiseConv2dNativeBackpropInput", backendName: BACKEND, kernelFunc: depthwiseBackpropInput },
];

/**
 * Registers the training gradient kernels on the "wasm" backend, replacing the backend's own (slow)
 * Conv2DBackpropInput. Idempotent. Call before the wasm backend is first used (tfjs runs kernels'
 * setup functions at backend initialization; these kernels need none).
 */
export function registerWasmGradientKernels(): void {
  for (const k of KERNELS) {
    if (tf.getKernel(k.kernelName, BACKEND) !== undefined) tf.unregisterKernel(k.kernelName, BACKEND);
    tf.registerKernel(k);
  }
}
