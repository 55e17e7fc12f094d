// The "sim" backend: the LayerKernels interface (src/kernels/backend.ts) executed with a chip's semantics.
//
// Digital weight layers, per output element (docs/HW_MODELS.md, "Semantics"):
//   acc ← ovf(bias)                                         (bias preloaded into the accumulator)
//   per-mac:    for k = 0 … K−1:  acc ← ovf(acc + w[k]·x[k])
//   per-k-tile: for each tile t of kTile consecutive k: acc ← ovf(acc + Σ_{k∈t} w[k]·x[k])   (exact partials)
//   acc ← acc with accumulator bit flips, + output Gaussian noise          (per inference)
//   y ← clamp(requant_chip(acc, m', s'), lo, hi), then activation bit flips on the stored y
// The per-inference accumulator noise is drawn per image over the layer's whole output in layout order
// (perturbAccumulators, src/sim/noise/models.ts), so the WASM fast path (./fastpath.ts) can draw the same
// numbers; this file is the definition it is tested against (test/sim/fastpath.test.ts). Which sources
// are on, and their settings, come from the chip instance (the noise table, src/sim/noise/sources.ts).
// x is the input less its zero point (format 2; x − z_x, so padded taps contribute 0), and the output zero
// point z_y is added after the chip's requant, before the clamp (DESIGN.md §3 "Imported models").
// K runs over the weight layout [kh][kw][inC/groups] (padded taps contribute 0); ovf wraps or saturates
// to accumulator.bits; per-mac is a K-tile of 1 (the chip's resolved kTile, src/sim/hw/resolve.ts). When the accumulator bound of the chip's weights fits accumulator.bits nothing can
// overflow in any order, and the kernel takes the exact path (same integers, less work).
//
// Analog weight layers: DAC-quantized inputs, per-tile MVM on (g+ − g−)/g_max, ADC (noise, clip, quantize),
// digital scale and accumulation across K-tiles, rounding to the integer accumulator, then as above.

import { zeroOf, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type Layer, type MaxPoolLayer, type TensorSpec } from "../../ir/types.js";
import type { Activation, LayerKernels } from "../../kernels/backend.js";
import { prepareOp } from "../../kernels/prepare.js";
import { addRequant, avgPoolSum, globalSum, maxPool } from "../../kernels/reference/ops.js";
import { POW2 } from "../../kernels/reference/requant.js";
import { requantRounded, type Rounding } from "../hw/requant.js";
import { flipBits, perturbAccumulators } from "../noise/models.js";
import { Rng, streamId } from "../noise/rng.js";
import { OUT_GAUSS_STREAMS, STREAM } from "../noise/sources.js";
import type { AnalogMac } from "./analogmac.js";
import { prepareLayer, type AnalogPrep, type ChipInstance, type DigitalPrep, type LayerPrep, type PoolPrep } from "./chip.js";

/** The sim backend: LayerKernels plus the dataset index of the batch's first image (keys per-inference draws). */
export interface SimKernels extends LayerKernels {
  /** Sets the inference index of sample 0 of the next batches (sample b is inference first + b). */
  setFirstInference(first: number): void;
}

/** Overflow of a `bits`-wide two's-complement accumulator: wrap (mod 2^bits) or saturate. */
export function overflow(v: number, bits: number, mode: "wrap" | "saturate"): number {
  const half = POW2[bits - 1];
  if (v >= -half && v < half) return v;
  if (mode === "saturate") return v < 0 ? -half : half - 1;
  const m = 2 * half;
  return v - m * Math.floor((v + half) / m);
}

/**
 * σ of the output Gaussian noise per channel in accumulator units: σ itself for unit "acc-lsb", σ output
 * steps (2^s/m accumulator units each, the chip's multiplier) for "out-lsb".
 */
export function outputSigmas(p: { m: Float64Array; s: Float64Array }, sigma: number, unit: "acc-lsb" | "out-lsb"): Float64Array {
  const sd = new Float64Array(p.m.length);
  for (let o = 0; o < sd.length; o++) sd[o] = sigma * (unit === "acc-lsb" ? 1 : 2 ** p.s[o] / p.m[o]);
  return sd;
}

/** Per-image random streams of one layer, created on first use. */
class InferenceStreams {
  private cache = new Map<number, Rng>();
  constructor(
    private seed: number,
    private trial: number,
    private inference: number,
    private layer: number,
  ) {}
  get(source: number): Rng {
    let r = this.cache.get(source);
    if (!r) this.cache.set(source, (r = new Rng(this.seed, this.trial, this.inference, streamId(this.layer, source))));
    return r;
  }
}


export interface SimKernelOptions {
  /** The analog crossbar's MACs on WASM (./analogmac.ts); without it, the plain-TS loop (same numbers). */
  analogMac?: AnalogMac;
}

/**
 * Creates the sim backend for one chip instance. Per-inference noise is drawn only for a noisy trial
 * (chip.trial !== null) from the streams (seed, trial, inference, layer·source).
 */
export function simKernels(chip: ChipInstance, o: SimKernelOptions = {}): SimKernels {
  const hw = chip.hw;
  // Only the sources this instance draws are in chip.noise (none on the clean chip).
  const n = chip.noise;
  const { accBits, overflow: ovfMode, kTile } = chip.spec;
  const rounding: Rounding = hw.requant.rounding;
  const accBer = n.accumulatorBitFlip?.ber ?? 0;
  const actBer = n.activationBitFlip?.ber ?? 0;
  const outSigma = n.outputGaussian?.sigma ?? 0;
  const outUnit = n.outputGaussian?.unit ?? "out-lsb";
  const adcSigma = n.adc?.sigma ?? 0;
  const readSigma = n.pcm?.perReadSigma ?? 0;
  let first = 0;

  /** The layer's prepared state; layers outside the chip's program are prepared on first use. */
  function prepOf(l: Layer, input: TensorSpec | null): LayerPrep {
    let p = chip.prep.get(l);
    if (!p) {
      const i = chip.program.layers.indexOf(l);
      p = prepareLayer(l, i, input ?? l.out, chip)!;
      chip.prep.set(l, p);
    }
    return p;
  }

  const streams = (layer: number, b: number) => new InferenceStreams(chip.seed, chip.trial ?? 0, first + b, layer);

  /** Activation bit flips in a stored output tensor (per image). */
  function flipActivations(y: Int32Array, nImg: number, spec: TensorSpec, layer: number): Int32Array {
    if (actBer <= 0) return y;
    const per = y.length / nImg;
    for (let b = 0; b < nImg; b++) flipBits(y, b * per, per, spec.bits, spec.signed, actBer, streams(layer, b).get(STREAM.actFlip));
    return y;
  }

  /** The chip's requant, the output zero point zy and the clamp of one (possibly perturbed) accumulator of channel o. */
  function finish(acc: number, o: number, p: DigitalPrep | AnalogPrep, zy: number, lo: number, hi: number): number {
    const r = requantRounded(acc, p.m[o], p.s[o], rounding) + zy;
    return r < lo ? lo : r > hi ? hi : r;
  }

  /**
   * Digital accumulators of one group's opg outputs over one patch, into acc[0..opg). Exact path: outer
   * products over the non-zero taps in Int32 (exact: the bound fits ≤ 32 bits). Otherwise the documented
   * partial-sum order with overflow.
   */
  function digitalAcc(p: DigitalPrep, g: number, patch: Int32Array, nzIdx: Int32Array, nzVal: Int32Array, nnz: number, acc: Float64Array, accI: Int32Array): void {
    const { K, opg } = p.gemm;
    if (p.exact) {
      const wT = p.wT;
      for (let oo = 0; oo < opg; oo++) accI[oo] = p.bias[g * opg + oo];
      for (let j = 0; j < nnz; j++) {
        const v = nzVal[j];
        const base = (g * K + nzIdx[j]) * opg;
        for (let oo = 0; oo < opg; oo++) accI[oo] = (accI[oo] + wT[base + oo] * v) | 0;
      }
      for (let oo = 0; oo < opg; oo++) acc[oo] = accI[oo];
      return;
    }
    const w = p.weights;
    for (let oo = 0; oo < opg; oo++) {
      const o = g * opg + oo;
      const base = o * K;
      let a = overflow(p.bias[o], accBits, ovfMode);
      for (let k0 = 0; k0 < K; k0 += kTile) {
        const k1 = Math.min(k0 + kTile, K);
        let part = 0;
        for (let k = k0; k < k1; k++) part += w[base + k] * patch[k];
        a = overflow(a + part, accBits, ovfMode);
      }
      acc[oo] = a;
    }
  }

  /**
   * Analog MVMs of one group's opg outputs: per K-tile, the tile's column currents Σ wn·xn, per-read noise,
   * ADC noise, clip and quantization, the digital per-tile scale; then rounding into the integer accumulator
   * (bias preloaded) and its overflow.
   */
  function analogAcc(p: AnalogPrep, g: number, xn: Float64Array, nzIdx: Int32Array, nnz: number, x2: Float64Array, st: InferenceStreams | null, acc: Float64Array, yt: Float64Array): void {
    const c = hw.compute as Extract<typeof hw.compute, { kind: "analog" }>;
    const { K, opg } = p.gemm;
    const adcBits = c.adc.bits;
    const bound = c.adc.outBound;
    const step = adcBits > 0 ? (2 * bound) / (2 ** adcBits - 2) : 0;
    const maxCode = adcBits > 0 ? 2 ** (adcBits - 1) - 1 : 0;
    const wnT = p.wnT;
    const readRng = st && readSigma > 0 ? st.get(STREAM.pcmRead) : null;
    const adcRng = st && adcSigma > 0 ? st.get(STREAM.adc) : null;
    for (let oo = 0; oo < opg; oo++) acc[oo] = 0;
    // Column currents of every tile first, yt[kt·opg + oo] = Σ wn·xn over the tile's non-zero inputs in
    // ascending k (the MACs: on WASM when the caller gave an AnalogMac, the same operations in the same order).
    if (o.analogMac) o.analogMac.tiles(p, g, xn, nzIdx, nnz, kTile, yt);
    else {
      let j = 0;
      for (let kt = 0; kt < p.kTiles; kt++) {
        const k1 = Math.min((kt + 1) * kTile, K);
        const y0 = kt * opg;
        for (let oo = 0; oo < opg; oo++) yt[y0 + oo] = 0;
        for (; j < nnz && nzIdx[j] < k1; j++) {
          const v = xn[nzIdx[j]];
          const base = (g * K + nzIdx[j]) * opg;
          for (let oo = 0; oo < opg; oo++) yt[y0 + oo] += wnT[base + oo] * v;
        }
      }
    }
    for (let kt = 0; kt < p.kTiles; kt++) {
      const readSd = st && readSigma > 0 && x2[kt] > 0 ? readSigma * Math.sqrt(2 * x2[kt]) : 0;
      for (let oo = 0; oo < opg; oo++) {
        let y = yt[kt * opg + oo];
        if (readSd > 0) y += readSd * readRng!.normal();
        if (adcBits > 0) {
          if (adcRng) y += adcSigma * step * adcRng.normal();
          let code = Math.round(y / step);
          code = code > maxCode ? maxCode : code < -maxCode ? -maxCode : code;
          y = code * step;
        }
        acc[oo] += y * p.tscale[(g * opg + oo) * p.kTiles + kt];
      }
    }
    // Digital accumulation across tiles: the scaled tile outputs are rounded into the integer accumulator.
    for (let oo = 0; oo < opg; oo++) acc[oo] = overflow(Math.round(p.bias[g * opg + oo] + acc[oo]), accBits, ovfMode);
  }

  /** Runs a weight layer over patches; `patchAt(b, pix, g, patch)` fills patch (length K) for group g. */
  function weightLayer(l: Conv2DLayer | DenseLayer, x: Activation, nPix: number, fill: (b: number, pix: number, g: number, patch: Int32Array) => void): Int32Array {
    const p = prepOf(l, x.spec) as DigitalPrep | AnalogPrep;
    const { K, opg, groups } = p.gemm;
    const outC = opg * groups;
    const nImg = x.n;
    const y = new Int32Array(nImg * nPix * outC);
    const { lo, hi } = l.rq;
    const zy = zeroOf(l.out);
    const patch = new Int32Array(K);
    const nzIdx = new Int32Array(K);
    const nzVal = new Int32Array(K);
    const xn = new Float64Array(K);
    const analog = p.kind === "analog";
    const kTiles = analog ? p.kTiles : 0;
    const x2 = new Float64Array(kTiles);
    const acc = new Float64Array(opg);
    const accI = new Int32Array(opg);
    const yt = new Float64Array(opg * (analog ? p.kTiles : 1));
    const perInference = (accBer > 0 || outSigma > 0 || (analog && (adcSigma > 0 || readSigma > 0)));
    // Accumulator noise is drawn per image over the image's accumulators (perturbAccumulators), so they
    // are gathered for one image before the requant.
    const accNoise = accBer > 0 || outSigma > 0;
    const accImg = new Float64Array(nPix * outC);
    const sd = accNoise && outSigma > 0 ? outputSigmas(p, outSigma, outUnit) : null;
    for (let b = 0; b < nImg; b++) {
      const st = perInference ? streams(p.index, b) : null;
      for (let pix = 0; pix < nPix; pix++) {
        for (let g = 0; g < groups; g++) {
          fill(b, pix, g, patch);
          let nnz = 0;
          for (let k = 0; k < K; k++) {
            const v = patch[k];
            if (v !== 0) {
              nzIdx[nnz] = k;
              nzVal[nnz++] = v;
            }
          }
          if (analog) {
            // DAC: normalized input x/x_max, quantized to the DAC's levels when it has fewer than the input's.
            x2.fill(0);
            for (let j = 0; j < nnz; j++) {
              let v = nzVal[j] / p.xmax;
              if (p.dacLevels > 0) v = Math.round(v * p.dacLevels) / p.dacLevels;
              xn[nzIdx[j]] = v;
              if (readSigma > 0) x2[Math.floor(nzIdx[j] / kTile)] += v * v;
            }
          }
          if (analog) analogAcc(p, g, xn, nzIdx, nnz, x2, st, acc, yt);
          else digitalAcc(p, g, patch, nzIdx, nzVal, nnz, acc, accI);
          const base = pix * outC + g * opg;
          for (let oo = 0; oo < opg; oo++) accImg[base + oo] = acc[oo];
        }
      }
      if (accNoise) perturbAccumulators(accImg, 0, nPix, outC, accBits, accBer, accBer > 0 ? st!.get(STREAM.accFlip) : null, sd, sd ? OUT_GAUSS_STREAMS.map((s) => st!.get(s)) : null);
      const yBase = b * nPix * outC;
      for (let i = 0, pix = 0; pix < nPix; pix++) for (let o = 0; o < outC; o++, i++) y[yBase + i] = finish(accImg[i], o, p, zy, lo, hi);
    }
    return flipActivations(y, nImg, l.out, p.index);
  }

  function poolRequant(l: AvgPoolLayer | GlobalAvgPoolLayer, acc: Float64Array): Int32Array {
    const p = prepOf(l, null) as PoolPrep;
    const y = new Int32Array(acc.length);
    const zy = zeroOf(l.out);
    for (let i = 0; i < acc.length; i++) {
      const r = requantRounded(acc[i], p.m[0], p.s[0], rounding) + zy;
      y[i] = r < l.rq.lo ? l.rq.lo : r > l.rq.hi ? l.rq.hi : r;
    }
    return y;
  }

  const indexOf = (l: Layer) => chip.program.layers.indexOf(l);

  return {
    name: "sim",
    setFirstInference(f: number) {
      first = f;
    },
    conv2d(l: Conv2DLayer, x: Activation): Int32Array {
      const { geo: s, cpg, zx } = prepareOp(l, x.spec);
      const d = x.data;
      return weightLayer(l, x, s.OH * s.OW, (b, pix, g, patch) => {
        const oy = Math.floor(pix / s.OW);
        const ox = pix - oy * s.OW;
        let k = 0;
        for (let ky = 0; ky < s.kh; ky++) {
          const iy = oy * s.sh + ky - s.pt;
          for (let kx = 0; kx < s.kw; kx++) {
            const ix = ox * s.sw + kx - s.pl;
            if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) {
              for (let ci = 0; ci < cpg; ci++) patch[k++] = 0;
            } else {
              const base = ((b * s.H + iy) * s.W + ix) * s.C + g * cpg;
              for (let ci = 0; ci < cpg; ci++) patch[k++] = d[base + ci] - zx;
            }
          }
        }
      });
    },
    dense(l: DenseLayer, x: Activation): Int32Array {
      const inN = x.spec.shape[0];
      const zx = zeroOf(x.spec);
      const d = x.data;
      return weightLayer(l, x, 1, (b, _pix, _g, patch) => {
        for (let i = 0; i < inN; i++) patch[i] = d[b * inN + i] - zx;
      });
    },
    maxpool(l: MaxPoolLayer, x: Activation): Int32Array {
      return flipActivations(maxPool(x.data, x.n, prepareOp(l, x.spec).geo), x.n, l.out, indexOf(l));
    },
    avgpool(l: AvgPoolLayer, x: Activation): Int32Array {
      const { geo, zx } = prepareOp(l, x.spec);
      return flipActivations(poolRequant(l, avgPoolSum(x.data, x.n, geo, zx)), x.n, l.out, indexOf(l));
    },
    gap(l: GlobalAvgPoolLayer, x: Activation): Int32Array {
      const { geo: { H, W, C }, zx } = prepareOp(l, x.spec);
      return flipActivations(poolRequant(l, globalSum(x.data, x.n, H, W, C, zx)), x.n, l.out, indexOf(l));
    },
    add(l: AddLayer, a: Activation, b: Activation): Int32Array {
      return flipActivations(addRequant(a.data, b.data, l.ma, l.mb, l.s, l.lo, l.hi, zeroOf(a.spec), zeroOf(b.spec), zeroOf(l.out)), a.n, l.out, indexOf(l));
    },
  };
}

/**
 * Input-image bit flips (the u8 pixels as stored on chip), per image, in a copy. Flipped in the u8 copy itself
 * (a flipped unsigned 8-bit field stays in 0..255): a round trip through an Int32Array cost ~0.5 ms per
 * 224×224×3 image, ~3% of a mobilenetv2 inference.
 */
export function flipInputs(chip: ChipInstance, images: Uint8Array, n: number, first: number): Uint8Array {
  const ber = chip.noise.activationBitFlip?.ber ?? 0;
  if (ber <= 0) return images;
  const per = images.length / n;
  const v = images.slice();
  for (let b = 0; b < n; b++) flipBits(v, b * per, per, 8, false, ber, new Rng(chip.seed, chip.trial!, first + b, streamId(0, STREAM.inputFlip)));
  return v;
}
