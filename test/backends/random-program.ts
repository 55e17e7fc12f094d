// A generator of random valid integer programs through every op (conv2d incl. strided, grouped and
// depthwise; maxpool; avgpool; residual add; gap or flatten; dense), for whole-program bit-exactness
// across backends. Every program passes validateProgram (shapes, ranges, the int32 accumulator proof).

import { dyadic } from "../../src/lower/dyadic.js";
import { validateProgram } from "../../src/ir/validate.js";
import { outDim, sizeOf, tensorRange, type Layer, type Padding, type Program, type TensorSpec } from "../../src/ir/types.js";
import { Rng } from "./rand.js";

/** A random valid program with input [H, W, C] u8 and 16-bit logits; deterministic in `seed`. */
export function randomProgram(seed: number): Program {
  const rng = new Rng(seed);
  const layers: Layer[] = [];
  const H0 = rng.int(5, 14), W0 = rng.int(5, 14), C0 = rng.int(1, 3);
  layers.push({ op: "input", name: "input", inputs: [], out: { shape: [H0, W0, C0], bits: 8, signed: false, scale: 1 / 255 } });
  const spec = (i: number) => layers[i].out;
  const newAct = (shape: number[]): TensorSpec => {
    const signed = rng.next() < 0.25;
    return { shape, bits: rng.int(2, 8), signed, scale: 0.01 + rng.next() };
  };
  /** (m, s) arrays for `ch` channels mapping typical accumulators onto the output range. */
  const rq = (ch: number, typical: number, out: TensorSpec) => {
    const r = tensorRange(out);
    const m = new Int32Array(ch), s = new Int32Array(ch);
    for (let c = 0; c < ch; c++) {
      const d = dyadic(Math.min(2 ** 20, Math.max(2 ** -30, (r.hi / Math.max(1, typical)) * 2 ** (rng.next() * 2 - 1))));
      m[c] = d.m;
      s[c] = d.s;
    }
    const lo = r.lo;
    const hi = rng.next() < 0.2 ? Math.max(lo, Math.floor(r.hi * 0.7)) : r.hi;
    return { m, s, lo, hi };
  };
  const weightLayerTypical = (K: number, x: TensorSpec, wBits: number) => Math.sqrt(K) * tensorRange(x).hi * (2 ** (wBits - 1) - 1) * 0.6;

  const conv = (from: number, opts: { outC?: number; k?: number; stride?: number; padding?: Padding; depthwise?: boolean } = {}): number => {
    const [H, W, C] = spec(from).shape;
    const padding = opts.padding ?? rng.pick<Padding>(["same", "valid"]);
    let kh = opts.k ?? rng.int(1, 3), kw = opts.k ?? rng.int(1, 3);
    if (padding === "valid") {
      kh = Math.min(kh, H);
      kw = Math.min(kw, W);
    }
    const stride = opts.stride ?? (Math.min(H, W) >= 6 && rng.next() < 0.3 ? 2 : 1);
    let groups = 1, outC = opts.outC ?? rng.int(1, 20);
    if (opts.depthwise) {
      groups = C;
      outC = C * (rng.next() < 0.2 ? 2 : 1);
    } else if (opts.outC === undefined && C % 2 === 0 && rng.next() < 0.2) {
      groups = 2;
      outC = 2 * rng.int(1, 6);
    }
    const wBits = rng.int(2, 8);
    const K = kh * kw * (C / groups);
    const out = newAct([outDim(H, kh, stride, padding), outDim(W, kw, stride, padding), outC]);
    const typical = weightLayerTypical(K, spec(from), wBits);
    layers.push({
      op: "conv2d", name: `conv${layers.length}`, inputs: [from], out, kernel: [kh, kw], stride: [stride, stride], padding, groups, wBits,
      weights: rng.weights(outC * K, wBits), wScale: new Float64Array(outC).fill(0.02), bias: rng.ints(outC, -Math.round(typical), Math.round(typical)),
      rq: rq(outC, typical, out),
    });
    return layers.length - 1;
  };

  let cur = 0;
  const blocks = rng.int(2, 6);
  for (let b = 0; b < blocks; b++) {
    const [H, W, C] = spec(cur).shape;
    const r = rng.next();
    if (r < 0.35) cur = conv(cur);
    else if (r < 0.5) cur = conv(cur, { depthwise: true });
    else if (r < 0.62 && H >= 2 && W >= 2) {
      const padding = rng.pick<Padding>(["same", "valid"]);
      const k = rng.int(2, 3), st = rng.int(1, 2);
      const kh = padding === "valid" ? Math.min(k, H) : k, kw = padding === "valid" ? Math.min(k, W) : k;
      layers.push({ op: "maxpool", name: `maxpool${layers.length}`, inputs: [cur], out: { ...spec(cur), shape: [outDim(H, kh, st, padding), outDim(W, kw, st, padding), C] }, kernel: [kh, kw], stride: [st, st], padding });
      cur = layers.length - 1;
    } else if (r < 0.72 && H >= 2 && W >= 2) {
      const kh = Math.min(2, H), kw = Math.min(rng.int(1, 3), W), st = rng.int(1, 2);
      const out = newAct([outDim(H, kh, st, "valid"), outDim(W, kw, st, "valid"), C]);
      layers.push({ op: "avgpool", name: `avgpool${layers.length}`, inputs: [cur], out, kernel: [kh, kw], stride: [st, st], padding: "valid", rq: rq(1, kh * kw * tensorRange(spec(cur)).hi * 0.5, out) });
      cur = layers.length - 1;
    } else {
      // Residual block: y = add(x, conv_same_stride1(x)), both inputs of one shape.
      const branch = conv(cur, { outC: C, stride: 1, padding: "same" });
      const out = newAct([H, W, C]);
      const r2 = tensorRange(out);
      const s = rng.int(28, 34);
      const mOf = (x: TensorSpec) => Math.min(2 ** 31 - 1, Math.round((2 ** s * r2.hi) / Math.max(1, tensorRange(x).hi) / 2 * (0.5 + rng.next())));
      layers.push({ op: "add", name: `add${layers.length}`, inputs: [cur, branch], out, ma: mOf(spec(cur)), mb: mOf(spec(branch)), s, lo: r2.lo, hi: r2.hi });
      cur = layers.length - 1;
    }
  }
  const [H, W, C] = spec(cur).shape;
  if (rng.next() < 0.5) {
    const out = newAct([C]);
    layers.push({ op: "gap", name: "gap", inputs: [cur], out, rq: rq(1, H * W * tensorRange(spec(cur)).hi * 0.5, out) });
  } else {
    layers.push({ op: "flatten", name: "flatten", inputs: [cur], out: { ...spec(cur), shape: [H * W * C] } });
  }
  cur = layers.length - 1;
  const dense = (outN: number, out: TensorSpec) => {
    const inN = sizeOf(spec(cur).shape);
    const wBits = rng.int(2, 8);
    const typical = weightLayerTypical(inN, spec(cur), wBits);
    layers.push({
      op: "dense", name: `dense${layers.length}`, inputs: [cur], out, wBits, weights: rng.weights(outN * inN, wBits),
      wScale: new Float64Array(outN).fill(0.02), bias: rng.ints(outN, -Math.round(typical), Math.round(typical)), rq: rq(outN, typical, out),
    });
    cur = layers.length - 1;
  };
  if (rng.next() < 0.4) {
    const hid = rng.int(1, 40);
    dense(hid, newAct([hid]));
  }
  const classes = rng.int(2, 12);
  dense(classes, { shape: [classes], bits: 16, signed: true, scale: 0.01 });
  const p: Program = { name: `random-${seed}`, producer: "test/backends/random-program.ts", layers };
  validateProgram(p, `random-${seed}`);
  return p;
}

/** n random u8 images for a program's input layer. */
export function randomImages(p: Program, n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const size = n * sizeOf(p.layers[0].out.shape);
  const a = new Uint8Array(size);
  for (let i = 0; i < size; i++) a[i] = rng.edgy(0, 255);
  return a;
}
