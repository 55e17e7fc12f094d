// A generator of random valid integer programs through every op (conv2d incl. strided, grouped and
// depthwise; maxpool; avgpool; residual add; gap or flatten; dense), for whole-program bit-exactness
// across backends. Every program passes validateProgram (shapes, ranges, the int32 accumulator proof).
// With `format2`, the programs also use every format-2 feature (DESIGN.md §3 "Imported models"): zero
// points (often at the ends of the range), full-range signed tensors, full-range weights with −2^(b−1), an
// input lookup table, explicit pads on conv, max and average pools, and the requantizing add (mb = 0).

import { dyadic } from "../../src/lower/dyadic.js";
import { validateProgram } from "../../src/ir/validate.js";
import { sizeOf, tensorRange, windowGeometry, type Layer, type LayerPadding, type Padding, type Pads, type Program, type TensorSpec } from "../../src/ir/types.js";
import { Rng } from "./rand.js";

/** Width of a tensor's integer range: x − z spans at most this much (all of it when z is at an end). */
function span(t: TensorSpec): number {
  const r = tensorRange(t);
  return r.hi - r.lo;
}

/** A random valid program with input [H, W, C] u8 and 16-bit logits; deterministic in `seed`. */
export function randomProgram(seed: number, o: { format2?: boolean } = {}): Program {
  const rng = new Rng(seed);
  const f2 = o.format2 === true;
  const layers: Layer[] = [];
  const H0 = rng.int(5, 14), W0 = rng.int(5, 14), C0 = rng.int(1, 3);
  const spec = (i: number) => layers[i].out;
  const newAct = (shape: number[]): TensorSpec => {
    const signed = rng.next() < (f2 ? 0.4 : 0.25);
    const t: TensorSpec = { shape, bits: rng.int(2, 8), signed, scale: 0.01 + rng.next() };
    if (f2 && signed && rng.next() < 0.5) t.fullRange = true;
    if (f2 && rng.next() < 0.7) {
      const r = tensorRange(t);
      t.zero = rng.edgy(r.lo, r.hi);
    }
    return t;
  };
  if (f2 && rng.next() < 0.8) {
    const out = newAct([H0, W0, C0]);
    const r = tensorRange(out);
    const lut = new Int16Array(C0 * 256);
    for (let i = 0; i < lut.length; i++) lut[i] = rng.edgy(r.lo, r.hi);
    layers.push({ op: "input", name: "input", inputs: [], out, lut });
  } else layers.push({ op: "input", name: "input", inputs: [], out: { shape: [H0, W0, C0], bits: 8, signed: false, scale: 1 / 255 } });
  /** A padding mode: same or valid, in format 2 also explicit pads (drawn once the window is known). */
  const padMode = (allowSame = true): Padding | "pads" => rng.pick<Padding | "pads">(f2 ? (allowSame ? ["same", "valid", "pads", "pads"] : ["valid", "pads"]) : ["same", "valid"]);
  /** The padding of a kh × kw window on H × W for a mode: explicit pads are each in [0, k − 1]. */
  const padOf = (mode: Padding | "pads", kh: number, kw: number): LayerPadding =>
    mode === "pads" ? ([rng.int(0, kh - 1), rng.int(0, kw - 1), rng.int(0, kh - 1), rng.int(0, kw - 1)] as Pads) : mode;
  const outHW = (H: number, W: number, k: [number, number], st: number, padding: LayerPadding): [number, number] => {
    const g = windowGeometry([H, W, 1], k, [st, st], padding);
    return [g.OH, g.OW];
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
  const weightLayerTypical = (K: number, x: TensorSpec, wBits: number) => Math.sqrt(K) * (f2 ? span(x) : tensorRange(x).hi) * (2 ** (wBits - 1) - 1) * 0.6;
  /** Weights of a layer: narrow, or in format 2 sometimes full range (−2^(b−1) among the edge values). */
  const weightsOf = (n: number, wBits: number): { weights: Int8Array; wFullRange?: boolean } => {
    if (!f2 || rng.next() < 0.5) return { weights: rng.weights(n, wBits) };
    const w = new Int8Array(n);
    for (let i = 0; i < n; i++) w[i] = rng.edgy(-(2 ** (wBits - 1)), 2 ** (wBits - 1) - 1);
    return { weights: w, wFullRange: true };
  };

  const conv = (from: number, opts: { outC?: number; k?: number; stride?: number; padding?: Padding; depthwise?: boolean } = {}): number => {
    const [H, W, C] = spec(from).shape;
    const mode = opts.padding ?? padMode();
    let kh = opts.k ?? rng.int(1, 3), kw = opts.k ?? rng.int(1, 3);
    if (mode !== "same") {
      kh = Math.min(kh, H);
      kw = Math.min(kw, W);
    }
    const padding = padOf(mode, kh, kw);
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
    const out = newAct([...outHW(H, W, [kh, kw], stride, padding), outC]);
    const typical = weightLayerTypical(K, spec(from), wBits);
    layers.push({
      op: "conv2d", name: `conv${layers.length}`, inputs: [from], out, kernel: [kh, kw], stride: [stride, stride], padding, groups, wBits,
      ...weightsOf(outC * K, wBits), wScale: new Float64Array(outC).fill(0.02), bias: rng.ints(outC, -Math.round(typical), Math.round(typical)),
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
      const mode = padMode();
      const k = rng.int(2, 3), st = rng.int(1, 2);
      const kh = mode !== "same" ? Math.min(k, H) : k, kw = mode !== "same" ? Math.min(k, W) : k;
      const padding = padOf(mode, kh, kw);
      layers.push({ op: "maxpool", name: `maxpool${layers.length}`, inputs: [cur], out: { ...spec(cur), shape: [...outHW(H, W, [kh, kw], st, padding), C] }, kernel: [kh, kw], stride: [st, st], padding });
      cur = layers.length - 1;
    } else if (r < 0.72 && H >= 2 && W >= 2) {
      const kh = Math.min(2, H), kw = Math.min(rng.int(1, 3), W), st = rng.int(1, 2);
      const padding = (f2 ? padOf(padMode(false), kh, kw) : "valid") as "valid" | Pads;
      const out = newAct([...outHW(H, W, [kh, kw], st, padding), C]);
      layers.push({ op: "avgpool", name: `avgpool${layers.length}`, inputs: [cur], out, kernel: [kh, kw], stride: [st, st], padding, rq: rq(1, kh * kw * (f2 ? span(spec(cur)) : tensorRange(spec(cur)).hi) * 0.5, out) });
      cur = layers.length - 1;
    } else if (f2 && r < 0.8) {
      // A requantization: the add of a tensor with itself, weight 0 on the second input.
      const out = newAct([H, W, C]);
      const s = rng.int(20, 40);
      const ma = Math.min(2 ** 31 - 1, Math.round(((2 ** s * span(out)) / span(spec(cur))) * (0.3 + rng.next())));
      const rr = tensorRange(out);
      layers.push({ op: "add", name: `requant${layers.length}`, inputs: [cur, cur], out, ma, mb: 0, s, lo: rr.lo, hi: rr.hi });
      cur = layers.length - 1;
    } else {
      // Residual block: y = add(x, conv_same_stride1(x)), both inputs of one shape.
      const branch = conv(cur, { outC: C, stride: 1, padding: "same" });
      const out = newAct([H, W, C]);
      const r2 = tensorRange(out);
      const s = rng.int(28, 34);
      const mOf = (x: TensorSpec) => Math.min(2 ** 31 - 1, Math.round((2 ** s * (f2 ? span(out) : r2.hi)) / (f2 ? span(x) : tensorRange(x).hi) / 2 * (0.5 + rng.next())));
      layers.push({ op: "add", name: `add${layers.length}`, inputs: [cur, branch], out, ma: mOf(spec(cur)), mb: mOf(spec(branch)), s, lo: r2.lo, hi: r2.hi });
      cur = layers.length - 1;
    }
  }
  const [H, W, C] = spec(cur).shape;
  if (rng.next() < 0.5) {
    const out = newAct([C]);
    layers.push({ op: "gap", name: "gap", inputs: [cur], out, rq: rq(1, H * W * (f2 ? span(spec(cur)) : tensorRange(spec(cur)).hi) * 0.5, out) });
  } else {
    layers.push({ op: "flatten", name: "flatten", inputs: [cur], out: { ...spec(cur), shape: [H * W * C] } });
  }
  cur = layers.length - 1;
  const dense = (outN: number, out: TensorSpec) => {
    const inN = sizeOf(spec(cur).shape);
    const wBits = rng.int(2, 8);
    const typical = weightLayerTypical(inN, spec(cur), wBits);
    layers.push({
      op: "dense", name: `dense${layers.length}`, inputs: [cur], out, wBits, ...weightsOf(outN * inN, wBits),
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
  const p: Program = { name: `random-${f2 ? "f2-" : ""}${seed}`, producer: "test/backends/random-program.ts", layers };
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
