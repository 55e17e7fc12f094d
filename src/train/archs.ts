// Architectures as QuantGraph skeletons: nodes with shapes, MACs and quantizer slots but no values.
// The trainer (./model.ts) creates variables for them, the checkpoint fills in the values.
//
// Quantizer placement (docs/CHECKPOINT.md §Quantizers): every tensor that a MAC layer, a global average
// pool or an add reads gets exactly one activation quantizer, shared by all its readers. maxPool and
// flatten are quantization-transparent (max commutes with a monotone quantizer, flatten moves nothing),
// so a tensor read through them is quantized at their output. A tensor that can be negative (no ReLU/ReLU6
// after it) gets a signed quantizer. The input image is never quantized by a learned quantizer: it is u8
// with step 1/255, recorded as the fixed quantizer "input".

import { MNIST_CLASSES, MNIST_PIXELS, MNIST_SHAPE } from "../data/index.js";
import { UsageError } from "../errors.js";
import type { Activation } from "../graph/types.js";

export const ARCHS = ["mlp", "cnn-s", "mbv2-s"] as const;
export type ArchName = (typeof ARCHS)[number];

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

  constructor(readonly name: ArchName) {
    this.nodes.push({ op: "input", name: "input", inputs: [], outShape: [...MNIST_SHAPE] });
    this.quants.push({ id: INPUT_QUANT_ID, kind: "activation", signed: false, features: MNIST_PIXELS, fixed: { bits: 8, alpha: 1 } });
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

  maxPool(name: string, x: number): number {
    const [h, w, c] = this.nodes[x].outShape;
    return this.push({ op: "maxPool", name, inputs: [x], outShape: [Math.floor(h / 2), Math.floor(w / 2), c], pool: [2, 2], strides: [2, 2], padding: "valid" });
  }

  gap(name: string, x: number): number {
    const [, , c] = this.nodes[x].outShape;
    return this.push({ op: "globalAvgPool", name, inputs: [x], outShape: [c], inQ: this.actQ(x) });
  }

  flatten(name: string, x: number): number {
    return this.push({ op: "flatten", name, inputs: [x], outShape: [prod(this.nodes[x].outShape)] });
  }

  add(name: string, a: number, b: number): number {
    return this.push({ op: "add", name, inputs: [a, b], outShape: [...this.nodes[a].outShape], activation: "none", addQ: [this.actQ(a), this.actQ(b)] });
  }

  build(): Arch {
    return { name: this.name, nodes: this.nodes, quants: this.quants };
  }
}

/** mlp: flatten 784 → dense 256 (BN, ReLU) → dense 128 (BN, ReLU) → dense 10 (bias, logits). */
function mlp(): Arch {
  const b = new Builder("mlp");
  let x = b.flatten("flatten", 0);
  x = b.dense("fc1", x, 256, "relu", { bn: true });
  x = b.dense("fc2", x, 128, "relu", { bn: true });
  b.dense("fc3", x, MNIST_CLASSES, "none");
  return b.build();
}

/**
 * cnn-s: conv 3×3 32 → maxpool → conv 3×3 64 → maxpool → conv 3×3 128 → global average pool → dense 10.
 * Each conv: "same" padding, stride 1, BN, ReLU, no bias.
 */
function cnnS(): Arch {
  const b = new Builder("cnn-s");
  let x = b.conv("conv1", 0, 32, 3, 1, "relu");
  x = b.maxPool("pool1", x);
  x = b.conv("conv2", x, 64, 3, 1, "relu");
  x = b.maxPool("pool2", x);
  x = b.conv("conv3", x, 128, 3, 1, "relu");
  x = b.gap("gap", x);
  b.dense("fc", x, MNIST_CLASSES, "none");
  return b.build();
}

/**
 * mbv2-s: a small MobileNetV2 (Sandler et al., CVPR 2018) for 28×28: stem conv 3×3/2 16 (BN, ReLU6), four
 * inverted residual blocks (expand 1×1 ×4, BN, ReLU6 → depthwise 3×3, BN, ReLU6 → project 1×1, BN, linear;
 * residual add when shapes match): (24, s1), (24, s1), (32, s2), (32, s1); head conv 1×1 128 (BN, ReLU6),
 * global average pool, dense 10.
 */
function mbv2S(): Arch {
  const b = new Builder("mbv2-s");
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
  b.dense("fc", x, MNIST_CLASSES, "none");
  return b.build();
}

/** Builds an architecture by name; an unknown name is a UsageError listing the known ones. */
export function buildArch(name: string): Arch {
  switch (name) {
    case "mlp":
      return mlp();
    case "cnn-s":
      return cnnS();
    case "mbv2-s":
      return mbv2S();
    default:
      throw new UsageError(`--arch: expected one of ${ARCHS.join(", ")}, found ${JSON.stringify(name)}`);
  }
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
