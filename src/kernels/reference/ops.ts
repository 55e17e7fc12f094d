// Reference integer kernels: the executable specification of DESIGN.md §3. Plain loops, never optimized,
// pure functions of (shape, params, typed arrays). WASM kernels and the simulator are tested against these
// with tolerance 0. Activations are batched NHWC (n × H × W × C) in Int32Array containers; accumulators
// are exact integers held in Float64Array (exact below 2^53, far beyond the proven int32 bound).

import type { WindowGeometry } from "../../ir/types.js";
import { requant, roundShift } from "./requant.js";

/**
 * Conv2D accumulators: acc[b][oy][ox][o] = bias[o] + Σ_{ky,kx,ci} w[o][ky][kx][ci] · (x[b][iy][ix][g·cpg + ci] − zx)
 * with iy = oy·sh + ky − pt, ix = ox·sw + kx − pl, g = floor(o / (outC/groups)), cpg = C/groups, over input
 * [H, W, C] and weights [outC][kh][kw][C/groups] (the window geometry `g` of the IR, src/ir/types.ts
 * windowGeometry: `same`, `valid` or explicit pads). Taps outside the input read x = zx, the real 0
 * (DESIGN.md §3 "Imported models"), so they contribute 0; zx = 0 is the format-1 case.
 */
export function conv2dAcc(x: ArrayLike<number>, n: number, g: WindowGeometry, groups: number, outC: number, w: ArrayLike<number>, bias: ArrayLike<number>, zx = 0): Float64Array {
  const { OH, OW, pt, pl } = g;
  const cpg = g.C / groups; // input channels per group
  const opg = outC / groups; // output channels per group
  const acc = new Float64Array(n * OH * OW * outC);
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let o = 0; o < outC; o++) {
          const c0 = Math.floor(o / opg) * cpg;
          let sum = bias[o];
          for (let ky = 0; ky < g.kh; ky++) {
            const iy = oy * g.sh + ky - pt;
            if (iy < 0 || iy >= g.H) continue;
            for (let kx = 0; kx < g.kw; kx++) {
              const ix = ox * g.sw + kx - pl;
              if (ix < 0 || ix >= g.W) continue;
              for (let ci = 0; ci < cpg; ci++) {
                sum += w[((o * g.kh + ky) * g.kw + kx) * cpg + ci] * (x[((b * g.H + iy) * g.W + ix) * g.C + c0 + ci] - zx);
              }
            }
          }
          acc[i++] = sum;
        }
      }
    }
  }
  return acc;
}

/** Dense accumulators: acc[b][o] = bias[o] + Σ_i w[o][i] · (x[b][i] − zx). */
export function denseAcc(x: ArrayLike<number>, n: number, inN: number, outN: number, w: ArrayLike<number>, bias: ArrayLike<number>, zx = 0): Float64Array {
  const acc = new Float64Array(n * outN);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < outN; o++) {
      let sum = bias[o];
      for (let i = 0; i < inN; i++) sum += w[o * inN + i] * (x[b * inN + i] - zx);
      acc[b * outN + o] = sum;
    }
  }
  return acc;
}

/**
 * Per-channel requantization of a channels-last tensor: y[i] = clamp(requant(acc[i], m[c], s[c]) + zy, lo, hi)
 * with c = i mod channels: the output zero point is added after the rounding and before the clamp
 * (DESIGN.md §3). `m`/`s` of length 1 apply to every channel.
 */
export function requantTensor(acc: ArrayLike<number>, channels: number, m: ArrayLike<number>, s: ArrayLike<number>, lo: number, hi: number, zy = 0): Int32Array {
  const y = new Int32Array(acc.length);
  const per = m.length !== 1;
  for (let i = 0; i < acc.length; i++) {
    const c = per ? i % channels : 0;
    // Exact: requant is exact below 2^53 and beyond it keeps its sign and a magnitude ≥ 2^52, which no
    // zero point (|zy| < 2^16) brings back inside a 32-bit clamp.
    const r = requant(acc[i], m[c], s[c]) + zy;
    y[i] = r < lo ? lo : r > hi ? hi : r;
  }
  return y;
}

/**
 * Max pool over the window of geometry `g`; padded taps (`same` or explicit pads) are ignored (TensorFlow and
 * ONNX semantics). It compares q directly: max commutes with the increasing map q ↦ scale·(q − z), so input
 * and output share scale and zero point. Every window holds a real tap (pads < kernel, src/ir/validate.ts).
 */
export function maxPool(x: ArrayLike<number>, n: number, g: WindowGeometry): Int32Array {
  const { H, W, C, kh, kw, sh, sw, pt, pl, OH, OW } = g;
  const y = new Int32Array(n * OH * OW * C);
  let i = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pl;
              if (ix < 0 || ix >= W) continue;
              const v = x[((b * H + iy) * W + ix) * C + c];
              if (v > best) best = v;
            }
          }
          y[i++] = best;
        }
  return y;
}

/**
 * Average-pool window sums: acc = Σ over the kh×kw window of (x − zx). `valid` windows, or explicit pads whose
 * taps read the real 0 (x = zx, ONNX count_include_pad = 1) and add nothing: the divisor stays kh·kw.
 */
export function avgPoolSum(x: ArrayLike<number>, n: number, g: WindowGeometry, zx = 0): Float64Array {
  const { H, W, C, kh, kw, sh, sw, pt, pl, OH, OW } = g;
  const acc = new Float64Array(n * OH * OW * C);
  let i = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky - pt;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx - pl;
              if (ix >= 0 && ix < W) sum += x[((b * H + iy) * W + ix) * C + c] - zx;
            }
          }
          acc[i++] = sum;
        }
  return acc;
}

/** Global average pool sums: acc[b][c] = Σ_{y,x} (x[b][y][x][c] − zx). */
export function globalSum(x: ArrayLike<number>, n: number, H: number, W: number, C: number, zx = 0): Float64Array {
  const acc = new Float64Array(n * C);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < H * W; p++)
      for (let c = 0; c < C; c++) acc[b * C + c] += x[(b * H * W + p) * C + c] - zx;
  return acc;
}

/**
 * Residual add: y = clamp(floor(((a − za)·ma + (b − zb)·mb + 2^(s−1)) / 2^s) + zy, lo, hi), elementwise.
 * With mb = 0 it is a plain requantization of a (imported models' back-to-back quantizers).
 */
export function addRequant(a: ArrayLike<number>, b: ArrayLike<number>, ma: number, mb: number, s: number, lo: number, hi: number, za = 0, zb = 0, zy = 0): Int32Array {
  const y = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const r = roundShift((a[i] - za) * ma + (b[i] - zb) * mb, s) + zy;
    y[i] = r < lo ? lo : r > hi ? hi : r;
  }
  return y;
}

/**
 * The input layer: u8 pixels (n × H × W × C) to the first quantized tensor. Without a table the pixel is the
 * value (format 1); with one, y = lut[c·256 + p] for the pixel p of channel c (DESIGN.md §3).
 */
export function inputTensor(pixels: ArrayLike<number>, C: number, lut?: ArrayLike<number>): Int32Array {
  if (!lut) return Int32Array.from(pixels);
  const y = new Int32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) y[i] = lut[(i % C) * 256 + pixels[i]];
  return y;
}

/** Index of the largest value in each row of n × k scores; the lowest index wins ties. */
export function argmaxRows(scores: ArrayLike<number>, n: number, k: number): Int32Array {
  const pred = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (scores[b * k + j] > scores[b * k + best]) best = j;
    pred[b] = best;
  }
  return pred;
}
