// Training end to end on the wasm backend: gradient kernels vs the CPU backend, cnn-s BOPs, a tiny run (also
// lowered and compared with the tfjs eval model), checkpoint → resume equality, the checkpoint reader, and the
// CLI's bad-input contract.
// Tiny datasets, few steps; the cnn-s run is the slow one (its time limit below). No wall-clock assertions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import fc from "fast-check";
import { mulberry32 } from "../../src/rng.js";
import { selectBackend } from "../../src/train/backend.js";
import { buildArch, bops, layerBits, totalMacs } from "../../src/train/archs.js";
import { distillationLoss, loadTeacher, predict, train } from "../../src/train/trainer.js";
import { loadDataset, MNIST_CLASSES, MNIST_SHAPE } from "../../src/data/index.js";
import { CheckpointError, readCheckpoint, readTensor } from "../../src/graph/checkpoint.js";
import { isComputeNode } from "../../src/graph/types.js";
import { NipqInputError } from "../../src/errors.js";
import { AGREEMENT_IMAGES, expectAgreement } from "../lower/agreement.js";

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nipq-train-test-"));
  expect(await selectBackend("wasm")).toBe("wasm");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Gradients of L = Σ c·op(x, w) w.r.t. x and w on the current backend. */
function grads(op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor, xv: Float32Array, xs: number[], wv: Float32Array, ws: number[], cv: Float32Array): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, xs as [number, number, number, number]);
    const w = tf.tensor4d(wv, ws as [number, number, number, number]);
    const y = op(x, w);
    const c = tf.tensor(cv.subarray(0, y.size), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), c)))([x, w]);
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

function rand(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from({ length: n }, () => u() - 0.5);
}

describe("wasm gradient kernels (Conv2DBackpropFilter/Input, depthwise backprops) match the CPU backend", () => {
  it("over shapes, strides and paddings", async () => {
    const cases = fc.sample(
      fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 3, max: 11 }),
        w: fc.integer({ min: 3, max: 11 }),
        cin: fc.integer({ min: 1, max: 5 }),
        cout: fc.integer({ min: 1, max: 6 }),
        k: fc.constantFrom(1, 3, 5),
        s: fc.constantFrom(1, 2),
        pad: fc.constantFrom("same" as const, "valid" as const),
        depthwise: fc.boolean(),
      }).filter((c) => c.pad === "same" || (c.h >= c.k && c.w >= c.k)),
      { seed: 4242, numRuns: 24 },
    );
    for (const [i, c] of cases.entries()) {
      const xs = [c.n, c.h, c.w, c.cin];
      const ws = c.depthwise ? [c.k, c.k, c.cin, 1] : [c.k, c.k, c.cin, c.cout];
      const xv = rand(xs.reduce((a, b) => a * b), 10 + i);
      const wv = rand(ws.reduce((a, b) => a * b), 20 + i);
      const cv = rand(c.n * c.h * c.w * Math.max(c.cin, c.cout), 30 + i);
      const op = (x: tf.Tensor4D, w: tf.Tensor4D) => (c.depthwise ? tf.depthwiseConv2d(x, w, c.s, c.pad) : tf.conv2d(x, w, c.s, c.pad));
      const onWasm = grads(op, xv, xs, wv, ws, cv);
      await tf.setBackend("cpu");
      const onCpu = grads(op, xv, xs, wv, ws, cv);
      await tf.setBackend("wasm");
      for (let g = 0; g < 2; g++) {
        expect(onWasm[g].length).toBe(onCpu[g].length);
        for (let j = 0; j < onCpu[g].length; j++) {
          if (Math.abs(onWasm[g][j] - onCpu[g][j]) > 1e-4 * (1 + Math.abs(onCpu[g][j]))) {
            throw new Error(`case ${JSON.stringify(c)}: d${g === 0 ? "x" : "w"}[${j}] wasm ${onWasm[g][j]} cpu ${onCpu[g][j]}`);
          }
        }
      }
    }
  });
});

describe("BOPs", () => {
  it("cnn-s at W4A4 equals the hand-computed value", () => {
    // MACs per example (3×3 'same' convs, stride 1; max pools halve 28 → 14 → 7):
    //   conv1: 28·28 outputs · 32 ch · 9 taps · 1 in-ch   =   225,792   (input is the u8 image: b_a = 8)
    //   conv2: 14·14 · 64 · 9 · 32                         = 3,612,672
    //   conv3:  7·7 · 128 · 9 · 64                         = 3,612,672
    //   fc:     128 · 10                                   =     1,280
    // BOPs = Σ MACs·b_w·b_a = 225,792·4·8 + 3,612,672·4·4 + 3,612,672·4·4 + 1,280·4·4
    //      = 7,225,344 + 57,802,752 + 57,802,752 + 20,480 = 122,851,328
    const arch = buildArch("cnn-s");
    const lb = layerBits(arch, (id) => (id === "input" ? 8 : 4));
    expect(lb.map((l) => l.macs)).toEqual([225792, 3612672, 3612672, 1280]);
    expect(totalMacs(arch)).toBe(7452416);
    expect(bops(lb)).toBe(122851328);
  });

  it("each layer uses its own input-activation bits", () => {
    const arch = buildArch("cnn-s");
    const lb = layerBits(arch, (id) => (id === "input" ? 8 : id.startsWith("w:") ? 3 : id === "a:conv3" ? 5 : 2));
    // conv3's output feeds the global average pool (a:conv3); the fc reads the pool's output (a:gap).
    expect(lb.map((l) => [l.layer, l.w, l.a])).toEqual([["conv1", 3, 8], ["conv2", 3, 2], ["conv3", 3, 2], ["fc", 3, 2]]);
  });
});

describe("training", () => {
  // This run is also the lowering agreement test's cnn-s model (test/lower/agreement.ts), which trained the same
  // 155 steps again in a file of its own. Time limit: the agreement test's, 2× the longest time that one took
  // in five loaded full runs, 342 s (its training, lowering and 1,000-image run; docs/DECISIONS.md, "Test time limits").
  it("cnn-s NIPQ W4A4: 155 steps on 1,000 mnist digits reach well above chance, the checkpoint reads back, and its integer program predicts like the tfjs eval model", { timeout: 720_000 }, async () => {
    const out = join(dir, "tiny");
    let tfPred: ArrayLike<number> = [];
    const r = await train({ arch: "cnn-s", data: "mnist", method: "nipq", bits: { w: 4, a: 4 }, epochs: 5, batch: 32, limit: 1000, testLimit: 500, seed: 3, out }, undefined, undefined, (net) => (tfPred = predict(net, AGREEMENT_IMAGES)));
    expect(r.epochsDone).toBe(5);
    console.log(`tiny cnn-s NIPQ W4A4 accuracy ${r.accuracy}`);
    expect(r.accuracy).toBeGreaterThan(0.6); // chance is 0.1
    expect(r.bops).toBe(122851328);
    const { graph, weights } = readCheckpoint(out);
    expect(graph.meta.accuracy).toBe(r.accuracy);
    const convs = graph.nodes.filter(isComputeNode);
    expect(convs.map((n) => n.name)).toEqual(["conv1", "conv2", "conv3", "fc"]);
    expect(convs[0].inputQuant).toMatchObject({ id: "input", bits: 8, signed: false, learned: false });
    for (const n of convs) {
      expect(n.weightQuant).toMatchObject({ bits: 4, signed: true });
      expect(n.weightQuant!.step).toBe(Math.fround(n.weightQuant!.alpha / 7));
      expect(readTensor(weights, n.weights).every(Number.isFinite)).toBe(true);
    }
    expect(convs[3].inputQuant).toMatchObject({ id: "a:gap", bits: 4, signed: false });
    expect(readFileSync(join(out, "train.jsonl"), "utf8").trim().split("\n")).toHaveLength(5);
    expectAgreement("cnn-s nipq", out, tfPred);
  });

  it("checkpoint → resume gives exactly the weights of an uninterrupted run (NIPQ, learned bits, final phase)", async () => {
    const base = { arch: "mlp", data: "mnist", method: "nipq" as const, targetAvgBits: 4, epochs: 2, batch: 32, limit: 256, testLimit: 100, seed: 11, finalFrac: 0.4 };
    const a = join(dir, "uninterrupted");
    const b = join(dir, "interrupted");
    const ra = await train({ ...base, out: a });
    // The final phase (last 40% of the 16 steps: from step 9) is the hard quantizer: epoch 1 ends in noise, epoch 2 hard.
    expect(ra.log.map((l) => l.phase)).toEqual(["noise", "hard"]);
    const rb1 = await train({ ...base, out: b, stopAfterEpochs: 1 });
    expect(rb1.epochsDone).toBe(1);
    const rb = await train({ ...base, out: b, resume: true });
    expect(rb.epochsDone).toBe(2);
    expect(rb.accuracy).toBe(ra.accuracy);
    expect(rb.bits).toEqual(ra.bits);
    for (const f of ["weights.bin", "train-state.bin"]) expect(Buffer.compare(readFileSync(join(a, f)), readFileSync(join(b, f)))).toBe(0);
  });

  it("mbv2-s (depthwise, stride 2, residual adds) and LSQ train and export signed quantizers where tensors can be negative", async () => {
    const out = join(dir, "mbv2");
    const r = await train({ arch: "mbv2-s", data: "mnist", method: "lsq", bits: { w: 3, a: 3 }, epochs: 1, batch: 16, limit: 64, testLimit: 32, seed: 5, out });
    expect(r.epochsDone).toBe(1);
    const { graph } = readCheckpoint(out);
    const add = graph.nodes.find((n) => n.op === "add");
    expect(add && add.op === "add" && add.inputQuants.map((q) => q?.signed)).toEqual([true, true]);
    const expand = graph.nodes.find((n) => n.name === "b1_expand");
    expect(expand && isComputeNode(expand) && expand.inputQuant?.signed).toBe(false); // after the stem's ReLU6
    const fc2 = graph.nodes.find((n) => n.name === "b2_expand");
    expect(fc2 && isComputeNode(fc2) && fc2.inputQuant?.signed).toBe(true); // a linear projection's output
  });
});

describe("--init", () => {
  it("starts from another checkpoint's weights (lr 0 leaves them unchanged)", async () => {
    const f = join(dir, "init-float");
    const q = join(dir, "init-lsq");
    await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 32, limit: 64, testLimit: 32, seed: 1, out: f });
    await train({ arch: "mlp", data: "mnist", method: "lsq", bits: { w: 4, a: 4 }, epochs: 1, batch: 32, limit: 64, testLimit: 32, seed: 2, out: q, init: f, lr: 0 });
    const a = readCheckpoint(f);
    const b = readCheckpoint(q);
    for (const name of ["fc1", "fc2", "fc3"]) {
      const na = a.graph.nodes.find((n) => n.name === name)!;
      const nb = b.graph.nodes.find((n) => n.name === name)!;
      if (!isComputeNode(na) || !isComputeNode(nb)) throw new Error("not a MAC layer");
      expect(readTensor(b.weights, nb.weights)).toEqual(readTensor(a.weights, na.weights));
    }
    const bad = await train({ arch: "cnn-s", data: "mnist", method: "float", epochs: 1, batch: 8, limit: 8, seed: 1, out: join(dir, "init-bad"), init: f }).catch((e) => e);
    expect(bad).toBeInstanceOf(CheckpointError);
  });
});

describe("--teacher", () => {
  it("adds the distillation term to the loss (loss = CE + kd-weight·KD, logged per epoch) and leaves the teacher's files alone", async () => {
    const t = join(dir, "teacher-float");
    await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 32, limit: 128, testLimit: 32, seed: 1, out: t });
    const before = readFileSync(join(t, "weights.bin"));
    for (const kdWeight of [1, 0.5]) {
      const r = await train({ arch: "mlp", data: "mnist", method: "lsq", bits: { w: 4, a: 4 }, epochs: 1, batch: 32, limit: 128, testLimit: 32, seed: 2, out: join(dir, `student-${kdWeight}`), teacher: t, kdWeight, kdTemp: 2, optimizer: "sgd" });
      const l = r.log[0];
      expect(l.kd).toBeGreaterThan(0);
      expect(Math.abs(l.loss - (l.ce + kdWeight * l.kd!))).toBeLessThan(1e-4 * l.loss);
      expect(l.trace.map((p) => p.step)).toEqual([0, 1, 2, 3, 4]); // after calibration, each quarter, the end
      expect(Object.keys(l.trace[0].alpha).length).toBeGreaterThan(0);
    }
    expect(Buffer.compare(readFileSync(join(t, "weights.bin")), before)).toBe(0);
  });

  it("rejects a teacher of another arch, a missing one, or one with other classes: NipqInputError naming --teacher and the field", async () => {
    const t = join(dir, "teacher-float");
    const other = join(dir, "teacher-cnn");
    await train({ arch: "cnn-s", data: "mnist", method: "float", epochs: 1, batch: 8, limit: 8, testLimit: 8, seed: 1, out: other });
    const base = { arch: "mlp", data: "mnist", method: "lsq" as const, epochs: 1, batch: 8, limit: 8, seed: 1 };
    const e1 = await train({ ...base, out: join(dir, "st-bad1"), teacher: other }).catch((e) => e);
    expect(e1).toBeInstanceOf(NipqInputError);
    expect(String(e1.message)).toMatch(/^--teacher .*teacher-cnn: .*graph\.json: meta\.arch: expected "mlp"/);
    const e2 = await train({ ...base, out: join(dir, "st-bad2"), teacher: join(dir, "nothing-here") }).catch((e) => e);
    expect(e2).toBeInstanceOf(NipqInputError);
    expect(String(e2.message)).toMatch(/^--teacher .*nothing-here: .*no such file/);
    // A graph whose last layer has 12 outputs (hand-edited): the classes do not match the labels.
    const wide = join(dir, "teacher-12");
    mkdirSync(wide);
    const g = JSON.parse(readFileSync(join(t, "graph.json"), "utf8"));
    g.nodes[g.nodes.length - 1].outShape = [12];
    writeFileSync(join(wide, "graph.json"), JSON.stringify(g));
    writeFileSync(join(wide, "weights.bin"), readFileSync(join(t, "weights.bin")));
    const e3 = await train({ ...base, out: join(dir, "st-bad3"), teacher: wide }).catch((e) => e);
    expect(e3).toBeInstanceOf(NipqInputError);
    expect(String(e3.message)).toMatch(/^--teacher .*teacher-12: .*outShape: expected 10 classes .*found 12$/);
    for (const o of ["st-bad1", "st-bad2", "st-bad3"]) expect(existsSync(join(dir, o))).toBe(false);
  });
});

describe("the recipe inside train(): one step recomputed by hand", () => {
  // A float mlp starts from checkpoint t, which is also its teacher, and takes one step on 32 images (limit 32,
  // batch 32). The step's loss gradient and distillation term are recomputed here from t's weights on the
  // same 32 images (a mean loss and BN batch statistics do not depend on the images' order), and the
  // update each optimizer must make is written out: Adam's first step −lr·(ĝ/(|ĝ| + 1e-8) + wd·w) with
  // ĝ = g (bias-corrected moments of one step), SGD-Nesterov's −lr·(1 + 0.9)·(g + wd·w). The learning
  // rate of a one-step run is the peak for both recipes.
  it("applies the chosen optimizer with weight decay on kernels, and distils from the teacher at --kd-temp with --kd-weight", async () => {
    const t = join(dir, "step-teacher");
    await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 32, limit: 64, testLimit: 32, seed: 3, out: t });
    const [lr, wd, kdTemp, kdWeight] = [0.01, 0.01, 2, 0.5];
    const kernels = ["fc1", "fc2", "fc3"];
    const d = loadDataset("mnist", "train", 32);
    const ref = loadTeacher(t, "mlp", { input: [...MNIST_SHAPE], classes: MNIST_CLASSES }, 0);
    let expectKd = NaN;
    let g: Float32Array[] = [];
    try {
      tf.tidy(() => {
        const x = tf.tensor4d(Float32Array.from(d.images, (v) => v / 255), [d.n, ...MNIST_SHAPE]);
        const y = tf.oneHot(tf.tensor1d(Array.from(d.labels), "int32"), MNIST_CLASSES);
        const teacher = ref.net.forward(x, { training: false, mode: "float", step: 0 });
        const vars = kernels.map((k) => ref.net.params.get(`${k}/kernel`)!);
        const { grads } = tf.variableGrads(() => {
          const s = ref.net.forward(x, { training: true, mode: "float", step: 0 });
          const kd = distillationLoss(s, teacher, kdTemp);
          expectKd = kd.dataSync()[0];
          return tf.add(tf.losses.softmaxCrossEntropy(y, s), tf.mul(kd, kdWeight)) as tf.Scalar;
        }, vars);
        g = vars.map((v) => grads[v.name].dataSync() as Float32Array);
      });
    } finally {
      ref.net.dispose();
    }
    const w0 = readCheckpoint(t);
    const kernelOf = (c: ReturnType<typeof readCheckpoint>, name: string) => {
      const n = c.graph.nodes.find((m) => m.name === name)!;
      if (!isComputeNode(n)) throw new Error("not a MAC layer");
      return readTensor(c.weights, n.weights);
    };
    const update = { adam: (gi: number, w: number) => -lr * (gi / (Math.abs(gi) + 1e-8) + wd * w), sgd: (gi: number, w: number) => -lr * 1.9 * (gi + wd * w) };
    for (const optimizer of ["adam", "sgd"] as const) {
      const out = join(dir, `step-${optimizer}`);
      const r = await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 32, limit: 32, testLimit: 32, seed: 4, out, init: t, teacher: t, kdTemp, kdWeight, optimizer, lr, weightDecay: wd });
      expect(r.log[0].kd).toBeCloseTo(expectKd, 5);
      const w1 = readCheckpoint(out);
      kernels.forEach((k, j) => {
        const [a, b] = [kernelOf(w0, k), kernelOf(w1, k)];
        // g recomputed in another order is off by about 1e-6 of the layer's largest gradient (δ, with margin);
        // Adam's update moves by ε/(|g| + ε)² per unit of g, so elements with |g| near ε = 1e-8 get that slack.
        const delta = 1e-5 * g[j].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        let bad = 0;
        for (let i = 0; i < a.length; i++) {
          const slack = optimizer === "adam" ? (lr * 1e-8 * delta) / (Math.abs(g[j][i]) + 1e-8) ** 2 : lr * 1.9 * delta;
          if (Math.abs(b[i] - a[i] - update[optimizer](g[j][i], a[i])) > 1e-6 + slack) bad++;
        }
        expect(bad, `${optimizer} ${k}: weights off the written-out update`).toBe(0);
      });
    }
  });
});

describe("bad input", () => {
  it("a corrupt checkpoint on --resume is a CheckpointError and leaves the directory untouched", async () => {
    const out = join(dir, "corrupt");
    await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 32, limit: 64, testLimit: 32, seed: 1, out });
    writeFileSync(join(out, "train-state.json"), "{ not json");
    const before = readdirSync(out).sort();
    const err = await train({ arch: "mlp", data: "mnist", method: "float", epochs: 2, batch: 32, limit: 64, testLimit: 32, seed: 1, out, resume: true }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err).toBeInstanceOf(NipqInputError);
    expect(String(err.message)).toMatch(/train-state\.json/);
    expect(readdirSync(out).sort()).toEqual(before);
    writeFileSync(join(out, "graph.json"), '{"format":"nipq-quantgraph","version":1}');
    expect(() => readCheckpoint(out)).toThrow(CheckpointError);
  });

  it("the CLI maps bad input to exit 2 with one line on stderr and writes nothing", async () => {
    const { runCli } = await import("../../src/cli/main.js");
    const cases: [string[], RegExp][] = [
      [["--arch", "resnet", "--data", "mnist", "--method", "nipq"], /--arch/],
      [["--arch", "mlp", "--data", "mnist", "--method", "sgd"], /--method/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--bits", "1/4"], /--bits/],
      [["--arch", "mlp", "--data", "imagenet", "--method", "nipq"], /--data/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--resume"], /--resume/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--limit", "8", "--teacher", join(dir, "no-teacher")], /--teacher/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--kd-temp", "2"], /--kd-temp/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--kd-temp", "0"], /--kd-temp/],
      [["--arch", "mlp", "--data", "mnist", "--method", "nipq", "--optimizer", "rmsprop"], /--optimizer/],
    ];
    for (const [args, re] of cases) {
      const out = join(dir, "cli-out");
      const err: string[] = [];
      const orig = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
      let code: number;
      try {
        code = await runCli(["node", "nipq", "train", ...args, "--out", out, "--json"]);
      } finally {
        process.stderr.write = orig;
      }
      const lines = err.join("").split("\n").filter((l) => l.startsWith("nipq:"));
      expect(code, args.join(" ")).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(re);
      expect(existsSync(out)).toBe(false);
    }
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const e = await train({ arch: "mlp", data: "mnist", method: "float", epochs: 1, batch: 8, limit: 8, seed: 1, out: join(file, "sub") }).catch((x) => x);
    expect(e).toBeInstanceOf(NipqInputError);
    expect(String(e.message)).toMatch(/a-file\/sub: cannot write the checkpoint: a parent is not a directory/);
  });
});
