// The WASM engine: one kernel instance with its linear memory, the layers prepared into it, and the
// per-op drivers that call the kernels with pointers. Both the per-layer LayerKernels (./backend.ts) and
// the executor's whole-program runner (src/exec/wasm-program.ts) sit on top of it.

import { zeroOf, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type Layer, type MaxPoolLayer, type TensorSpec } from "../../ir/types.js";
import type { WindowGeometry } from "../../ir/types.js";
import { convOp, poolOp, type ConvData } from "../prepare.js";
import { Arena } from "./arena.js";
import type { KernelExports, WasmFlavor } from "./features.js";
import { configuredLimit, instantiateKernels } from "./loader.js";
import { DEFAULT_POLICY, PANEL_N, kAlign, prepareConv, prepareDense, relaxedBlock, requantBits, sharedShift, type ConvGemmHost, type DenseHost, type DepthwiseHost, type GemmHost, type ParamsHost, type RelaxedForm, type WeightPolicy } from "./prepare.js";
import { probeRelaxedDot } from "./relaxed.js";
import { winogradRefusal, winogradWeights } from "./winograd.js";

/** A GEMM's operands resident in linear memory. */
export interface GemmDev {
  /** The host-side operands (its weights are a view of the layer's, not a copy). */
  host: GemmHost;
  w: number;
  bias: number;
  m: number;
  s: number;
  pw: number;
  ps: number;
}

export type ConvGemmPrepared = Omit<ConvGemmHost, "gemms"> & { gemms: GemmDev[] };
export type DepthwisePrepared = Omit<DepthwiseHost, "w" | "bias" | "m" | "s"> & { w: number; bias: number; m: number; s: number; pw: number; ps: number; rf: number; a16: number; qs: number };
export type DensePrepared = Omit<DenseHost, "gemm"> & { gemm: GemmDev };
/** A pool: its geometry and zero points (the OpData's); simdRq 1 when its requant may use the shared-shift SIMD form. */
export type WindowPrepared = { kind: "window"; geo: WindowGeometry; simdRq: number; zx: number; zy: number };

/**
 * A 3×3 stride-1 conv2d prepared for Winograd F(2×2, 3×3) (assembly/winograd.ts; Node's WasmEngine only): the 16
 * positions' transformed weight panels at w (container 8 or 16, K = C padded to Kp), zbias (Np zeros), and the
 * layer's own per-channel parameters (bias not zero-folded: the kernel subtracts z_x itself).
 */
export type WinogradPrepared = ConvData & { kind: "winograd"; w: number; container: 8 | 16; Kp: number; Np: number; zbias: number; bias: number; m: number; s: number; pw: number; ps: number };

/** A layer prepared into linear memory: the shared OpData plus what the WASM kernels read. */
export type PreparedLayer = ConvGemmPrepared | DepthwisePrepared | DensePrepared | WinogradPrepared | WindowPrepared | { kind: "elementwise" };

/** Default bytes of patch rows per im2col + GEMM step (EngineOptions.im2colChunkBytes): sized to stay in L2. */
const IM2COL_CHUNK_BYTES = 256 * 1024;

export interface EngineOptions {
  /** "auto" (default): relaxed SIMD when the engine computes it right, else SIMD when it validates it, else scalar (./features.ts). */
  flavor?: WasmFlavor | "auto";
  /** How weights are stored (containers per bit-width). */
  policy?: WeightPolicy;
  /** The relaxed build's accumulation form (default: "i32" where the engine's probe found the fused dot, else "i16"). */
  relaxedForm?: RelaxedForm;
  /** Directory holding nipq-simd.wasm / nipq-scalar.wasm (default: the package's build/). */
  buildDir?: string;
  /** Load the simulator's build (nipq-sim-*.wasm: these kernels plus the sim-only ones, src/sim/chip/fastpath.ts). */
  sim?: boolean;
  /** Linear-memory limit in bytes (default: NIPQ_WASM_MEMORY_MB or 1 GiB). */
  memoryLimit?: number;
  /**
   * Kernels already instantiated by the caller (the edge runtime compiles fetched bytes asynchronously,
   * with no file system); `flavor` and `buildDir` are then ignored. One instance per engine.
   */
  kernels?: { exports: KernelExports; flavor: WasmFlavor };
  /** Bytes of patch rows per im2col + GEMM step of a convolution (default 256 KiB; tests set it small to make many bands). */
  im2colChunkBytes?: number;
  /**
   * Run the 3×3 stride-1 convolutions the proof admits as Winograd F(2×2, 3×3) (./winograd.ts; default: yes,
   * except on the simulator's build, whose noisy layers need the im2col GEMM's raw accumulators).
   */
  winograd?: boolean;
  /** Bytes of Winograd scratch (V and M of a band of tile rows) per step (default: 512 KiB or the layer's transformed weights' size, the larger; tests set it small). */
  winogradChunkBytes?: number;
}

/**
 * The engine the edge runtime and Node share: one kernel instance the caller instantiated, its arena, the
 * prepared layers and the per-op drivers. Node's WasmEngine (below) adds loading the kernels from build/ and
 * forgetting prepared layers, which the edge runtime's bundle then does not carry.
 */
export class KernelEngine {
  readonly k: KernelExports;
  readonly arena: Arena;
  readonly flavor: WasmFlavor;
  protected prepared = new WeakMap<Layer, PreparedLayer>();
  /** The relaxed GEMM's form on the relaxed build; undefined on the others. */
  readonly relaxedForm?: RelaxedForm;
  /** Whole-program runners hold pointers into the arena: while one exists, prepared layers are never forgotten. */
  pinned = false;
  /** 512 bytes the GEMM kernels keep their accumulator tile in between the K loop and the requant (MR×8 channels, MR ≤ 6; the relaxed GEMM's RMR×8·RNP, RMR·RNP ≤ 16). */
  protected readonly accScratch: number;
  /** Kp·16 bytes where the GEMM decodes one packed panel for tall GEMMs (assembly/gemm.ts, unpackPanel). */
  protected tile = 0;
  protected tileBytes = 0;
  private readonly im2colChunk: number;
  /** Resident bytes of all prepared weights (panels as stored) and of their int32 bias/m/s. */
  weightBytes = 0;
  paramBytes = 0;

  /** Adopts an instance of the kernels (one per engine) and sets up the arena, of at most `memoryLimit` bytes. */
  constructor(
    kernels: { exports: KernelExports; flavor: WasmFlavor },
    memoryLimit: number,
    /** How weights are stored (containers per bit-width). */
    readonly policy: WeightPolicy = DEFAULT_POLICY,
    /** The relaxed build's accumulation form (default: "i32" where the engine's probe found the fused dot, else "i16"). */
    relaxedForm?: RelaxedForm,
    /** Bytes of patch rows per im2col + GEMM step of a convolution. */
    im2colChunkBytes = IM2COL_CHUNK_BYTES,
  ) {
    this.k = kernels.exports;
    this.flavor = kernels.flavor;
    if (this.flavor === "relaxed") this.relaxedForm = relaxedForm ?? (probeRelaxedDot().fused ? "i32" : "i16");
    this.im2colChunk = im2colChunkBytes;
    this.arena = new Arena(this.k.memory, this.k.heap_base(), memoryLimit);
    this.accScratch = this.arena.alloc(512, "the GEMM accumulator scratch");
  }

  /**
   * Lays a GEMM's weights out as its kernel reads them (assembly/pack.ts) and copies its parameters; returns their
   * pointers. `op`: the layer's proven accumulator range, output zero point and clamp, for the fitted requant
   * (without it, as for a bare GEMM, the shared-shift and scalar forms).
   */
  gemmDev(g: GemmHost, what: string, op?: Pick<DenseHost, "acc" | "zy" | "clamp">): GemmDev {
    const a = this.arena;
    const { K, Kp, N, container, relaxedT } = g;
    const weightBytes = (g.Np * Kp * container) / 8;
    const w = a.alloc(weightBytes, what);
    // One panel at a time: its ≤ 8 rows of W as int8 in scratch above the panels (a few KB, not the layer).
    const mark = a.mark();
    const rows = a.alloc(8 * K, what);
    for (let n = 0; n < N; n += 8) {
      const band = g.weights.subarray(n * K, (n + 8) * K);
      a.bytes().set(new Uint8Array(band.buffer, band.byteOffset, band.length), rows);
      const panel = w + n * Kp * (container / 8);
      if (relaxedT) this.k.pack_8c4!(rows, Math.min(8, N - n), K, Kp, panel);
      else this.k.pack_8c2(rows, Math.min(8, N - n), K, Kp, container, panel);
    }
    a.release(mark);
    const params = this.putParams(g, g.Np, what);
    // The fitted requant where it is exact for the layer's accumulator range (assembly/requant.ts requant_fit).
    if (op) this.k.requant_fit?.(params.bias, g.N, g.Np, op.acc.min, op.acc.max, op.zy, op.clamp.lo, op.clamp.hi, g.rqBits);
    this.weightBytes += weightBytes;
    if (container !== 16 && !relaxedT) this.growTile(Kp);
    return { host: g, w, ...params };
  }

  /** The decoded-panel tile, sized to the largest packed GEMM (Kp) prepared so far (a few KB). */
  protected growTile(Kp: number): void {
    if (Kp * 16 > this.tileBytes) {
      this.tileBytes = Kp * 16;
      this.tile = this.arena.alloc(this.tileBytes, "the decoded weight-panel tile");
    }
  }

  /**
   * A layer's per-channel parameters in linear memory as its kernel reads them, padded to Np channels: bias,
   * m, s, pw (Np i32 each) and ps (Np/8 i32) in one block, of which the host copies the N channels' bias, m
   * and s and the kernels write the rest (assembly/requant.ts requant_params); returns their pointers.
   */
  protected putParams(h: ParamsHost, Np: number, what: string, extra = 0) {
    const bytes = 16 * Np + Np / 2 + extra;
    const bias = this.arena.alloc(bytes, what);
    const v = new Int32Array(this.k.memory.buffer, bias, 3 * Np);
    v.set(h.bias);
    v.set(h.m, Np);
    v.set(h.s, 2 * Np);
    this.k.requant_params(bias, h.bias.length, Np, h.rqBits);
    this.paramBytes += bytes;
    return { bias, m: bias + 4 * Np, s: bias + 8 * Np, pw: bias + 12 * Np, ps: bias + 16 * Np };
  }

  /** Prepares a layer once (cached by layer object): geometry, kernel choice, weights in linear memory. */
  prepare(l: Layer, x: TensorSpec): PreparedLayer {
    const hit = this.prepared.get(l);
    if (hit) return hit;
    const what = `the weights of layer ${l.name}`;
    let p: PreparedLayer;
    switch (l.op) {
      case "conv2d": {
        const h = prepareConv(l, x, this.policy, this.relaxedForm);
        // The host arrays replaced by their pointers in linear memory (same keys).
        if (h.kind === "depthwise") {
          // After the block, where the layer's bound proves them exact (assembly/requant.ts): the f64 multipliers at
          // 17·Cp bytes (requant_f64_params) and, for i16 accumulators (a16, the kernel's i16 taps), the i32 ones at 25·Cp.
          const { acc, zy, clamp, Cp } = h;
          const q = this.putParams(h, Cp, what, 12.5 * Cp);
          const a16 = acc.bits <= 16 ? 1 : 0;
          const rf = this.k.requant_f64_params?.(q.bias, h.bias.length, Cp, Math.max(-acc.min, acc.max), zy) ?? 0;
          const qs = (a16 && this.k.requant_i32_params?.(q.bias, h.bias.length, Cp, acc.min, acc.max, zy, clamp.lo, clamp.hi)) || 0;
          p = { ...h, w: this.arena.putI16(h.w, what), ...q, rf, a16, qs };
          this.weightBytes += h.w.byteLength;
        } else p = { ...h, gemms: h.gemms.map((g) => this.gemmDev(g, what, h)) };
        break;
      }
      case "dense": {
        const h = prepareDense(l, x, this.policy, this.relaxedForm);
        p = { ...h, gemm: this.gemmDev(h.gemm, what, h) };
        break;
      }
      case "maxpool":
        p = { kind: "window", geo: poolOp(l, x).geo, simdRq: 0, zx: 0, zy: 0 };
        break;
      case "avgpool":
      case "gap": {
        const { geo, acc, zx, zy } = poolOp(l, x);
        p = { kind: "window", geo, simdRq: sharedShift(l.rq.s, 0, 1, requantBits(acc, zy)) > 0 ? 1 : 0, zx, zy };
        break;
      }
      default:
        p = { kind: "elementwise" };
    }
    this.prepared.set(l, p);
    return p;
  }

  /**
   * One GEMM on i16 rows x [M][lda] (K zero-padded to Kp). The relaxed GEMM first narrows them to u8 rows
   * in transient scratch (its proof, prepare.ts relaxedBlock, keeps them in [0, 127]).
   */
  private gemm(g: GemmDev, x: number, lda: number, M: number, zy: number, lo: number, hi: number, y: number, ldy: number): void {
    const { Kp, N, relaxedT } = g.host;
    if (relaxedT) {
      const mark = this.arena.mark();
      try {
        const xb = this.arena.alloc(M * Kp, "the u8 rows of the relaxed GEMM");
        this.k.narrow_s16_u8!(x, lda, M, Kp, xb, Kp);
        this.k.gemm_u7_8c4_requant!(xb, Kp, M, Kp, g.w, relaxedT, this.accScratch, N, g.bias, g.m, g.s, g.pw, g.ps, zy, lo, hi, y, ldy);
      } finally {
        this.arena.release(mark);
      }
      return;
    }
    this.k.gemm_s16_8c2_requant(x, lda, M, Kp, g.w, g.host.container, this.accScratch, this.tile, N, g.bias, g.m, g.s, g.pw, g.ps, zy, lo, hi, y, ldy);
  }

  /** conv2d over n samples: x, y are i16 NHWC pointers. Scratch is transient. */
  conv2d(l: Conv2DLayer, p: ConvGemmPrepared | DepthwisePrepared, x: number, n: number, y: number): void {
    const k = this.k;
    if (p.kind === "depthwise") {
      const g = p.geo;
      k.dwconv_s16_requant(x, n, ...windowArgs(g), p.w, p.Cp, p.bias, p.m, p.s, p.pw, p.ps, p.zx, p.zy, p.clamp.lo, p.clamp.hi, y, p.rf, p.a16, p.qs > 0 ? p.bias + 25 * p.Cp : 0, p.qs);
      return;
    }
    const h = p;
    const g = h.geo;
    const mark = this.arena.mark();
    try {
      if (h.direct) {
        this.gemm(p.gemms[0], x, g.C, n * g.H * g.W, h.zy, h.clamp.lo, h.clamp.hi, y, h.outC);
        return;
      }
      const rows = g.OH * g.OW;
      const Kp = p.gemms[0].host.Kp;
      const rowBytes = Kp * 2;
      // Each step makes ≤ im2colChunk bytes of patch rows and runs the GEMM on them while they are in
      // cache: a band of `band` output rows of one image when an image's patches exceed it (224×224
      // networks: 3.6 MB at 56×56×64, 3×3), else `chunk` whole images. A band starting at output row oy0
      // is im2col of the same image with the top padding pt − oy0·sh (negative inside the image).
      const band = Math.max(1, Math.min(g.OH, Math.floor(this.im2colChunk / (g.OW * rowBytes))));
      const chunk = band < g.OH ? 1 : Math.max(1, Math.min(n, Math.floor(this.im2colChunk / (rows * rowBytes))));
      const col = this.arena.alloc(chunk * band * g.OW * rowBytes, `the im2col buffer of layer ${l.name}`);
      const xSample = g.H * g.W * g.C * 2;
      for (let gi = 0; gi < h.groups; gi++) {
        const gm = p.gemms[gi];
        for (let b0 = 0; b0 < n; b0 += chunk) {
          const nb = Math.min(chunk, n - b0);
          for (let oy0 = 0; oy0 < g.OH; oy0 += band) {
            const oh = Math.min(band, g.OH - oy0);
            for (let b = 0; b < nb; b++)
              k.im2col_s16(x + (b0 + b) * xSample, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt - oy0 * g.sh, g.pl, oh, g.OW, gi * h.cpg, h.cpg, col + b * oh * g.OW * rowBytes, Kp, h.zx);
            this.gemm(gm, col, Kp, nb * oh * g.OW, h.zy, h.clamp.lo, h.clamp.hi, y + ((b0 * rows + oy0 * g.OW) * h.outC + gi * h.opg) * 2, h.outC);
          }
        }
      }
    } finally {
      this.arena.release(mark);
    }
  }

  /** dense over n samples: x i16 [n][inN], y i16 [n][outN]. */
  dense(l: DenseLayer, p: DensePrepared, x: number, n: number, y: number): void {
    const g = p.gemm;
    const mark = this.arena.mark();
    try {
      let xa = x;
      if (g.host.Kp !== p.inN) {
        // Odd K: copy rows with a zero tail (the k-pair interleave needs even K). im2col over an n×1 "image".
        xa = this.arena.alloc(n * g.host.Kp * 2, `the padded input of layer ${l.name}`);
        this.k.im2col_s16(x, n, 1, p.inN, 1, 1, 1, 1, 0, 0, n, 1, 0, p.inN, xa, g.host.Kp, 0);
      }
      this.gemm(g, xa, g.host.Kp, n, p.zy, p.clamp.lo, p.clamp.hi, y, g.host.N);
    } finally {
      this.arena.release(mark);
    }
  }

  /** Max pool over n samples (i16 NHWC pointers). */
  maxpool(_l: MaxPoolLayer, p: WindowPrepared, x: number, n: number, y: number): void {
    const g = p.geo;
    this.k.maxpool_s16(x, n, ...windowArgs(g), y);
  }

  /** Average pool (window sums, then the layer's requant) over n samples. */
  avgpool(l: AvgPoolLayer, p: WindowPrepared, x: number, n: number, y: number): void {
    const { geo: g, simdRq, zx, zy } = p;
    this.k.avgpool_s16_requant(x, n, ...windowArgs(g), l.rq.m[0], l.rq.s[0], zx, zy, l.rq.lo, l.rq.hi, simdRq, y);
  }

  /** Global average pool (per-channel sums, then the layer's requant) over n samples. */
  gap(l: GlobalAvgPoolLayer, p: WindowPrepared, x: number, n: number, y: number): void {
    const { geo: g, simdRq, zx, zy } = p;
    this.k.gap_s16_requant(x, n, g.H * g.W, g.C, l.rq.m[0], l.rq.s[0], zx, zy, l.rq.lo, l.rq.hi, simdRq, y);
  }

  /** Residual add of `count` elements, int64 exact (assembly/add.ts); a, b: its inputs' tensors. */
  add(l: AddLayer, a: number, b: number, count: number, y: number, as: TensorSpec, bs: TensorSpec): void {
    this.k.add_s16_requant(a, b, count, l.ma, l.mb, l.s, zeroOf(as), zeroOf(bs), zeroOf(l.out), l.lo, l.hi, y);
  }

  /** Runs one non-input, non-flatten layer on pointers (inputs already in linear memory); xs: the inputs' tensors. */
  exec(l: Layer, xs: TensorSpec[], ptrs: number[], n: number, y: number, count: number): void {
    // The prepared kind follows from the op (prepare's switch), so each driver gets its own.
    const p = this.prepare(l, xs[0]) as never;
    if (l.op === "add") return this.add(l, ptrs[0], ptrs[1], count, y, xs[0], xs[1]);
    if (l.op === "input" || l.op === "flatten") throw new Error(`layer ${l.name}: op ${l.op} has no kernel`);
    // conv2d, dense, maxpool, avgpool and gap: the driver of the op's name.
    this[l.op](l as never, p, ptrs[0], n, y);
  }
}

/** Least bytes of Winograd scratch per step by default (EngineOptions.winogradChunkBytes): V and M of a band, in L2. */
const WINOGRAD_CHUNK_BYTES = 512 * 1024;

/**
 * The engine in Node: the kernels loaded from build/ (or the caller's), prepared layers that can be forgotten,
 * and the Winograd convolution for the 3×3 stride-1 layers its proof admits (same integers as the im2col GEMM
 * the edge runtime's KernelEngine runs; kept out of the runtime's bundle, docs/DECISIONS.md "Runtime budget").
 */
export class WasmEngine extends KernelEngine {
  /** Arena mark after the engine's own scratch: what forgetPrepared() releases back to. */
  private readonly baseMark: number;
  /** Whether 3×3 stride-1 convolutions may run as Winograd F(2×2, 3×3) (EngineOptions.winograd and the build has the kernel). */
  readonly winograd: boolean;
  /** EngineOptions.winogradChunkBytes, or undefined: the default budget (see conv2d). */
  private readonly winogradChunk?: number;

  /** Instantiates the kernels (or adopts the caller's instance) and sets up the arena. */
  constructor(o: EngineOptions = {}) {
    super(o.kernels ?? instantiateKernels(o.flavor ?? "auto", o.buildDir, o.sim), o.memoryLimit ?? configuredLimit(), o.policy, o.relaxedForm, o.im2colChunkBytes);
    this.baseMark = this.arena.mark();
    this.winograd = (o.winograd ?? !o.sim) && typeof this.k.winograd_f2x3_s16_requant === "function";
    this.winogradChunk = o.winogradChunkBytes;
  }

  /** As KernelEngine.prepare, but a conv2d the Winograd proof admits (./winograd.ts) is prepared for it. */
  override prepare(l: Layer, x: TensorSpec): PreparedLayer {
    if (this.winograd && l.op === "conv2d" && !this.prepared.has(l)) {
      const p = this.prepareWinograd(l, x);
      if (p) {
        this.prepared.set(l, p);
        return p;
      }
    }
    return super.prepare(l, x);
  }

  /**
   * The Winograd form of a conv2d, or undefined when it must keep the im2col GEMM: refused by the proof, or on
   * the relaxed build a layer its u7 GEMM runs (at ≤ 7-bit activations it does 2× the MACs per instruction).
   */
  private prepareWinograd(l: Conv2DLayer, x: TensorSpec): WinogradPrepared | undefined {
    // The refusals first: a refused layer (every 1×1, depthwise or strided conv) is prepared by prepareConv, which
    // derives its OpData (a pass over the weights) itself.
    if (winogradRefusal(l, x) !== undefined || (this.relaxedForm && relaxedBlock(x, l.weights) > 0)) return undefined;
    const op = convOp(l, x);
    const C = op.geo.C;
    const N = op.outC;
    const { u, max } = winogradWeights(l.weights, N, C);
    const container = max <= 127 ? 8 : 16;
    const Kp = Math.ceil(C / kAlign(container)) * kAlign(container);
    const Np = Math.ceil(N / PANEL_N) * PANEL_N;
    const what = `the Winograd weights of layer ${l.name}`;
    const a = this.arena;
    const bytes = (Np * Kp * container) / 8;
    const w = a.alloc(16 * bytes, what);
    const mark = a.mark();
    const rows = a.alloc(N * C * 2, what);
    for (let xi = 0; xi < 16; xi++) {
      a.i16(rows, N * C).set(u.subarray(xi * N * C, (xi + 1) * N * C));
      this.k.pack_8c2_s16!(rows, N, C, Kp, container, w + xi * bytes);
    }
    a.release(mark);
    this.weightBytes += 16 * bytes;
    if (container !== 16) this.growTile(Kp);
    const params = this.putParams({ bias: l.bias, m: l.rq.m, s: l.rq.s, rqBits: requantBits(op.acc, op.zy) }, Np, what);
    return { ...op, kind: "winograd", w, container, Kp, Np, zbias: a.putI32(new Int32Array(Np), what), ...params };
  }

  /** conv2d: the Winograd kernel for a layer prepared for it, in bands of tile rows (V and M ≤ winogradChunk bytes); else KernelEngine's. */
  override conv2d(l: Conv2DLayer, p: ConvGemmPrepared | DepthwisePrepared | WinogradPrepared, x: number, n: number, y: number): void {
    if (p.kind !== "winograd") return super.conv2d(l, p, x, n, y);
    const g = p.geo;
    const TH = (g.OH + 1) >> 1;
    const TW = (g.OW + 1) >> 1;
    const ldv = Math.ceil(g.C / 8) * 8;
    const perRow = 16 * TW * (ldv * 2 + p.Np * 4);
    // Each band streams all 16 positions' weights once: by default a band may grow to the weights' size
    // (resnet18's 14×14×256 layers: one band of 7 tile rows, 1.2 MB, instead of 4 re-reads of 2 MB of
    // weights; 7×7×512: one band, not 2 of 8 tiles each). Balanced bands, as the GEMM's row blocks.
    const budget = this.winogradChunk ?? Math.max(WINOGRAD_CHUNK_BYTES, 16 * (p.Np * p.Kp * p.container) / 8);
    const rows = n * TH;
    const bands = Math.ceil(rows / Math.max(1, Math.floor(budget / perRow)));
    const band = Math.ceil(rows / bands);
    const a = this.arena;
    const mark = a.mark();
    try {
      const what = `the Winograd scratch of layer ${l.name}`;
      const v = a.alloc(16 * band * TW * ldv * 2, what);
      const mo = a.alloc(16 * band * TW * p.Np * 4, what);
      const patch = a.alloc(16 * ldv * 2, what);
      for (let g0 = 0; g0 < rows; g0 += band)
        this.k.winograd_f2x3_s16_requant!(x, g.H, g.W, g.C, g.pt, g.pl, g.OH, g.OW, p.zx, g0, Math.min(rows, g0 + band), p.w, p.container, p.Kp, p.outC, p.zbias, this.accScratch, this.tile, p.bias, p.m, p.s, p.pw, p.ps, p.zy, p.clamp.lo, p.clamp.hi, v, ldv, mo, patch, y);
    } finally {
      a.release(mark);
    }
  }

  /**
   * Drops every prepared layer and frees their memory (the bump allocator cannot free one layer). The
   * per-layer backend calls this when prepared weights pass `limit` bytes, so a long run over many distinct
   * layers (a test suite, a simulator sweeping layers) does not grow memory without bound. Refused while a
   * WasmProgram (which keeps pointers) uses this engine.
   */
  forgetPrepared(): boolean {
    if (this.pinned) return false;
    this.prepared = new WeakMap();
    this.arena.release(this.baseMark);
    this.tile = 0;
    this.tileBytes = 0;
    this.weightBytes = 0;
    this.paramBytes = 0;
    return true;
  }

  /**
   * Makes the engine what a new one is, for another program, but keeps its grown memory: every prepared layer
   * forgotten, unpinned, and the linear memory above the engine's own scratch zeroed as a new instance's is (the
   * build has no mutable globals or data segments). The caller must own the engine: any program runner on it is
   * void after. The simulator keeps one engine per build from trial to trial this way (src/sim/chip/run.ts): a new
   * instance's memory costs a page fault per 4 KB page when first touched (2–6 µs each here), and a new one made
   * after the last was freed ran its first images ~5% slower (docs/RESULTS.md, session 26); zeroing costs ~1 ms per 30 MB.
   */
  recycle(): void {
    this.pinned = false;
    this.forgetPrepared();
    new Uint8Array(this.k.memory.buffer, this.baseMark).fill(0);
  }
}

/** A window's geometry as the kernels take it: H, W, C, kh, kw, sh, sw, pt, pl, OH, OW. */
function windowArgs(g: WindowGeometry): [number, number, number, number, number, number, number, number, number, number, number] {
  return [g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW];
}
