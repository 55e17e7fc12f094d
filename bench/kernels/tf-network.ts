// A `nipq init` program as a tfjs fp32 network (the peer of bench/kernels/scale.ts and bench/deploy/browser.ts):
// dequantized weights, real biases, fused conv + bias + ReLU. Only types are imported, so the browser bench
// bundles it for a page where tfjs is a global script.

import type { LayerPadding, Program } from "../../src/ir/types.js";

type Tf = typeof import("@tensorflow/tfjs");
type T = import("@tensorflow/tfjs").Tensor;

/** A layer's padding for tfjs: its `same`/`valid` (the peers run `nipq init` programs, which never carry explicit pads). */
function tfPad(p: LayerPadding): "same" | "valid" {
  if (Array.isArray(p)) throw new Error(`bench: explicit pads [${p.join(", ")}] have no tfjs pooling equivalent here`);
  return p;
}

/** The network in tfjs fp32: dequantized weights, real biases, ReLU where the program's output is unsigned. */
export function tfNetwork(tf: Tf, p: Program, n: number, pixels: Uint8Array): () => T {
  const L = p.layers;
  const params = L.map((l, i) => {
    if (l.op !== "conv2d" && l.op !== "dense") return null;
    const x = L[l.inputs[0]].out;
    const outC = l.op === "dense" ? l.out.shape[0] : l.out.shape[2];
    const [kh, kw] = l.op === "conv2d" ? l.kernel : [1, 1];
    const cin = l.weights.length / (outC * kh * kw);
    const bias = tf.tensor1d(Float32Array.from(l.bias, (b, o) => b * l.wScale[o] * x.scale));
    if (l.op === "conv2d" && l.groups > 1) {
      if (cin !== 1 || l.groups !== x.shape[2]) throw new Error(`layer ${i}: grouped convolution other than depthwise`);
      const mult = outC / l.groups; // [outC][kh][kw][1] → [kh][kw][C][mult]
      const w = new Float32Array(l.weights.length);
      for (let o = 0; o < outC; o++) for (let k = 0; k < kh * kw; k++) w[(k * l.groups + Math.floor(o / mult)) * mult + (o % mult)] = l.weights[o * kh * kw + k] * l.wScale[o];
      return { filter: tf.tensor4d(w, [kh, kw, l.groups, mult]), bias, depthwise: true };
    }
    const w = new Float32Array(l.weights.length); // [outC][kh][kw][cin] → [kh][kw][cin][outC]
    for (let o = 0; o < outC; o++) for (let k = 0; k < kh * kw * cin; k++) w[k * outC + o] = l.weights[o * kh * kw * cin + k] * l.wScale[o];
    return { filter: l.op === "dense" ? tf.tensor2d(w, [cin, outC]) : tf.tensor4d(w, [kh, kw, cin, outC]), bias, depthwise: false };
  });
  const [H, W, C] = L[0].out.shape;
  const x = tf.tensor4d(Float32Array.from(pixels.subarray(0, n * H * W * C), (v) => v / 255), [n, H, W, C]);
  const relu = (i: number) => (L[i].out.signed ? "linear" : "relu") as "linear" | "relu";
  return () =>
    tf.tidy(() => {
      const v: T[] = [x];
      L.forEach((l, i) => {
        if (i === 0) return;
        const a = v[l.inputs[0]];
        const w = params[i];
        switch (l.op) {
          case "conv2d":
            v[i] = w!.depthwise
              ? tf.fused.depthwiseConv2d({ x: a as import("@tensorflow/tfjs").Tensor4D, filter: w!.filter as import("@tensorflow/tfjs").Tensor4D, strides: l.stride, pad: tfPad(l.padding), bias: w!.bias, activation: relu(i) })
              : tf.fused.conv2d({ x: a as import("@tensorflow/tfjs").Tensor4D, filter: w!.filter as import("@tensorflow/tfjs").Tensor4D, strides: l.stride, pad: tfPad(l.padding), bias: w!.bias, activation: relu(i) });
            break;
          case "dense":
            v[i] = tf.fused.matMul({ a: tf.reshape(a, [n, -1]) as import("@tensorflow/tfjs").Tensor2D, b: w!.filter as import("@tensorflow/tfjs").Tensor2D, bias: w!.bias, activation: i === L.length - 1 ? "linear" : relu(i) });
            break;
          case "maxpool":
            v[i] = tf.maxPool(a as import("@tensorflow/tfjs").Tensor4D, l.kernel, l.stride, tfPad(l.padding));
            break;
          case "avgpool":
            v[i] = tf.avgPool(a as import("@tensorflow/tfjs").Tensor4D, l.kernel, l.stride, tfPad(l.padding));
            break;
          case "gap":
            v[i] = tf.mean(a, [1, 2]);
            break;
          case "add": {
            const s = tf.add(a, v[l.inputs[1]]);
            v[i] = relu(i) === "relu" ? tf.relu(s) : s;
            break;
          }
          case "flatten":
            v[i] = tf.reshape(a, [n, -1]);
            break;
        }
      });
      return v[L.length - 1];
    });
}

