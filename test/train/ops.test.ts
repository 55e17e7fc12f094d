// The training layers' hand-written gradients (batch norm, max pool) against tfjs' own ops, and the
// empirical-noise path of the NIPQ quantizer. CPU backend: small tensors, exact reference gradients.
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/train/backend.js";
import type { Arch } from "../../src/train/archs.js";
import { batchNormTrain, maxPool, Net } from "../../src/train/model.js";
import { Quantizer, qmaxOf, softplusInv } from "../../src/train/quantizers.js";
import { uniformArray } from "../../src/train/rng.js";

beforeAll(async () => {
  await selectBackend("cpu");
});

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol * (1 + Math.abs(b[i]))) throw new Error(`[${i}]: ${a[i]} vs ${b[i]}`);
}

describe("batchNormTrain", () => {
  it.each([[[4, 5, 3, 6]], [[16, 7]]])("matches tf.moments + tf.batchNorm in value and gradients for shape %j", (shape) => {
    const n = shape.reduce((a, b) => a * b);
    const c = shape[shape.length - 1];
    const x = tf.tensor(uniformArray(n, 1, -2, 3), shape);
    const g = tf.tensor1d(uniformArray(c, 2, 0.5, 1.5));
    const b = tf.tensor1d(uniformArray(c, 3, -1, 1));
    const w = tf.tensor(uniformArray(n, 4, -1, 1), shape);
    const axes = shape.map((_, i) => i).slice(0, -1);
    const ref = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const { mean, variance } = tf.moments(xx, axes);
      return tf.sum(tf.mul(tf.batchNorm(xx, mean, variance, bb, gg, 1e-3), w));
    };
    const mine = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const r = batchNormTrain(xx, gg, bb, 1e-3);
      tf.dispose([r.mean, r.variance]);
      return tf.sum(tf.mul(r.y, w));
    };
    const gRef = tf.grads(ref)([x, g, b]);
    const gMine = tf.grads(mine)([x, g, b]);
    close(mine(x, g, b).dataSync(), ref(x, g, b).dataSync(), 1e-5);
    for (let i = 0; i < 3; i++) close(gMine[i].dataSync(), gRef[i].dataSync(), 1e-4);
  });
});

describe("maxPool", () => {
  it("matches tf.maxPool's gradient when windows have no ties", () => {
    const x = tf.tensor4d(uniformArray(2 * 6 * 8 * 3, 5, -1, 1), [2, 6, 8, 3]);
    const w = tf.tensor4d(uniformArray(2 * 3 * 4 * 3, 6, -1, 1), [2, 3, 4, 3]);
    const ref = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, 2, 2, "valid"), w)))(x);
    const mine = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(maxPool(xx as tf.Tensor4D, [2, 2], [2, 2], "valid"), w)))(x);
    close(mine.dataSync(), ref.dataSync(), 0);
  });
});

describe("NIPQ quantizer with empirical noise", () => {
  it("stays within ±Δ/2 of x inside the range and exactly on the bound outside it", () => {
    const q = new Quantizer({ id: "e", kind: "activation", signed: true, method: "nipq", bits: 3, noise: "empirical", features: 1000 }, "optest");
    try {
      const xs = uniformArray(1000, 9, -3, 3);
      const x = tf.tensor1d(xs);
      q.alphaRaw!.assign(tf.scalar(softplusInv(1.5))); // α ≈ 1.5: about half of x is clamped
      const { alpha } = q.spec();
      const delta = alpha / qmaxOf(3, true);
      const y = tf.tidy(() => q.apply(x, "noise", 42).dataSync());
      for (let i = 0; i < xs.length; i++) {
        if (xs[i] >= alpha) expect(y[i]).toBe(Math.fround(alpha));
        else if (xs[i] <= -alpha) expect(y[i]).toBe(-Math.fround(alpha));
        else expect(Math.abs(y[i] - xs[i])).toBeLessThanOrEqual(delta / 2 + 1e-5);
      }
    } finally {
      q.dispose();
    }
  });
});

describe("Net: the activation of an add node", () => {
  it("a residual add with ReLU clamps its float sum (resnet blocks; the float and calibration forwards have no quantizer to do it)", () => {
    // input [2, 2, 1] → conv 1×1 (weight −1, no BN, bias 0, linear) → add(conv, conv, ReLU) → gap → dense 1→1 (weight 1).
    const arch: Arch = {
      name: "resnet20",
      nodes: [
        { op: "input", name: "input", inputs: [], outShape: [2, 2, 1] },
        { op: "conv2d", name: "c", inputs: [0], outShape: [2, 2, 1], kernel: [1, 1], strides: [1, 1], padding: "same", inC: 1, outC: 1, bn: false, bias: true, activation: "none", inQ: "input", wQ: "w:c", macs: 4, weightCount: 1 },
        { op: "add", name: "add", inputs: [1, 1], outShape: [2, 2, 1], activation: "relu", addQ: ["a:c", "a:c"] },
        { op: "globalAvgPool", name: "gap", inputs: [2], outShape: [1], inQ: "a:add" },
        { op: "dense", name: "fc", inputs: [3], outShape: [1], inC: 1, outC: 1, bn: false, bias: true, activation: "none", inQ: "a:gap", wQ: "w:fc", macs: 1, weightCount: 1 },
      ],
      quants: [],
    };
    const net = new Net(arch, { method: "float", bits: { w: 8, a: 8 }, seed: 1 });
    try {
      net.params.get("c/kernel")!.assign(tf.fill([1, 1, 1, 1], -1));
      net.params.get("fc/kernel")!.assign(tf.fill([1, 1], 1));
      const x = tf.tensor4d([0.1, -0.2, 0.3, -0.4], [1, 2, 2, 1]);
      const y = net.forward(x, { training: false, mode: "float", step: 0 }).dataSync()[0];
      // conv = −x = [−0.1, 0.2, −0.3, 0.4]; the add doubles it and ReLU keeps [0, 0.4, 0, 0.8]: mean 0.3 (without ReLU: 0.1).
      expect(y).toBeCloseTo(0.3, 6);
    } finally {
      net.dispose();
    }
  });
});
