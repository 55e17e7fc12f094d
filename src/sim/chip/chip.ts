// A chip instance: the integer program mapped onto a hardware model, with every per-chip noise source
// drawn once (one Monte-Carlo trial = one manufactured and programmed chip, DESIGN.md §4). This is the
// "Prepare" step of the simulator backend: precision checks, the chip's requant multipliers, the stored
// (possibly corrupted) weights of digital chips, and the conductance-derived weights of analog tiles.

import { macRange, weightAccBound } from "../../ir/accbound.js";
import { isWeightLayer, type Layer, type Program, type TensorSpec, type WeightLayer } from "../../ir/types.js";
import { gemmOf, type GemmView } from "../../kernels/prepare.js";
import type { AnalogCompute, HwModel } from "../hw/hwmodel.js";
import { chipMultipliers } from "../hw/requant.js";
import { checkPrecision, resolveChip, type ChipSpec } from "../hw/resolve.js";
import { flipBits, gaussianIntWeights, maxAbs, pcmDrift, pcmNu, pcmProgram, stuckBits } from "../noise/models.js";
import { CHIP, Rng, streamId } from "../noise/rng.js";
import { activeNoise, STREAM, type NoiseConfig, type NoiseSource } from "../noise/sources.js";

interface PrepBase {
  index: number;
  gemm: GemmView;
  /** The chip's requant multipliers and shifts (cut to requant.multiplierBits), per channel. */
  m: Float64Array;
  s: Float64Array;
}

/** A digital weight layer: the stored integers (after per-chip faults) and whether overflow is impossible. */
export interface DigitalPrep extends PrepBase {
  kind: "digital";
  weights: Int32Array;
  /** The same weights transposed per group to [g][k][oo] (outer-product order for the exact path; made on first use). */
  readonly wT: Int32Array;
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
  /** The hw-model's derived defaults, resolved once. */
  spec: ChipSpec;
  program: Program;
  /** null: the clean chip (chip semantics, no noise); else the Monte-Carlo trial index. */
  trial: number | null;
  seed: number;
  /** The noise sources this instance draws: the hw-model's active ones on a noisy trial, none on the clean chip. */
  sources: NoiseSource[];
  /** Their settings (only theirs: what is not here is off). */
  noise: NoiseConfig;
  prep: Map<Layer, LayerPrep>;
  /** Per-chip fault counts (stored weight bits flipped / stuck), for reports and tests. */
  faults: { weightBitsFlipped: number; weightBitsStuck: number };
}

/** [o][k] (o = g·opg + oo) → [g][k][oo]: a group's weights for one input tap are contiguous. */
function transposeGroups<T extends Int32Array | Float64Array>(w: ArrayLike<number>, { groups, K, opg }: GemmView, out: T): T {
  for (let g = 0; g < groups; g++)
    for (let oo = 0; oo < opg; oo++)
      for (let k = 0; k < K; k++) out[(g * K + k) * opg + oo] = w[(g * opg + oo) * K + k];
  return out;
}

/** The stored integer weights of a layer after the per-chip digital faults (bit flips, stuck bits, Gaussian). */
function storedWeights(l: WeightLayer, i: number, chip: ChipInstance, rounded: boolean): { w: Int32Array; extra?: Float64Array } {
  const w = Int32Array.from(l.weights);
  const { noise: n, seed, trial, faults } = chip;
  if (trial === null) return { w };
  if (n.weightBitFlip)
    faults.weightBitsFlipped += flipBits(w, 0, w.length, l.wBits, true, n.weightBitFlip.ber, new Rng(seed, trial, CHIP, streamId(i, STREAM.wFlip)));
  if (n.weightStuckAt)
    faults.weightBitsStuck += stuckBits(w, l.wBits, true, n.weightStuckAt.rate, n.weightStuckAt.value ?? "random", new Rng(seed, trial, CHIP, streamId(i, STREAM.wStuck)));
  const g = n.weightGaussian;
  if (g) {
    const sigma = g.unit === "relative" ? g.sigma * maxAbs(l.weights) : g.sigma;
    const rng = new Rng(seed, trial, CHIP, streamId(i, STREAM.wGauss));
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

function prepareAnalog(l: WeightLayer, i: number, input: TensorSpec, chip: ChipInstance, c: AnalogCompute, m: Float64Array, s: Float64Array): AnalogPrep {
  const gemm = gemmOf(l);
  const { K, opg, groups } = gemm;
  const outC = opg * groups;
  const { w, extra } = storedWeights(l, i, chip, false);
  const target = extra ?? Float64Array.from(w);
  const R = chip.spec.kTile;
  const C = c.tileCols;
  const kTiles = Math.ceil(K / R);
  const wn = new Float64Array(outC * K);
  const tscale = new Float64Array(outC * kTiles);
  const gMax = c.gMaxMicroS;
  const pcm = chip.noise.pcm ?? null;
  const { seed, trial } = chip;
  const rngProg = pcm ? new Rng(seed, trial!, CHIP, streamId(i, STREAM.pcmProg)) : null;
  const rngNu = pcm ? new Rng(seed, trial!, CHIP, streamId(i, STREAM.pcmNu)) : null;
  const rngDrift = pcm ? new Rng(seed, trial!, CHIP, streamId(i, STREAM.pcmDrift)) : null;
  // The crossbar's inputs are x − z_x (format 2's zero point; x in format 1), signed when z_x > lo.
  const xr = macRange(input);
  const xmax = Math.max(xr.hi, -xr.lo);
  const dacBits = c.dac.bits;
  const dacLevels = dacBits === 0 || dacBits >= input.bits ? 0 : xr.lo < 0 ? 2 ** (dacBits - 1) - 1 : 2 ** dacBits - 1;
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
export function prepareLayer(l: Layer, i: number, input: TensorSpec, chip: ChipInstance): LayerPrep | undefined {
  const hw = chip.hw;
  if (l.op === "avgpool" || l.op === "gap") {
    const { m, s } = chipMultipliers(l.rq.m, l.rq.s, hw.requant.multiplierBits, `layer ${i} "${l.name}"`);
    return { kind: "pool", index: i, m, s };
  }
  if (!isWeightLayer(l)) return undefined;
  const { m, s } = chipMultipliers(l.rq.m, l.rq.s, hw.requant.multiplierBits, `layer ${i} "${l.name}"`);
  if (hw.compute.kind === "analog") return prepareAnalog(l, i, input, chip, hw.compute, m, s);
  const { w } = storedWeights(l, i, chip, true);
  // A source such as activation bit flips can put a signed input at −2^(b−1), outside the range the bound assumes.
  const outOfRange = input.signed && chip.sources.some((src) => src.widensRange);
  const bound = weightAccBound(w, l.bias, macRange(input));
  // The bound also bounds every partial sum (each term's range contains 0), so no order can overflow.
  const exact = !outOfRange && bound.bits <= chip.spec.accBits;
  const gemm = gemmOf(l);
  let wT: Int32Array | undefined; // only the plain-TS kernels read it: made on first use (3.4 M weights for mobilenetv2)
  return {
    kind: "digital", index: i, gemm, m, s, weights: w, bias: l.bias, exact,
    get wT() {
      return (wT ??= transposeGroups(w, gemm, new Int32Array(w.length)));
    },
  };
}

/**
 * Maps a program onto a chip for one trial (null = the clean chip): checks precisions, cuts the requant
 * multipliers, draws every per-chip noise source from the (seed, trial, CHIP, layer·source) streams.
 */
export function buildChip(program: Program, hw: HwModel, seed: number, trial: number | null): ChipInstance {
  checkPrecision(program, hw);
  const chip = emptyChip(program, hw, seed, trial);
  program.layers.forEach((l, i) => {
    if (i === 0) return;
    const p = prepareLayer(l, i, program.layers[l.inputs[0]].out, chip);
    if (p) chip.prep.set(l, p);
  });
  return chip;
}

/** A chip instance with no layer prepared yet. */
function emptyChip(program: Program, hw: HwModel, seed: number, trial: number | null): ChipInstance {
  const spec = resolveChip(hw);
  const sources = trial === null ? [] : spec.sources;
  return { hw, spec, program, trial, seed, sources, noise: activeNoise(hw.noise, sources), prep: new Map(), faults: { weightBitsFlipped: 0, weightBitsStuck: 0 } };
}

/**
 * A noise-free chip with no program: the sim backend then prepares each layer on first use (the
 * parameterized backend suite calls ops on layers that belong to no program).
 */
export function adHocChip(hw: HwModel): ChipInstance {
  return emptyChip({ name: "ad hoc", producer: "sim", layers: [] }, hw, 0, null);
}
