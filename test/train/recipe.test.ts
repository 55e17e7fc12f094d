// The training recipe pieces against hand-written formulas: the learning-rate schedules, the SGD step
// with Nesterov momentum (torch.optim.SGD, nesterov=True), which parameters get weight decay, and the
// distillation loss (value and gradient). CPU backend, tiny tensors.
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { buildArch } from "../../src/train/archs.js";
import { selectBackend } from "../../src/train/backend.js";
import { Net } from "../../src/train/model.js";
import { ADAM_RECIPE, budgetLoss, distillationLoss, learningRate, Optimizer, resolveConfig, schedule, SGD_RECIPE } from "../../src/train/trainer.js";

beforeAll(async () => {
  await selectBackend("cpu");
});

describe("learning-rate schedule", () => {
  it("sgd: warm-up from 0.1·lr to lr over 3/43 of the steps, then cosine to 1e-3·lr (the authors' CosineWithWarmup)", () => {
    const total = 430;
    const w = Math.round(SGD_RECIPE.warmup * total); // 30 steps
    expect(w).toBe(30);
    const lr = (t: number) => learningRate(2, t, total, SGD_RECIPE.warmup, SGD_RECIPE.warmupStart, SGD_RECIPE.lrEnd);
    expect(lr(0)).toBeCloseTo(2 * (0.1 + 0.9 / 30), 12);
    expect(lr(w - 1)).toBeCloseTo(2, 12);
    expect(lr(w)).toBeCloseTo(2, 12); // cosine starts at its peak
    expect(lr(w + 200)).toBeCloseTo(2 * (1e-3 + (1 - 1e-3) * 0.5 * (1 + Math.cos((Math.PI * 200) / 400))), 12);
    expect(lr(total)).toBeCloseTo(2e-3, 12);
    for (let t = w; t < total; t++) expect(lr(t + 1)).toBeLessThanOrEqual(lr(t));
  });

  it("adam: warm-up from 0 over 3%, cosine to 0 (unchanged)", () => {
    const lr = (t: number) => learningRate(1, t, 1000, ADAM_RECIPE.warmup, ADAM_RECIPE.warmupStart, ADAM_RECIPE.lrEnd);
    expect(lr(0)).toBeCloseTo(1 / 30, 12);
    expect(lr(29)).toBeCloseTo(1, 12);
    expect(lr(1000)).toBeCloseTo(0, 12);
  });

  it("a run's schedule is its optimizer's: sgd from 0.1·lr to 1e-3·lr, adam from 1/W·lr to 0", () => {
    const base = { arch: "mlp", data: "mnist", method: "nipq" as const, epochs: 1, seed: 0, out: "x", batch: 64 };
    const sgd = schedule(resolveConfig({ ...base, optimizer: "sgd" }), 430);
    expect(sgd(0)).toBeCloseTo(0.01 * (0.1 + 0.9 / 30), 12);
    expect(sgd(430)).toBeCloseTo(0.01 * 1e-3, 12);
    const adam = schedule(resolveConfig({ ...base, optimizer: "adam" }), 1000);
    expect(adam(0)).toBeCloseTo(2e-3 / 30, 12);
    expect(adam(1000)).toBe(0);
  });

  it("sgd's default lr is 0.04 at batch 256, scaled linearly; weight decay 1e-5", () => {
    const base = { arch: "mlp", data: "mnist", method: "lsq" as const, epochs: 1, seed: 0, out: "x", optimizer: "sgd" as const };
    expect(resolveConfig({ ...base, batch: 256 }).lr).toBeCloseTo(0.04, 12);
    expect(resolveConfig({ ...base, batch: 64 }).lr).toBeCloseTo(0.01, 12);
    expect(resolveConfig({ ...base, batch: 64 }).weightDecay).toBe(1e-5);
    expect(resolveConfig({ ...base, batch: 64, optimizer: "adam" }).lr).toBe(2e-3);
    // NIPQ's α learning-rate multiplier: 30 under Adam (ADAM_RECIPE), the authors' 1 under SGD.
    expect(resolveConfig({ ...base, batch: 64, optimizer: "adam" }).alphaLr).toBe(30);
    expect(resolveConfig({ ...base, batch: 64 }).alphaLr).toBe(1);
    const net = new Net(buildArch("mlp"), { method: "nipq", bits: { w: 3, a: 3 }, seed: 0 });
    try {
      const scales = net.paramInfos(10, 30).map((p) => [p.key.split("/").pop(), p.lrScale]);
      expect(scales.filter(([k]) => k === "alphaRaw").every(([, s]) => s === 30)).toBe(true);
      expect(scales.filter(([k]) => k === "kernel").every(([, s]) => s === 1)).toBe(true);
    } finally {
      net.dispose();
    }
  });
});

describe("SGD with Nesterov momentum", () => {
  it("follows torch.optim.SGD(nesterov=True): g' = g + wd·w, buf = μ·buf + g', w −= lr·(g' + μ·buf); decay only where marked", () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, "sgdtest/w");
    const b = tf.variable(tf.tensor1d([0.5]), true, "sgdtest/b");
    const opt = new Optimizer("sgd", [{ key: "w", variable: w, decay: true, lrScale: 1 }, { key: "b", variable: b, decay: false, lrScale: 2 }], 0.9, 0.1);
    const gs = [[[0.3, 0.1], [1]], [[-0.2, 0.4], [-0.5]]];
    // Reference in float64.
    let rw = [1, -2];
    let rb = [0.5];
    let bw = [0, 0];
    let bb = [0];
    const lr = 0.05;
    for (const [gw, gb] of gs) {
      opt.apply({ "sgdtest/w": tf.tensor1d(gw), "sgdtest/b": tf.tensor1d(gb) }, lr);
      const gw2 = gw.map((g, i) => g + 0.1 * rw[i]);
      bw = bw.map((m, i) => 0.9 * m + gw2[i]);
      rw = rw.map((v, i) => v - lr * (gw2[i] + 0.9 * bw[i]));
      bb = bb.map((m, i) => 0.9 * m + gb[i]); // no decay on b
      rb = rb.map((v, i) => v - 2 * lr * (gb[i] + 0.9 * bb[i]));
    }
    Array.from(w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(rw[i], 6));
    Array.from(b.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(rb[i], 6));
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it("weight decay is marked on conv/dense kernels only, never on BN, biases, α or bit parameters", () => {
    const net = new Net(buildArch("cnn-s"), { method: "nipq", bits: "learned", seed: 0 });
    try {
      const infos = net.paramInfos();
      expect(infos.filter((p) => p.decay).map((p) => p.key).sort()).toEqual(["conv1/kernel", "conv2/kernel", "conv3/kernel", "fc/kernel"]);
      expect(infos.some((p) => p.key.endsWith("/alphaRaw") && !p.decay)).toBe(true);
      expect(infos.some((p) => p.key.endsWith("/theta") && !p.decay)).toBe(true);
      expect(infos.some((p) => p.key.endsWith("/gamma") && !p.decay)).toBe(true);
    } finally {
      net.dispose();
    }
  });
});

describe("the BOPs budget of NIPQ mixed precision", () => {
  it("penalizes the rounded bit-widths' BOPs (the authors' bops_loss), with a straight-through gradient to each θ", () => {
    const arch = buildArch("cnn-s");
    const net = new Net(arch, { method: "nipq", bits: "learned", seed: 0 });
    try {
      // Every learned quantizer at 3.4 bits (rounds to 3): the continuous BOPs are 27% above the rounded
      // ((3.4/3)² per layer, 3.4/3 for conv1, whose input is the fixed 8-bit image).
      const learned = [...net.quants.values()].filter((q) => q.theta !== null);
      expect(learned.length).toBeGreaterThan(0);
      for (const q of learned) q.theta!.assign(tf.scalar(Math.log((3.4 - q.bMin) / (q.bMax - 3.4))));
      const bits = (id: string) => {
        const q = net.quants.get(id);
        if (!q) return 8; // the image (not a quantizer of the net)
        return learned.includes(q) ? 3 : tf.tidy(() => q.bitsContinuous().dataSync()[0]);
      };
      const rounded = arch.nodes.filter((n) => n.macs !== undefined).reduce((t, n) => t + n.macs! * bits(n.wQ!) * bits(n.inQ!), 0);
      const smoothL1 = (d: number, beta: number) => (Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta);
      // The target is the rounded BOPs: zero loss, although the continuous BOPs are above it.
      const at = tf.tidy(() => budgetLoss(net, { targetBops: rounded, budgetWeight: 1 })!.dataSync()[0]);
      expect(at).toBe(0);
      // 10% under the rounded BOPs: the smooth-L1 of the rounded ratio, not of the continuous one.
      const c = { targetBops: rounded / 1.1, budgetWeight: 2 };
      const v = tf.tidy(() => budgetLoss(net, c)!.dataSync()[0]);
      expect(v).toBeCloseTo(2 * smoothL1(0.1, 0.05), 5);
      // STE: every learned θ gets a gradient, positive (fewer bits, fewer BOPs).
      const used = new Set(arch.nodes.filter((n) => n.macs !== undefined).flatMap((n) => [n.wQ!, n.inQ!]));
      const thetas = [...net.quants].filter(([id, q]) => used.has(id) && q.theta !== null).map(([, q]) => q.theta!);
      expect(thetas.length).toBe(7); // w:conv1, a:pool1, w:conv2, a:pool2, w:conv3, a:gap, w:fc (a:conv3 feeds no MACs)
      const { grads } = tf.variableGrads(() => budgetLoss(net, c)!, thetas);
      for (const t of thetas) expect(grads[t.name].dataSync()[0]).toBeGreaterThan(0);
      tf.dispose(grads);
    } finally {
      net.dispose();
    }
  });
});

describe("distillation loss", () => {
  const s = [[1, 2, -1], [0.5, 0, 3]];
  const t = [[2, 0, 1], [-1, 1, 0.5]];
  const softmax = (v: number[], T: number) => {
    const e = v.map((x) => Math.exp(x / T));
    const z = e.reduce((a, b) => a + b);
    return e.map((x) => x / z);
  };

  it.each([1, 2, 4])("is T²·mean(−Σ softmax(t/T)·log softmax(s/T)) with gradient T·(softmax(s/T) − softmax(t/T))/N, T = %d", (T) => {
    const want = (T * T * s.reduce((acc, row, i) => acc - softmax(t[i], T).reduce((a, p, j) => a + p * Math.log(softmax(row, T)[j]), 0), 0)) / s.length;
    const [v, g] = tf.tidy(() => {
      const tt = tf.tensor2d(t);
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => distillationLoss(x as tf.Tensor2D, tt, T))(tf.tensor2d(s));
      return [value.dataSync()[0], Array.from(grad.dataSync())];
    });
    expect(v).toBeCloseTo(want, 5);
    s.forEach((row, i) => {
      const q = softmax(row, T);
      const p = softmax(t[i], T);
      row.forEach((_, j) => expect(g[i * 3 + j]).toBeCloseTo((T * (q[j] - p[j])) / s.length, 5));
    });
  });
});
