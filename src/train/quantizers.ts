// Quantizer ops with custom gradients, and the per-tensor Quantizer (its learned parameters).
//
// NIPQ — Shin et al., "NIPQ: Noise proxy-based Integrated Pseudo-Quantization", CVPR 2023, and the
// authors' PyTorch code (ECoLab-POSTECH/NIPQ). Truncation α = softplus(α_raw), bit-width
// b = b_min + (b_max − b_min)·sigmoid(θ). Signed: Δ = α/(2^(b−1) − 1), range [−α, α]; unsigned:
// Δ = α/(2^b − 1), range [0, α]. Training adds pseudo-quantization noise Δ·ε to the values strictly inside
// the range and leaves the clamped ones exactly at the bounds, with no straight-through estimator; the
// final phase and evaluation use q = Δ·round(clamp(x/Δ, qmin, qmax)). docs/NIPQ.md sets this against the
// authors' code line by line.
//
// LSQ — Esser et al., "Learned Step Size Quantization", ICLR 2020: step s learned directly through a
// straight-through round, its gradient scaled by g = 1/sqrt(N·Qp). Ranges here are the narrow symmetric
// ones of DESIGN.md §3 (signed qmin = −qmax), not LSQ's −2^(b−1).

import * as tf from "@tensorflow/tfjs";
import type { QuantizerSpec } from "../graph/types.js";
import { DEFAULT_NOISE, type NoiseKind } from "./choices.js";
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
 * NIPQ's training quantizer, as the authors' `noise_quant` (ECoLab-POSTECH/NIPQ, my_lib/nipq.py): with
 * lo = −α (signed) or 0,
 *   y = α where x ≥ α,   y = lo where x ≤ lo,   y = x + Δ(α, b)·ε strictly inside (lo < x < α),
 * so values the deployed quantizer clamps (ReLU zeros, outliers) stay exact: no noise reaches them.
 * `alpha` and `bits` are scalars (bits already rounded, carrying a straight-through gradient); `eps` has
 * x's shape and is a constant. Gradients (no STE for x):
 *   ∂y/∂x = [lo < x < α];
 *   ∂y/∂α = [x ≥ α] − [signed][x ≤ −α] + [lo < x < α]·ε/qmax(b)   (the clamp, and Δ = α/qmax inside);
 *   ∂y/∂b = [lo < x < α]·ε·∂Δ/∂b,  ∂Δ/∂b = −Δ·ln2·2^k/(2^k − 1),  k = b − 1 (signed) or b (unsigned).
 */
export function nipqNoiseQuant(x: tf.Tensor, alpha: tf.Scalar, bits: tf.Scalar, eps: tf.Tensor, signed: boolean): tf.Tensor {
  const f = customGrad((xi: tf.Tensor, a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const lo = signed ? tf.neg(a) : tf.zerosLike(a);
    const k = signed ? tf.sub(b, 1) : b;
    const twoK = tf.pow(2, k);
    const qmax = tf.sub(twoK, 1);
    const delta = tf.div(a, qmax);
    const above = tf.greaterEqual(xi, a);
    const below = tf.lessEqual(xi, lo);
    const inside = tf.cast(tf.logicalNot(tf.logicalOr(above, below)), "float32");
    // ∂y/∂α from the clamp: +1 above, −1 below (signed only: the unsigned lower bound is the constant 0).
    const clampGrad = signed ? tf.sub(tf.cast(above, "float32"), tf.cast(below, "float32")) : tf.cast(above, "float32");
    const epsIn = tf.mul(eps, inside);
    // Outside the range clamp(x) is exactly lo or α and epsIn is 0, so the sum is exact there.
    const value = tf.add(tf.minimum(tf.maximum(xi, lo), a), tf.mul(delta, epsIn));
    save([inside, clampGrad, epsIn, delta, twoK, qmax]); // saved: the forward runs inside a tidy
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ins, cg, ep, d, tk, qm] = saved;
        const dx = tf.mul(dy, ins);
        const dyEps = tf.sum(tf.mul(dy, ep));
        const da = tf.add(tf.sum(tf.mul(dy, cg)), tf.div(dyEps, qm));
        const dDeltaDb = tf.neg(tf.div(tf.mul(tf.mul(d, Math.LN2), tk), qm));
        const db = tf.mul(dyEps, dDeltaDb);
        return [dx, tf.reshape(da, a.shape), tf.reshape(db, b.shape)];
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

// NoiseKind, NOISE_KINDS and DEFAULT_NOISE (the rounding-noise source of NIPQ's training forward) live in
// ./choices.ts, which the CLI loads without tfjs.
export { DEFAULT_NOISE, NOISE_KINDS, type NoiseKind } from "./choices.js";
/** Bins of the empirical rounding-error histogram over [−½, ½] (N_BIN = 256 in the authors' noise_quant). */
export const EMPIRICAL_BINS = 256;

/**
 * The histogram (EMPIRICAL_BINS bins over [−½, ½], counts) of the rounding errors e = round(v) − v,
 * v = x/Δ, of the elements strictly inside the range (lo < x < α): those the deployed quantizer rounds.
 * Clamped elements are left out: their error is not a rounding error (the authors' `sel = diff[¬(c1 ∨ c2)]`,
 * `torch.histc(sel, bins=256, min=−0.5, max=0.5)`; e = 0.5 falls in the last bin, as in histc).
 * Rounding is half to even (tf.round, torch.round).
 */
export function roundingErrorHistogram(x: ArrayLike<number>, alpha: number, delta: number, signed: boolean): Float64Array {
  const counts = new Float64Array(EMPIRICAL_BINS);
  const lo = signed ? -alpha : 0;
  const inv = 1 / delta;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    if (!(xi > lo && xi < alpha)) continue;
    const v = xi * inv;
    const r = Math.round(v);
    let e = r - v;
    if (e === 0.5 && (r & 1) !== 0) e = -0.5; // Math.round rounds ties up; ties go to even (|r| ≤ 255 here)
    const bin = Math.floor((e + 0.5) * EMPIRICAL_BINS);
    counts[bin < EMPIRICAL_BINS ? bin : EMPIRICAL_BINS - 1]++;
  }
  return counts;
}

/**
 * ε drawn from the histogram of this tensor's own in-range rounding errors (roundingErrorHistogram), one
 * per element of x: the authors' default noise. A bin is chosen with probability ∝ its count and the
 * value is uniform inside it, as their `multinomial(hist) + rand`. Here one uniform u per element does
 * both, through Walker's alias table (Vose's construction): k = ⌊256·u⌋ and f = 256·u − k pick bin k when
 * f < prob[k] (position f/prob[k] in it) and bin alias[k] otherwise (position (f − prob[k])/(1 − prob[k])),
 * each position uniform in [0, 1). With no element inside the range there is no histogram and ε is
 * U(−½, ½). Draws are keyed by `key`.
 */
export function empiricalNoise(x: ArrayLike<number>, alpha: number, delta: number, signed: boolean, key: number): Float32Array {
  const n = x.length;
  const counts = roundingErrorHistogram(x, alpha, delta, signed);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return uniformArray(n, key);
  const { prob, alias } = aliasTable(counts, total);
  const r = mulberry32(key);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const t = r() * EMPIRICAL_BINS;
    const k = Math.floor(t);
    const f = t - k;
    const p = prob[k];
    out[j] = f < p ? (k + f / p) / EMPIRICAL_BINS - 0.5 : (alias[k] + (f - p) / (1 - p)) / EMPIRICAL_BINS - 0.5;
  }
  return out;
}

/**
 * Walker's alias table for sampling bin i with probability counts[i]/total (Vose 1991, "A linear algorithm
 * for generating random numbers with a given distribution"): column k keeps bin k with probability
 * prob[k] and gives the rest to alias[k]. Bins of count 0 get prob 0 and are never returned.
 */
function aliasTable(counts: Float64Array, total: number): { prob: Float64Array; alias: Int32Array } {
  const m = counts.length;
  const prob = new Float64Array(m);
  const alias = new Int32Array(m);
  const scaled = Float64Array.from(counts, (c) => (c * m) / total);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((s, i) => (s < 1 ? small : large).push(i));
  while (small.length > 0 && large.length > 0) {
    const l = small.pop()!;
    const g = large.pop()!;
    prob[l] = scaled[l];
    alias[l] = g;
    scaled[g] = scaled[g] + scaled[l] - 1;
    (scaled[g] < 1 ? small : large).push(g);
  }
  for (const i of large) prob[i] = 1; // rounding leftovers keep their own column whole
  for (const i of small) prob[i] = 1;
  return { prob, alias };
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
  /** Deployed parameters read from a checkpoint (a teacher's quantizer); null when trained here. */
  private loaded: QuantizerSpec | null = null;

  constructor(o: QuantizerOptions, prefix: string) {
    this.id = o.id;
    this.kind = o.kind;
    this.signed = o.signed;
    this.method = o.method;
    this.bMin = o.bMin ?? 2;
    this.bMax = o.bMax ?? 8;
    this.noise = o.noise ?? DEFAULT_NOISE;
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
    if (this.loaded !== null) return this.loaded.bits;
    if (this.fixedBits !== null) return this.fixedBits;
    if (this.frozenBits !== null) return this.frozenBits;
    const b = tf.tidy(() => this.bitsContinuous().dataSync()[0]);
    return Math.min(this.bMax, Math.max(this.bMin, Math.round(b)));
  }

  /**
   * Pins this quantizer to a checkpoint's deployed parameters (bits, step): spec() returns them unchanged,
   * so eval mode runs exactly the checkpoint's grid. For a teacher, which is never trained.
   */
  load(s: QuantizerSpec): void {
    this.loaded = { ...s };
  }

  /** Rounds and freezes learned bits (start of NIPQ's final phase). */
  freezeBits(): void {
    if (this.theta !== null && this.frozenBits === null) this.frozenBits = this.currentBits();
  }

  /** The deployed parameters {bits, alpha, step} as float32 values (step = fround(alpha/qmax) for NIPQ). */
  spec(): QuantizerSpec {
    if (this.loaded !== null) return this.loaded;
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
    let eps: Float32Array;
    if (this.noise === "uniform") {
      eps = uniformArray(x.size, key);
    } else {
      const a = alpha.dataSync()[0];
      eps = empiricalNoise(x.dataSync(), a, a / qmaxOf(bits.dataSync()[0], this.signed), this.signed, key);
    }
    return nipqNoiseQuant(x, alpha, bits, tf.tensor(eps, x.shape), this.signed);
  }

  /** Releases the variables. */
  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}
