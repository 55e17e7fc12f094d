// The accumulator proof (DESIGN.md §3): from the actual integer weights and the input range, the exact
// extreme values acc can take for any input in range. Zero padding is covered because 0 is in every range.

import { tensorRange, zeroOf, type Layer, type TensorSpec } from "./types.js";

/** Extreme accumulator values of a layer over all inputs in range, and the signed bits needed to hold them. */
export interface AccBound {
  min: number;
  max: number;
  /** Smallest k with −2^(k−1) ≤ min and max ≤ 2^(k−1) − 1 (two's complement). */
  bits: number;
}

/** Signed two's-complement bits needed to hold every integer in [min, max]. */
export function signedBitsFor(min: number, max: number): number {
  let k = 1;
  while (-(2 ** (k - 1)) > min || 2 ** (k - 1) - 1 < max) k++;
  return k;
}

/**
 * Bound of acc = bias[o] + Σ w·x over weights [outC][K] (outC = bias.length) for inputs x ∈ [lo, hi]
 * (lo ≤ 0 ≤ hi), maximized over output channels: each term w·x ranges over [min(w·lo, w·hi), max(w·lo, w·hi)],
 * i.e. [w·lo, w·hi] for w ≥ 0 and [w·hi, w·lo] for w < 0, so a channel's extremes are bias + lo·P + hi·N and
 * bias + hi·P + lo·N with P, N the sums of its positive and negative weights, (Σ|w| ± Σw)/2 (all integers
 * below 2^53: exact). The simulator calls it on a chip's stored weights, and over an input range that noise
 * can widen, several times per Monte-Carlo trial: one pass of adds, no per-weight min/max.
 */
export function weightAccBound(weights: ArrayLike<number>, bias: ArrayLike<number>, { lo, hi }: { lo: number; hi: number }): AccBound {
  const outC = bias.length;
  const per = weights.length / outC;
  let min = Infinity;
  let max = -Infinity;
  for (let o = 0; o < outC; o++) {
    let sum = 0;
    let abs = 0;
    for (let i = o * per; i < (o + 1) * per; i++) {
      const w = weights[i];
      sum += w;
      abs += Math.abs(w);
    }
    const pos = (abs + sum) / 2;
    const neg = (sum - abs) / 2;
    const a = bias[o] + lo * pos + hi * neg;
    const b = bias[o] + hi * pos + lo * neg;
    if (a < min) min = a;
    if (b > max) max = b;
  }
  return { min, max, bits: signedBitsFor(min, max) };
}

/** The values x − z a layer accumulates for inputs x in `input`'s range (its zero point z, 0 in format 1). */
export function macRange(input: TensorSpec): { lo: number; hi: number } {
  const t = tensorRange(input);
  const z = zeroOf(input);
  return { lo: t.lo - z, hi: t.hi - z };
}

/**
 * Bound of a layer's accumulators over every input in `input`'s range: every op accumulates x − z with x in
 * the input's range, i.e. terms in [lo − z, hi − z] (padding taps read x = z and add 0, inside that interval
 * because the zero point lies in the range): weightAccBound for a weight layer (whatever the weights' range,
 * narrow or full); for pooling sums, window size × that interval. Other layers have no accumulator (null).
 */
export function accumulatorBound(layer: Layer, input: TensorSpec): AccBound | null {
  const r = macRange(input);
  if (layer.op === "conv2d" || layer.op === "dense") return weightAccBound(layer.weights, layer.bias, r);
  if (layer.op !== "avgpool" && layer.op !== "gap") return null;
  const window = layer.op === "gap" ? input.shape[0] * input.shape[1] : layer.kernel[0] * layer.kernel[1];
  const min = Math.min(0, window * r.lo);
  const max = window * r.hi;
  return { min, max, bits: signedBitsFor(min, max) };
}
