// The training loop shared by NIPQ, LSQ and float: data, schedule (linear warm-up then cosine), Adam or the
// NIPQ authors' SGD recipe, distillation from a teacher checkpoint, the bit budget loss, NIPQ's final phase,
// evaluation, and an atomic checkpoint each epoch that `resume` continues from with exactly the result of
// an uninterrupted run (every random draw is keyed by (seed, step), see ./rng.ts). docs/NIPQ.md compares
// all of it with the authors' train.py.

import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadDataset, type Dataset } from "../data/index.js";
import { DatasetError, NipqInputError, UsageError } from "../errors.js";
import { CHECKPOINT_DIR, CheckpointError, GRAPH_FILE, graphFiles, readCheckpoint, readTensor, TensorPacker, TRAIN_LOG_FILE, TRAIN_STATE_BIN, TRAIN_STATE_FILE, writeDirAtomic } from "../graph/checkpoint.js";
import { prepareOutputDir } from "../fsutil.js";
import { isComputeNode, type QuantGraph, type TensorRef } from "../graph/types.js";
import { type Arch, bops as sumBops, buildArch, layerBits, type LayerBits } from "./archs.js";
import { exportGraph } from "./export.js";
import { type ForwardMode, type Method, METHODS, Net, type ParamInfo } from "./model.js";
import { type AlphaInit, DEFAULT_NOISE, type NoiseKind, roundSTE } from "./quantizers.js";
import { mixKey, permutation } from "./rng.js";

/**
 * The image shape and class count a run's arch is built for: the training data's (loadTrainingData), whatever the
 * arch's own default (resnet20 trains at 28×28×1 on the digits and at 32×32×3 on CIFAR-10). The checkpoint
 * records both (its input node's outShape and its last node's, and meta.input / meta.classes).
 */
export interface DataLayout {
  input: [number, number, number];
  classes: number;
}

/** Everything that determines a training run. */
export interface TrainConfig {
  arch: string;
  data: string;
  method: Method;
  /** Fixed bits; for nipq/lsq without a target, defaults to W4A4. */
  bits?: { w: number; a: number };
  /** NIPQ mixed precision: BOPs budget (raw BOPs, not G). */
  targetBops?: number;
  /** NIPQ mixed precision: size-weighted mean bits budget for weights and activations. */
  targetAvgBits?: number;
  epochs: number;
  batch: number;
  /** Use only the first N training images. */
  limit?: number;
  /** Evaluate on only the first N test images. */
  testLimit?: number;
  /** MobileNetV2's width multiplier (mobilenetv2 only; ArchOptions.width). */
  width?: number;
  /** [H, W, C] the images must have (images:DIR is converted, and with `resize` scaled, to it); default: the data's. */
  input?: [number, number, number];
  /** images:DIR only: scale images to `input` (or to the first training image's size). */
  resize?: boolean;
  /** Classes of the last layer (default: the data's, see dataLayout). */
  classes?: number;
  seed: number;
  out: string;
  resume?: boolean;
  /** "adam" (AdamW) or "sgd" (the NIPQ authors' recipe: Nesterov momentum, see SGD_RECIPE). */
  optimizer?: OptimizerKind;
  /** Peak learning rate (default: adam 2e-3; sgd 0.04·batch/256). */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** Fraction of all steps spent in linear warm-up (default: adam 0.03; sgd 3/43, the authors' 3 of 40 + 3 epochs). */
  warmup?: number;
  /** NIPQ: fraction of all steps in the final phase (bits frozen, hard quantizer with STE). */
  finalFrac?: number;
  noise?: NoiseKind;
  budgetWeight?: number;
  bitsInit?: number;
  /** NIPQ: how α is initialized ("rms", the default, or "lsq": see Quantizer's alphaInit). */
  alphaInit?: AlphaInit;
  bMin?: number;
  bMax?: number;
  /** Learning-rate multiplier for the bit-width parameters θ. */
  thetaLr?: number;
  /** Learning-rate multiplier for NIPQ's α_raw (default: adam 30, sgd 1; see ADAM_RECIPE). */
  alphaLr?: number;
  /** Stop (after checkpointing) once this many epochs are done in this call: simulates an interruption. */
  stopAfterEpochs?: number;
  /**
   * Start from the weights, biases and BN statistics of this checkpoint directory (e.g. a float run of
   * the same arch): the usual protocol of LSQ and NIPQ, which fine-tune a pretrained network.
   */
  init?: string;
  /**
   * Distil from this checkpoint directory (any `nipq train` output of the same arch, usually a float run):
   * loss = CE + kdWeight·T²·softCE(softmax(teacher/T), student/T). The teacher runs in eval mode (BN moving
   * statistics; a quantized teacher with its deployed quantizers), as the authors' model_t.eval().
   */
  teacher?: string;
  /** Distillation temperature T (default 1: the authors' soft cross-entropy). */
  kdTemp?: number;
  /** Weight of the distillation term (default 1, as the authors' loss_class + loss_kd). */
  kdWeight?: number;
  /** The backend name (recorded; the caller selects it with selectBackend). */
  backend?: string;
}

export type OptimizerKind = "adam" | "sgd";

/**
 * The NIPQ authors' optimizer (ECoLab-POSTECH/NIPQ train.py get_optimizer, CosineWithWarmup, and
 * run_mv2_imagenet_*.sh): SGD, momentum 0.9, Nesterov, lr 0.04 at batch 256 (scaled linearly with the
 * batch), weight decay 1e-5 on conv/dense kernels only, linear warm-up from 0.1× over 3 of 43 epochs,
 * then cosine down to 1e-3× the peak (their eta_min is a multiplier).
 */
export const SGD_RECIPE = { lrAt256: 0.04, momentum: 0.9, weightDecay: 1e-5, warmup: 3 / 43, warmupStart: 0.1, lrEnd: 1e-3, alphaLr: 1 } as const;
/**
 * This tool's own recipe: AdamW, lr 2e-3, decoupled weight decay 1e-4, warm-up from 0 over 3%, cosine to
 * 0; NIPQ's α_raw at 30× the learning rate. Adam moves every parameter by about lr per step whatever its
 * gradient, so LSQ's step s (α = qmax·s) moves α by qmax·lr per step while α = softplus(α_raw) moves by
 * sigmoid(α_raw)·lr: 15–30× slower for the 3–4-bit quantizers of cnn-s, and NIPQ's ranges stayed where
 * calibration put them (docs/RESULTS.md "Training" has the α trajectories). 30 gives α about LSQ's
 * freedom. SGD needs no such factor: there the step follows the gradient, summed over the tensor.
 */
export const ADAM_RECIPE = { lr: 2e-3, weightDecay: 1e-4, warmup: 0.03, warmupStart: 0, lrEnd: 0, alphaLr: 30 } as const;

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  globalStep: number;
  loss: number;
  acc: number;
  meanBits: number;
  gbops: number;
  phase: "float" | "noise" | "hard";
}

/** A point of an epoch's trace: after calibration (step 0, no loss yet), every quarter epoch, and at its end. */
export interface TracePoint {
  /** Global steps done when it was taken. */
  step: number;
  /** Mean training loss (CE + distillation + budget) over the steps since the previous point. */
  loss?: number;
  /** Truncation bound α of each learned quantizer (LSQ: step·qmax), by quantizer id. */
  alpha: Record<string, number>;
}

export interface EpochLog {
  epoch: number;
  phase: string;
  /** Mean training loss over the epoch: CE, plus the distillation term and the budget loss when used. */
  loss: number;
  /** Mean cross-entropy with the labels. */
  ce: number;
  /** Mean distillation term (before its weight), when a teacher is used. */
  kd?: number;
  trainAcc: number;
  testAcc: number;
  meanBits: number;
  bops: number;
  bits: { layer: string; w: number; a: number }[];
  seconds: number;
  imagesPerSecond: number;
  trace: TracePoint[];
}

export interface TrainResult {
  accuracy: number;
  /** The [H, W, C] and classes the arch was built for (the data's). */
  input: number[];
  classes: number;
  bits: { layer: string; w: number; a: number }[];
  bops: number;
  out: string;
  epochsDone: number;
  backend: string;
  log: EpochLog[];
}

const DEFAULTS = {
  optimizer: "adam" as const,
  momentum: SGD_RECIPE.momentum,
  finalFrac: 0.1,
  noise: DEFAULT_NOISE,
  budgetWeight: 1,
  bitsInit: 6,
  alphaInit: "rms" as AlphaInit,
  bMin: 2,
  bMax: 8,
  thetaLr: 10,
  kdTemp: 1,
  kdWeight: 1,
};

/** The configuration with defaults filled in and validated (UsageError on bad values). */
export function resolveConfig(c: TrainConfig): Required<Omit<TrainConfig, "bits" | "targetBops" | "targetAvgBits" | "limit" | "testLimit" | "stopAfterEpochs" | "teacher" | "width" | "input" | "resize" | "classes">> & TrainConfig {
  if (!(METHODS as readonly string[]).includes(c.method)) throw new UsageError(`--method: expected one of ${METHODS.join(", ")}, found ${JSON.stringify(c.method)}`);
  buildArch(c.arch, { width: c.width }); // validates the name and the width (the data's shape comes later)
  const targets = [c.bits, c.targetBops, c.targetAvgBits].filter((v) => v !== undefined).length;
  if (targets > 1) throw new UsageError("--bits, --target-bops and --target-avg-bits: give at most one");
  if (c.method === "float" && targets > 0) throw new UsageError("--method float: takes no --bits, --target-bops or --target-avg-bits");
  if (c.method === "lsq" && (c.targetBops !== undefined || c.targetAvgBits !== undefined)) throw new UsageError("--method lsq: learns no bit-widths; use --bits W/A");
  if (c.bits) for (const [k, v] of Object.entries(c.bits)) if (!Number.isInteger(v) || v < 2 || v > 8) throw new UsageError(`--bits: ${k === "w" ? "W" : "A"} expected an integer in 2..8, found ${v}`);
  if (c.targetBops !== undefined && !(c.targetBops > 0)) throw new UsageError(`--target-bops: expected a positive number, found ${c.targetBops}`);
  if (c.targetAvgBits !== undefined && !(c.targetAvgBits >= 2 && c.targetAvgBits <= 8)) throw new UsageError(`--target-avg-bits: expected a number in [2, 8], found ${c.targetAvgBits}`);
  const opt = c.optimizer ?? DEFAULTS.optimizer;
  if (opt !== "adam" && opt !== "sgd") throw new UsageError(`--optimizer: expected adam or sgd, found ${JSON.stringify(opt)}`);
  if (c.kdTemp !== undefined && !(c.kdTemp > 0)) throw new UsageError(`--kd-temp: expected a positive number, found ${c.kdTemp}`);
  if (c.teacher === undefined && (c.kdTemp !== undefined || c.kdWeight !== undefined)) throw new UsageError("--kd-temp and --kd-weight: need --teacher DIR");
  const bits = c.method !== "float" && targets === 0 ? { w: 4, a: 4 } : c.bits;
  return {
    ...DEFAULTS,
    lr: opt === "adam" ? ADAM_RECIPE.lr : (SGD_RECIPE.lrAt256 * c.batch) / 256,
    weightDecay: opt === "adam" ? ADAM_RECIPE.weightDecay : SGD_RECIPE.weightDecay,
    warmup: opt === "adam" ? ADAM_RECIPE.warmup : SGD_RECIPE.warmup,
    alphaLr: opt === "adam" ? ADAM_RECIPE.alphaLr : SGD_RECIPE.alphaLr,
    resume: false,
    backend: tf.getBackend(),
    ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)),
    optimizer: opt,
    bits,
  } as ReturnType<typeof resolveConfig>;
}

type Resolved = ReturnType<typeof resolveConfig>;

/** Fields that must match for --resume (everything that changes the trajectory). */
function trajectoryKey(c: Resolved): Record<string, unknown> {
  const { arch, data, method, bits, targetBops, targetAvgBits, epochs, batch, limit, seed, optimizer, lr, momentum, weightDecay, warmup, finalFrac, noise, budgetWeight, bitsInit, bMin, bMax, thetaLr, init, alphaInit, teacher, kdTemp, kdWeight, alphaLr } = c;
  const key: Record<string, unknown> = { arch, data, method, init: init === undefined ? null : resolve(init), bits: bits ?? null, targetBops: targetBops ?? null, targetAvgBits: targetAvgBits ?? null, epochs, batch, limit: limit ?? null, seed, optimizer, lr, momentum, weightDecay, warmup, finalFrac, noise, budgetWeight, bitsInit, bMin, bMax, thetaLr };
  if (c.width !== undefined) key.width = c.width; // only when given: checkpoints from before --width keep their key
  for (const k of ["input", "resize", "classes"] as const) if (c[k] !== undefined) key[k] = c[k]; // likewise
  // Only when not the default, so checkpoints written before the option existed still resume.
  if (alphaInit !== "rms") key.alphaInit = alphaInit;
  if (method === "nipq" && alphaLr !== 1) key.alphaLr = alphaLr;
  if (teacher !== undefined) Object.assign(key, { teacher: resolve(teacher), kdTemp, kdWeight });
  // SGD before the authors' recipe had no Nesterov step and no warm-up start or end multipliers.
  if (optimizer === "sgd") key.sgdRecipe = { nesterov: true, warmupStart: SGD_RECIPE.warmupStart, lrEnd: SGD_RECIPE.lrEnd };
  return key;
}

/**
 * Learning rate at global step t of `total`: linear warm-up over W = round(warmupFrac·total) steps from
 * start·base to base, then cosine decay to end·base at the last step (start = end = 0: this tool's Adam
 * schedule; 0.1 and 1e-3: the authors' CosineWithWarmup, here per step rather than per epoch).
 */
export function learningRate(base: number, t: number, total: number, warmupFrac: number, start = 0, end = 0): number {
  const w = Math.max(1, Math.round(warmupFrac * total));
  if (t < w) return base * (start + ((1 - start) * (t + 1)) / w);
  const p = Math.min(1, (t - w) / Math.max(1, total - w));
  return base * (end + (1 - end) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/** The learning rate per global step of a run of `total` steps: its optimizer's recipe (warm-up start, end). */
export function schedule(c: Pick<Resolved, "optimizer" | "lr" | "warmup">, total: number): (t: number) => number {
  const r = c.optimizer === "sgd" ? SGD_RECIPE : ADAM_RECIPE;
  return (t) => learningRate(c.lr, t, total, c.warmup, r.warmupStart, r.lrEnd);
}

/** A batch of images as pixel/255 (float32, [n, H, W, C]), exactly the integer program's input u8 with scale 1/255. */
function batchTensors(d: Dataset, idx: ArrayLike<number>, from: number, n: number): { x: tf.Tensor4D; y: tf.Tensor1D; labels: Int32Array } {
  const P = d.height * d.width * d.channels;
  const xs = new Float32Array(n * P);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = idx[from + i];
    const src = d.images.subarray(k * P, (k + 1) * P);
    for (let j = 0; j < P; j++) xs[i * P + j] = src[j] / 255;
    labels[i] = d.labels[k];
  }
  return { x: tf.tensor4d(xs, [n, d.height, d.width, d.channels]), y: tf.tensor1d(labels, "int32"), labels };
}

/** Test accuracy with the deployed (eval) quantizers and BN moving statistics. */
export function evaluate(net: Net, d: Dataset, batch = 256): number {
  const mode: ForwardMode = net.opts.method === "float" ? "float" : "eval";
  const idx = Uint32Array.from({ length: d.n }, (_, i) => i);
  let correct = 0;
  for (let b = 0; b < d.n; b += batch) {
    const n = Math.min(batch, d.n - b);
    correct += tf.tidy(() => {
      const { x, y } = batchTensors(d, idx, b, n);
      const logits = net.forward(x, { training: false, mode, step: 0 });
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), "int32")).dataSync()[0];
    });
  }
  return correct / d.n;
}

/** Eval-mode (deployed quantizers, BN moving statistics) predictions of `net` on every image of `d`. */
export function predict(net: Net, d: Dataset, batch = 256): Int32Array {
  const mode: ForwardMode = net.opts.method === "float" ? "float" : "eval";
  const idx = Uint32Array.from({ length: d.n }, (_, i) => i);
  const out = new Int32Array(d.n);
  for (let b = 0; b < d.n; b += batch) {
    const n = Math.min(batch, d.n - b);
    out.set(
      tf.tidy(() => {
        const { x } = batchTensors(d, idx, b, n);
        return tf.argMax(net.forward(x, { training: false, mode, step: 0 }), 1).dataSync() as Int32Array;
      }),
      b,
    );
  }
  return out;
}

/**
 * Smooth-L1 (Huber) with threshold β on a scalar tensor, written with min so that it is differentiable in
 * tfjs (tf.where's condition has no gradient): with m = min(|d|, β), 0.5·m²/β + (|d| − m).
 */
function smoothL1(d: tf.Scalar, beta: number): tf.Scalar {
  const a = tf.abs(d);
  const m = tf.minimum(a, beta);
  return tf.add(tf.div(tf.mul(0.5, tf.square(m)), beta), tf.sub(a, m)) as tf.Scalar;
}

/**
 * Differentiable budget loss (NIPQ mixed precision only). `--target-bops`: on the BOPs of the *rounded*
 * bit-widths with a straight-through gradient, as the authors' `bops_loss` (ECoLab-POSTECH/NIPQ,
 * my_lib/train_test.py: `bit.round() + (bit - bit.detach())`), so that it penalizes the BOPs that ship;
 * `--target-avg-bits`: on the continuous bit-widths (the shipped models' recipe, unchanged).
 */
export function budgetLoss(net: Net, c: Pick<Resolved, "targetBops" | "targetAvgBits" | "budgetWeight">): tf.Scalar | null {
  if (net.opts.bits !== "learned") return null;
  const cont = (id: string): tf.Scalar | number => {
    const q = net.quants.get(id);
    return q ? q.bitsContinuous() : 8;
  };
  const rounded = (id: string): tf.Scalar | number => {
    const b = cont(id);
    return typeof b === "number" ? b : (roundSTE(b) as tf.Scalar);
  };
  const beta = 0.05;
  if (c.targetBops !== undefined) {
    let total: tf.Scalar = tf.scalar(0);
    for (const n of net.arch.nodes) {
      if (n.macs === undefined) continue;
      total = tf.add(total, tf.mul(tf.mul(rounded(n.wQ!), rounded(n.inQ!)), n.macs)) as tf.Scalar;
    }
    return tf.mul(c.budgetWeight, smoothL1(tf.sub(tf.div(total, c.targetBops), 1) as tf.Scalar, beta)) as tf.Scalar;
  }
  if (c.targetAvgBits !== undefined) {
    let loss: tf.Scalar = tf.scalar(0);
    for (const kind of ["weight", "activation"] as const) {
      const qs = net.arch.quants.filter((q) => q.kind === kind && !q.fixed);
      const size = qs.reduce((s, q) => s + q.features, 0);
      let avg: tf.Scalar = tf.scalar(0);
      for (const q of qs) avg = tf.add(avg, tf.mul(net.quants.get(q.id)!.bitsContinuous(), q.features / size)) as tf.Scalar;
      loss = tf.add(loss, smoothL1(tf.sub(tf.div(avg, c.targetAvgBits), 1) as tf.Scalar, beta)) as tf.Scalar;
    }
    return tf.mul(c.budgetWeight, loss) as tf.Scalar;
  }
  return null;
}

/**
 * Adam (Kingma & Ba 2015) with decoupled weight decay (Loshchilov & Hutter 2019), or SGD with Nesterov
 * momentum as torch.optim.SGD(nesterov=True): g' = g + wd·w, buf = μ·buf + g', w −= lr·(g' + μ·buf).
 * Weight decay applies only to parameters marked `decay` (conv/dense kernels), as the authors' parameter
 * groups: none on BN, biases, α, step sizes or bit-width parameters.
 */
export class Optimizer {
  t = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  constructor(
    readonly kind: "adam" | "sgd",
    readonly params: ParamInfo[],
    readonly momentum: number,
    readonly weightDecay: number,
  ) {
    for (const p of params) {
      this.m.set(p.key, tf.variable(tf.zerosLike(p.variable), false));
      if (kind === "adam") this.v.set(p.key, tf.variable(tf.zerosLike(p.variable), false));
    }
  }

  apply(grads: Record<string, tf.Tensor | null>, lr: number): void {
    this.t++;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      for (const p of this.params) {
        const g = grads[p.variable.name];
        if (g == null) continue;
        const w = p.variable;
        const lrp = lr * p.lrScale;
        const m = this.m.get(p.key)!;
        if (this.kind === "adam") {
          const v = this.v.get(p.key)!;
          m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
          v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
          let upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), 1e-8));
          if (p.decay && this.weightDecay > 0) upd = tf.add(upd, tf.mul(w, this.weightDecay / p.lrScale));
          w.assign(tf.sub(w, tf.mul(upd, lrp)));
        } else {
          const gg = p.decay && this.weightDecay > 0 ? tf.add(g, tf.mul(w, this.weightDecay)) : g;
          const buf = tf.add(tf.mul(m, this.momentum), gg);
          m.assign(buf);
          w.assign(tf.sub(w, tf.mul(tf.add(gg, tf.mul(buf, this.momentum)), lrp)));
        }
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

interface StateFile {
  format: "nipq-train-state";
  version: 1;
  config: Record<string, unknown>;
  epochsDone: number;
  globalStep: number;
  optimizerT: number;
  frozenBits: Record<string, number | null>;
  tensors: Record<string, TensorRef>;
  log: EpochLog[];
}

function saveState(net: Net, opt: Optimizer, c: Resolved, epochsDone: number, globalStep: number, log: EpochLog[]): { json: string; bin: Uint8Array } {
  const packer = new TensorPacker();
  const tensors: Record<string, TensorRef> = {};
  const put = (key: string, v: tf.Variable) => (tensors[key] = packer.add(Float32Array.from(v.dataSync()), v.shape));
  for (const p of net.paramInfos()) put(`param:${p.key}`, p.variable);
  for (const [k, v] of net.stats) put(`stat:${k}`, v);
  for (const [k, v] of opt.m) put(`m:${k}`, v);
  for (const [k, v] of opt.v) put(`v:${k}`, v);
  const frozenBits: Record<string, number | null> = {};
  for (const [id, q] of net.quants) frozenBits[id] = q.frozenBits;
  const state: StateFile = { format: "nipq-train-state", version: 1, config: trajectoryKey(c), epochsDone, globalStep, optimizerT: opt.t, frozenBits, tensors, log };
  return { json: JSON.stringify(state) + "\n", bin: packer.finish() };
}

/** Restores a checkpoint written by saveState; CheckpointError on any mismatch or corruption. */
function loadState(dir: string, net: Net, opt: Optimizer, c: Resolved): StateFile {
  const file = join(dir, TRAIN_STATE_FILE);
  const binFile = join(dir, TRAIN_STATE_BIN);
  let st: StateFile;
  try {
    st = JSON.parse(readFileSync(file, "utf8")) as StateFile;
  } catch (e) {
    throw new CheckpointError(file, "(file)", "a readable training-state JSON file", existsSync(file) ? "invalid JSON" : "no such file");
  }
  if (typeof st !== "object" || st === null || st.format !== "nipq-train-state" || st.version !== 1) throw new CheckpointError(file, "format", '"nipq-train-state" version 1', "something else");
  const want = trajectoryKey(c);
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(st.config?.[k] ?? null) !== JSON.stringify(v)) {
      throw new CheckpointError(file, `config.${k}`, `${JSON.stringify(v)} (this run's setting)`, JSON.stringify(st.config?.[k] ?? null));
    }
  }
  if (!Number.isInteger(st.epochsDone) || st.epochsDone < 0 || st.epochsDone > c.epochs) throw new CheckpointError(file, "epochsDone", `an integer in 0..${c.epochs}`, String(st.epochsDone));
  if (!Number.isInteger(st.globalStep) || st.globalStep < 0) throw new CheckpointError(file, "globalStep", "a non-negative integer", String(st.globalStep));
  let bin: Uint8Array;
  try {
    bin = new Uint8Array(readFileSync(binFile));
  } catch {
    throw new CheckpointError(binFile, "(file)", "the training-state tensors", "no such file");
  }
  const restore = (key: string, v: tf.Variable) => {
    const ref = st.tensors?.[key];
    if (!ref || !Array.isArray(ref.shape) || ref.shape.join() !== v.shape.join() || ref.offset + 4 * ref.length > bin.byteLength || ref.length !== v.size) {
      throw new CheckpointError(file, `tensors["${key}"]`, `a [${v.shape}] tensor inside ${TRAIN_STATE_BIN} (${bin.byteLength} bytes)`, ref ? `[${ref.shape}] at ${ref.offset}` : "nothing");
    }
    const data = readTensor(bin, ref);
    if (data.some((x) => !Number.isFinite(x))) throw new CheckpointError(file, `tensors["${key}"]`, "finite values", "NaN or infinity");
    v.assign(tf.tensor(data, v.shape));
  };
  for (const p of net.paramInfos()) restore(`param:${p.key}`, p.variable);
  for (const [k, v] of net.stats) restore(`stat:${k}`, v);
  for (const [k, v] of opt.m) restore(`m:${k}`, v);
  for (const [k, v] of opt.v) restore(`v:${k}`, v);
  opt.t = st.optimizerT;
  for (const [id, q] of net.quants) q.frozenBits = st.frozenBits?.[id] ?? null;
  return st;
}

/**
 * Checks that checkpoint graph `g` (from `file`) takes the images and gives the classes `arch` was built for
 * (the training data's), so that --init and --teacher name the shapes rather than a first mismatched kernel.
 */
function checkGraphFits(file: string, g: QuantGraph, arch: Arch): void {
  const want = arch.nodes[0].outShape.join("×");
  const input = g.nodes[0]?.outShape?.join("×");
  if (input !== want) throw new CheckpointError(file, "nodes[0].outShape", `${want} (the training images)`, input ?? "nothing");
  const classes = arch.nodes[arch.nodes.length - 1].outShape[0];
  const last = g.nodes.length - 1;
  const found = g.nodes[last]?.outShape?.join("×");
  if (found !== String(classes)) throw new CheckpointError(file, `nodes[${last}].outShape`, `${classes} classes (the training labels)`, found ?? "nothing");
}

/** Copies weights, biases and BN statistics from checkpoint `dir` into `net` (same arch, input and classes). */
function initFrom(dir: string, net: Net): void {
  const { graph, weights } = readCheckpoint(dir);
  const file = join(dir, GRAPH_FILE);
  if (graph.meta?.arch !== net.arch.name) throw new CheckpointError(file, "meta.arch", `${JSON.stringify(net.arch.name)} (--arch of this run)`, JSON.stringify(graph.meta?.arch));
  checkGraphFits(file, graph, net.arch);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const set = (key: string, v: tf.Variable, ref: TensorRef | null | undefined, field: string) => {
    if (!ref || ref.shape.join() !== v.shape.join()) throw new CheckpointError(file, field, `a [${v.shape}] tensor`, ref ? `[${ref.shape}]` : "nothing");
    v.assign(tf.tensor(readTensor(weights, ref), v.shape));
  };
  for (const n of net.arch.nodes) {
    if (n.macs === undefined) continue;
    const g = byName.get(n.name);
    if (!g || !isComputeNode(g)) throw new CheckpointError(file, `nodes[name=${n.name}]`, "a MAC layer of that name", g ? g.op : "nothing");
    set(`${n.name}/kernel`, net.params.get(`${n.name}/kernel`)!, g.weights, `${n.name}.weights`);
    const bias = net.params.get(`${n.name}/bias`);
    if (bias) set(`${n.name}/bias`, bias, g.bias, `${n.name}.bias`);
    if (n.bn) {
      set("gamma", net.params.get(`${n.name}/gamma`)!, g.bn?.gamma, `${n.name}.bn.gamma`);
      set("beta", net.params.get(`${n.name}/beta`)!, g.bn?.beta, `${n.name}.bn.beta`);
      set("movingMean", net.stats.get(`${n.name}/movingMean`)!, g.bn?.movingMean, `${n.name}.bn.movingMean`);
      set("movingVar", net.stats.get(`${n.name}/movingVar`)!, g.bn?.movingVar, `${n.name}.bn.movingVar`);
    }
  }
}

/** A fixed network for distillation and how to run it. */
interface Teacher {
  net: Net;
  mode: ForwardMode;
}

/**
 * Loads checkpoint `dir` as a teacher for a student of `archName` trained on data of `layout`: the same arch,
 * input shape and classes, else a NipqInputError naming --teacher, the file and the field. A quantized teacher
 * keeps its deployed quantizers (bits and step from graph.json).
 */
export function loadTeacher(dir: string, archName: string, layout: DataLayout, seed: number, width?: number): Teacher {
  const why = (e: unknown): never => {
    throw e instanceof NipqInputError ? new NipqInputError(`--teacher ${dir}: ${e.message}`) : e;
  };
  let net: Net | null = null;
  try {
    const { graph } = readCheckpoint(dir);
    const file = join(dir, GRAPH_FILE);
    const method = graph.meta?.method;
    if (graph.meta?.arch !== archName) throw new CheckpointError(file, "meta.arch", `${JSON.stringify(archName)} (--arch of this run)`, JSON.stringify(graph.meta?.arch));
    if (!(METHODS as readonly string[]).includes(method)) throw new CheckpointError(file, "meta.method", METHODS.join(" | "), JSON.stringify(method));
    net = new Net(buildArch(archName, { ...layout, width }), { method: method as Method, bits: method === "float" ? { w: 32, a: 32 } : { w: 8, a: 8 }, seed });
    initFrom(dir, net); // checks the input shape and classes first
    for (const n of graph.nodes) {
      const specs = n.op === "add" ? n.inputQuants : isComputeNode(n) ? [n.inputQuant, n.weightQuant] : n.op === "globalAvgPool" ? [n.inputQuant] : [];
      for (const sp of specs) if (sp && sp.learned) net.quants.get(sp.id)?.load(sp);
    }
    return { net, mode: method === "float" ? "float" : "eval" };
  } catch (e) {
    net?.dispose();
    return why(e);
  }
}

/**
 * Hinton et al.'s distillation term, T²·mean over the batch of −Σ softmax(teacher/T)·log softmax(student/T).
 * At T = 1 this is the authors' loss_kd (train_test.py): −mean(Σ softmax(output_t)·log_softmax(output)).
 */
export function distillationLoss(student: tf.Tensor2D, teacher: tf.Tensor2D, T: number): tf.Scalar {
  const p = tf.softmax(tf.div(teacher, T));
  const logq = tf.logSoftmax(tf.div(student, T));
  return tf.mul(tf.neg(tf.mean(tf.sum(tf.mul(p, logq), 1))), T * T) as tf.Scalar;
}

/** Checks early that --out can be written (so a long run cannot fail at its first checkpoint). */
function checkOut(out: string, resume: boolean): void {
  prepareOutputDir(out, CHECKPOINT_DIR); // absent, empty or a checkpoint, under a writable directory
  if (resume && !existsSync(join(out, TRAIN_STATE_FILE))) throw new NipqInputError(`--resume: ${out}: expected a checkpoint (${TRAIN_STATE_FILE}), found none`);
}

const shapeOf = (d: Pick<Dataset, "height" | "width" | "channels">) => `${d.height}×${d.width}×${d.channels}`;

/**
 * The training and test splits of c.data and the layout they give: one [H, W, C] for both splits (c.input when
 * given; images:DIR is converted to it, or to the first training image's shape, and scaled with c.resize),
 * and c.classes or else the classes the dataset declares (its class folders, CIFAR-10's 10) or, for npy:DIR,
 * the largest label of either split + 1. Mismatches are DatasetErrors naming both sides.
 */
export function loadTrainingData(c: Pick<TrainConfig, "data" | "limit" | "testLimit" | "input" | "resize" | "classes">): { trainSet: Dataset; testSet: Dataset; layout: DataLayout } {
  const want = c.input && { height: c.input[0], width: c.input[1], channels: c.input[2] };
  const trainSet = loadDataset(c.data, "train", c.limit, { shape: want, resize: c.resize });
  const testSet = loadDataset(c.data, "test", c.testLimit, { shape: want ?? trainSet, resize: c.resize });
  const resizable = c.data.startsWith("images:");
  if (c.resize && !resizable) throw new DatasetError(`--resize: only images:DIR can be resized, found --data ${c.data} (its images are ${shapeOf(trainSet)})`);
  if (want && shapeOf(trainSet) !== shapeOf(want)) throw new DatasetError(`--input ${shapeOf(want)}: ${c.data} gives ${shapeOf(trainSet)} images; train without --input (the arch is built for the data's shape)${resizable ? " or add --resize" : ""}`);
  if (shapeOf(testSet) !== shapeOf(trainSet)) throw new DatasetError(`${c.data}: the test images are ${shapeOf(testSet)}, the training images ${shapeOf(trainSet)}: both splits must have one shape`);
  let max = 0;
  for (const d of [trainSet, testSet]) for (let i = 0; i < d.n; i++) if (d.labels[i] > max) max = d.labels[i];
  const classes = c.classes ?? Math.max(trainSet.classes ?? 0, testSet.classes ?? 0, max + 1, 2);
  if (max >= classes) throw new DatasetError(`--classes ${classes}: ${c.data} has labels up to ${max}; expected --classes ${max + 1} or more`);
  return { trainSet, testSet, layout: { input: [trainSet.height, trainSet.width, trainSet.channels], classes } };
}

/** The arch of run `c` built for `layout`; a UsageError when it cannot take those images (naming the arch and the data). */
function archFor(c: Pick<TrainConfig, "arch" | "data" | "width">, layout: DataLayout): Arch {
  try {
    return buildArch(c.arch, { ...layout, width: c.width });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new UsageError(`--arch ${c.arch} cannot take the ${layout.input.join("×")} images and ${layout.classes} classes of ${c.data}: ${e.message.replace(/^--input[^:]*: /, "")}`);
  }
}

/**
 * Trains per `cfg` on the current tfjs backend and returns the final accuracy, bits and BOPs. Writes an
 * atomic checkpoint (QuantGraph + training state + JSONL log) to cfg.out after every epoch.
 * `onProgress` is called after every step; `onFinish` gets the trained network before it is disposed.
 */
export async function train(cfg: TrainConfig, onProgress?: (p: Progress) => void, onLog?: (l: EpochLog) => void, onFinish?: (net: Net) => void): Promise<TrainResult> {
  const c = resolveConfig(cfg);
  const out = resolve(c.out);
  const { trainSet, testSet, layout } = loadTrainingData(c);
  const arch = archFor(c, layout);
  checkOut(out, c.resume);
  const batch = Math.min(c.batch, trainSet.n);
  const stepsPerEpoch = Math.max(1, Math.floor(trainSet.n / batch));
  const totalSteps = stepsPerEpoch * c.epochs;
  const finalStart = c.method === "nipq" ? Math.floor(totalSteps * (1 - c.finalFrac)) : totalSteps;

  const net = new Net(arch, {
    method: c.method,
    bits: c.method === "float" ? { w: 32, a: 32 } : c.bits ?? "learned",
    bMin: c.bMin,
    bMax: c.bMax,
    bitsInit: c.bitsInit,
    alphaInit: c.alphaInit,
    noise: c.noise,
    seed: c.seed,
  });
  const params = net.paramInfos(c.thetaLr, c.alphaLr);
  const opt = new Optimizer(c.optimizer, params, c.momentum, c.weightDecay);
  const lrAt = schedule(c, totalSteps);
  let teacher: Teacher | null = null;
  const varList = params.map((p) => p.variable);
  let epochsDone = 0;
  let globalStep = 0;
  let log: EpochLog[] = [];
  try {
    if (c.teacher !== undefined) teacher = loadTeacher(c.teacher, c.arch, layout, c.seed, c.width);
    if (c.resume) {
      const st = loadState(out, net, opt, c);
      epochsDone = st.epochsDone;
      globalStep = st.globalStep;
      log = Array.isArray(st.log) ? st.log : [];
    } else if (c.init !== undefined) {
      initFrom(c.init, net);
    }
    const bitsNow = () => layerBits(arch, (id) => net.bitsOf(id));
    const meanBits = (lb: LayerBits[]) => lb.reduce((s, l) => s + l.w + l.a, 0) / (2 * lb.length);
    const alphas = () => Object.fromEntries([...net.quants].map(([id, q]) => [id, q.spec().alpha]));
    let epochsThisCall = 0;
    for (let epoch = epochsDone; epoch < c.epochs; epoch++) {
      const t0 = performance.now();
      const perm = permutation(trainSet.n, mixKey(c.seed, 9001, epoch));
      let lossSum = 0;
      let ceSum = 0;
      let kdSum = 0;
      let traceSum = 0;
      let traceFrom = 0;
      const trace: TracePoint[] = [];
      let correct = 0;
      let seen = 0;
      let lb = bitsNow();
      let phase: Progress["phase"] = "float";
      for (let s = 0; s < stepsPerEpoch; s++, globalStep++) {
        phase = c.method === "float" ? "float" : c.method === "lsq" || globalStep >= finalStart ? "hard" : "noise";
        if (c.method === "nipq" && globalStep >= finalStart) for (const q of net.quants.values()) q.freezeBits();
        const { x, y, labels } = batchTensors(trainSet, perm, s * batch, batch);
        if (globalStep === 0 && c.method !== "float") {
          tf.tidy(() => void net.forward(x, { training: true, mode: "calib", step: 0 }));
          trace.push({ step: 0, alpha: alphas() });
        }
        const quarter = Math.max(1, Math.floor(stepsPerEpoch / 4));
        if (s > 0 && s % quarter === 0 && stepsPerEpoch - s >= quarter && c.method !== "float") {
          trace.push({ step: globalStep, loss: traceSum / (s - traceFrom), alpha: alphas() });
          [traceSum, traceFrom] = [0, s];
        }
        const lr = lrAt(globalStep);
        let predsT: tf.Tensor | null = null;
        let ceT: tf.Tensor | null = null;
        let kdT: tf.Tensor | null = null;
        const teacherLogits = teacher && tf.tidy(() => teacher!.net.forward(x, { training: false, mode: teacher!.mode, step: 0 }));
        const { value, grads } = tf.variableGrads(() => {
          const logits = net.forward(x, { training: true, updateStats: true, mode: phase, step: globalStep });
          predsT = tf.keep(tf.argMax(logits, 1));
          const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, layout.classes), logits) as tf.Scalar;
          ceT = tf.keep(ce);
          let loss = ce;
          if (teacherLogits) {
            const kd = distillationLoss(logits, teacherLogits, c.kdTemp);
            kdT = tf.keep(kd);
            loss = tf.add(loss, tf.mul(kd, c.kdWeight)) as tf.Scalar;
          }
          if (phase === "noise") {
            const b = budgetLoss(net, c);
            if (b) loss = tf.add(loss, b) as tf.Scalar;
          }
          return loss;
        }, varList);
        opt.apply(grads, lr);
        const lossV = value.dataSync()[0];
        const preds = (predsT as unknown as tf.Tensor).dataSync();
        for (let i = 0; i < labels.length; i++) if (preds[i] === labels[i]) correct++;
        seen += labels.length;
        lossSum += lossV;
        traceSum += lossV;
        ceSum += (ceT as unknown as tf.Tensor).dataSync()[0];
        if (kdT) kdSum += (kdT as tf.Tensor).dataSync()[0];
        const kept = [value, x, y, predsT, ceT, kdT, teacherLogits] as (tf.Tensor | null)[];
        tf.dispose([...kept.filter((t): t is tf.Tensor => t !== null), ...Object.values(grads).filter((g): g is tf.Tensor => g != null)]);
        if (!Number.isFinite(lossV)) throw new Error(`training diverged at step ${globalStep} (loss ${lossV}); try a lower --lr`);
        if (net.opts.bits === "learned" && (s % 10 === 0 || s === stepsPerEpoch - 1)) lb = bitsNow();
        onProgress?.({ epoch: epoch + 1, epochs: c.epochs, step: s + 1, stepsPerEpoch, globalStep: globalStep + 1, loss: lossSum / (s + 1), acc: correct / seen, meanBits: meanBits(lb), gbops: sumBops(lb) / 1e9, phase });
      }
      const seconds = (performance.now() - t0) / 1000;
      if (c.method !== "float") trace.push({ step: globalStep, loss: traceSum / (stepsPerEpoch - traceFrom), alpha: alphas() });
      lb = bitsNow();
      const testAcc = evaluate(net, testSet);
      const entry: EpochLog = {
        epoch: epoch + 1, phase, loss: lossSum / stepsPerEpoch, ce: ceSum / stepsPerEpoch, ...(teacher ? { kd: kdSum / stepsPerEpoch } : {}),
        trainAcc: correct / seen, testAcc, meanBits: meanBits(lb), bops: sumBops(lb),
        bits: lb.map(({ layer, w, a }) => ({ layer, w, a })), seconds, imagesPerSecond: seen / seconds, trace,
      };
      log.push(entry);
      onLog?.(entry);
      epochsDone = epoch + 1;
      writeCheckpoint(out, net, opt, c, epochsDone, globalStep, log, testAcc);
      epochsThisCall++;
      if (c.stopAfterEpochs !== undefined && epochsThisCall >= c.stopAfterEpochs) break;
    }
    const lb = bitsNow();
    const last = log[log.length - 1];
    onFinish?.(net);
    return {
      accuracy: last ? last.testAcc : evaluate(net, testSet),
      input: layout.input,
      classes: layout.classes,
      bits: lb.map(({ layer, w, a }) => ({ layer, w, a })),
      bops: sumBops(lb),
      out,
      epochsDone,
      backend: tf.getBackend(),
      log,
    };
  } finally {
    opt.dispose();
    net.dispose();
    teacher?.net.dispose();
  }
}

function writeCheckpoint(out: string, net: Net, opt: Optimizer, c: Resolved, epochsDone: number, globalStep: number, log: EpochLog[], accuracy: number): void {
  const lb = layerBits(net.arch, (id) => net.bitsOf(id));
  const { graph, weights } = exportGraph(net, {
    arch: c.arch, method: c.method, dataset: c.data, input: [...net.arch.nodes[0].outShape], classes: net.arch.nodes[net.arch.nodes.length - 1].outShape[0],
    epochsDone, epochsTotal: c.epochs, seed: c.seed, backend: tf.getBackend(), accuracy,
    bops: sumBops(lb), macs: lb.reduce((s, l) => s + l.macs, 0),
  });
  const st = saveState(net, opt, c, epochsDone, globalStep, log);
  writeDirAtomic(out, {
    ...graphFiles(graph, weights),
    [TRAIN_STATE_FILE]: st.json,
    [TRAIN_STATE_BIN]: st.bin,
    [TRAIN_LOG_FILE]: log.map((l) => JSON.stringify(l)).join("\n") + "\n",
  });
}
