// `nipq export-onnx FILE.qmodel --out MODEL.onnx [--json]`: the integer program as a QOperator ONNX graph
// (uint8 pixels [N, H, W, C] in, float32 logits [N, classes] out) that onnxruntime runs; src/onnx/export.ts
// and docs/ONNX.md. Written atomically.

import { Command } from "commander";
import { checkWritable, writeFileAtomic } from "../fsutil.js";
import { readQModel } from "../ir/io.js";
import { exportOnnx, ONNX_OPSET } from "../onnx/export.js";
import { fmtInt, pathOption, printJson, say } from "./common.js";

interface ExportOnnxCliOptions {
  out: string;
  exact?: boolean;
  json?: boolean;
}

export function exportOnnxCommand(): Command {
  return new Command("export-onnx")
    .description("write the integer program as an ONNX model (QLinearConv; exact integer adds, pools, logits) that onnxruntime runs")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--out <file>", "the .onnx file to write (atomically)", pathOption)
    .option("--exact", "convolutions as ConvInteger + exact int64 requant: bit-exact with nipq run, slower than QLinearConv")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `\nThe model (ONNX opset ${ONNX_OPSET}, standard ops only) takes one input "pixels", uint8 [N, H, W, C], and gives one\n` +
        'output "logits", float32 [N, classes]: the program\'s int16 logits times the logits\' scale (printed).\n' +
        "By default convolutions and dense layers are QLinearConv, which requantizes in float (x_scale·w_scale/y_scale =\n" +
        "the dyadic multiplier as float32, ties to even): an output differs from `nipq run` by 1 LSB where the exact\n" +
        "value lies within float rounding of a half, and the difference propagates. Adds, pools and the logits are\n" +
        "exact integer arithmetic (int64) always; with --exact the convolutions are too (docs/ONNX.md).",
    )
    .action((file: string, o: ExportOnnxCliOptions) => {
      checkWritable(o.out, [file]);
      const program = readQModel(file);
      const e = exportOnnx(program, { exact: o.exact ?? false, source: file });
      writeFileAtomic(o.out, e.bytes);
      const doc = { out: o.out, name: program.name, exact: o.exact ?? false, bytes: e.bytes.length, opset: ONNX_OPSET, input: { name: e.input, dtype: "uint8", shape: ["N", ...e.inputShape] }, output: { name: e.output, dtype: "float32", shape: ["N", e.classes] }, logitScale: e.logitScale, ops: e.ops };
      if (o.json) return printJson(doc);
      say(false, `${file} (${program.name}) → ${o.out}: ${fmtInt(e.bytes.length)} B, ${Object.values(e.ops).reduce((a, b) => a + b, 0)} nodes (opset ${ONNX_OPSET})`);
      say(false, `  input  ${e.input}: uint8 [N, ${e.inputShape.join(", ")}]`);
      say(false, `  output ${e.output}: float32 [N, ${e.classes}] = int16 logits × ${e.logitScale}`);
    });
}
