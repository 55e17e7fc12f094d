// `nipq import MODEL.onnx --out FILE.qmodel [--input-mean r,g,b --input-std r,g,b] [--json]`: a model
// quantized elsewhere (ONNX QDQ, QOperator or QONNX) → the integer program (src/import/). A model the
// program cannot represent is refused with one line naming the node, its op and why; nothing is written.

import { Command, InvalidArgumentError } from "commander";
import { checkWritable } from "../fsutil.js";
import { formatVersion } from "../ir/features.js";
import { writeQModel } from "../ir/io.js";
import { programStats } from "../ir/stats.js";
import { IMPORT_PASSES, importOnnxFile } from "../import/index.js";
import { fmtInt, fmtShape, pathOption, printJson, say } from "./common.js";

/** Parses "r,g,b" into finite numbers (`positive` for standard deviations). */
function numberList(positive: boolean): (v: string) => number[] {
  return (v: string) => {
    const xs = v.split(",").map((s) => s.trim());
    const ns = xs.map(Number);
    if (xs.some((s) => s === "") || ns.some((n) => !Number.isFinite(n) || (positive && n <= 0)))
      throw new InvalidArgumentError(`expected comma-separated ${positive ? "positive " : ""}numbers, one per input channel (e.g. ${positive ? "0.229,0.224,0.225" : "0.485,0.456,0.406"}), found ${JSON.stringify(v)}`);
    return ns;
  };
}

interface ImportCliOptions {
  out: string;
  inputMean?: number[];
  inputStd?: number[];
  json?: boolean;
}

export function importCommand(): Command {
  return new Command("import")
    .description("import a quantized ONNX model (QDQ, QOperator or QONNX) as an integer-only .qmodel program")
    .argument("<file>", "an .onnx file: NCHW image input, logits output", pathOption)
    .requiredOption("--out <file>", "the .qmodel file to write (atomically)", pathOption)
    .option("--input-mean <r,g,b>", "per-channel mean the model subtracts from pixel/255 (default 0)", numberList(false))
    .option("--input-std <r,g,b>", "per-channel standard deviation the model divides by (default 1)", numberList(true))
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
The model's input is x = (pixel/255 − mean[c]) / std[c] for u8 pixels; its first quantizer turns that into
integers through a per-channel lookup table computed here, so the program stays integer-only.
Ops: Conv (groups, depthwise, strides, pads; dilation 1), Gemm, MatMul, Add, Relu, Clip, MaxPool, AveragePool,
GlobalAveragePool, Flatten, Reshape/Squeeze to [N, K], BatchNormalization, Mul/Div/Add/Sub by constants after a
layer, Pad before a Conv, Identity, Dropout, Softmax at the end; QuantizeLinear/DequantizeLinear, QLinearConv,
QLinearMatMul, ConvInteger, MatMulInteger, com.microsoft QLinearAdd, QLinearGlobalAveragePool, QLinearAveragePool,
QGemm; QONNX Quant/IntQuant (2..8 bits; a bias's up to 32 bits at the accumulator step s_x·s_w, Brevitas'
Int32Bias). Programs with zero points, full-range tensors, an input table or explicit pads are .qmodel format 2:
the reference backend runs them (--backend reference); WASM, simulate and export refuse them until they support
format 2.

Passes, in order:
${IMPORT_PASSES.map((p) => `  ${p.name.padEnd(23)} ${p.what}`).join("\n")}`,
    )
    .action((model: string, o: ImportCliOptions) => {
      checkWritable(o.out, [model]);
      const C = o.inputMean?.length ?? o.inputStd?.length;
      const norm = C === undefined ? undefined : { mean: o.inputMean ?? new Array(C).fill(0), std: o.inputStd ?? new Array(C).fill(1) };
      const { program, notes } = importOnnxFile(model, { norm });
      writeQModel(o.out, program);
      const st = programStats(program);
      const input = program.layers[0].out.shape;
      const classes = program.layers[program.layers.length - 1].out.shape[0];
      const doc = {
        out: o.out,
        name: program.name,
        producer: program.producer,
        format: formatVersion(program),
        input,
        classes,
        layers: st.layers.map((l) => ({ name: l.name, op: l.op, wBits: l.wBits, aBits: l.aBits, accBits: l.accBits, macs: l.macs, bops: l.bops, weightBytes: l.weightBytes })),
        totals: st.totals,
        notes,
      };
      if (o.json) return printJson(doc);
      say(false, `${model} → ${o.out}: ${program.layers.length} layers, input ${fmtShape(input)}, ${classes} classes, .qmodel format ${doc.format}, ${fmtInt(st.totals.weightBytes)} B packed weights, ${fmtInt(st.totals.bops)} BOPs per image`);
      say(false, `bits (w/a): ${st.layers.filter((l) => l.wBits).map((l) => `${l.name} ${l.wBits}/${l.aBits}`).join(", ")}`);
      for (const n of notes) say(false, `note: ${n}`);
    });
}
