// The trainable network: an Arch skeleton (./archs.ts) plus tfjs variables, interpreted node by node.
// Layers: QConv2D, QDepthwiseConv2D and QDense (input-activation quantizer + weight quantizer + the op),
// BatchNorm kept separate (never folded into weights: lowering folds it into the requant multiplier,
// DESIGN.md §3), then ReLU / ReLU6 / nothing.

import * as tf from "@tensorflow/tfjs";
import { type Arch, type ArchNode, INPUT_QUANT_ID } from "./archs.js";
import type { Method, NoiseKind } from "./choices.js";
import { type AlphaInit, Quantizer, type QuantMode } from "./quantizers.js";
import { mixKey, uniformArray } from "./rng.js";

export { METHODS, type Method } from "./choices.js"; // in ./choices.ts, which the CLI loads without tfjs

export const BN_EPSILON = 1e-3;
export const BN_MOMENTUM = 0.9;

export interface NetOptions {
  method: Method;
  /** Fixed {w, a} bits, or "learned" (NIPQ mixed precision). Ignored for float. */
  bits: { w: number; a: number } | "learned";
  /** Fixed bits of particular quantizers by id, over `bits` (e.g. the first and last layer at 8 bits). */
  bitsById?: Readonly<Record<string, number>>;
  bMin?: number;
  bMax?: number;
  bitsInit?: number;
  noise?: NoiseKind;
  alphaInit?: AlphaInit;
  seed: number;
}

/** How a forward pass quantizes: "float" (no quantizers), "calib" (initialize them from this batch), or a QuantMode. */
export type ForwardMode = QuantMode | "float" | "calib";

export interface ForwardOptions {
  /** Batch statistics for BN (and moving-average updates when `updateStats`), else moving statistics. */
  training: boolean;
  updateStats?: boolean;
  /** Momentum of the moving-statistics update (default BN_MOMENTUM; 0 sets them to this batch's moments). */
  statsMomentum?: number;
  mode: ForwardMode;
  /** Global step: keys the random draws. */
  step: number;
}

/** A trainable parameter and how the optimizer treats it. */
export interface ParamInfo {
  key: string;
  variable: tf.Variable;
  /** Weight decay applies (conv/dense kernels only; never quantizer parameters, BN or biases). */
  decay: boolean;
  /** Multiplier on the learning rate. */
  lrScale: number;
}

let instances = 0;

/** A network built from an Arch. Call dispose() when done (tfjs variables are global). */
export class Net {
  readonly arch: Arch;
  readonly opts: NetOptions;
  readonly prefix: string;
  /** Trainable tensors by key "<node>/<kernel|bias|gamma|beta>". */
  readonly params = new Map<string, tf.Variable>();
  /** BN moving statistics by key "<node>/<movingMean|movingVar>" (not trainable). */
  readonly stats = new Map<string, tf.Variable>();
  /** Learned quantizers by id (the fixed input quantizer is not here). */
  readonly quants = new Map<string, Quantizer>();
  private readonly quantIndex = new Map<string, number>();

  constructor(arch: Arch, opts: NetOptions) {
    this.arch = arch;
    this.opts = opts;
    this.prefix = `net${instances++}`;
    const v = (key: string, t: tf.Tensor, trainable = true) => tf.variable(t, trainable, `${this.prefix}/${key}`);
    arch.nodes.forEach((n, i) => {
      if (n.op !== "conv2d" && n.op !== "depthwiseConv2d" && n.op !== "dense") return;
      const shape = kernelShape(n);
      const fanIn = n.op === "conv2d" ? n.kernel![0] * n.kernel![1] * n.inC! : n.op === "depthwiseConv2d" ? n.kernel![0] * n.kernel![1] : n.inC!;
      // He-uniform before ReLU/ReLU6 (He et al. 2015), LeCun-uniform before a linear output.
      const limit = Math.sqrt((n.activation === "none" ? 3 : 6) / fanIn);
      const count = shape.reduce((a, b) => a * b, 1);
      this.params.set(`${n.name}/kernel`, v(`${n.name}/kernel`, tf.tensor(uniformArray(count, mixKey(opts.seed, 101, i), -limit, limit), shape)));
      if (n.bias) this.params.set(`${n.name}/bias`, v(`${n.name}/bias`, tf.zeros([n.outC!])));
      if (n.bn) {
        this.params.set(`${n.name}/gamma`, v(`${n.name}/gamma`, tf.ones([n.outC!])));
        this.params.set(`${n.name}/beta`, v(`${n.name}/beta`, tf.zeros([n.outC!])));
        this.stats.set(`${n.name}/movingMean`, v(`${n.name}/movingMean`, tf.zeros([n.outC!]), false));
        this.stats.set(`${n.name}/movingVar`, v(`${n.name}/movingVar`, tf.ones([n.outC!]), false));
      }
    });
    if (opts.method !== "float") {
      arch.quants.forEach((q, qi) => {
        if (q.fixed) return;
        const bits = opts.bitsById?.[q.id] ?? (opts.bits === "learned" ? "learned" : q.kind === "weight" ? opts.bits.w : opts.bits.a);
        this.quants.set(
          q.id,
          new Quantizer(
            { id: q.id, kind: q.kind, signed: q.signed, method: opts.method as "nipq" | "lsq", bits, bMin: opts.bMin, bMax: opts.bMax, bitsInit: opts.bitsInit, noise: opts.noise, alphaInit: opts.alphaInit, features: q.features },
            this.prefix,
          ),
        );
        this.quantIndex.set(q.id, qi);
      });
    }
  }

  /** Every trainable parameter with its optimizer treatment; quantizer parameters last. */
  paramInfos(thetaLrScale = 1, alphaLrScale = 1): ParamInfo[] {
    const out: ParamInfo[] = [];
    for (const [key, variable] of this.params) out.push({ key, variable, decay: key.endsWith("/kernel"), lrScale: 1 });
    for (const [id, q] of this.quants) {
      if (q.alphaRaw) out.push({ key: `${id}/alphaRaw`, variable: q.alphaRaw, decay: false, lrScale: alphaLrScale });
      if (q.theta) out.push({ key: `${id}/theta`, variable: q.theta, decay: false, lrScale: thetaLrScale });
      if (q.step) out.push({ key: `${id}/step`, variable: q.step, decay: false, lrScale: 1 });
    }
    return out;
  }

  /** Bits of quantizer `id` for reports and BOPs: 8 for the input, 32 in float models. */
  bitsOf(id: string): number {
    if (id === INPUT_QUANT_ID) return 8;
    const q = this.quants.get(id);
    return q ? q.currentBits() : 32;
  }

  /** Logits [N, classes] for images x [N, H, W, C] (pixel/255) of the arch's input shape. */
  forward(x: tf.Tensor4D, o: ForwardOptions): tf.Tensor2D {
    const vals: tf.Tensor[] = [];
    const qcache = new Map<string, tf.Tensor>();
    const quant = (i: number, id: string): tf.Tensor => {
      const t = vals[i];
      const q = this.quants.get(id);
      if (q === undefined || o.mode === "float") return t;
      const hit = qcache.get(id);
      if (hit) return hit;
      let y: tf.Tensor;
      if (o.mode === "calib") {
        q.calibrate(t);
        y = t;
      } else {
        y = q.apply(t, o.mode, mixKey(this.opts.seed, o.step, this.quantIndex.get(id)!));
      }
      qcache.set(id, y);
      return y;
    };
    const weight = (n: ArchNode): tf.Tensor => {
      const w = this.params.get(`${n.name}/kernel`)!;
      const q = this.quants.get(n.wQ!);
      if (q === undefined || o.mode === "float") return w;
      if (o.mode === "calib") {
        q.calibrate(w);
        return w;
      }
      return q.apply(w, o.mode, mixKey(this.opts.seed, o.step, this.quantIndex.get(n.wQ!)!));
    };
    for (const n of this.arch.nodes) {
      let y: tf.Tensor;
      switch (n.op) {
        case "input":
          y = x;
          break;
        case "conv2d":
          y = tf.conv2d(quant(n.inputs[0], n.inQ!) as tf.Tensor4D, weight(n) as tf.Tensor4D, n.strides!, n.padding!);
          y = this.post(n, y, o);
          break;
        case "depthwiseConv2d":
          y = tf.depthwiseConv2d(quant(n.inputs[0], n.inQ!) as tf.Tensor4D, weight(n) as tf.Tensor4D, n.strides!, n.padding!);
          y = this.post(n, y, o);
          break;
        case "dense":
          y = tf.matMul(quant(n.inputs[0], n.inQ!) as tf.Tensor2D, weight(n) as tf.Tensor2D);
          y = this.post(n, y, o);
          break;
        case "maxPool":
          y = maxPool(vals[n.inputs[0]] as tf.Tensor4D, n.pool!, n.strides!, n.padding!);
          break;
        case "globalAvgPool":
          y = tf.mean(quant(n.inputs[0], n.inQ!), [1, 2]);
          break;
        case "flatten":
          y = tf.reshape(vals[n.inputs[0]], [vals[n.inputs[0]].shape[0], -1]);
          break;
        case "add":
          y = tf.add(quant(n.inputs[0], n.addQ![0]), quant(n.inputs[1], n.addQ![1]));
          if (n.activation === "relu") y = tf.relu(y);
          else if (n.activation === "relu6") y = tf.relu6(y);
          break;
      }
      vals.push(y);
    }
    return vals[vals.length - 1] as tf.Tensor2D;
  }

  /**
   * The real step of one accumulator unit, s_x·s_w, when this layer runs with its deployed quantizers
   * (eval mode, quantized network); else null.
   */
  private accStep(n: ArchNode, o: ForwardOptions): number | null {
    if (o.training || o.mode !== "eval" || n.wQ === undefined) return null;
    const wq = this.quants.get(n.wQ);
    const xq = n.inQ === INPUT_QUANT_ID ? null : this.quants.get(n.inQ!);
    if (!wq || (n.inQ !== INPUT_QUANT_ID && !xq)) return null;
    const sx = xq ? xq.spec().step : Math.fround(1 / 255);
    return sx * wq.spec().step;
  }

  /**
   * Eval with the deployed integer bias (DESIGN.md §3): lowering folds bias and BN into an int32 bias at
   * the accumulator step s_x·s_w, y = k·s_x·s_w·(Σ q_w·q_x + round((b + t/k)/(s_x·s_w))) with
   * k = γ/√(σ² + ε), t = β − k·μ (k = 0: y = t). Rounding that bias moves a layer's output by up to
   * ½·k·s_x·s_w/s_y output steps — a visible fraction of a step when the requant multiplier is large
   * (1×1 and depthwise layers) — so the eval model rounds it too and predicts what the integer program does.
   */
  private deployedBias(n: ArchNode, z: tf.Tensor, accStep: number): tf.Tensor {
    const C = n.outC!;
    const bias = this.params.get(`${n.name}/bias`) ?? tf.zeros([C]);
    if (!n.bn) return tf.add(z, tf.mul(tf.round(tf.div(bias, accStep)), accStep));
    const gamma = this.params.get(`${n.name}/gamma`)!;
    const beta = this.params.get(`${n.name}/beta`)!;
    const mm = this.stats.get(`${n.name}/movingMean`)!;
    const mv = this.stats.get(`${n.name}/movingVar`)!;
    const k = tf.div(gamma, tf.sqrt(tf.add(mv, BN_EPSILON)));
    const t = tf.sub(beta, tf.mul(k, mm));
    const dead = tf.equal(k, 0);
    const safeK = tf.where(dead, tf.onesLike(k), k);
    const bq = tf.mul(tf.round(tf.div(tf.add(bias, tf.div(t, safeK)), accStep)), accStep);
    const y = tf.mul(k, tf.add(z, bq));
    return tf.where(tf.broadcastTo(dead, y.shape), tf.broadcastTo(t, y.shape), y);
  }

  /** Bias, BN (batch or moving statistics), activation. */
  private post(n: ArchNode, y: tf.Tensor, o: ForwardOptions): tf.Tensor {
    const accStep = this.accStep(n, o);
    if (accStep !== null) {
      y = this.deployedBias(n, y, accStep);
      if (n.activation === "relu") y = tf.relu(y);
      else if (n.activation === "relu6") y = tf.relu6(y);
      return y;
    }
    const bias = this.params.get(`${n.name}/bias`);
    if (bias) y = tf.add(y, bias);
    if (n.bn) {
      const gamma = this.params.get(`${n.name}/gamma`)!;
      const beta = this.params.get(`${n.name}/beta`)!;
      const mm = this.stats.get(`${n.name}/movingMean`)!;
      const mv = this.stats.get(`${n.name}/movingVar`)!;
      if (o.training) {
        const r = batchNormTrain(y, gamma, beta);
        if (o.updateStats) {
          // Not on any gradient path: the assigns only read the batch moments.
          const mom = o.statsMomentum ?? BN_MOMENTUM;
          mm.assign(tf.add(tf.mul(mm, mom), tf.mul(r.mean, 1 - mom)));
          mv.assign(tf.add(tf.mul(mv, mom), tf.mul(r.variance, 1 - mom)));
        }
        y = r.y;
        tf.dispose([r.mean, r.variance]);
      } else {
        y = tf.batchNorm(y, mm, mv, beta, gamma, BN_EPSILON);
      }
    }
    if (n.activation === "relu") y = tf.relu(y);
    else if (n.activation === "relu6") y = tf.relu6(y);
    return y;
  }

  /** Releases every variable. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.stats.values()) v.dispose();
    for (const q of this.quants.values()) q.dispose();
  }
}

/**
 * Max pooling. For the non-overlapping case (pool = strides, "valid", sizes divisible) the gradient is
 * computed from nearest-neighbour upsampling instead of the wasm backend's MaxPoolGrad (~70 ms per cnn-s
 * step): dy, upsampled, flows to every input element equal to its window's (upsampled) maximum. Ties within a window therefore all receive the
 * gradient (TensorFlow picks one); in these networks pool inputs follow ReLU, so ties happen at 0, where
 * ReLU's own gradient is 0 anyway.
 */
export function maxPool(x: tf.Tensor4D, pool: [number, number], strides: [number, number], padding: "same" | "valid"): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [ph, pw] = pool;
  if (padding !== "valid" || ph !== strides[0] || pw !== strides[1] || h % ph !== 0 || w % pw !== 0) return tf.maxPool(x, pool, strides, padding);
  const f = tf.customGrad(((xi: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const y = tf.maxPool(xi, pool, strides, padding);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved;
        const up = (t: tf.Tensor) => tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [h, w]); // out[i] = in[floor(i/p)]
        const mask = tf.cast(tf.equal(xs, up(ys)), "float32");
        return tf.mul(mask, up(dy));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (t: tf.Tensor) => tf.Tensor4D;
  return f(x);
}

/**
 * Training-mode batch normalization (Ioffe & Szegedy 2015) over all axes but the last, with the
 * textbook closed-form gradient. tfjs' own batchNorm gradient tiles the per-channel factors to the
 * full tensor shape (the Tile kernel took ~200 ms of a 770 ms cnn-s step on wasm); this one needs two
 * reductions and a few broadcast elementwise ops:
 *   x̂ = (x − μ)/sqrt(σ² + ε),  y = γ·x̂ + β,
 *   dβ = Σdy,  dγ = Σdy·x̂,  dx = γ/sqrt(σ² + ε) · (dy − dβ/N − x̂·dγ/N).
 * Returns y and the batch moments (biased variance) for the moving averages.
 */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon = BN_EPSILON): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const n = x.size / x.shape[x.rank - 1];
  let mean: tf.Tensor | null = null;
  let variance: tf.Tensor | null = null;
  const f = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const mu = tf.mean(xi, axes);
    const xc = tf.sub(xi, mu);
    const v = tf.mean(tf.square(xc), axes);
    const inv = tf.rsqrt(tf.add(v, epsilon));
    const xhat = tf.mul(xc, inv);
    mean = tf.keep(mu);
    variance = tf.keep(v);
    save([xhat, inv, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, iv, gs] = saved;
        const db = tf.sum(dy, axes);
        const dg = tf.sum(tf.mul(dy, xh), axes);
        const dx = tf.mul(tf.mul(gs, iv), tf.sub(tf.sub(dy, tf.div(db, n)), tf.mul(xh, tf.div(dg, n))));
        return [dx, dg, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...t: tf.Tensor[]) => tf.Tensor;
  const y = f(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}

/** Kernel shape in tfjs layout: conv [kh, kw, inC, outC], depthwise [kh, kw, C, 1], dense [in, out]. */
export function kernelShape(n: ArchNode): number[] {
  if (n.op === "conv2d") return [n.kernel![0], n.kernel![1], n.inC!, n.outC!];
  if (n.op === "depthwiseConv2d") return [n.kernel![0], n.kernel![1], n.inC!, 1];
  return [n.inC!, n.outC!];
}
