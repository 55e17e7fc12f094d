// Validation of an integer program: every field, every shape along the graph, every integer in range, and
// the accumulator proof. The .qmodel reader runs it on what it decodes; writers run it before writing, so
// no invalid program ever reaches a file or a kernel. Errors are QModelFormatError values naming the field.

import { QModelFormatError, describeValue } from "../errors.js";
import { MAX_LAYERS, MAX_TENSOR_ELEMENTS } from "../limits.js";
import { accumulatorBound } from "./accbound.js";
import { sizeOf, tensorRange, weightRange, windowGeometry, type Layer, type LayerPadding, type Program, type Requant, type TensorSpec, type WeightLayer } from "./types.js";

export const M_MIN = 2 ** 30; // 1073741824
export const M_MAX = 2 ** 31 - 1; // 2147483647
export const S_MIN = 1;
export const S_MAX = 62;
export const INT32_MAX = 2 ** 31 - 1;

/** Fails with a QModelFormatError naming the file and the field; `found` is described (or, prefixed with §, quoted as is). */
export class Checker {
  constructor(readonly file: string) {}
  fail(field: string, expected: string, found: unknown): never {
    throw new QModelFormatError(this.file, field, expected, typeof found === "string" && found.startsWith("§") ? found.slice(1) : describeValue(found));
  }
  // Number.isInteger and Number.isFinite are false for anything but a number.
  /** `v` must be an integer in [lo, hi]; `note` follows the range in the message (" (the input tensor's range)"). */
  int(field: string, v: unknown, lo: number, hi: number, note = ""): number {
    if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) this.fail(field, `an integer in [${lo}, ${hi}]${note}`, v);
    return v as number;
  }
  positive(field: string, v: unknown): number {
    if (!Number.isFinite(v) || (v as number) <= 0) this.fail(field, "a finite number > 0", v);
    return v as number;
  }
  eq(field: string, found: unknown, expected: unknown, what = String(expected)): void {
    if (found !== expected) this.fail(field, what, found);
  }
  /** `v` must be a T of n elements; `what` names them after the count ("int8 values"). */
  typed(field: string, v: unknown, T: new (n: number) => ArrayLike<number>, n: number, what: string): void {
    if (!(v instanceof T) || (v as ArrayLike<number>).length !== n) this.fail(field, `${n} ${what}`, v);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

function checkTensor(c: Checker, f: string, t: TensorSpec, isOutput: boolean): void {
  if (!Array.isArray(t.shape) || (t.shape.length !== 1 && t.shape.length !== 3)) c.fail(`${f}.shape`, "a shape [H, W, C] or [N]", t.shape);
  t.shape.forEach((d, i) => c.int(`${f}.shape[${i}]`, d, 1, 1 << 20));
  if (sizeOf(t.shape) > MAX_TENSOR_ELEMENTS) c.fail(`${f}.shape`, "at most 2^26 elements per sample", `§${shapeStr(t.shape)}`);
  if (isOutput && t.shape.length !== 1) c.fail(`${f}.shape`, "[classes] (the logits are 1-D)", `§${shapeStr(t.shape)}`);
  if (isOutput) c.eq(`${f}.bits`, t.bits, 16, "16 (the logits are signed 16-bit)");
  else c.int(`${f}.bits`, t.bits, 2, 8);
  if (typeof t.signed !== "boolean") c.fail(`${f}.signed`, "true or false", t.signed);
  if (isOutput && !t.signed) c.fail(`${f}.signed`, "true (the logits are signed 16-bit)", t.signed);
  c.positive(`${f}.scale`, t.scale);
  checkFlag(c, `${f}.fullRange`, t.fullRange);
  if (t.fullRange && !t.signed) c.fail(`${f}.fullRange`, "false (only a signed tensor can be full range)", t.fullRange);
  if (isOutput && t.fullRange) c.fail(`${f}.fullRange`, "false (the logits are narrow signed 16-bit)", t.fullRange);
  if (t.zero !== undefined) {
    const r = tensorRange(t);
    if (isOutput) c.eq(`${f}.zero`, t.zero, 0, "0 (the logits have no zero point)");
    else c.int(`${f}.zero`, t.zero, r.lo, r.hi);
  }
}

function checkRequant(c: Checker, f: string, rq: Requant, channels: number, out: TensorSpec): void {
  c.typed(`${f}.m`, rq.m, Int32Array, channels, "multiplier(s)");
  c.typed(`${f}.s`, rq.s, Int32Array, channels, "shift(s)");
  for (let i = 0; i < channels; i++) {
    c.int(`${f}.m[${i}]`, rq.m[i], M_MIN, M_MAX);
    c.int(`${f}.s[${i}]`, rq.s[i], S_MIN, S_MAX);
  }
  checkClamp(c, f, rq.lo, rq.hi, out);
}

function checkClamp(c: Checker, f: string, lo: number, hi: number, out: TensorSpec): void {
  const r = tensorRange(out);
  c.int(`${f}.lo`, lo, r.lo, r.hi);
  c.int(`${f}.hi`, hi, lo, r.hi);
}

function checkWindow(c: Checker, f: string, l: { kernel: [number, number]; stride: [number, number]; padding: LayerPadding }): void {
  const pairs = [["kernel", "[kh, kw]"], ["stride", "[sh, sw]"]] as const;
  for (const [k, what] of pairs) if (!Array.isArray(l[k]) || l[k].length !== 2) c.fail(`${f}.${k}`, what, l[k]);
  for (const [k] of pairs) for (const i of [0, 1]) c.int(`${f}.${k}[${i}]`, l[k][i], 1, 64);
  if (Array.isArray(l.padding)) {
    if (l.padding.length !== 4) c.fail(`${f}.padding`, "[top, left, bottom, right]", l.padding);
    // A pad of k or more would give windows without one real tap (a max pool of nothing).
    l.padding.forEach((v, i) => c.int(`${f}.padding[${i}]`, v, 0, l.kernel[i % 2] - 1));
  } else if (l.padding !== "same" && l.padding !== "valid") c.fail(`${f}.padding`, `"same", "valid" or [top, left, bottom, right]`, l.padding);
}

function windowOut(c: Checker, f: string, inShape: number[], l: { kernel: [number, number]; stride: [number, number]; padding: LayerPadding }): [number, number] {
  const [H, W] = inShape;
  const g = windowGeometry(inShape, l.kernel, l.stride, l.padding);
  if (g.OH < 1 || g.OW < 1)
    c.fail(`${f}.kernel`, `a window that fits the ${H}×${W} input with ${Array.isArray(l.padding) ? `pads ${shapeStr(l.padding)}` : `${l.padding} padding`}`, `§${shapeStr(l.kernel)}`);
  return [g.OH, g.OW];
}

function checkWeights(c: Checker, f: string, l: { weights: Int8Array; wBits: number; wFullRange?: boolean }, n: number): void {
  const w = l.weights;
  c.typed(`${f}.weights`, w, Int8Array, n, "int8 values");
  const { lo, hi } = weightRange(l);
  const note = ` (${l.wBits}-bit ${l.wFullRange ? "full-range" : "narrow"} signed)`;
  // The field's name is made only for a weight out of range (millions of weights per layer).
  for (let i = 0; i < n; i++) if (w[i] < lo || w[i] > hi) c.int(`${f}.weights[${i}]`, w[i], lo, hi, note);
}

/** What conv2d and dense check alike: weight bits, the weights in their range, scales, bias and requant per output channel. */
function checkWeightLayer(c: Checker, f: string, l: WeightLayer, outC: number, nWeights: number, structureOnly: boolean): void {
  c.int(`${f}.wBits`, l.wBits, 2, 8);
  checkFlag(c, `${f}.wFullRange`, l.wFullRange);
  if (!structureOnly) checkWeights(c, f, l, nWeights);
  checkScales(c, f, l.wScale, outC);
  if (!structureOnly) checkBias(c, f, l.bias, outC);
  checkRequant(c, f, l.rq, outC, l.out);
}

function checkBias(c: Checker, f: string, b: Int32Array, n: number): void {
  c.typed(`${f}.bias`, b, Int32Array, n, "int32 values");
}

function checkScales(c: Checker, f: string, s: Float64Array, n: number): void {
  c.typed(`${f}.wScale`, s, Float64Array, n, "per-channel scales");
  for (let i = 0; i < n; i++) c.positive(`${f}.wScale[${i}]`, s[i]);
}

/**
 * Checks a whole program; throws QModelFormatError naming `file` and the first offending field.
 * `structureOnly` skips weights, biases and the accumulator proof (the reader checks the graph before it
 * reads the sections whose sizes the graph determines).
 * Guarantees for every valid program: shapes agree along the graph; all integers are in their ranges;
 * every accumulator provably stays in int32 for every input in range.
 */
export function validateProgram(p: Program, file = "<memory>", structureOnly = false): void {
  const c = new Checker(file);
  if (typeof p.name !== "string") c.fail("name", "a string", p.name);
  if (typeof p.producer !== "string") c.fail("producer", "a string", p.producer);
  if (!Array.isArray(p.layers) || p.layers.length < 2 || p.layers.length > MAX_LAYERS) c.fail("layers", `2..${MAX_LAYERS} layers (an input and at least one more)`, p.layers);
  const names = new Set<string>();
  const n = p.layers.length;
  p.layers.forEach((l: Layer, i: number) => {
    const f = `layers[${i}]`;
    if (typeof l.name !== "string" || l.name.length === 0 || l.name.length > 200) c.fail(`${f}.name`, "a non-empty name", l.name);
    if (names.has(l.name)) c.fail(`${f}.name`, "a unique layer name", l.name);
    names.add(l.name);
    if (i === 0) {
      c.eq(`${f}.op`, l.op, "input", `"input" (layer 0 is the input)`);
    } else if (l.op === "input") c.fail(`${f}.op`, "an op other than input after layer 0", l.op);
    const arity = l.op === "input" ? 0 : l.op === "add" ? 2 : 1;
    if (!Array.isArray(l.inputs) || l.inputs.length !== arity) c.fail(`${f}.inputs`, `${arity} input index(es)`, l.inputs);
    l.inputs.forEach((j, k) => {
      if (!Number.isInteger(j) || j < 0 || j >= i) c.fail(`${f}.inputs[${k}]`, `the index of an earlier layer (0..${i - 1})`, j);
    });
    checkTensor(c, `${f}.out`, l.out, i === n - 1);
    const ins = l.inputs.map((j) => p.layers[j].out);
    const x = ins[0];
    let expectShape: number[] = [];
    // The ops on [H, W, C] tensors, and those of them with a window (its output size checked with it).
    if (["conv2d", "maxpool", "avgpool", "gap"].includes(l.op) && x.shape.length !== 3) c.fail(`${f}.inputs[0]`, "a [H, W, C] input", `§${shapeStr(x.shape)}`);
    const win = l.op === "conv2d" || l.op === "maxpool" || l.op === "avgpool" ? (checkWindow(c, f, l), windowOut(c, f, x.shape, l)) : [];
    switch (l.op) {
      case "input":
        if (l.out.shape.length !== 3) c.fail(`${f}.out.shape`, "[H, W, C]", `§${shapeStr(l.out.shape)}`);
        if (l.lut === undefined) {
          const u8 = " (u8 pixels; other input tensors need a lookup table)";
          c.eq(`${f}.out.bits`, l.out.bits, 8, `8${u8}`);
          c.eq(`${f}.out.signed`, l.out.signed, false, `false${u8}`);
          if (l.out.zero) c.fail(`${f}.out.zero`, `0${u8}`, l.out.zero);
        } else if (!structureOnly) checkLut(c, f, l.lut, l.out);
        expectShape = l.out.shape;
        break;
      case "conv2d": {
        const C = x.shape[2];
        const outC = l.out.shape[2];
        c.int(`${f}.groups`, l.groups, 1, C);
        if (C % l.groups !== 0 || outC % l.groups !== 0)
          c.fail(`${f}.groups`, `a divisor of input channels ${C} and output channels ${outC}`, l.groups);
        checkWeightLayer(c, f, l, outC, outC * l.kernel[0] * l.kernel[1] * (C / l.groups), structureOnly);
        expectShape = [...win, outC];
        break;
      }
      case "dense": {
        if (x.shape.length !== 1) c.fail(`${f}.inputs[0]`, "a flat [N] input (add a flatten or gap)", `§${shapeStr(x.shape)}`);
        const outN = l.out.shape[0];
        checkWeightLayer(c, f, l, outN, outN * x.shape[0], structureOnly);
        expectShape = [outN];
        break;
      }
      case "maxpool":
        sameQuant(c, f, l.out, x);
        expectShape = [...win, x.shape[2]];
        break;
      case "avgpool":
        if ((l.padding as string) === "same") c.fail(`${f}.padding`, `"valid" or explicit pads (with "same" the divisor would vary at the borders)`, l.padding);
        checkRequant(c, f, l.rq, 1, l.out);
        expectShape = [...win, x.shape[2]];
        break;
      case "gap":
        checkRequant(c, f, l.rq, 1, l.out);
        expectShape = [x.shape[2]];
        break;
      case "add": {
        const y = ins[1];
        if (!sameShape(x.shape, y.shape)) c.fail(`${f}.inputs`, `two inputs of one shape, ${shapeStr(x.shape)}`, `§${shapeStr(y.shape)}`);
        c.int(`${f}.ma`, l.ma, 0, M_MAX);
        c.int(`${f}.mb`, l.mb, 0, M_MAX);
        c.int(`${f}.s`, l.s, S_MIN, S_MAX);
        checkClamp(c, f, l.lo, l.hi, l.out);
        expectShape = x.shape;
        break;
      }
      case "flatten":
        sameQuant(c, f, l.out, x);
        expectShape = [sizeOf(x.shape)];
        break;
      default:
        c.fail(`${f}.op`, "one of input, conv2d, dense, maxpool, avgpool, gap, add, flatten", (l as { op: unknown }).op);
    }
    if (!sameShape(l.out.shape, expectShape)) c.fail(`${f}.out.shape`, shapeStr(expectShape), `§${shapeStr(l.out.shape)}`);
    if (i > 0 && !structureOnly) {
      const b = accumulatorBound(l, x);
      if (b && (b.min < -(2 ** 31) || b.max > 2 ** 31 - 1))
        c.fail(`${f}`, "accumulators that provably fit int32", `§|acc| up to ${Math.max(-b.min, b.max)} (${b.bits} bits) for inputs in range`);
    }
  });
}

function sameQuant(c: Checker, f: string, out: TensorSpec, x: TensorSpec): void {
  const dflt = { zero: 0, fullRange: false };
  for (const k of ["bits", "signed", "scale", "zero", "fullRange"] as const) {
    const want = x[k] ?? dflt[k as keyof typeof dflt];
    c.eq(`${f}.out.${k}`, out[k] ?? dflt[k as keyof typeof dflt], want, `${want} (same as the input)`);
  }
}

function checkFlag(c: Checker, f: string, v: unknown): void {
  if (v !== undefined && typeof v !== "boolean") c.fail(f, "true or false", v);
}

/** The input lookup table: C × 256 values inside the input tensor's range. */
function checkLut(c: Checker, f: string, lut: Int16Array, out: TensorSpec): void {
  const n = out.shape[2] * 256;
  c.typed(`${f}.lut`, lut, Int16Array, n, "entries (256 per input channel)");
  const r = tensorRange(out);
  // The field's name is made only for an entry out of range, as for the weights.
  for (let i = 0; i < n; i++) if (lut[i] < r.lo || lut[i] > r.hi) c.int(`${f}.lut[${i}]`, lut[i], r.lo, r.hi, " (the input tensor's range)");
}
