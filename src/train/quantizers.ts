// Quantizer ops with custom gradients, and the per-tensor Quantizer (its learned parameters).
//
// NIPQ — Shin et al., "NIPQ: Noise proxy-based Integrated Pseudo-Quantization", CVPR 2023, and the
// authors' PyTorch code (ECoLab-POSTECH/NIPQ). Truncation α = softplus(α_raw), bit-width
// b = b_min + (b_max − b_min)·sigmoid(θ). Signed: Δ = α/(2^(b−1) − 1), range [−α, α]; unsigned:
// Δ = α/(2^b − 1), range [0, α]. Training adds pseudo-quantization noise Δ·ε to the clamped input, with no
// straight-through estimator; the final phase and evaluation use q = Δ·round(clamp(x/Δ, qmin, qmax)).
//
// LSQ — Esser et al., "Learned Step Size Quantization", ICLR 2020: step s learned directly through a
// straight-through round, its gradient scaled by g = 1/sqrt(N·Qp). Ranges here are the narrow symmetric
// ones of DESIGN.md §3 (signed qmin = −qmax), not LSQ's −2^(b−1).

import * as tf from "@tensorflow/tfjs";
import type { QuantizerSpec } from "../graph/types.js";
import { mixKey, mulberry32, uniformArray } from "./rng.js";

/** Largest integer level: 2^(b−1) − 1 signed (narrow symmetric), 2^b − 1 unsigned. */
export function qmaxOf(bits: number, signed: boolean): number {
  return signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
}

/** Smallest integer level: −qmax signed, 0 unsigned. */
export function qminOf(bits: number, signed: boolean): number {
  return signed ? -qmaxOf(bits, signed) : 0;
}

/** tf.customGrad with loosely typed arguments (its declared type wants variadic Tensor | GradSaveFunc). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const customGrad = (f: (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] }) =>
  tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;

/** round(x) forward (ties to even, as tf.round), identity backward: the straight-through estimator. */
export const roundSTE: (x: tf.Tensor) => tf.Tensor = customGrad((x: tf.Tensor) => ({
  value: tf.round(x),
  gradFunc: (dy: tf.Tensor) => dy,
}));

/** Identity forward, gradient multiplied by g backward (LSQ's step-size gradient scale). */
export function gradScale(x: tf.Tensor, g: number): tf.Tensor {
  return customGrad((t: tf.Tensor) => ({ value: tf.clone(t), gradFunc: (dy: tf.Tensor) => tf.mul(dy, g) }))(x);
}

/**
 * NIPQ's training quantizer: y = clamp(x, lo, hi) + Δ(α, b)·ε, lo = −α (signed) or 0, hi = α.
 * `alpha` and `bits` are scalars (bits already rounded, carrying a straight-through gradient); `eps` has
 * x's shape and is a constant. Gradients (no STE):
 *   ∂y/∂x = 1 where lo ≤ x ≤ hi, else 0;
 *   ∂y/∂α = [x > hi] − [signed][x < lo] + ε/qmax(b)          (through the clamp and through Δ = α/qmax);
 *   ∂y/∂b = ε·∂Δ/∂b,  ∂Δ/∂b = −Δ·ln2·2^k/(2^k − 1),  k = b − 1 (signed) or b (unsigned).
 */
export function nipqNoiseQuant(x: tf.Tensor, alpha: tf.Scalar, bits: tf.Scalar, eps: tf.Tensor, signed: boolean): tf.Tensor {
  const f = customGrad((xi: tf.Tensor, a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const lo = signed ? tf.neg(a) : tf.zerosLike(a);
    const k = signed ? tf.sub(b, 1) : b;
    const twoK = tf.pow(2, k);
    const qmax = tf.sub(twoK, 1);
    const delta = tf.div(a, qmax);
    const xc = tf.minimum(tf.maximum(xi, lo), a);
    const value = tf.add(xc, tf.mul(delta, eps));
    save([xi, a, lo, delta, twoK, qmax, eps]); // ε must be saved: the forward runs inside a tidy
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, as, los, d, tk, qm, ep] = saved;
        const inside = tf.logicalAnd(tf.greaterEqual(xs, los), tf.lessEqual(xs, as));
        const dx = tf.where(inside, dy, tf.zerosLike(dy));
        const above = tf.cast(tf.greater(xs, as), "float32");
        let clampPart = tf.sum(tf.mul(dy, above));
        if (signed) clampPart = tf.sub(clampPart, tf.sum(tf.mul(dy, tf.cast(tf.less(xs, los), "float32"))));
        const dyEps = tf.sum(tf.mul(dy, ep));
        const da = tf.add(clampPart, tf.div(dyEps, qm));
        const dDeltaDb = tf.neg(tf.div(tf.mul(tf.mul(d, Math.LN2), tk), qm));
        const db = tf.mul(dyEps, dDeltaDb);
        return [dx, tf.reshape(da, as.shape), tf.reshape(db, b.shape)];
      },
    };
  });
  return f(x, alpha, bits);
}

/**
 * The hard quantizer with a straight-through round: y = Δ·round(clamp(x/Δ, qmin, qmax)). Gradients reach
 * x (1 inside the range) and Δ (LSQ's form: round(v) − v inside, qmin/qmax outside). Used by LSQ and by
 * NIPQ's final phase; its forward is the deployed arithmetic of DESIGN.md §3 (in float32).
 */
export function hardQuant(x: tf.Tensor, step: tf.Tensor, qmin: number, qmax: number): tf.Tensor {
  return tf.mul(roundSTE(tf.clipByValue(tf.div(x, step), qmin, qmax)), step);
}

/** Evaluation quantizer: exactly step·round(clamp(x/step, qmin, qmax)) in float32, no gradient tricks. */
export function evalQuant(x: tf.Tensor, step: number, qmin: number, qmax: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.round(tf.clipByValue(tf.div(x, step), qmin, qmax)), step));
}

/** The rounding-noise source of NIPQ's training forward. */
export type NoiseKind = "uniform" | "empirical";
export const EMPIRICAL_BINS = 256;

/**
 * ε with x's shape. "uniform": U(−½, ½). "empirical" (as the official NIPQ code): the histogram of the
 * tensor's own rounding errors e = v − round(v), v = clamp(x)/Δ, in 256 bins over [−½, ½], sampled by
 * inverse CDF with uniform jitter inside the bin. Every draw is keyed by `key` (deterministic).
 */
export function sampleNoise(xc: tf.Tensor, delta: tf.Scalar, kind: NoiseKind, key: number): tf.Tensor {
  const n = xc.size;
  if (kind === "uniform") return tf.tensor(uniformArray(n, key), xc.shape);
  return tf.tidy(() => {
    const v = tf.div(xc, delta);
    const e = tf.sub(v, tf.round(v));
    const idx = tf.cast(tf.clipByValue(tf.floor(tf.mul(tf.add(e, 0.5), EMPIRICAL_BINS)), 0, EMPIRICAL_BINS - 1), "int32");
    const counts = tf.bincount(tf.reshape(idx, [n]) as tf.Tensor1D, tf.tensor1d([], "float32"), EMPIRICAL_BINS);
    const cdf = tf.div(tf.cumsum(counts), n);
    const u1 = tf.tensor1d(uniformArray(n, mixKey(key, 1), 0, 1));
    const bin = tf.minimum(tf.searchSorted(cdf, u1, "right"), EMPIRICAL_BINS - 1);
    const u2 = tf.tensor1d(uniformArray(n, mixKey(key, 2), 0, 1));
    return tf.reshape(tf.sub(tf.div(tf.add(tf.cast(bin, "float32"), u2), EMPIRICAL_BINS), 0.5), xc.shape);
  });
}

/** softplus⁻¹(y) = log(e^y − 1), for initializing α_raw. */
export function softplusInv(y: number): number {
  return y > 20 ? y : Math.log(Math.expm1(y));
}

export type QuantMethod = "nipq" | "lsq";
/** noise: NIPQ training; hard: straight-through hard quantizer (LSQ, NIPQ final phase); eval: deployed grid. */
export type QuantMode = "noise" | "hard" | "eval";

export interface QuantizerOptions {
  id: string;
  kind: "weight" | "activation";
  signed: boolean;
  method: QuantMethod;
  /** A fixed bit-width, or "learned" (NIPQ only). */
  bits: number | "learned";
  bMin?: number;
  bMax?: number;
  /** Initial bit-width of a learned quantizer. */
  bitsInit?: number;
  noise?: NoiseKind;
  /**
   * NIPQ's α at calibration: "rms" (default) 3·RMS for weights and signed activations, mean + 3·std for
   * unsigned ones, whatever the bits; "lsq" the range of LSQ's initial step, α = Qp·2·mean|x|/√Qp =
   * 2·mean|x|·√Qp, which shrinks with the bits (at 2 bits 2·mean|x| instead of 3·RMS ≈ 3.8·mean|x| for a
   * Gaussian).
   */
  alphaInit?: AlphaInit;
  /** Elements per example (activations) or per tensor (weights): N in LSQ's gradient scale. */
  features: number;
}

export type AlphaInit = "rms" | "lsq";

/**
 * One per-tensor quantizer and its trainable parameters: NIPQ α_raw (and θ when bits are learned) or
 * LSQ's step s. Variables are named `${prefix}/${id}/…` and must be disposed with `dispose()`.
 */
export class Quantizer {
  readonly id: string;
  readonly kind: "weight" | "activation";
  readonly signed: boolean;
  readonly method: QuantMethod;
  readonly bMin: number;
  readonly bMax: number;
  readonly noise: NoiseKind;
  readonly features: number;
  readonly fixedBits: number | null;
  readonly alphaInit: AlphaInit;
  /** NIPQ: α = softplus(alphaRaw). */
  alphaRaw: tf.Variable | null = null;
  /** NIPQ learned bits: b = bMin + (bMax − bMin)·sigmoid(theta). */
  theta: tf.Variable | null = null;
  /** LSQ: the step. */
  step: tf.Variable | null = null;
  /** Bits frozen (rounded) for the final phase / evaluation; null while they are still learned. */
  frozenBits: number | null = null;

  constructor(o: QuantizerOptions, prefix: string) {
    this.id = o.id;
    this.kind = o.kind;
    this.signed = o.signed;
    this.method = o.method;
    this.bMin = o.bMin ?? 2;
    this.bMax = o.bMax ?? 8;
    this.noise = o.noise ?? "uniform";
    this.features = o.features;
    this.alphaInit = o.alphaInit ?? "rms";
    this.fixedBits = o.bits === "learned" ? null : o.bits;
    if (o.bits === "learned" && o.method !== "nipq") throw new Error("learned bit-widths need --method nipq");
    const name = (p: string) => `${prefix}/${o.id}/${p}`;
    if (o.method === "nipq") {
      this.alphaRaw = tf.variable(tf.scalar(softplusInv(1)), true, name("alpha_raw"));
      if (o.bits === "learned") {
        const b0 = Math.min(Math.max(o.bitsInit ?? 6, this.bMin + 0.01), this.bMax - 0.01);
        const s = (b0 - this.bMin) / (this.bMax - this.bMin);
        this.theta = tf.variable(tf.scalar(Math.log(s / (1 - s))), true, name("theta"));
      }
    } else {
      this.step = tf.variable(tf.scalar(0.1), true, name("step"));
    }
  }

  /** Trainable variables (all get no weight decay). */
  variables(): tf.Variable[] {
    return [this.alphaRaw, this.theta, this.step].filter((v): v is tf.Variable => v !== null);
  }

  /** Continuous bit-width (a scalar tensor): the fixed value, or bMin + (bMax − bMin)·sigmoid(θ). */
  bitsContinuous(): tf.Scalar {
    if (this.theta === null) return tf.scalar(this.fixedBits ?? this.frozenBits ?? 8);
    return tf.add(this.bMin, tf.mul(this.bMax - this.bMin, tf.sigmoid(this.theta))) as tf.Scalar;
  }

  /** The integer bit-width used for evaluation and export. */
  currentBits(): number {
    if (this.fixedBits !== null) return this.fixedBits;
    if (this.frozenBits !== null) return this.frozenBits;
    const b = tf.tidy(() => this.bitsContinuous().dataSync()[0]);
    return Math.min(this.bMax, Math.max(this.bMin, Math.round(b)));
  }

  /** Rounds and freezes learned bits (start of NIPQ's final phase). */
  freezeBits(): void {
    if (this.theta !== null && this.frozenBits === null) this.frozenBits = this.currentBits();
  }

  /** The deployed parameters {bits, alpha, step} as float32 values (step = fround(alpha/qmax) for NIPQ). */
  spec(): QuantizerSpec {
    const bits = this.currentBits();
    const qmax = qmaxOf(bits, this.signed);
    let alpha: number;
    let step: number;
    if (this.method === "nipq") {
      alpha = tf.tidy(() => tf.softplus(this.alphaRaw!).dataSync()[0]);
      step = Math.fround(alpha / qmax);
    } else {
      step = Math.abs(this.step!.dataSync()[0]);
      alpha = Math.fround(step * qmax);
    }
    return { id: this.id, bits, alpha, step, signed: this.signed, learned: true };
  }

  /**
   * Initializes α (NIPQ) or s (LSQ) from a sample of the tensor: NIPQ α = 3·RMS for weights and signed
   * activations, mean + 3·std for unsigned activations (alphaInit "lsq": 2·mean|x|·√Qp); LSQ
   * s = 2·mean|x|/sqrt(Qp) (Esser et al. §2.1).
   */
  calibrate(x: tf.Tensor): void {
    tf.tidy(() => {
      const bits = this.currentBits();
      if (this.method === "nipq" && this.alphaInit === "lsq") {
        const a = Math.max(1e-3, 2 * tf.mean(tf.abs(x)).dataSync()[0] * Math.sqrt(qmaxOf(bits, this.signed)));
        this.alphaRaw!.assign(tf.scalar(softplusInv(a)));
        return;
      }
      if (this.method === "lsq") {
        const s = Math.max(1e-6, (2 * tf.mean(tf.abs(x)).dataSync()[0]) / Math.sqrt(qmaxOf(bits, this.signed)));
        this.step!.assign(tf.scalar(s));
        return;
      }
      const { mean, variance } = tf.moments(x);
      const m = mean.dataSync()[0];
      const sd = Math.sqrt(variance.dataSync()[0]);
      const rms = Math.sqrt(m * m + sd * sd);
      const a = Math.max(1e-3, this.signed || this.kind === "weight" ? 3 * rms : m + 3 * sd);
      this.alphaRaw!.assign(tf.scalar(softplusInv(a)));
    });
  }

  /**
   * Applies the quantizer. `key` seeds this call's random draws (noise ε, the stochastic bit rounding).
   * noise: NIPQ pseudo-quantization (bits stochastically rounded with a straight-through pass unless
   * fixed or frozen); hard: Δ·roundSTE(clamp(x/Δ)); eval: the exact deployed grid, no gradients.
   */
  apply(x: tf.Tensor, mode: QuantMode, key: number): tf.Tensor {
    if (mode === "eval") {
      const s = this.spec();
      return evalQuant(x, s.step, qminOf(s.bits, this.signed), qmaxOf(s.bits, this.signed));
    }
    if (this.method === "lsq") {
      const bits = this.currentBits();
      const qmax = qmaxOf(bits, this.signed);
      const g = 1 / Math.sqrt(this.features * qmax);
      const s = tf.maximum(gradScale(this.step!, g), 1e-8);
      return hardQuant(x, s, qminOf(bits, this.signed), qmax);
    }
    const alpha = tf.softplus(this.alphaRaw!) as tf.Scalar;
    if (mode === "hard") {
      const bits = this.currentBits();
      const qmax = qmaxOf(bits, this.signed);
      return hardQuant(x, tf.div(alpha, qmax), qminOf(bits, this.signed), qmax);
    }
    let bits: tf.Scalar;
    if (this.theta !== null && this.frozenBits === null) {
      const u = mulberry32(mixKey(key, 7))() - 0.5;
      bits = tf.clipByValue(roundSTE(tf.add(this.bitsContinuous(), u)), this.bMin, this.bMax) as tf.Scalar;
    } else {
      bits = tf.scalar(this.currentBits());
    }
    let eps: tf.Tensor;
    if (this.noise === "uniform") {
      eps = tf.tensor(uniformArray(x.size, key), x.shape);
    } else {
      const k = this.signed ? tf.sub(bits, 1) : bits;
      const delta = tf.div(alpha, tf.sub(tf.pow(2, k), 1)) as tf.Scalar;
      const lo = this.signed ? tf.neg(alpha) : tf.scalar(0);
      eps = sampleNoise(tf.minimum(tf.maximum(x, lo), alpha), delta, "empirical", key);
    }
    return nipqNoiseQuant(x, alpha, bits, eps, this.signed);
  }

  /** Releases the variables. */
  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}
