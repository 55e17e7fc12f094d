// A chip instance: the integer program mapped onto a hardware model, with every per-chip noise source
// drawn once (one Monte-Carlo trial = one manufactured and programmed chip, DESIGN.md §4). This is the
// "Prepare" step of the simulator backend: precision checks, the chip's requant multipliers, the stored
// (possibly corrupted) weights of digital chips, and the conductance-derived weights of analog tiles.

import { accumulatorBound } from "../ir/accbound.js";
import { NipqInputError } from "../errors.js";
import { requireFormat1 } from "../ir/features.js";
import { isWeightLayer, tensorRange, type Layer, type Program, type TensorSpec, type WeightLayer } from "../ir/types.js";
import type { AnalogCompute, HwModel } from "./hwmodel.js";
import { flipBits, gaussianIntWeights, maxAbs, pcmDrift, pcmNu, pcmProgram, stuckBits } from "./noise.js";
import { chipMultipliers } from "./requant.js";
import { CHIP, Rng, streamId } from "./rng.js";

/** Per-chip noise source ids (the `source` part of a stream key). */
export const SRC = { wGauss: 0, wStuck: 1, wFlip: 2, pcmProg: 3, pcmNu: 4, pcmDrift: 5, accFlip: 8, outGauss: 9, actFlip: 10, adc: 11, pcmRead: 12, inputFlip: 13 } as const;

/**
 * The output Gaussian noise's streams: element j of an image's layer output takes its ziggurat word from
 * lane j mod 4 of the first four, and the rejection steps, in element order, draw from the fifth.
 */
export const OUT_GAUSS_STREAMS = [SRC.outGauss, 14, 15, 16, 17] as const;

/** Geometry of a weight layer seen as a GEMM: groups × (K reduction) × (opg outputs per group). */
export interface Gemm {
  groups: number;
  K: number;
  opg: number;
}

export function gemmOf(l: WeightLayer): Gemm {
  const outC = l.bias.length;
  const K = l.weights.length / outC;
  const groups = l.op === "conv2d" ? l.groups : 1;
  return { groups, K, opg: outC / groups };
}

interface PrepBase {
  index: number;
  gemm: Gemm;
  /** The chip's requant multipliers and shifts (cut to requant.multiplierBits), per channel. */
  m: Float64Array;
  s: Float64Array;
}

/** A digital weight layer: the stored integers (after per-chip faults) and whether overflow is impossible. */
export interface DigitalPrep extends PrepBase {
  kind: "digital";
  weights: Int32Array;
  /** The same weights transposed per group to [g][k][oo] (outer-product order for the exact path). */
  wT: Int32Array;
  bias: Int32Array;
  /** True when the accumulator bound of these weights fits the chip's accumulator: no wrap/saturate can fire. */
  exact: boolean;
}

/** An analog weight layer: normalized effective weights per device pair and the digital scale per tile. */
export interface AnalogPrep extends PrepBase {
  kind: "analog";
  /** (g+ − g−)/g_max per weight, layout [o][k] like the integer weights. */
  wn: Float64Array;
  /** wn transposed per group to [g][k][oo]. */
  wnT: Float64Array;
  /** Per (o, k-tile): integer units of one normalized tile output (absmax_tile · α_tile · x_max). */
  tscale: Float64Array;
  kTiles: number;
  bias: Int32Array;
  /** Input full scale x_max and DAC levels (0 = the DAC represents every input code). */
  xmax: number;
  dacLevels: number;
}

/** Pooling layers with a requant (avgpool, gap): the chip multipliers. */
export interface PoolPrep {
  index: number;
  kind: "pool";
  m: Float64Array;
  s: Float64Array;
}

export type LayerPrep = DigitalPrep | AnalogPrep | PoolPrep;

export interface ChipInstance {
  hw: HwModel;
  program: Program;
  /** null: the clean chip (chip semantics, no noise); else the Monte-Carlo trial index. */
  trial: number | null;
  seed: number;
  prep: Map<Layer, LayerPrep>;
  /** Per-chip fault counts (stored weight bits flipped / stuck), for reports and tests. */
  faults: { weightBitsFlipped: number; weightBitsStuck: number };
}

/** [o][k] (o = g·opg + oo) → [g][k][oo]: a group's weights for one input tap are contiguous. */
function transposeGroups<T extends Int32Array | Float64Array>(w: ArrayLike<number>, { groups, K, opg }: Gemm, out: T): T {
  for (let g = 0; g < groups; g++)
    for (let oo = 0; oo < opg; oo++)
      for (let k = 0; k < K; k++) out[(g * K + k) * opg + oo] = w[(g * opg + oo) * K + k];
  return out;
}

/** The widths a chip runs a layer at: the layer's own, or the next supported one when `promote`. */
function runWidth(bits: number, supported: number[], promote: boolean): number | null {
  if (supported.includes(bits)) return bits;
  if (!promote) return null;
  const up = supported.filter((b) => b >= bits).sort((a, b) => a - b);
  return up.length ? up[0] : null;
}

/**
 * Checks every weight layer's weight and input bits against the chip's supported precisions and returns
 * the widths each runs at (promoted when precision.promote). Unsupported → one NipqInputError naming every
 * layer that does not fit, and what it needs.
 */
export function checkPrecision(program: Program, hw: HwModel): Map<number, { w: number; a: number }> {
  const out = new Map<number, { w: number; a: number }>();
  const bad: string[] = [];
  program.layers.forEach((l, i) => {
    if (!isWeightLayer(l)) return;
    const a = program.layers[l.inputs[0]].out.bits;
    const w = runWidth(l.wBits, hw.precision.weightBits, hw.precision.promote);
    const ar = runWidth(a, hw.precision.activationBits, hw.precision.promote);
    const needs = [w === null ? `${l.wBits}-bit weights` : "", ar === null ? `${a}-bit input activations` : ""].filter(Boolean);
    if (needs.length) bad.push(`layer ${i} "${l.name}" (${needs.join(", ")})`);
    else out.set(i, { w: w!, a: ar! });
  });
  if (bad.length) {
    const p = hw.precision;
    throw new NipqInputError(
      `${hw.name}: ${bad.length === 1 ? "a layer uses a width" : `${bad.length} layers use widths`} it does not support: ${bad.join("; ")} ` +
        `(precision.weightBits: ${p.weightBits.join(", ")}; precision.activationBits: ${p.activationBits.join(", ")}${p.promote ? "" : "; --set precision.promote=true runs them on the next wider width"})`,
    );
  }
  return out;
}

/** A weight layer whose proven accumulator bound (src/ir/accbound.ts, `nipq inspect`'s acc bits) needs more bits than the chip has. */
export interface NarrowAccumulator {
  layer: number;
  name: string;
  /** Signed bits the layer's sums can need for inputs in range. */
  needBits: number;
}

/** Weight layers whose sums can exceed `accumulator.bits` for some input in range (pools sum exactly, outside the accumulator). */
export function narrowAccumulators(program: Program, hw: HwModel): NarrowAccumulator[] {
  const out: NarrowAccumulator[] = [];
  program.layers.forEach((l, i) => {
    if (!isWeightLayer(l)) return;
    const b = accumulatorBound(l, program.layers[l.inputs[0]].out)!;
    if (b.bits > hw.accumulator.bits) out.push({ layer: i, name: l.name, needBits: b.bits });
  });
  return out;
}

/**
 * The chip's warnings about a program, one line each (stderr, report.json `warnings`, report.html): today,
 * accumulators narrower than a layer's proven bound, whose sums then wrap or saturate and can take accuracy
 * down with them (e.g. `--set accumulator.bits=12` on the shipped model).
 */
export function chipWarnings(program: Program, hw: HwModel): string[] {
  const narrow = narrowAccumulators(program, hw);
  if (narrow.length === 0) return [];
  const a = hw.accumulator;
  return [
    `${hw.name}: ${a.bits}-bit accumulators are narrower than ${narrow.length === 1 ? "the proven bound of 1 layer" : `the proven bounds of ${narrow.length} layers`} ` +
      `(${narrow.map((n) => `${n.name} needs ${n.needBits}`).join(", ")}): sums beyond ${a.bits} bits ${a.overflow === "wrap" ? "wrap around" : "saturate"}, which can collapse accuracy`,
  ];
}

/** Whether any per-chip or per-inference noise source is active (non-zero scale). */
export function noiseActive(hw: HwModel): boolean {
  const n = hw.noise;
  return (
    (n.weightGaussian?.sigma ?? 0) > 0 ||
    (n.weightStuckAt?.rate ?? 0) > 0 ||
    (n.weightBitFlip?.ber ?? 0) > 0 ||
    (n.activationBitFlip?.ber ?? 0) > 0 ||
    (n.accumulatorBitFlip?.ber ?? 0) > 0 ||
    (n.outputGaussian?.sigma ?? 0) > 0 ||
    (n.adc?.sigma ?? 0) > 0 ||
    (hw.compute.kind === "analog" && !!n.pcm && n.pcm.enabled !== false) ||
    (hw.compute.kind === "analog" && (n.pcm?.perReadSigma ?? 0) > 0)
  );
}

/** The stored integer weights of a layer after the per-chip digital faults (bit flips, stuck bits, Gaussian). */
function storedWeights(l: WeightLayer, i: number, hw: HwModel, seed: number, trial: number | null, faults: ChipInstance["faults"], rounded: boolean): { w: Int32Array; extra?: Float64Array } {
  const w = Int32Array.from(l.weights);
  if (trial === null) return { w };
  const n = hw.noise;
  if (n.weightBitFlip && n.weightBitFlip.ber > 0)
    faults.weightBitsFlipped += flipBits(w, 0, w.length, l.wBits, true, n.weightBitFlip.ber, new Rng(seed, trial, CHIP, streamId(i, SRC.wFlip)));
  if (n.weightStuckAt && n.weightStuckAt.rate > 0)
    faults.weightBitsStuck += stuckBits(w, l.wBits, true, n.weightStuckAt.rate, n.weightStuckAt.value ?? "random", new Rng(seed, trial, CHIP, streamId(i, SRC.wStuck)));
  const g = n.weightGaussian;
  if (g && g.sigma > 0) {
    const sigma = g.unit === "relative" ? g.sigma * maxAbs(l.weights) : g.sigma;
    const rng = new Rng(seed, trial, CHIP, streamId(i, SRC.wGauss));
    if (rounded) gaussianIntWeights(w, l.wBits, sigma, rng);
    else {
      // Analog: the target conductances take the perturbed real value (no integer grid in a device).
      const extra = new Float64Array(w.length);
      for (let k = 0; k < w.length; k++) extra[k] = w[k] + sigma * rng.normal();
      return { w, extra };
    }
  }
  return { w };
}

function prepareAnalog(l: WeightLayer, i: number, input: TensorSpec, hw: HwModel, c: AnalogCompute, seed: number, trial: number | null, faults: ChipInstance["faults"], m: Float64Array, s: Float64Array): AnalogPrep {
  const gemm = gemmOf(l);
  const { K, opg, groups } = gemm;
  const outC = opg * groups;
  const { w, extra } = storedWeights(l, i, hw, seed, trial, faults, false);
  const target = extra ?? Float64Array.from(w);
  const R = hw.accumulator.kTile ?? c.tileRows;
  const C = c.tileCols;
  const kTiles = Math.ceil(K / R);
  const wn = new Float64Array(outC * K);
  const tscale = new Float64Array(outC * kTiles);
  const gMax = c.gMaxMicroS;
  const pcm = trial !== null && hw.noise.pcm && hw.noise.pcm.enabled !== false ? hw.noise.pcm : null;
  const rngProg = pcm ? new Rng(seed, trial!, CHIP, streamId(i, SRC.pcmProg)) : null;
  const rngNu = pcm ? new Rng(seed, trial!, CHIP, streamId(i, SRC.pcmNu)) : null;
  const rngDrift = pcm ? new Rng(seed, trial!, CHIP, streamId(i, SRC.pcmDrift)) : null;
  const xr = tensorRange(input);
  const xmax = Math.max(xr.hi, -xr.lo);
  const dacBits = c.dac.bits;
  const dacLevels = dacBits === 0 || dacBits >= input.bits ? 0 : input.signed ? 2 ** (dacBits - 1) - 1 : 2 ** dacBits - 1;
  for (let g = 0; g < groups; g++) {
    for (let n0 = 0; n0 < opg; n0 += C) {
      const n1 = Math.min(n0 + C, opg);
      for (let kt = 0; kt < kTiles; kt++) {
        const k0 = kt * R;
        const k1 = Math.min(k0 + R, K);
        // SinglePairConductanceConverter: the tile's abs-max weight maps to g_max (aihwkit converter/conductance.py).
        let absmax = 1e-7;
        for (let o = g * opg + n0; o < g * opg + n1; o++) for (let k = k0; k < k1; k++) absmax = Math.max(absmax, Math.abs(target[o * K + k]));
        let refSum = 0;
        let nowSum = 0;
        for (let o = g * opg + n0; o < g * opg + n1; o++) {
          for (let k = k0; k < k1; k++) {
            const x = target[o * K + k] / absmax;
            let gp = Math.max(x, 0) * gMax;
            let gm = Math.max(-x, 0) * gMax;
            if (pcm) {
              const pp = pcmProgram(gp, gMax, pcm, rngProg!);
              const pm = pcmProgram(gm, gMax, pcm, rngProg!);
              refSum += Math.abs(pp - pm);
              gp = pcmDrift(pp, pcmNu(gp, gMax, pcm, rngNu!), gMax, pcm, rngDrift!);
              gm = pcmDrift(pm, pcmNu(gm, gMax, pcm, rngNu!), gMax, pcm, rngDrift!);
              nowSum += Math.abs(gp - gm);
            }
            wn[o * K + k] = (gp - gm) / gMax;
          }
        }
        // GlobalDriftCompensation (aihwkit inference/compensation/drift.py): α = mean|W·I| after programming
        // / mean|W·I| now, read out with one-hot inputs, applied to the tile's outputs in the digital periphery.
        let alpha = 1;
        if (pcm && pcm.driftCompensation === "global" && nowSum > 0) alpha = refSum / nowSum;
        for (let o = g * opg + n0; o < g * opg + n1; o++) tscale[o * kTiles + kt] = absmax * alpha * xmax;
      }
    }
  }
  return { kind: "analog", index: i, gemm, m, s, wn, wnT: transposeGroups(wn, gemm, new Float64Array(wn.length)), tscale, kTiles, bias: l.bias, xmax, dacLevels };
}

/**
 * Prepares one layer for a chip instance: its chip requant multipliers and, for weight layers, the stored
 * weights (digital) or tile conductances (analog) with the per-chip noise of stream (seed, trial, CHIP,
 * index·source). `input` is the spec of the layer's (first) input. Non-weight, non-pool layers: undefined.
 */
export function prepareLayer(l: Layer, i: number, input: TensorSpec, hw: HwModel, seed: number, trial: number | null, faults: ChipInstance["faults"]): LayerPrep | undefined {
  if (l.op === "avgpool" || l.op === "gap") {
    const { m, s } = chipMultipliers(l.rq.m, l.rq.s, hw.requant.multiplierBits, `layer ${i} "${l.name}"`);
    return { kind: "pool", index: i, m, s };
  }
  if (!isWeightLayer(l)) return undefined;
  const { m, s } = chipMultipliers(l.rq.m, l.rq.s, hw.requant.multiplierBits, `layer ${i} "${l.name}"`);
  if (hw.compute.kind === "analog") return prepareAnalog(l, i, input, hw, hw.compute, seed, trial, faults, m, s);
  const { w } = storedWeights(l, i, hw, seed, trial, faults, true);
  // Activation bit flips can put a signed input at −2^(b−1), outside the range the bound assumes.
  const flipsOutOfRange = trial !== null && (hw.noise.activationBitFlip?.ber ?? 0) > 0 && input.signed;
  const bound = accumulatorBound({ ...l, weights: w as unknown as Int8Array } as Layer, input)!;
  // The bound also bounds every partial sum (each term's range contains 0), so no order can overflow.
  const exact = !flipsOutOfRange && bound.bits <= hw.accumulator.bits;
  const gemm = gemmOf(l);
  return { kind: "digital", index: i, gemm, m, s, weights: w, wT: transposeGroups(w, gemm, new Int32Array(w.length)), bias: l.bias, exact };
}

/**
 * Maps a program onto a chip for one trial (null = the clean chip): checks precisions, cuts the requant
 * multipliers, draws every per-chip noise source from the (seed, trial, CHIP, layer·source) streams.
 */
export function buildChip(program: Program, hw: HwModel, seed: number, trial: number | null): ChipInstance {
  requireFormat1(program, "the simulator");
  checkPrecision(program, hw);
  const prep = new Map<Layer, LayerPrep>();
  const faults = { weightBitsFlipped: 0, weightBitsStuck: 0 };
  program.layers.forEach((l, i) => {
    if (i === 0) return;
    const p = prepareLayer(l, i, program.layers[l.inputs[0]].out, hw, seed, trial, faults);
    if (p) prep.set(l, p);
  });
  return { hw, program, trial, seed, prep, faults };
}

/**
 * A noise-free chip with no program: the sim backend then prepares each layer on first use (the
 * parameterized backend suite calls ops on layers that belong to no program).
 */
export function adHocChip(hw: HwModel): ChipInstance {
  return { hw, program: { name: "ad hoc", producer: "sim", layers: [] }, trial: null, seed: 0, prep: new Map(), faults: { weightBitsFlipped: 0, weightBitsStuck: 0 } };
}
