// The ONNX importer: a model quantized elsewhere (QDQ, QOperator or QONNX) → the QuantGraph hand-off → the
// same lowering passes as this tool's own checkpoints (src/lower/index.ts) → a validated integer program.
// A flat list of small named passes over one state, like lowering's; each says in one line what it does.
// Anything the integer program cannot represent is refused with one line naming the node, its op and why
// (ImportError, CLI exit 2); nothing is written then.

import { basename } from "node:path";
import { readFileChecked } from "../fsutil.js";
import { lowerGraph } from "../lower/index.js";
import type { Program } from "../ir/types.js";
import { decodeOnnx } from "./decode.js";
import { foldLayers } from "./fold.js";
import type { Graph } from "./graph.js";
import { toQuantGraph, type HandOff, type InputNorm } from "./handoff.js";
import { aliases, constants, flattenReshapes, foldConstants, scalarQuantParams } from "./normalize.js";
import { expandQOperator } from "./qoperator.js";
import { recognizeQuantization } from "./recognize.js";
import { inferShapes } from "./shapes.js";

export { ImportError } from "./graph.js";
export type { InputNorm } from "./handoff.js";

/** Options of importOnnx. */
export interface ImportOptions {
  /** The pixel normalization the model was trained with: x = (p/255 − mean[c]) / std[c]; default 0 and 1. */
  norm?: InputNorm;
}

/** What the passes share. */
export interface ImportState {
  file: string;
  bytes: Uint8Array;
  opts: ImportOptions;
  g?: Graph;
  handoff?: HandOff;
  program?: Program;
}

type Pass = { name: string; what: string; run: (st: ImportState) => void };

/** The passes, in order. */
export const IMPORT_PASSES: Pass[] = [
  { name: "decode", what: "ONNX protobuf → nodes, constants from initializers, the one data input and output (onnx-proto)", run: (st) => (st.g = decodeOnnx(st.bytes, st.file)) },
  { name: "constants", what: "Constant nodes become constants", run: (st) => constants(st.g!) },
  { name: "fold-constants", what: "constant subgraphs are evaluated (ConstantOfShape, Cast, Shape, Gather, Concat, Reshape, Slice, Transpose, arithmetic)", run: (st) => foldConstants(st.g!) },
  { name: "aliases", what: "Identity, Dropout and value-preserving Casts of computed tensors (torch's Cast after QuantizeLinear) become aliases", run: (st) => aliases(st.g!) },
  { name: "scalar-params", what: "one-element scales and zero points (torch's [1]-shaped ones) become scalars", run: (st) => scalarQuantParams(st.g!) },
  { name: "flatten-reshapes", what: "Reshape/Squeeze to [N, K] become Flatten, ReduceMean over H and W becomes GlobalAveragePool", run: (st) => flattenReshapes(st.g!) },
  { name: "expand-qoperator", what: "QLinearConv, QLinearMatMul, QGemm, QLinearAdd, QLinearGlobalAveragePool, ConvInteger, MatMulInteger become DequantizeLinear → op → QuantizeLinear", run: (st) => expandQOperator(st.g!) },
  {
    name: "recognize-quantization",
    what: "QuantizeLinear[→Clip]→DequantizeLinear and QONNX Quant become fake-quantizers; quantized constants keep their integers",
    run: (st) => {
      const shapes = inferShapes(st.g!);
      recognizeQuantization(st.g!, (name) => shapes.get(name) ?? []);
    },
  },
  { name: "fold-layers", what: "Conv/Gemm/MatMul take their bias, BatchNormalization and constant affine, Relu/Clip and zero Pad; a trailing Softmax is dropped", run: (st) => foldLayers(st.g!) },
  { name: "quantgraph", what: "NCHW → NHWC (weights to tfjs layouts, dense columns after an NCHW flatten permuted), quantizers, the input table: the QuantGraph", run: (st) => (st.handoff = toQuantGraph(st.g!, st.opts.norm)) },
  {
    name: "lower",
    what: "the lowering passes of src/lower/index.ts: integer weights and biases, dyadic multipliers, clamps, the accumulator proof",
    run: (st) => {
      const { graph, weights } = st.handoff!;
      const g = st.g!;
      st.program = lowerGraph(graph, weights, st.file, { name: basename(st.file).replace(/\.onnx$/i, ""), producer: `nipq import (${g.producer || "unknown producer"}, opset ${g.opsets.get("")})` });
    },
  },
];

/** Imports ONNX model bytes; `file` names the model in messages. Throws ImportError (or another NipqInputError). */
export function importOnnx(bytes: Uint8Array, file: string, opts: ImportOptions = {}): { program: Program; notes: string[] } {
  const st: ImportState = { file, bytes, opts };
  for (const p of IMPORT_PASSES) p.run(st);
  return { program: st.program!, notes: st.handoff!.notes };
}

/** Reads and imports an .onnx file. */
export function importOnnxFile(path: string, opts: ImportOptions = {}): { program: Program; notes: string[] } {
  return importOnnx(readFileChecked(path), path, opts);
}
