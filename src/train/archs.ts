// Architectures as QuantGraph skeletons: nodes with shapes, MACs and quantizer slots but no values.
// The trainer (./model.ts) creates variables for them, the checkpoint fills in the values.
//
// Quantizer placement (docs/CHECKPOINT.md §Quantizers): every tensor that a MAC layer, a global average
// pool or an add reads gets exactly one activation quantizer, shared by all its readers. maxPool and
// flatten are quantization-transparent (max commutes with a monotone quantizer, flatten moves nothing),
// so a tensor read through them is quantized at their output. A tensor that can be negative (no ReLU/ReLU6
// after it) gets a signed quantizer. The input image is never quantized by a learned quantizer: it is u8
// with step 1/255, recorded as the fixed quantizer "input".

import { MNIST_CLASSES, MNIST_SHAPE } from "../data/index.js";
import { UsageError } from "../errors.js";
import { MAX_TENSOR_ELEMENTS } from "../limits.js";
import type { Activation } from "../graph/types.js";

export const ARCHS = ["mlp", "cnn-s", "mbv2-s", "resnet20", "resnet18", "mobilenetv2"] as const;
export type ArchName = (typeof ARCHS)[number];

/** Input shape, classes and (MobileNetV2) width multiplier of an architecture; absent fields take the arch's defaults. */
export interface ArchOptions {
  /** [H, W, C] of the u8 input image. */
  input?: readonly number[];
  classes?: number;
  /** MobileNetV2's width multiplier α (Sandler et al. 2018 §3.4); 1 for the others. */
  width?: number;
}

/** The defaults of each architecture: the dataset layout it was designed for. */
export const ARCH_DEFAULTS: Record<ArchName, { input: readonly [number, number, number]; classes: number }> = {
  mlp: { input: MNIST_SHAPE, classes: MNIST_CLASSES },
  "cnn-s": { input: MNIST_SHAPE, classes: MNIST_CLASSES },
  "mbv2-s": { input: MNIST_SHAPE, classes: MNIST_CLASSES },
  resnet20: { input: [32, 32, 3], classes: 10 }, // CIFAR-10
  resnet18: { input: [224, 224, 3], classes: 1000 }, // ImageNet
  mobilenetv2: { input: [224, 224, 3], classes: 1000 }, // ImageNet
};

/** One node of an architecture (values come from training). */
export interface ArchNode {
  op: "input" | "conv2d" | "depthwiseConv2d" | "dense" | "maxPool" | "globalAvgPool" | "flatten" | "add";
  name: string;
  inputs: number[];
  outShape: number[];
  kernel?: [number, number];
  strides?: [number, number];
  padding?: "same" | "valid";
  pool?: [number, number];
  /** conv/depthwise: input and output channels; dense: in/out features. */
  inC?: number;
  outC?: number;
  bn?: boolean;
  bias?: boolean;
  activation?: Activation;
  /** Quantizer id of the input tensor (compute layers, globalAvgPool). */
  inQ?: string;
  /** Quantizer ids of the two inputs (add). */
  addQ?: [string, string];
  /** Weight quantizer id (compute layers). */
  wQ?: string;
  /** MACs per example (compute layers). */
  macs?: number;
  /** Weight element count (compute layers). */
  weightCount?: number;
}

/** A quantizer slot: which tensor or weights it quantizes and whether it is signed. */
export interface ArchQuant {
  id: string;
  kind: "weight" | "activation";
  signed: boolean;
  /** Elements per example (activations) or weight count (weights). */
  features: number;
  /** Fixed quantizers (the input image): {bits, alpha}. */
  fixed?: { bits: number; alpha: number };
}

export interface Arch {
  name: ArchName;
  nodes: ArchNode[];
  quants: ArchQuant[];
}

/** The fixed quantizer of the input image: 8-bit unsigned, α = 1, so step = 1/255. */
export const INPUT_QUANT_ID = "input";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** "same" or "valid" output size (tfjs conventions, DESIGN.md §3). */
function outSize(n: number, k: number, s: number, padding: "same" | "valid"): number {
  return padding === "same" ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
}

class Builder {
  nodes: ArchNode[] = [];
  quants: ArchQuant[] = [];
  private tensorQ = new Map<number, string>();

  constructor(
    readonly name: ArchName,
    input: readonly number[],
    readonly classes: number,
  ) {
    this.nodes.push({ op: "input", name: "input", inputs: [], outShape: [...input] });
    this.quants.push({ id: INPUT_QUANT_ID, kind: "activation", signed: false, features: prod([...input]), fixed: { bits: 8, alpha: 1 } });
    this.tensorQ.set(0, INPUT_QUANT_ID);
  }

  private push(n: ArchNode): number {
    this.nodes.push(n);
    return this.nodes.length - 1;
  }

  /** Can node i's output be negative? */
  private signedOf(i: number): boolean {
    const n = this.nodes[i];
    if (n.op === "input") return false;
    if (n.op === "maxPool" || n.op === "flatten" || n.op === "globalAvgPool") return this.signedOf(n.inputs[0]);
    return !(n.activation === "relu" || n.activation === "relu6");
  }

  /** The activation quantizer of node i's output tensor (created on first use, then shared). */
  actQ(i: number): string {
    const n = this.nodes[i];
    if ((n.op === "flatten" || n.op === "maxPool") && this.resolvesToInput(i)) return INPUT_QUANT_ID;
    let id = this.tensorQ.get(i);
    if (id === undefined) {
      id = `a:${n.name}`;
      this.tensorQ.set(i, id);
      this.quants.push({ id, kind: "activation", signed: this.signedOf(i), features: prod(n.outShape) });
    }
    return id;
  }

  private resolvesToInput(i: number): boolean {
    const n = this.nodes[i];
    if (n.op === "input") return true;
    return (n.op === "flatten" || n.op === "maxPool") && this.resolvesToInput(n.inputs[0]);
  }

  private weightQ(name: string, count: number): string {
    const id = `w:${name}`;
    this.quants.push({ id, kind: "weight", signed: true, features: count });
    return id;
  }

  conv(name: string, x: number, outC: number, k: number, s: number, act: Activation, opts: { bn?: boolean } = {}): number {
    const [h, w, c] = this.nodes[x].outShape;
    const oh = outSize(h, k, s, "same");
    const ow = outSize(w, k, s, "same");
    const weightCount = k * k * c * outC;
    const inQ = this.actQ(x);
    return this.push({
      op: "conv2d", name, inputs: [x], outShape: [oh, ow, outC], kernel: [k, k], strides: [s, s], padding: "same",
      inC: c, outC, bn: opts.bn ?? true, bias: !(opts.bn ?? true), activation: act, inQ, wQ: this.weightQ(name, weightCount),
      macs: oh * ow * outC * k * k * c, weightCount,
    });
  }

  dwconv(name: string, x: number, k: number, s: number, act: Activation): number {
    const [h, w, c] = this.nodes[x].outShape;
    const oh = outSize(h, k, s, "same");
    const ow = outSize(w, k, s, "same");
    const inQ = this.actQ(x);
    return this.push({
      op: "depthwiseConv2d", name, inputs: [x], outShape: [oh, ow, c], kernel: [k, k], strides: [s, s], padding: "same",
      inC: c, outC: c, bn: true, bias: false, activation: act, inQ, wQ: this.weightQ(name, k * k * c),
      macs: oh * ow * c * k * k, weightCount: k * k * c,
    });
  }

  dense(name: string, x: number, out: number, act: Activation, opts: { bn?: boolean } = {}): number {
    const [f] = this.nodes[x].outShape;
    const bn = opts.bn ?? false;
    const inQ = this.actQ(x);
    return this.push({
      op: "dense", name, inputs: [x], outShape: [out], inC: f, outC: out, bn, bias: !bn, activation: act, inQ,
      wQ: this.weightQ(name, f * out), macs: f * out, weightCount: f * out,
    });
  }

  /** Max pool k×k, stride s (2×2/2 "valid" by default). */
  maxPool(name: string, x: number, k = 2, s = 2, padding: "same" | "valid" = "valid"): number {
    const [h, w, c] = this.nodes[x].outShape;
    return this.push({ op: "maxPool", name, inputs: [x], outShape: [outSize(h, k, s, padding), outSize(w, k, s, padding), c], pool: [k, k], strides: [s, s], padding });
  }

  gap(name: string, x: number): number {
    const [, , c] = this.nodes[x].outShape;
    return this.push({ op: "globalAvgPool", name, inputs: [x], outShape: [c], inQ: this.actQ(x) });
  }

  flatten(name: string, x: number): number {
    return this.push({ op: "flatten", name, inputs: [x], outShape: [prod(this.nodes[x].outShape)] });
  }

  add(name: string, a: number, b: number, act: Activation = "none"): number {
    return this.push({ op: "add", name, inputs: [a, b], outShape: [...this.nodes[a].outShape], activation: act, addQ: [this.actQ(a), this.actQ(b)] });
  }

  build(): Arch {
    return { name: this.name, nodes: this.nodes, quants: this.quants };
  }
}

/** mlp: flatten → dense 256 (BN, ReLU) → dense 128 (BN, ReLU) → dense (classes; bias, logits). */
function mlp(b: Builder): Arch {
  let x = b.flatten("flatten", 0);
  x = b.dense("fc1", x, 256, "relu", { bn: true });
  x = b.dense("fc2", x, 128, "relu", { bn: true });
  b.dense("fc3", x, b.classes, "none");
  return b.build();
}

/**
 * cnn-s: conv 3×3 32 → maxpool → conv 3×3 64 → maxpool → conv 3×3 128 → global average pool → dense (classes).
 * Each conv: "same" padding, stride 1, BN, ReLU, no bias.
 */
function cnnS(b: Builder): Arch {
  let x = b.conv("conv1", 0, 32, 3, 1, "relu");
  x = b.maxPool("pool1", x);
  x = b.conv("conv2", x, 64, 3, 1, "relu");
  x = b.maxPool("pool2", x);
  x = b.conv("conv3", x, 128, 3, 1, "relu");
  x = b.gap("gap", x);
  b.dense("fc", x, b.classes, "none");
  return b.build();
}

/**
 * mbv2-s: a small MobileNetV2 (Sandler et al., CVPR 2018) for 28×28: stem conv 3×3/2 16 (BN, ReLU6), four
 * inverted residual blocks (expand 1×1 ×4, BN, ReLU6 → depthwise 3×3, BN, ReLU6 → project 1×1, BN, linear;
 * residual add when shapes match): (24, s1), (24, s1), (32, s2), (32, s1); head conv 1×1 128 (BN, ReLU6),
 * global average pool, dense (classes).
 */
function mbv2S(b: Builder): Arch {
  let x = b.conv("stem", 0, 16, 3, 2, "relu6");
  const blocks: [number, number][] = [[24, 1], [24, 1], [32, 2], [32, 1]];
  blocks.forEach(([c, s], i) => {
    const inC = b.nodes[x].outShape[2];
    let y = b.conv(`b${i + 1}_expand`, x, inC * 4, 1, 1, "relu6");
    y = b.dwconv(`b${i + 1}_dw`, y, 3, s, "relu6");
    y = b.conv(`b${i + 1}_project`, y, c, 1, 1, "none");
    x = s === 1 && inC === c ? b.add(`b${i + 1}_add`, x, y) : y;
  });
  x = b.conv("head", x, 128, 1, 1, "relu6");
  x = b.gap("gap", x);
  b.dense("fc", x, b.classes, "none");
  return b.build();
}

/**
 * The basic residual block of He et al. (CVPR 2016, Fig. 2 left): conv 3×3/s (BN, ReLU) → conv 3×3 (BN,
 * linear), added to the shortcut, then ReLU. The shortcut is the block input when shapes match, else a 1×1/s
 * projection conv with BN (the paper's option B).
 */
function basicBlock(b: Builder, name: string, x: number, outC: number, s: number): number {
  const inC = b.nodes[x].outShape[2];
  let y = b.conv(`${name}_conv1`, x, outC, 3, s, "relu");
  y = b.conv(`${name}_conv2`, y, outC, 3, 1, "none");
  const shortcut = s === 1 && inC === outC ? x : b.conv(`${name}_proj`, x, outC, 1, s, "none");
  return b.add(`${name}_add`, shortcut, y, "relu");
}

/**
 * resnet20: the CIFAR ResNet of He et al. (CVPR 2016 §4.2, n = 3): conv 3×3 16 (BN, ReLU), three stages of
 * three basic blocks with 16, 32, 64 channels (the first block of stages 2 and 3 has stride 2 and a 1×1
 * projection shortcut), global average pool, dense (classes). 0.27 M weights, ~41 M MACs at 32×32×3.
 */
function resnet20(b: Builder): Arch {
  let x = b.conv("conv1", 0, 16, 3, 1, "relu");
  [16, 32, 64].forEach((c, stage) => {
    for (let i = 0; i < 3; i++) x = basicBlock(b, `s${stage + 1}b${i + 1}`, x, c, stage > 0 && i === 0 ? 2 : 1);
  });
  x = b.gap("gap", x);
  b.dense("fc", x, b.classes, "none");
  return b.build();
}

/**
 * resnet18: the ImageNet ResNet-18 of He et al. (CVPR 2016, Table 1): conv 7×7/2 64 (BN, ReLU), max pool
 * 3×3/2 "same", four stages of two basic blocks with 64, 128, 256, 512 channels (stride 2 and a 1×1/2
 * projection at the start of stages 2–4), global average pool, dense (classes). 1.81 G MACs at 224×224×3.
 */
function resnet18(b: Builder): Arch {
  let x = b.conv("conv1", 0, 64, 7, 2, "relu");
  x = b.maxPool("pool1", x, 3, 2, "same");
  [64, 128, 256, 512].forEach((c, stage) => {
    for (let i = 0; i < 2; i++) x = basicBlock(b, `s${stage + 1}b${i + 1}`, x, c, stage > 0 && i === 0 ? 2 : 1);
  });
  x = b.gap("gap", x);
  b.dense("fc", x, b.classes, "none");
  return b.build();
}

/** Channels scaled by a width multiplier, rounded to a multiple of 8 and never below 90% (TF-Slim's `_make_divisible`, used by the MobileNetV2 reference code). */
export function makeDivisible(v: number, divisor = 8): number {
  const r = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return r < 0.9 * v ? r + divisor : r;
}

/**
 * mobilenetv2: MobileNetV2 of Sandler et al. (CVPR 2018, Table 2) with width multiplier α: conv 3×3/2 32α
 * (BN, ReLU6); inverted residual blocks (t, c, n, s) = (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
 * (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1), each expand 1×1 ×t (BN, ReLU6; absent when
 * t = 1) → depthwise 3×3/s (BN, ReLU6) → project 1×1 (BN, linear), with a residual add when stride is 1 and
 * channels match; conv 1×1 1280·max(1, α) (BN, ReLU6); global average pool; dense (classes). At α = 1 and
 * 224×224×3: 3.4 M weights, 300 M MACs.
 */
function mobilenetv2(b: Builder, width: number): Arch {
  let x = b.conv("stem", 0, makeDivisible(32 * width), 3, 2, "relu6");
  const cfg: [number, number, number, number][] = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  let k = 0;
  for (const [t, c, n, s] of cfg) {
    const outC = makeDivisible(c * width);
    for (let i = 0; i < n; i++) {
      const name = `b${++k}`;
      const inC = b.nodes[x].outShape[2];
      const stride = i === 0 ? s : 1;
      let y = t === 1 ? x : b.conv(`${name}_expand`, x, inC * t, 1, 1, "relu6");
      y = b.dwconv(`${name}_dw`, y, 3, stride, "relu6");
      y = b.conv(`${name}_project`, y, outC, 1, 1, "none");
      x = stride === 1 && inC === outC ? b.add(`${name}_add`, x, y) : y;
    }
  }
  x = b.conv("head", x, makeDivisible(1280 * Math.max(1, width)), 1, 1, "relu6");
  x = b.gap("gap", x);
  b.dense("fc", x, b.classes, "none");
  return b.build();
}

/**
 * Builds an architecture by name for an input shape and class count (the arch's defaults when absent, see
 * ARCH_DEFAULTS). An unknown name, a width on an arch without one, or an input too small for the arch's
 * strides is a UsageError.
 */
export function buildArch(name: string, o: ArchOptions = {}): Arch {
  if (!(ARCHS as readonly string[]).includes(name)) throw new UsageError(`--arch: expected one of ${ARCHS.join(", ")}, found ${JSON.stringify(name)}`);
  const arch = name as ArchName;
  const d = ARCH_DEFAULTS[arch];
  const input = o.input ?? d.input;
  if (input.length !== 3 || !input.every((v) => Number.isSafeInteger(v) && v >= 1)) throw new UsageError(`--input: expected H,W,C with positive integers, found ${input.join(",")}`);
  const classes = o.classes ?? d.classes;
  if (!Number.isSafeInteger(classes) || classes < 2) throw new UsageError(`--classes: expected an integer ≥ 2, found ${classes}`);
  const width = o.width ?? 1;
  if (arch !== "mobilenetv2" && width !== 1) throw new UsageError(`--width: only mobilenetv2 has a width multiplier, found ${width} for ${arch}`);
  if (!(width > 0 && width <= 4)) throw new UsageError(`--width: expected a number in (0, 4], found ${width}`);
  const b = new Builder(arch, input, classes);
  const built = arch === "mlp" ? mlp(b) : arch === "cnn-s" ? cnnS(b) : arch === "mbv2-s" ? mbv2S(b) : arch === "resnet20" ? resnet20(b) : arch === "resnet18" ? resnet18(b) : mobilenetv2(b, width);
  const small = built.nodes.find((n) => n.outShape.some((v) => v < 1));
  if (small) throw new UsageError(`--input: ${input.join("×")} is too small for ${arch}: layer ${small.name} would have output ${small.outShape.join("×")}`);
  // The integer program's limits (src/ir/validate.ts), checked before the float network allocates anything.
  const elements = (n: ArchNode) => n.outShape.reduce((x, y) => x * y, 1);
  const big = built.nodes.find((n) => n.outShape.some((v) => v > 1 << 20) || elements(n) > MAX_TENSOR_ELEMENTS || (n.weightCount ?? 0) > MAX_TENSOR_ELEMENTS);
  if (big)
    throw new UsageError(
      `--input ${input.join(",")} --classes ${classes}: too large for ${arch}: layer ${big.name} would have output ${big.outShape.join("×")} and ${big.weightCount ?? 0} weights, ` +
        `expected at most ${MAX_TENSOR_ELEMENTS} (2^26) elements per tensor and ${1 << 20} per dimension`,
    );
  return built;
}

/** Per-layer bits of a MAC layer: its weight bits and its own input-activation bits. */
export interface LayerBits {
  layer: string;
  w: number;
  a: number;
  macs: number;
}

/**
 * BOPs = Σ over MAC layers of MACs·b_w·b_a, with b_a the bits of that layer's own input quantizer
 * (the official NIPQ code's loss uses 32 for every b_a; the intended quantity is this one).
 * `bitsOf(id)` gives a quantizer's bits (32 for float models).
 */
export function layerBits(arch: Arch, bitsOf: (quantId: string) => number): LayerBits[] {
  return arch.nodes
    .filter((n) => n.op === "conv2d" || n.op === "depthwiseConv2d" || n.op === "dense")
    .map((n) => ({ layer: n.name, w: bitsOf(n.wQ!), a: bitsOf(n.inQ!), macs: n.macs! }));
}

/** Σ MACs·b_w·b_a (see layerBits). */
export function bops(layers: LayerBits[]): number {
  return layers.reduce((s, l) => s + l.macs * l.w * l.a, 0);
}

/** Total MACs per example. */
export function totalMacs(arch: Arch): number {
  return arch.nodes.reduce((s, n) => s + (n.macs ?? 0), 0);
}
