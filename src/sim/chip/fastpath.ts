// The simulator's fast path for digital chips with per-inference noise: the whole program in WASM linear
// memory (like WasmProgram, src/exec/wasm-program.ts), with the noise applied between the kernels.
//  - Weight layers whose accumulators are perturbed (accumulator bit flips, output Gaussian noise), or whose
//    requant is the chip's own (cut multipliers, half-even / truncating rounding), run the GEMM / depthwise
//    kernels without the fused requant (gemm_s16_8c2_acc, dwconv_s16_acc), then the draws of
//    perturbAccumulators (src/sim/noise/models.ts, what the plain-TS kernels call) from the same streams:
//    accumulator bit flips by flipBits on the linear-memory view, the output Gaussian noise in WASM fused
//    with the chip's requant (gauss_requant_s16); without Gaussian noise, the chip's exact per-channel
//    requant (requant_rows_mode), with the chip's rounding.
//  - Activation bit flips: flipBits on each layer's i16 output in linear memory, per image, from the same
//    (seed, trial, inference, layer·actFlip) stream as ./kernels.ts; input flips via flipInputs.
// Only taken when it computes exactly what the plain-TS sim kernels compute (fastPathEquivalent): every
// noise source on says so in the noise table (src/sim/noise/sources.ts, `paths`), and the accumulators
// overflow only where this path models the chip's order. This module is sim-only: the edge runtime does
// not import it.

import { planActivations } from "../../exec/memplan.js";
import { weightAccBound, type AccBound } from "../../ir/accbound.js";
import { formatVersion } from "../../ir/features.js";
import { isWeightLayer, sizeOf, tensorRange, type Layer, type Program, type TensorSpec } from "../../ir/types.js";
import { prepareOp } from "../../kernels/prepare.js";
import { argmaxRows, avgPoolSum, globalSum } from "../../kernels/reference/ops.js";
import { SLACK, i32View, putBytes, type Arena } from "../../kernels/wasm/arena.js";
import { WasmEngine, type PreparedLayer } from "../../kernels/wasm/engine.js";
import type { KernelExports } from "../../kernels/wasm/loader.js";
import { requantRounded } from "../hw/requant.js";
import { flipBits } from "../noise/models.js";
import { Rng, streamId, zigTablesForWasm } from "../noise/rng.js";
import { OUT_GAUSS_STREAMS, STREAM } from "../noise/sources.js";
import type { ChipInstance, DigitalPrep, PoolPrep } from "./chip.js";
import { outputSigmas } from "./kernels.js";

/** The sim-only kernels of the simulator's build (assembly/sim.ts) beside the engine's. */
interface SimExports extends KernelExports {
  gemm_s16_8c2_acc(x: number, lda: number, M: number, Kp: number, w: number, wbits: number, acc: number, tile: number, N: number, bias: number, y: number, ldy: number): void;
  dwconv_s16_acc(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, w: number, Cp: number, bias: number, p0: number, p1: number, y: number, a16: number): void;
  requant_rows_mode(acc: number, rows: number, channels: number, m: number, s: number, lo: number, hi: number, y: number, ldy: number, mode: number): void;
  gemm_s16_sat_ktile(x: number, lda: number, M: number, w: number, panels: number, N: number, tiles: number, T: number, wpp: number, bias: number, bits: number, y: number, ldy: number): void;
  gauss_prepare(C: number, P: number, sdp: number, msp: number, m: number, s: number, mode: number, accMax: number, lay: number): void;
  gauss_requant_s16(acc: number, total: number, C: number, P: number, m: number, s: number, lo: number, hi: number, y: number, st: number, rej: number, zt: number, zf: number, mode: number, lay: number): void;
}

/** lcm(C, 4): the period of the channel pattern over groups of 4 accumulators (gauss_requant_s16's P). */
export function channelPeriod(C: number): number {
  return C % 4 === 0 ? C : C % 2 === 0 ? 2 * C : 4 * C;
}

/**
 * gauss_requant_s16's per-layer operands of a layer with C = m.length channels in linear memory: the chip's m
 * and s (i32 [C]); as f64 over one channel period P = channelPeriod(C), sdp[q] = sd[q mod C] (σ in accumulator
 * units) and msp[q] = m·2^−s of channel q mod C; and the layer block that gauss_prepare fills from them for the
 * rounding `mode` and the bound accMax on every |accumulator| of the layer (+∞: none).
 */
export function putGaussLayer(a: Arena, k: Pick<SimExports, "gauss_prepare">, sd: ArrayLike<number>, m: ArrayLike<number>, s: ArrayLike<number>, mode: number, accMax: number, what: string): GaussLayer {
  const C = m.length;
  const period = channelPeriod(C);
  const put = (f: (c: number) => number) => putBytes(a, new Uint8Array(Float64Array.from({ length: period }, (_, q) => f(q % C)).buffer), what);
  const g = { period, sdPtr: put((c) => sd[c]), msPtr: put((c) => m[c] * 2 ** -s[c]), mPtr: a.putI32(m, what), sPtr: a.putI32(s, what), layPtr: a.alloc(32 + 24 * period, what) };
  k.gauss_prepare(C, period, g.sdPtr, g.msPtr, g.mPtr, g.sPtr, mode, accMax, g.layPtr);
  return g;
}

/** Where putGaussLayer put a layer's operands (byte offsets in linear memory). */
export interface GaussLayer {
  period: number;
  sdPtr: number;
  msPtr: number;
  mPtr: number;
  sPtr: number;
  layPtr: number;
}

/** The ziggurat's tables in linear memory, as gauss_requant_s16 reads them (zigTablesForWasm). */
export function putZigTables(a: Arena): { zt: number; zf: number } {
  const { zt, zf } = zigTablesForWasm();
  return { zt: putBytes(a, zt, "the ziggurat tables"), zf: putBytes(a, zf, "the ziggurat tables") };
}

/**
 * Saves the five output-noise streams into gauss_requant_s16's state block `sv` (20 i32): streams 0–3 as the
 * four lanes, one v128 per state word; stream 4, the slow stream, after them.
 */
export function saveGaussStreams(sv: Int32Array, streams: readonly Rng[]): void {
  streams.forEach((r, lane) => (lane < 4 ? r.saveState(sv, lane, 4) : r.saveState(sv, 16, 1)));
}

/** The settings of the per-inference sources the fast path applies (chip.noise holds only the active ones). */
function knobs(chip: ChipInstance) {
  const n = chip.noise;
  return {
    actBer: n.activationBitFlip?.ber ?? 0,
    accBer: n.accumulatorBitFlip?.ber ?? 0,
    outSigma: n.outputGaussian?.sigma ?? 0,
    outUnit: n.outputGaussian?.unit ?? "out-lsb",
  };
}

/** The input range a layer can see on this trial: a source such as activation flips can put a signed input at −2^(b−1). */
function inputRange(x: TensorSpec, chip: ChipInstance): { lo: number; hi: number } {
  const r = tensorRange(x);
  return x.signed && chip.sources.some((s) => s.widensRange) ? { lo: -(2 ** (x.bits - 1)), hi: r.hi } : r;
}

/**
 * Whether the fast path computes exactly the plain-TS sim kernels' integers for this chip instance:
 *  - every noise source on supports it (the noise table's `paths`): any other runs on the plain-TS kernels;
 *  - digital, with any requant rounding and multiplier bits (with multipliers cut to fewer bits or a
 *    rounding other than half up, every weight layer and pool requantizes with the chip's m, s, rounding);
 *  - accumulator bit flips only on accumulators of ≤ 32 bits;
 *  - for every weight layer: the accumulator bound over the inputs this trial can see fits both the chip's
 *    accumulator and i32 (then no partial sum overflows in any order: wrap/saturate never fire), or the
 *    accumulator wraps and has ≤ 32 bits (needsWrap: the order does not matter for a wrap), or it
 *    saturates, has ≤ 31 bits and the layer is not depthwise (gemm_s16_sat_ktile, in the chip's order);
 *  - the stored weights in the narrow range the WASM weight containers assume;
 *  - a format-1 program: its raw-accumulator kernels know no zero point, input table or full range (format-2
 *    programs run on the WASM program when the chip is exact, else on the plain-TS kernels).
 */
export function fastPathEquivalent(chip: ChipInstance): boolean {
  if (chip.spec.kind !== "digital" || !chip.sources.every((s) => s.paths.includes("fast-path"))) return false;
  if (formatVersion(chip.program) === 2) return false;
  if (knobs(chip).accBer > 0 && chip.spec.accBits > 32) return false;
  const layers = chip.program.layers;
  for (const [l, p] of chip.prep) {
    if (p.kind !== "digital" || !isWeightLayer(l)) continue;
    const x = layers[l.inputs[0]].out;
    if (needsWrap(chip, p, x)) {
      // The engine runs a conv with one input and one output channel per group on the depthwise kernel.
      const depthwise = l.op === "conv2d" && prepareOp(l, x).depthwise;
      const ok = chip.spec.overflow === "wrap" ? chip.spec.accBits <= 32 : chip.spec.accBits <= 31 && !depthwise;
      if (!ok) return false;
    }
    const lo = -(2 ** (l.wBits - 1) - 1);
    for (let i = 0; i < p.weights.length; i++) if (p.weights[i] < lo) return false;
  }
  return true;
}

/**
 * Whether some partial sum of this layer can leave the chip's accumulator (or i32) for an input this trial
 * can produce: the accumulator bound (DESIGN.md §3, which bounds every partial sum too) over the widened
 * input range. Wrapping accumulators of ≤ 32 bits are still exact on the fast path: two's-complement wrap
 * is arithmetic mod 2^bits, so wrapping per MAC or per K-tile (the chip's order, ./kernels.ts) ends
 * at the i32 GEMM's sum (mod 2^32) sign-extended from bit bits − 1. Saturation depends on the order: not here.
 */
function needsWrap(chip: ChipInstance, p: DigitalPrep, x: TensorSpec): boolean {
  return accBoundOf(chip, p, x).bits > Math.min(32, chip.spec.accBits);
}

/** The accumulator bound of a chip's layer over its (noise-widened) input range, once per layer of a chip instance (a layer's prep belongs to one instance): asked by fastPathEquivalent, then by NoisyWasmProgram. */
function accBoundOf(chip: ChipInstance, p: DigitalPrep, x: TensorSpec): AccBound {
  let b = boundsOf.get(p);
  if (b === undefined) boundsOf.set(p, (b = weightAccBound(p.weights, p.bias, inputRange(x, chip))));
  return b;
}
const boundsOf = new WeakMap<DigitalPrep, AccBound>();

/** Operands of gemm_s16_sat_ktile for one layer (see assembly/simnoise.ts). */
interface SatLayout {
  /** Per group: the weight vectors and the bias (padded to panels·4). */
  w: number[];
  bias: number[];
  tiles: number;
  T: number;
  wpp: number;
  panels: number;
}

/** Lays out a layer's weights for gemm_s16_sat_ktile: tiles of kTile consecutive k (1 per MAC). */
function satLayout(p: DigitalPrep, kTile: number, put16: (a: Int16Array) => number, put32: (a: Int32Array) => number): SatLayout {
  const { K, opg, groups } = p.gemm;
  const tl: number[] = [];
  let wpp = 0;
  for (let k0 = 0; k0 < K; k0 += kTile) {
    const np = Math.ceil((Math.min(k0 + kTile, K) - k0) / 2);
    tl.push(k0, np);
    wpp += np;
  }
  const panels = Math.ceil(opg / 4);
  const w: number[] = [];
  const bias: number[] = [];
  for (let g = 0; g < groups; g++) {
    const v = new Int16Array(panels * wpp * 8);
    let q = 0;
    for (let j = 0; j < panels; j++)
      for (let t = 0; t < tl.length; t += 2) {
        const k0 = tl[t];
        const k1 = Math.min(k0 + kTile, K);
        for (let pp = 0; pp < tl[t + 1]; pp++, q += 8)
          for (let c = 0; c < 4; c++)
            for (let e = 0; e < 2; e++) {
              const n = 4 * j + c;
              const k = k0 + 2 * pp + e;
              v[q + 2 * c + e] = n < opg && k < k1 ? p.weights[(g * opg + n) * K + k] : 0;
            }
      }
    w.push(put16(v));
    bias.push(put32(Int32Array.from({ length: panels * 4 }, (_, c) => (c < opg ? p.bias[g * opg + c] : 0))));
  }
  return { w, bias, tiles: put32(Int32Array.from(tl)), T: tl.length / 2, wpp, panels };
}

/** Per weight layer: the chip's multipliers in linear memory; whether and how its accumulators are perturbed. */
interface LayerNoise {
  prep: DigitalPrep;
  m: number;
  s: number;
  perturb: boolean;
  /** Saturating accumulators that can overflow: the per-K-tile kernel's operands, per group. */
  sat: SatLayout | null;
  /** 32 − accumulator bits when the accumulator can wrap (the raw sums are sign-extended from that bit), else 0. */
  wrapShift: number;
  /**
   * gauss_requant_s16's operands (putGaussLayer), with a bound on the raw |accumulator| (the layer's weights over
   * its input range) or +∞ where accumulator flips, wrap or saturation can take an accumulator past it; null
   * without output noise.
   */
  gauss: GaussLayer | null;
  /**
   * 1 when the layer's accumulator bound over the inputs this trial can see (accBoundOf, the noise-widened range) lies
   * in [−2^15, 2^15): dwconv_s16_acc's 3×3 kernel then sums in wrapping i16 lanes, exact as every sum fits i16 (the
   * engine's a16, from the nominal range, would not cover flipped inputs); else 0.
   */
  a16: number;
}

/** Images per pass through the layers of NoisyWasmProgram by default (1 measured no faster on mobilenetv2: docs/RESULTS.md, sixth pass). */
export const NOISY_MICRO_BATCH = 2;

/**
 * A chip instance's program in linear memory with per-inference noise between the kernels. `run` takes
 * the (input-flipped) u8 images of inferences first … first + n − 1.
 */
export class NoisyWasmProgram {
  private readonly engine: WasmEngine;
  private readonly k: SimExports;
  private readonly base: number;
  private readonly staging: number;
  private readonly offsets: number[];
  private readonly accPtr: number;
  private readonly accScratch: number;
  private readonly tile: number;
  /** By layer index: the weight layers. */
  private readonly noise: (LayerNoise | undefined)[] = [];
  private readonly knobs: ReturnType<typeof knobs>;
  /** The output-noise streams (four lanes, 64 bytes; the slow stream, 16 bytes), the kernel's scratch (32 bytes). */
  private readonly state: number;
  /** gauss_requant_s16's records of groups with a rejection step (32 bytes per 4 accumulators of an image). */
  private readonly rej: number;
  private readonly zt: number;
  private readonly zf: number;
  /**
   * The chip's requant differs from the engine's fused one (multipliers cut to requant.multiplierBits < 31,
   * or half-even / truncating rounding): weight layers and pools requantize with the chip's m, s, rounding.
   */
  private readonly chipRequant: boolean;
  /** The chip's rounding as the sim kernels' mode: 0 half up, 1 half even, 2 truncate. */
  private readonly mode: number;
  /** Images per pass through the layers (activations and accumulators sized for it). */
  private readonly micro: number;

  /** `program` carries the chip's stored weights (simulate.ts withChipWeights); `chip` its noise. */
  constructor(
    private readonly chip: ChipInstance,
    private readonly program: Program,
    engine: WasmEngine,
    micro = NOISY_MICRO_BATCH,
  ) {
    if (typeof (engine.k as Partial<SimExports>).gauss_requant_s16 !== "function") throw new Error("NoisyWasmProgram needs the simulator's kernels: new WasmEngine({ sim: true }) (build/nipq-sim-*.wasm)");
    this.engine = engine;
    engine.pinned = true;
    this.k = engine.k as SimExports;
    this.knobs = knobs(chip);
    this.micro = micro;
    this.mode = chip.spec.roundingMode;
    this.chipRequant = !chip.spec.specRequant;
    const layers = program.layers;
    let maxAcc = 0;
    let maxKp = 0;
    layers.forEach((l, i) => {
      if (i === 0 || l.op === "flatten") return;
      const p = engine.prepare(l, layers[l.inputs[0]].out);
      if (p.kind === "conv-gemm") for (const g of p.gemms) maxKp = Math.max(maxKp, g.host.Kp);
      if (p.kind === "dense") maxKp = Math.max(maxKp, p.gemm.host.Kp);
      if (isWeightLayer(l)) maxAcc = Math.max(maxAcc, sizeOf(l.out.shape));
    });
    const plan = planActivations(program, (spec) => micro * sizeOf(spec.shape) * 2 + SLACK, 16);
    this.offsets = plan.offsets;
    const a = engine.arena;
    this.base = a.alloc(plan.peakBytes, `the activations of ${program.name}`);
    this.staging = a.alloc(micro * sizeOf(layers[0].out.shape), `the input images of ${program.name}`);
    this.accPtr = a.alloc(micro * maxAcc * 4, `the accumulators of ${program.name}`);
    this.accScratch = a.alloc(192, "the GEMM accumulator scratch");
    this.tile = a.alloc(Math.max(16, maxKp * 16), "the decoded weight-panel tile");
    ({ zt: this.zt, zf: this.zf } = putZigTables(a)); // the ziggurat's tables, which gauss_requant_s16 reads
    const { accBer, outSigma, outUnit } = this.knobs;
    chip.program.layers.forEach((l, i) => {
      const p = chip.prep.get(l);
      if (!p || p.kind !== "digital") return;
      const sd = outSigma > 0 ? outputSigmas(p, outSigma, outUnit) : null;
      const { overflow, accBits, kTile } = chip.spec;
      const x = chip.program.layers[l.inputs[0]].out;
      const overflows = needsWrap(chip, p, x);
      const bound = accBoundOf(chip, p, x);
      const wrapShift = overflows && overflow === "wrap" ? 32 - accBits : 0;
      const sat = overflows && overflow === "saturate" ? satLayout(p, kTile, (v) => a.putI16(v, "saturating weights"), (v) => a.putI32(v, "saturating operands")) : null;
      const accMax = accBer > 0 || wrapShift > 0 || sat ? Infinity : Math.max(-bound.min, bound.max);
      const gauss = sd ? putGaussLayer(a, this.k, sd, p.m, p.s, this.mode, accMax, "the output noise operands") : null;
      const m = gauss ? gauss.mPtr : a.putI32(p.m, "chip multipliers");
      const s = gauss ? gauss.sPtr : a.putI32(p.s, "chip shifts");
      this.noise[i] = { prep: p, m, s, perturb: accBer > 0 || !!sd, sat, wrapShift, gauss, a16: bound.bits <= 16 ? 1 : 0 };
    });
    this.state = a.alloc(112, "the generator state");
    this.rej = a.alloc(Math.ceil(maxAcc / 4) * 32, "the ziggurat's rejection records");
  }

  /** Runs n images (u8, already input-flipped) of inferences first …; returns the int16 logits and predictions. */
  run(images: Uint8Array, n: number, first: number): { logits: Int16Array; predictions: Int32Array } {
    const layers = this.program.layers;
    const inSize = sizeOf(layers[0].out.shape);
    const classes = sizeOf(layers[layers.length - 1].out.shape);
    const logits = new Int16Array(n * classes);
    for (let b = 0; b < n; b += this.micro) {
      const nb = Math.min(this.micro, n - b);
      logits.set(this.runMicro(images.subarray(b * inSize, (b + nb) * inSize), nb, first + b), b * classes);
    }
    return { logits, predictions: argmaxRows(logits, n, classes) };
  }

  private runMicro(images: Uint8Array, n: number, first: number): Int16Array {
    const { engine, program, k } = this;
    const layers = program.layers;
    const inSize = sizeOf(layers[0].out.shape);
    engine.arena.bytes().set(images, this.staging);
    const ptr = (i: number) => this.base + this.offsets[i];
    k.u8_to_s16(this.staging, n * inSize, ptr(0));
    const { actBer } = this.knobs;
    for (let i = 1; i < layers.length; i++) {
      const l = layers[i];
      if (l.op === "flatten") continue;
      const x = layers[l.inputs[0]].out;
      const p = engine.prepare(l, x);
      const ln = this.noise[i];
      const outRange = actBer > 0 && x.signed; // flipped inputs may leave the range the SIMD requant assumes
      if (ln && (ln.perturb || outRange || this.chipRequant || ln.wrapShift > 0 || ln.sat)) this.weightLayer(l, p, ln, ptr(l.inputs[0]), n, ptr(i), first);
      else if ((l.op === "avgpool" || l.op === "gap") && (outRange || this.chipRequant)) {
        const g = prepareOp(l, x).geo;
        const pp = this.chip.prep.get(this.chip.program.layers[i]) as PoolPrep;
        if (this.mode === 0) {
          // The scalar exact requant (simd 0) with the chip's multiplier (cut when requant.multiplierBits < 31).
          if (l.op === "avgpool") k.avgpool_s16_requant(ptr(l.inputs[0]), n, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, pp.m[0], pp.s[0], 0, 0, l.rq.lo, l.rq.hi, 0, ptr(i));
          else k.gap_s16_requant(ptr(l.inputs[0]), n, g.H * g.W, g.C, pp.m[0], pp.s[0], 0, 0, l.rq.lo, l.rq.hi, 0, ptr(i));
        } else {
          // Half-even / truncating rounding: the plain-TS pool sums (a pool is a small share of the work)
          // and the chip's requantRounded, on the linear-memory views.
          const xv = engine.arena.i16(ptr(l.inputs[0]), n * g.H * g.W * g.C);
          const acc = l.op === "avgpool" ? avgPoolSum(xv, n, g) : globalSum(xv, n, g.H, g.W, g.C);
          const yv = engine.arena.i16(ptr(i), acc.length);
          const { lo, hi } = l.rq;
          for (let j = 0; j < acc.length; j++) {
            const r = requantRounded(acc[j], pp.m[0], pp.s[0], this.chip.hw.requant.rounding);
            yv[j] = r < lo ? lo : r > hi ? hi : r;
          }
        }
      } else engine.exec(l, l.inputs.map((j) => layers[j].out), l.inputs.map(ptr), n, ptr(i), n * sizeOf(l.out.shape));
      if (actBer > 0) {
        const per = sizeOf(l.out.shape);
        const y = engine.arena.i16(ptr(i), n * per);
        for (let b = 0; b < n; b++) flipBits(y, b * per, per, l.out.bits, l.out.signed, actBer, new Rng(this.chip.seed, this.chip.trial!, first + b, streamId(i, STREAM.actFlip)));
      }
    }
    const classes = sizeOf(layers[layers.length - 1].out.shape);
    return Int16Array.from(engine.arena.i16(ptr(layers.length - 1), n * classes));
  }

  /** The per-inference stream (seed, trial, inference, layer·source) of ./kernels.ts. */
  private stream(inference: number, layer: number, source: number): Rng {
    return new Rng(this.chip.seed, this.chip.trial!, inference, streamId(layer, source));
  }

  /**
   * A conv that needs im2col, per group and image: the image's patches of group gi into one im2col buffer,
   * then `gemm(col, Kp, rows, gi, out)` with `out` the group's first accumulator of that image (layout
   * [image][pixel][channel], i32).
   */
  private perImageGroups(l: Layer, p: Extract<PreparedLayer, { kind: "conv-gemm" }>, x: number, n: number, outC: number, gemm: (col: number, Kp: number, rows: number, gi: number, out: number) => void): void {
    const { k, engine } = this;
    const h = p;
    const g = h.geo;
    const rows = g.OH * g.OW;
    const Kp = p.gemms[0].host.Kp;
    const mark = engine.arena.mark();
    const col = engine.arena.alloc(rows * Kp * 2, `the im2col buffer of layer ${l.name}`);
    const xSample = g.H * g.W * g.C * 2;
    for (let gi = 0; gi < h.groups; gi++)
      for (let b = 0; b < n; b++) {
        k.im2col_s16(x + b * xSample, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, gi * h.cpg, h.cpg, col, Kp, 0);
        gemm(col, Kp, rows, gi, this.accPtr + (b * rows * outC + gi * h.opg) * 4);
      }
    engine.arena.release(mark);
  }

  /** A weight layer through raw accumulators: kernel → perturbAccumulators per image → exact requant. */
  private weightLayer(l: Layer, p: PreparedLayer, ln: LayerNoise, x: number, n: number, y: number, first: number): void {
    const { k, engine } = this;
    if (!isWeightLayer(l)) throw new Error(`layer ${l.name}: not a weight layer`);
    const outC = l.bias.length;
    const nPix = sizeOf(l.out.shape) / outC;
    const acc = this.accPtr;
    const sat = ln.sat;
    const bits = this.chip.spec.accBits;
    if (ln.gauss && !sat && ln.wrapShift === 0 && this.knobs.accBer === 0 && p.kind !== "dense") {
      this.gaussSlabs(l, p, ln, x, n, nPix, outC, l.rq.lo, l.rq.hi, y, first);
      return;
    }
    if (sat && p.kind === "dense") k.gemm_s16_sat_ktile(x, p.inN, n, sat.w[0], sat.panels, outC, sat.tiles, sat.T, sat.wpp, sat.bias[0], bits, acc, outC);
    else if (sat && p.kind === "conv-gemm") {
      const h = p;
      const g = h.geo;
      if (h.direct) k.gemm_s16_sat_ktile(x, g.C, n * g.H * g.W, sat.w[0], sat.panels, outC, sat.tiles, sat.T, sat.wpp, sat.bias[0], bits, acc, outC);
      else this.perImageGroups(l, p, x, n, outC, (col, Kp, rows, gi, out) => k.gemm_s16_sat_ktile(col, Kp, rows, sat.w[gi], sat.panels, h.opg, sat.tiles, sat.T, sat.wpp, sat.bias[gi], bits, out, outC));
    } else if (sat) throw new Error(`layer ${l.name}: saturating accumulators of a depthwise layer are not on the fast path`);
    else if (p.kind === "depthwise") {
      const g = p.geo;
      k.dwconv_s16_acc(x, n, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, p.w, p.Cp, p.bias, 0, g.OH * g.OW, acc, ln.a16);
    } else if (p.kind === "dense") {
      const g = p.gemm;
      const mark = engine.arena.mark();
      let xa = x;
      if (g.host.Kp !== p.inN) {
        xa = engine.arena.alloc(n * g.host.Kp * 2, `the padded input of layer ${l.name}`);
        k.im2col_s16(x, n, 1, p.inN, 1, 1, 1, 1, 0, 0, n, 1, 0, p.inN, xa, g.host.Kp, 0);
      }
      k.gemm_s16_8c2_acc(xa, g.host.Kp, n, g.host.Kp, g.w, g.host.container, this.accScratch, this.tile, g.host.N, g.bias, acc, outC);
      engine.arena.release(mark);
    } else if (p.kind === "conv-gemm") {
      const h = p;
      const g = h.geo;
      if (h.direct) k.gemm_s16_8c2_acc(x, g.C, n * g.H * g.W, p.gemms[0].host.Kp, p.gemms[0].w, p.gemms[0].host.container, this.accScratch, this.tile, p.gemms[0].host.N, p.gemms[0].bias, acc, outC);
      else
        this.perImageGroups(l, p, x, n, outC, (col, Kp, rows, gi, out) => {
          const gm = p.gemms[gi];
          k.gemm_s16_8c2_acc(col, Kp, rows, Kp, gm.w, gm.host.container, this.accScratch, this.tile, gm.host.N, gm.bias, out, outC);
        });
    } else throw new Error(`layer ${l.name}: not prepared as a weight layer`);

    // Noise on the raw accumulators, per image, with the streams of ./kernels.ts: accumulator bit flips
    // here (O(flips)), the output Gaussian noise fused with the requant in WASM (gauss_requant_s16).
    const per = nPix * outC;
    const { lo, hi } = l.rq;
    const { accBer } = this.knobs;
    const view = i32View(engine.arena, acc, n * per);
    if (ln.wrapShift > 0) {
      // The chip's wrap to accumulator.bits (see needsWrap), before any accumulator noise.
      const w = ln.wrapShift;
      for (let j = 0; j < n * per; j++) view[j] = (view[j] << w) >> w;
    }
    if (ln.perturb && accBer > 0) {
      const accBits = this.chip.spec.accBits;
      for (let b = 0; b < n; b++) flipBits(view, b * per, per, accBits, true, accBer, this.stream(first + b, ln.prep.index, STREAM.accFlip)); // stays within accBits ≤ 32
    }
    if (!ln.gauss) {
      k.requant_rows_mode(acc, n * nPix, outC, ln.m, ln.s, lo, hi, y, outC, this.mode);
      return;
    }
    // The image's streams, seeded here, drawn from in WASM (perturbAccumulators' draws exactly): the four
    // lanes as one v128 per state word, then the slow stream.
    for (let b = 0; b < n; b++) {
      const off = b * per;
      this.seedGauss(first + b, ln);
      this.gauss(ln, acc + off * 4, per, lo, hi, y + off * 2);
    }
  }

  /** gauss_requant_s16 on `total` accumulators of layer ln at acc, continuing the streams, into i16 at y. */
  private gauss(ln: LayerNoise, acc: number, total: number, lo: number, hi: number, y: number): void {
    const g = ln.gauss!;
    this.k.gauss_requant_s16(acc, total, ln.prep.m.length, g.period, g.mPtr, g.sPtr, lo, hi, y, this.state, this.rej, this.zt, this.zf, this.mode, g.layPtr);
  }

  /** Seeds the output-noise streams of one image and layer in linear memory: the four lanes as one v128 per state word, then the slow stream. */
  private seedGauss(inference: number, ln: LayerNoise): void {
    saveGaussStreams(i32View(this.engine.arena, this.state, 20), OUT_GAUSS_STREAMS.map((src) => this.stream(inference, ln.prep.index, src)));
  }

  /**
   * A conv (direct 1×1, im2col or depthwise) with output noise only, in slabs of pixels of one image
   * (slabOptions): the raw accumulators of a slab, then gauss_requant_s16 on them while they are still in
   * cache (the whole layer's accumulators, up to 9.6 MB for mobilenetv2's largest at 2 images, would go out to
   * memory and back). The same integers: a pixel's accumulators depend on that pixel alone, and the kernel
   * continues the image's streams from one call to the next (their state stays in linear memory); each call
   * does its rejection steps at its end, in element order, so the slow stream is read in element order across
   * calls too. A slab of a multiple of 4 pixels starts at a multiple of lcm(C, 4) elements, where the kernel's
   * lane (j mod 4) and channel pattern position (j mod P) restart at 0. The slab of an im2col conv is whole
   * output rows (a band, im2col of the image with the top padding pt − oy0·sh, as the engine's conv2d);
   * a depthwise or direct slab may start and end mid-row.
   */
  private gaussSlabs(l: Layer, p: Exclude<PreparedLayer, { kind: "dense" }>, ln: LayerNoise, x: number, n: number, nPix: number, outC: number, lo: number, hi: number, y: number, first: number): void {
    const { k, engine } = this;
    if (p.kind !== "depthwise" && p.kind !== "conv-gemm") throw new Error(`layer ${l.name}: not prepared as a conv`);
    const g = p.geo;
    const acc = this.accPtr;
    const xImage = g.H * g.W * g.C * 2;
    const mark = engine.arena.mark();
    let slab: number;
    let raw: (b: number, p0: number, np: number) => void;
    if (p.kind === "depthwise") {
      slab = slabPixels(nPix, outC, 4, 1);
      raw = (b, p0, np) => k.dwconv_s16_acc(x + b * xImage, 1, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, p.w, p.Cp, p.bias, p0, p0 + np, acc, ln.a16);
    } else if (p.direct) {
      const gm = p.gemms[0];
      slab = slabPixels(nPix, outC, 4, slabOptions.minRows);
      raw = (b, p0, np) => k.gemm_s16_8c2_acc(x + (b * nPix + p0) * g.C * 2, g.C, np, gm.host.Kp, gm.w, gm.host.container, this.accScratch, this.tile, gm.host.N, gm.bias, acc, outC);
    } else {
      // Whole output rows, a multiple of 4 pixels (unless the slab is the whole image).
      const Kp = p.gemms[0].host.Kp;
      const unit = channelPeriod(g.OW); // lcm(OW, 4): whole rows, a multiple of 4 pixels
      slab = slabPixels(nPix, outC, unit, slabOptions.minRows);
      const col = engine.arena.alloc(slab * Kp * 2, `the im2col buffer of layer ${l.name}`);
      raw = (b, p0, np) => {
        const oy0 = p0 / g.OW;
        for (let gi = 0; gi < p.groups; gi++) {
          const gm = p.gemms[gi];
          k.im2col_s16(x + b * xImage, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt - oy0 * g.sh, g.pl, np / g.OW, g.OW, gi * p.cpg, p.cpg, col, Kp, 0);
          k.gemm_s16_8c2_acc(col, Kp, np, Kp, gm.w, gm.host.container, this.accScratch, this.tile, gm.host.N, gm.bias, acc + gi * p.opg * 4, outC);
        }
      };
    }
    for (let b = 0; b < n; b++) {
      this.seedGauss(first + b, ln);
      for (let p0 = 0; p0 < nPix; p0 += slab) {
        const np = Math.min(slab, nPix - p0);
        raw(b, p0, np);
        this.gauss(ln, acc, np * outC, lo, hi, y + (b * nPix + p0) * outC * 2);
      }
    }
    engine.arena.release(mark);
  }
}

/**
 * Pixels per slab of gaussSlabs over an image of nPix pixels (at most nPix): about slabOptions.elements accumulators
 * of C channels and at least `min` pixels, a multiple of `unit`. When that would leave a last slab of fewer than `min`
 * pixels (a GEMM's short path, below UNPACK_MIN_ROWS), the image is cut into the nearest whole number of even slabs
 * instead (the last one the rest): mobilenetv2's 14×14×576 layers were slabs of 60, 60, 60 and 16 pixels, now 68, 68
 * and 60; its 7×7×960 ones 36 and 13, now one of 49 (measured 7–12% less time on those layers, docs/RESULTS.md
 * session 26). Where no even cut in whole units leaves the last slab at `min` (the head, 7×7×1280: 28 and 21 pixels,
 * the 21 on the GEMM's short path, decoding its 4-bit panels per 6 rows), the image is one slab (session 31 rawside).
 */
export function slabPixels(nPix: number, C: number, unit: number, min: number): number {
  const most = Math.ceil(Math.max(min, slabOptions.elements / C) / unit) * unit;
  const rest = nPix % most;
  if (nPix <= most || rest === 0 || rest >= min) return Math.min(nPix, most);
  const slabs = Math.round(nPix / most);
  const even = Math.min(nPix, Math.ceil(Math.max(min, nPix / slabs) / unit) * unit);
  // Whole units can leave a short last slab even so (the head's 7×7×1280: 28 and 21 pixels): then the whole image.
  const last = nPix % even;
  return last === 0 || last >= min ? even : nPix;
}

/**
 * The slabs of gaussSlabs: about `elements` accumulators (128 KB, within L2 with their outputs), a multiple of 4
 * pixels (of whole rows for an im2col conv); a GEMM's slab at least `minRows` pixels (its tall-matrix path,
 * UNPACK_MIN_ROWS in assembly/gemm.ts, from 24 rows). 32,768 rather than the 4,096 that fit L1: fewer calls,
 * each with its per-channel set-up (the GEMM's panels; then also gauss_requant_s16's bounds over C channels, now
 * once per layer in gauss_prepare), measured 4% faster on mobilenetv2 (docs/RESULTS.md, fourth pass; the sixth
 * pass found 8,192 … 32,768 alike). Tests set tiny slabs (many per image) to compare
 * them with the plain-TS kernels.
 */
export const slabOptions = { elements: 32768, minRows: 24 };
