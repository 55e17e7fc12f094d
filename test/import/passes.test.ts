// The importer's passes one by one on small hand-built ONNX graphs (written with onnx-proto), and hostile
// models through the CLI: exit 2, one line naming the node, its op and why, nothing written.

import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { interpretLayers, runProgram } from "../../src/exec/interpret.js";
import { decodeOnnx } from "../../src/import/decode.js";
import { foldLayers } from "../../src/import/fold.js";
import { DT, type Graph } from "../../src/import/graph.js";
import { quantizeReal } from "../../src/import/handoff.js";
import { ImportError, importOnnx } from "../../src/import/index.js";
import { aliases, constants, flattenReshapes, foldConstants, scalarQuantParams } from "../../src/import/normalize.js";
import { expandQOperator } from "../../src/import/qoperator.js";
import { recognizeQuantization } from "../../src/import/recognize.js";
import { inferShapes } from "../../src/import/shapes.js";
import type { Conv2DLayer, DenseLayer } from "../../src/ir/types.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const { onnx } = onnxProto;
type NodeSpec = { op: string; inputs: string[]; outputs: string[]; name?: string; domain?: string; attrs?: Record<string, number | number[] | string> };

/** A float or integer tensor initializer. */
function tensor(name: string, dims: number[], values: number[], dataType: number = DT.FLOAT) {
  const t: Record<string, unknown> = { name, dims, dataType };
  if (dataType === DT.FLOAT) t.floatData = values;
  else if (dataType === DT.INT64) t.int64Data = values;
  else t.int32Data = values;
  return onnx.TensorProto.create(t);
}

function attr(name: string, v: number | number[] | string) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: v });
  return Number.isInteger(v) ? onnx.AttributeProto.create({ name, type: T.INT, i: v }) : onnx.AttributeProto.create({ name, type: T.FLOAT, f: v });
}

/** A model: input "x" [1, C, H, W] float, output "y", nodes and initializers. */
function model(inDims: number[], nodes: NodeSpec[], inits: ReturnType<typeof tensor>[], opset = 13, domains: string[] = []): Uint8Array {
  const m = onnx.ModelProto.create({
    irVersion: 7,
    producerName: "test",
    opsetImport: [{ domain: "", version: opset }, ...domains.map((d) => ({ domain: d, version: 1 }))],
    graph: {
      name: "g",
      node: nodes.map((n, k) => onnx.NodeProto.create({ name: n.name ?? `n${k}`, opType: n.op, domain: n.domain ?? "", input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs ?? {}).map(([a, v]) => attr(a, v)) })),
      initializer: inits,
      input: [{ name: "x", type: { tensorType: { elemType: DT.FLOAT, shape: { dim: inDims.map((d) => ({ dimValue: d })) } } } }],
      output: [{ name: "y", type: { tensorType: { elemType: DT.FLOAT } } }],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

/** A tiny QDQ model: Q(x) → DQ → Conv(w int8 per channel, bias int32) → Relu → Q → DQ → Flatten → Gemm → y. */
function tinyQdq(o: { convAttrs?: NodeSpec["attrs"]; wScaleDims?: number[] } = {}): Uint8Array {
  const C = 2, H = 4, W = 4, O = 3;
  const w = Array.from({ length: O * C * 9 }, (_, i) => ((i * 37) % 255) - 127);
  const fcW = Array.from({ length: 5 * O * H * W }, (_, i) => ((i * 53) % 201) - 100);
  const nodes: NodeSpec[] = [
    { op: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] },
    { op: "DequantizeLinear", inputs: ["xq", "xs", "xz"], outputs: ["xd"] },
    { op: "DequantizeLinear", inputs: ["w", "ws", "wz"], outputs: ["wd"], attrs: { axis: 0 } },
    { op: "DequantizeLinear", inputs: ["b", "bs", "bz"], outputs: ["bd"], attrs: { axis: 0 } },
    { op: "Conv", inputs: ["xd", "wd", "bd"], outputs: ["c"], name: "conv", attrs: o.convAttrs ?? { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: "Relu", inputs: ["c"], outputs: ["r"] },
    { op: "QuantizeLinear", inputs: ["r", "as", "az"], outputs: ["aq"] },
    { op: "DequantizeLinear", inputs: ["aq", "as", "az"], outputs: ["ad"] },
    { op: "Flatten", inputs: ["ad"], outputs: ["f"], attrs: { axis: 1 } },
    { op: "DequantizeLinear", inputs: ["fw", "fs", "fz"], outputs: ["fwd"] },
    { op: "Gemm", inputs: ["f", "fwd"], outputs: ["y"], name: "fc", attrs: { transB: 1 } },
  ];
  const ws = [0.01, 0.02, 0.015];
  const inits = [
    tensor("xs", [], [1 / 64]), tensor("xz", [], [3], DT.UINT8),
    tensor("w", [O, C, 3, 3], w, DT.INT8), tensor("ws", o.wScaleDims ?? [O], ws), tensor("wz", [O], [0, 0, 0], DT.INT8),
    tensor("b", [O], [100, -50, 7], DT.INT32), tensor("bs", [O], ws.map((s) => s / 64)), tensor("bz", [O], [0, 0, 0], DT.INT32),
    tensor("as", [1], [0.05]), tensor("az", [1], [0], DT.UINT8),
    tensor("fw", [5, O * H * W], fcW, DT.INT8), tensor("fs", [], [0.01]), tensor("fz", [], [0], DT.INT8),
  ];
  return model([1, C, H, W], nodes, inits);
}

/**
 * A tiny QONNX model as Brevitas exports Int32Bias: Quant(x, 8-bit unsigned) → Conv(Quant'd 4-bit per-channel
 * weights, bias Quant'd at s_x·s_w [O] with 32 bits) → Relu → Quant → Flatten → Gemm(Quant'd weights) → y.
 * `biasScale` multiplies the bias scale, `biasBits` replaces its 32.
 */
const QONNX = "qonnx.custom_op.general";
const TQ = { xs: 1 / 64, ws: [0.01, 0.02, 0.015], bq: [100, -50, 1_000_000] };
function tinyQonnx(o: { biasScale?: number; biasBits?: number; narrow?: 0 | 1 } = {}): Uint8Array {
  const C = 2, H = 4, W = 4, O = 3;
  const w = Array.from({ length: O * C * 9 }, (_, i) => (((i * 37) % 15) - 7) * TQ.ws[Math.floor(i / (C * 9))]);
  if (o.narrow !== undefined) w[0] = -8 * TQ.ws[0]; // −2^(b−1): kept by a full-range Quant, clamped to −7 by a narrow one
  const fcW = Array.from({ length: 5 * O * H * W }, (_, i) => (((i * 53) % 15) - 7) * 0.01);
  // The bias scale as Brevitas computes it (float32 product of float32 scales); the bias as its float32 multiple.
  const bs = TQ.ws.map((s) => Math.fround(Math.fround(s) * Math.fround(TQ.xs)) * (o.biasScale ?? 1));
  const quant = (x: string, s: string, b: string, y: string, signed: number, name?: string): NodeSpec => ({ op: "Quant", domain: QONNX, inputs: [x, s, "zero", b], outputs: [y], attrs: { signed, narrow: o.narrow ?? signed, rounding_mode: "ROUND" }, ...(name ? { name } : {}) });
  const nodes: NodeSpec[] = [
    quant("x", "xs", "b8", "xq", 0),
    quant("w", "ws", "b4", "wq", 1),
    { ...quant("b", "bs", "b32", "bq", 1, "bias_quant"), attrs: { signed: 1, narrow: 0, rounding_mode: "ROUND" } },
    { op: "Conv", inputs: ["xq", "wq", "bq"], outputs: ["c"], name: "conv", attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: "Relu", inputs: ["c"], outputs: ["r"] },
    quant("r", "as", "b4", "aq", 0),
    { op: "Flatten", inputs: ["aq"], outputs: ["f"], attrs: { axis: 1 } },
    quant("fw", "fs", "b4", "fwq", 1),
    { op: "Gemm", inputs: ["f", "fwq"], outputs: ["y"], name: "fc", attrs: { transB: 1 } },
  ];
  const inits = [
    tensor("xs", [], [TQ.xs]), tensor("zero", [], [0]), tensor("b8", [], [8]), tensor("b4", [], [4]), tensor("b32", [], [o.biasBits ?? 32]),
    tensor("w", [O, C, 3, 3], w), tensor("ws", [O, 1, 1, 1], TQ.ws),
    tensor("b", [O], TQ.bq.map((q, c) => Math.fround(q * bs[c]))), tensor("bs", [O], bs),
    tensor("as", [], [0.05]), tensor("fw", [5, O * H * W], fcW), tensor("fs", [], [0.01]),
  ];
  return model([1, C, H, W], nodes, inits, 13, [QONNX]);
}

function graph(bytes: Uint8Array): Graph {
  return decodeOnnx(bytes, "m.onnx");
}

describe("importer passes", () => {
  it("decode: initializers become constants, the data input and output are found, attributes are plain values", () => {
    const g = graph(tinyQdq());
    expect(g.input).toEqual({ name: "x", elemType: DT.FLOAT, dims: [1, 2, 4, 4] });
    expect(g.output).toBe("y");
    expect(g.consts.get("xz")).toEqual({ dtype: DT.UINT8, dims: [], data: Float64Array.of(3) });
    expect(g.nodes.find((n) => n.name === "conv")!.attrs).toEqual({ kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  });

  it("constants, fold-constants, aliases: torch's ConstantOfShape → Cast zero point and Cast after QuantizeLinear", () => {
    const bytes = model([1, 1, 2, 2], [
      { op: "Constant", inputs: [], outputs: ["shape"], attrs: {} },
      { op: "ConstantOfShape", inputs: ["shape"], outputs: ["z0"] },
      { op: "Cast", inputs: ["z0"], outputs: ["z"], attrs: { to: DT.INT32 } },
      { op: "QuantizeLinear", inputs: ["x", "s", "zx"], outputs: ["q"] },
      { op: "Cast", inputs: ["q"], outputs: ["qc"], attrs: { to: DT.UINT8 } },
      { op: "DequantizeLinear", inputs: ["qc", "s", "zx"], outputs: ["xd"] },
      { op: "DequantizeLinear", inputs: ["b", "bs", "z"], outputs: ["bd"] },
      { op: "Add", inputs: ["xd", "bd"], outputs: ["sum"] },
      { op: "Identity", inputs: ["sum"], outputs: ["y"] },
    ], [tensor("s", [], [0.1]), tensor("zx", [], [0], DT.UINT8), tensor("b", [3], [1, 2, 3], DT.INT32), tensor("bs", [3], [0.1, 0.2, 0.3])]);
    const g = graph(bytes);
    // The Constant node holds no value attribute in this hand-built model: give it one.
    g.nodes[0].attrs.value = { dtype: DT.INT64, dims: [1], data: Float64Array.of(3) };
    constants(g);
    foldConstants(g);
    expect(g.consts.get("z")).toEqual({ dtype: DT.INT32, dims: [3], data: new Float64Array(3) });
    aliases(g);
    expect(g.nodes.map((n) => n.op)).toEqual(["QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "Add"]);
    expect(g.nodes[1].inputs[0]).toBe("q");
    expect(g.output).toBe("sum");
  });

  it("aliases: a Cast of an integer tensor to INT64 is refused as unsupported, not called a truncation (an export-onnx graph's exact adds)", () => {
    const g = graph(model([1, 1, 2, 2], [
      { op: "QuantizeLinear", inputs: ["x", "s", "zx"], outputs: ["q"] },
      { op: "Cast", inputs: ["q"], outputs: ["y"], name: "widen", attrs: { to: DT.INT64 } },
    ], [tensor("s", [], [0.1]), tensor("zx", [], [0], DT.UINT8)]));
    expect(() => aliases(g)).toThrow(/node "widen" \(Cast\): a Cast of UINT8 to INT64: INT64 tensors are not supported \(integers of at most 32 bits\)$/);
    const narrowing = graph(model([1, 1, 2, 2], [
      { op: "QuantizeLinear", inputs: ["x", "s", "zx"], outputs: ["q"] },
      { op: "Cast", inputs: ["q"], outputs: ["y"], name: "narrow", attrs: { to: DT.INT8 } },
    ], [tensor("s", [], [0.1]), tensor("zx", [], [0], DT.UINT8)]));
    expect(() => aliases(narrowing)).toThrow(/node "narrow" \(Cast\): a Cast of UINT8 to INT8 changes values \(truncation\); not supported$/);
  });

  it("fold-constants evaluates x.view(x.size(0), -1)'s Shape → Gather → Unsqueeze → Concat into a Reshape that becomes a Flatten", () => {
    const bytes = model([1, 2, 3, 3], [
      { op: "Shape", inputs: ["x"], outputs: ["sh"] },
      { op: "Gather", inputs: ["sh", "zero"], outputs: ["n"], attrs: { axis: 0 } },
      { op: "Unsqueeze", inputs: ["n", "ax"], outputs: ["n1"] },
      { op: "Concat", inputs: ["n1", "minus1"], outputs: ["target"], attrs: { axis: 0 } },
      { op: "Reshape", inputs: ["x", "target"], outputs: ["y"] },
    ], [tensor("zero", [], [0], DT.INT64), tensor("ax", [1], [0], DT.INT64), tensor("minus1", [1], [-1], DT.INT64)]);
    const g = graph(bytes);
    foldConstants(g);
    expect(g.consts.get("target")!.data).toEqual(Float64Array.of(1, -1));
    flattenReshapes(g);
    expect(g.nodes.map((n) => [n.op, n.attrs])).toEqual([["Flatten", { axis: 1 }]]);
  });

  it("scalar-params: [1]-shaped scales and zero points become scalars", () => {
    const g = graph(tinyQdq());
    scalarQuantParams(g);
    const q = g.nodes.find((n) => n.op === "QuantizeLinear" && n.inputs[0] === "r")!;
    expect(g.consts.get(q.inputs[1])!.dims).toEqual([]);
    expect(g.consts.get(q.inputs[2])!.dims).toEqual([]);
  });

  it("expand-qoperator: QLinearConv is DequantizeLinear → Conv → QuantizeLinear, its int32 bias at x_scale·w_scale", () => {
    const bytes = model([1, 1, 3, 3], [
      { op: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] },
      { op: "QLinearConv", inputs: ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], outputs: ["yq"], attrs: { kernel_shape: [1, 1] } },
      { op: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["y"] },
    ], [tensor("xs", [], [0.5]), tensor("xz", [], [0], DT.UINT8), tensor("w", [2, 1, 1, 1], [3, -4], DT.INT8), tensor("ws", [2], [0.25, 0.125]), tensor("wz", [2], [0, 0], DT.INT8), tensor("ys", [], [0.1]), tensor("yz", [], [5], DT.UINT8), tensor("b", [2], [10, -20], DT.INT32)]);
    const g = graph(bytes);
    expandQOperator(g);
    expect(g.nodes.map((n) => n.op)).toEqual(["QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear", "DequantizeLinear"]);
    const bias = g.nodes[1];
    expect(Array.from(g.consts.get(bias.inputs[1])!.data)).toEqual([0.5 * 0.25, 0.5 * 0.125]);
  });

  it("recognize-quantization: Q → Clip(0, 127) → DQ is a fake-quantizer of range [0, 127]; Q → MaxPool → DQ pools on the real grid; a DQ scale that differs is a Scale", () => {
    const bytes = model([1, 1, 4, 4], [
      { op: "QuantizeLinear", inputs: ["x", "s", "z"], outputs: ["q"] },
      { op: "Clip", inputs: ["q", "", "hi"], outputs: ["qc"] },
      { op: "MaxPool", inputs: ["qc"], outputs: ["qm"], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: "DequantizeLinear", inputs: ["qm", "s2", "z"], outputs: ["y"] },
    ], [tensor("s", [], [0.1]), tensor("s2", [], [0.2]), tensor("z", [], [7], DT.UINT8), tensor("hi", [], [127], DT.UINT8)]);
    const g = graph(bytes);
    const shapes = inferShapes(g);
    recognizeQuantization(g, (n) => shapes.get(n)!);
    expect(g.nodes.map((n) => n.op)).toEqual(["FakeQuant", "MaxPool", "Scale"]);
    expect(g.nodes[0].q).toEqual({ scale: Math.fround(0.1), zero: 7, bits: 8, signed: false, lo: 0, hi: 127, rounding: "onnx" });
    expect(g.nodes[2].factor).toBeCloseTo(2, 6);
  });

  it("fold-layers: Conv → Div → Add → BatchNormalization → Relu becomes one layer with the per-channel affine and the clamp", () => {
    const bytes = model([1, 1, 2, 2], [
      { op: "DequantizeLinear", inputs: ["w", "ws", "wz"], outputs: ["wd"] },
      { op: "Conv", inputs: ["x", "wd", "zb"], outputs: ["c"], name: "conv", attrs: { kernel_shape: [1, 1] } },
      { op: "Div", inputs: ["c", "d"], outputs: ["c1"] },
      { op: "Add", inputs: ["c1", "a"], outputs: ["c2"] },
      { op: "BatchNormalization", inputs: ["c2", "gam", "bet", "mu", "va"], outputs: ["c3"], attrs: { epsilon: 0 } },
      { op: "Relu", inputs: ["c3"], outputs: ["y"] },
    ], [tensor("w", [2, 1, 1, 1], [1, -1], DT.INT8), tensor("ws", [], [0.5]), tensor("wz", [], [0], DT.INT8), tensor("zb", [2], [0, 0]), tensor("d", [1, 2, 1, 1], [2, 4]), tensor("a", [1, 2, 1, 1], [1, 3]), tensor("gam", [2], [4, -2]), tensor("bet", [2], [0.5, 0]), tensor("mu", [2], [1, 1]), tensor("va", [2], [4, 1])]);
    const g = graph(bytes);
    const shapes = inferShapes(g);
    recognizeQuantization(g, (n) => shapes.get(n)!);
    foldLayers(g);
    expect(g.nodes.map((n) => n.op)).toEqual(["Mac"]);
    const m = g.nodes[0].mac!;
    // a = (1/d)·γ/√σ²: [1/2·2, 1/4·(−2)] = [1, −0.5]; b = k·(a_add − μ) + β: [2·(1 − 1) + 0.5, −2·(3 − 1)] = [0.5, −4]
    expect(Array.from(m.a)).toEqual([1, -0.5]);
    expect(Array.from(m.b)).toEqual([0.5, -4]);
    expect(g.nodes[0].clip).toEqual([0, Infinity]);
  });

  it("quantize: ONNX rounds then adds the zero point; QONNX adds it, clamps, then rounds (ties to even)", () => {
    const onnxQ = { scale: 0.5, zero: 3, bits: 8, signed: false, lo: 0, hi: 255, rounding: "onnx" as const };
    expect([1.25, 0.75, -10, 200].map((x) => quantizeReal(x, onnxQ))).toEqual([5, 5, 0, 255]); // 2.5→2, 1.5→2, −20→0
    const qonnx = { scale: 0.5, zero: 0.5 as number, bits: 4, signed: true, lo: -7, hi: 7, rounding: "qonnx" as const };
    expect([0.75, 2.75, 100].map((x) => quantizeReal(x, { ...qonnx, zero: 0 }))).toEqual([2, 6, 7]); // 1.5→2, 5.5→6
  });

  it("the hand-off: a dense layer after a flatten of NCHW data computes the model's sums (columns permuted to NHWC)", () => {
    const { program } = importOnnx(tinyQdq(), "tiny.onnx");
    const conv = program.layers[1] as Conv2DLayer;
    const fc = program.layers[program.layers.length - 1] as DenseLayer;
    expect(program.layers.map((l) => l.op)).toEqual(["input", "conv2d", "flatten", "dense"]);
    expect(conv.padding).toBe("same");
    expect(conv.wFullRange).toBe(true);
    expect(program.layers[0].out).toMatchObject({ zero: 3, bits: 8, signed: false });
    // Run one image through the program; recompute the last layer in the model's own NCHW order.
    const img = Uint8Array.from({ length: 32 }, (_, i) => (i * 29) % 256);
    const acts = interpretLayers(program, referenceKernels, img, 1, true);
    const a = acts[2].data; // the flattened activation, NHWC order (y, x, c)
    const fcW = Array.from({ length: 5 * 48 }, (_, i) => ((i * 53) % 201) - 100);
    for (let o = 0; o < 5; o++) {
      let onnxSum = 0;
      for (let c = 0; c < 3; c++) for (let p = 0; p < 16; p++) onnxSum += fcW[o * 48 + c * 16 + p] * a[p * 3 + c];
      let irSum = 0;
      for (let k = 0; k < 48; k++) irSum += fc.weights[o * 48 + k] * a[k];
      expect(irSum).toBe(onnxSum);
    }
    expect(runProgram(program, referenceKernels, img, 1).logits.length).toBe(5);
  });
});

describe("QONNX Int32Bias: a Quant'd bias at s_x·s_w is the layer's integer bias, exactly", () => {
  it("the program's bias is the Quant's integers (1,000,000 included: no second rounding)", () => {
    const { program } = importOnnx(tinyQonnx(), "tiny-qonnx.onnx");
    const conv = program.layers[1] as Conv2DLayer;
    expect(conv.op).toBe("conv2d");
    expect(Array.from(conv.bias)).toEqual(TQ.bq);
  });
  it("narrow or not decides the range: a 4-bit weight of −8 and the unsigned activations' top value 15", () => {
    const wide = importOnnx(tinyQonnx({ narrow: 0 }), "wide.onnx").program;
    const narrow = importOnnx(tinyQonnx({ narrow: 1 }), "narrow.onnx").program;
    const [cw, cn] = [wide.layers[1] as Conv2DLayer, narrow.layers[1] as Conv2DLayer];
    expect([cw.wBits, cw.wFullRange, cw.weights[0]]).toEqual([4, true, -8]);
    expect([cn.wBits, cn.wFullRange ?? false, cn.weights[0]]).toEqual([4, false, -7]);
    // The conv's 4-bit unsigned output: [0, 15], or [0, 14] when the Quant is narrow.
    expect([cw.rq.lo, cw.rq.hi]).toEqual([0, 15]);
    expect([cn.rq.lo, cn.rq.hi]).toEqual([0, 14]);
  });
  it("a bias scale 0.1% off s_x·s_w is refused, naming the layer and the Quant", () => {
    expect(() => importOnnx(tinyQonnx({ biasScale: 1.001 }), "off.onnx")).toThrow(/off\.onnx: node "conv" \(nipq:Mac\): its bias is quantized by Quant "bias_quant" at scale [0-9.e-]+ \(channel 0\), not at the accumulator step s_x·s_w = [0-9.e-]+ with zeropt 0/);
  });
  it("a bias of 33 bits is refused at its Quant", () => {
    expect(() => importOnnx(tinyQonnx({ biasBits: 33 }), "b33.onnx")).toThrow(/b33\.onnx: node "bias_quant" \(qonnx\.custom_op\.general:Quant\): bitwidth 33 is not supported \(an integer in 2\.\.32 for a constant/);
  });
});

describe("hostile ONNX models: exit 2, one line naming the node and why, nothing written", () => {
  const dir = mkdtempSync(join(tmpdir(), "nipq-import-"));
  const run = (bytes: Uint8Array, pattern: RegExp, name: string) => {
    const f = join(dir, `${name}.onnx`);
    const out = join(dir, `${name}.qmodel`);
    writeFileSync(f, bytes);
    const r = nipq(["import", f, "--out", out]);
    expectInputError(r, pattern);
    expect(existsSync(out)).toBe(false);
  };
  const good = tinyQdq();
  it("a valid model imports (the baseline the others break)", () => {
    const f = join(dir, "good.onnx");
    writeFileSync(f, good);
    const r = nipq(["import", f, "--out", join(dir, "good.qmodel"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: 2, input: [4, 4, 2], classes: 5 });
  });
  it("truncated protobuf", () => run(good.subarray(0, Math.floor(good.length / 2)), /good|truncated\.onnx: not an ONNX model/, "truncated"));
  it("not a protobuf at all", () => run(new TextEncoder().encode("hello, this is not onnx"), /not-onnx\.onnx: not an ONNX model/, "not-onnx"));
  it("an unknown op", () => {
    const m = onnx.ModelProto.decode(good);
    m.graph!.node![5].opType = "Swish";
    run(onnx.ModelProto.encode(m).finish(), /node "n5" \(Swish\): op Swish is not supported/, "unknown-op");
  });
  it("dilation 2", () => run(tinyQdq({ convAttrs: { kernel_shape: [3, 3], pads: [2, 2, 2, 2], dilations: [2, 2] } }), /node "conv" \(Conv\): dilation 2 is not supported/, "dilation"));
  it("a missing initializer", () => {
    const m = onnx.ModelProto.decode(good);
    m.graph!.initializer = m.graph!.initializer!.filter((t) => t.name !== "ws");
    run(onnx.ModelProto.encode(m).finish(), /node "n2" \(DequantizeLinear\): the scale \(input 2, "ws"\) must be a constant|tensor "ws" is read before it is computed \(or is missing/, "missing-init");
  });
  it("a QONNX bias Quant'd off the accumulator step", () => run(tinyQonnx({ biasScale: 2 }), /node "conv" \(nipq:Mac\): its bias is quantized by Quant "bias_quant" at scale/, "bias-scale"));
  it("a weight scale of the wrong shape", () => run(tinyQdq({ wScaleDims: [3, 1] }), /node "n2" \(DequantizeLinear\): scale shape \[3, 1\] does not match axis 0/, "scale-shape"));
  it("float weights without a quantizer", () => {
    const m = onnx.ModelProto.decode(good);
    const dq = m.graph!.node!.find((n) => n.output![0] === "wd")!;
    m.graph!.node = m.graph!.node!.filter((n) => n !== dq);
    m.graph!.initializer!.push(tensor("wd", [3, 2, 3, 3], new Array(54).fill(0.5)));
    run(onnx.ModelProto.encode(m).finish(), /node "conv" \(Conv\): its weights "wd" are not quantized/, "float-weights");
  });
  it("--input-mean with the wrong number of channels", () => {
    const f = join(dir, "good2.onnx");
    writeFileSync(f, good);
    expectInputError(nipq(["import", f, "--out", join(dir, "g2.qmodel"), "--input-mean", "0.1,0.2,0.3"]), /expected 2 values \(one per input channel\), found 3/);
  });
  it("ImportError is a NipqInputError with the file in the message", () => {
    expect(() => importOnnx(new Uint8Array([1, 2, 3]), "x.onnx")).toThrow(ImportError);
  });
});
