// The accumulator proof (DESIGN.md §3): from the actual integer weights and the input range, the exact
// extreme values acc can take for any input in range. Every op accumulates x − z_x with x in the input's
// range [lo, hi], i.e. terms in [lo − z, hi − z]; padding taps read x = z and contribute 0, which is in that
// interval because the zero point lies inside the range.

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
 * Bound of acc = bias[o] + Σ w·(x − z) for a weight layer whose input lies in `input`'s range, maximized over
 * output channels: with x − z ∈ [lo, hi] = [lo_x − z, hi_x − z] (lo ≤ 0 ≤ hi) each term ranges over
 * [min(w·lo, w·hi), max(w·lo, w·hi)], whatever the weights' range (narrow or full). For pooling sums:
 * window size × [lo, hi]. Other layers have no accumulator (null).
 */
export function accumulatorBound(layer: Layer, input: TensorSpec): AccBound | null {
  const r = tensorRange(input);
  const z = zeroOf(input);
  const lo = r.lo - z;
  const hi = r.hi - z;
  let min = 0;
  let max = 0;
  if (layer.op === "conv2d" || layer.op === "dense") {
    const outC = layer.bias.length;
    const per = layer.weights.length / outC;
    min = Infinity;
    max = -Infinity;
    for (let o = 0; o < outC; o++) {
      let a = layer.bias[o];
      let b = layer.bias[o];
      for (let i = o * per; i < (o + 1) * per; i++) {
        const w = layer.weights[i];
        a += Math.min(w * lo, w * hi);
        b += Math.max(w * lo, w * hi);
      }
      if (a < min) min = a;
      if (b > max) max = b;
    }
  } else if (layer.op === "avgpool" || layer.op === "gap") {
    const window = layer.op === "gap" ? input.shape[0] * input.shape[1] : layer.kernel[0] * layer.kernel[1];
    min = Math.min(0, window * lo);
    max = window * hi;
  } else {
    return null;
  }
  return { min, max, bits: signedBitsFor(min, max) };
}
