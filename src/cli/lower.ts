// `nipq lower DIR --out FILE.qmodel [--json]`: a trained checkpoint → an integer-only program.

import { join } from "node:path";
import { Command } from "commander";
import { GRAPH_FILE, WEIGHTS_FILE } from "../graph/checkpoint.js";
import { lowerCheckpoint, PASSES } from "../lower/index.js";
import { programStats } from "../ir/stats.js";
import { writeQModel } from "../ir/io.js";
import { checkWritable } from "../fsutil.js";
import { fmtInt, pathOption, printJson, say } from "./common.js";

export function lowerCommand(): Command {
  return new Command("lower")
    .description("lower a trained checkpoint directory (QuantGraph) to an integer-only .qmodel program")
    .argument("<dir>", "checkpoint directory written by `nipq train` (graph.json + weights.bin)", pathOption)
    .requiredOption("--out <file>", "the .qmodel file to write (atomically)", pathOption)
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", `\nPasses, in order:\n${PASSES.map((p) => `  ${p.name.padEnd(20)} ${p.what}`).join("\n")}`)
    .action((dir: string, o: { out: string; json?: boolean }) => {
      checkWritable(o.out, [join(dir, GRAPH_FILE), join(dir, WEIGHTS_FILE)]);
      const program = lowerCheckpoint(dir);
      writeQModel(o.out, program);
      const st = programStats(program);
      const doc = {
        out: o.out,
        name: program.name,
        layers: st.layers.map((l) => ({ name: l.name, op: l.op, wBits: l.wBits, aBits: l.aBits, accBits: l.accBits, macs: l.macs, bops: l.bops, weightBytes: l.weightBytes })),
        totals: st.totals,
      };
      if (o.json) return printJson(doc);
      say(false, `${dir} → ${o.out}: ${program.layers.length} layers, ${fmtInt(st.totals.weightBytes)} B packed weights, ${fmtInt(st.totals.bops)} BOPs per image`);
      say(false, `bits (w/a): ${st.layers.filter((l) => l.wBits).map((l) => `${l.name} ${l.wBits}/${l.aBits}`).join(", ")}`);
    });
}
