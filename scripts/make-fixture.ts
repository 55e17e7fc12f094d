// Builds the random-weight cnn-s fixture directly in the IR and writes test/fixtures/cnn-s-w4a4-random.qmodel.
// cnn-s: conv 3×3 32/64/128 (same padding, ReLU as the unsigned 4-bit clamp), 2×2 max pools after the
// first two convs, global average pool, dense 10 to s16 logits. W4A4, seeded: the file is deterministic.
//
//   npx tsx scripts/make-fixture.ts [OUT]

import { writeQModel } from "../src/ir/io.js";
import { dyadic } from "../src/lower/dyadic.js";
import { mulberry32 } from "../src/rng.js";
import type { Conv2DLayer, DenseLayer, Layer, Program, TensorSpec } from "../src/ir/types.js";

const rand = mulberry32(20261128);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const W_BITS = 4;
const A_BITS = 4;
const W_MAX = 2 ** (W_BITS - 1) - 1; // 7
const A_MAX = 2 ** A_BITS - 1; // 15
/** E[w²] of integers uniform in [−7, 7]: 2·(1² + … + 7²)/15 = 280/15. */
const EW2 = 280 / 15;

function act(shape: number[], scale: number): TensorSpec {
  return { shape, bits: A_BITS, signed: false, scale };
}

/**
 * Per output channel: random weights, a real step wScale, and a requant multiplier chosen so that an
 * accumulator of ~2.5 standard deviations (σ ≈ sqrt(K·E[w²]·E[x²])) maps to the top of the output range.
 */
function weights(outC: number, k: number, inScale: number, ex2: number, outHi: number) {
  const w = Int8Array.from({ length: outC * k }, () => int(-W_MAX, W_MAX));
  const wScale = Float64Array.from({ length: outC }, () => 0.02 + 0.06 * rand());
  const sigma = Math.sqrt(k * EW2 * ex2);
  const outScale = (2.5 * sigma * inScale * 0.04) / outHi; // one output scale for the tensor
  const m = new Int32Array(outC);
  const s = new Int32Array(outC);
  for (let c = 0; c < outC; c++) {
    const d = dyadic((inScale * wScale[c]) / outScale);
    m[c] = d.m;
    s[c] = d.s;
  }
  const bias = Int32Array.from({ length: outC }, () => int(-Math.round(sigma / 4), Math.round(sigma / 4)));
  return { w, wScale, m, s, bias, outScale };
}

function conv(name: string, input: number, inShape: number[], inScale: number, ex2: number, outC: number): Conv2DLayer {
  const [H, W, C] = inShape;
  const p = weights(outC, 9 * C, inScale, ex2, A_MAX);
  return { op: "conv2d", name, inputs: [input], out: act([H, W, outC], p.outScale), kernel: [3, 3], stride: [1, 1], padding: "same", groups: 1, wBits: W_BITS, weights: p.w, wScale: p.wScale, bias: p.bias, rq: { m: p.m, s: p.s, lo: 0, hi: A_MAX } };
}

export function buildCnnS(): Program {
  const layers: Layer[] = [];
  const push = <L extends Layer>(l: L): L => (layers.push(l), l);
  const input = push({ op: "input", name: "input", inputs: [], out: { shape: [28, 28, 1], bits: 8, signed: false, scale: 1 / 255 } });
  // E[x²] of MNIST pixels ≈ 0.1·255²; of 4-bit ReLU outputs spread over the range ≈ 30.
  const c1 = push(conv("conv1", 0, input.out.shape, input.out.scale, 0.1 * 255 * 255, 32));
  const p1 = push({ op: "maxpool", name: "pool1", inputs: [1], out: { ...c1.out, shape: [14, 14, 32] }, kernel: [2, 2], stride: [2, 2], padding: "valid" });
  const c2 = push(conv("conv2", 2, p1.out.shape, p1.out.scale, 30, 64));
  const p2 = push({ op: "maxpool", name: "pool2", inputs: [3], out: { ...c2.out, shape: [7, 7, 64] }, kernel: [2, 2], stride: [2, 2], padding: "valid" });
  const c3 = push(conv("conv3", 4, p2.out.shape, p2.out.scale, 30, 128));
  // Global average pool: multiplier s_x/(H·W·s_y) with s_y = s_x (same scale, 4 bits).
  const g = dyadic(1 / 49);
  push({ op: "gap", name: "gap", inputs: [5], out: act([128], c3.out.scale), rq: { m: Int32Array.of(g.m), s: Int32Array.of(g.s), lo: 0, hi: A_MAX } });
  const d = weights(10, 128, c3.out.scale, 30, 4000);
  const dense: DenseLayer = { op: "dense", name: "dense", inputs: [6], out: { shape: [10], bits: 16, signed: true, scale: d.outScale }, wBits: W_BITS, weights: d.w, wScale: d.wScale, bias: d.bias, rq: { m: d.m, s: d.s, lo: -32767, hi: 32767 } };
  push(dense);
  return { name: "cnn-s-w4a4-random", producer: "scripts/make-fixture.ts (random weights, seed 20261128)", layers };
}

const out = process.argv[2] ?? "test/fixtures/cnn-s-w4a4-random.qmodel";
writeQModel(out, buildCnnS());
console.log(`wrote ${out}`);
