// `nipq sweep FILE.qmodel --hw HW.json --data D --vary key=from:to:steps[:log] [--trials N] [--workers N]
//  [--out DIR] [--json]` (DESIGN.md §5): accuracy (mean, std, 95% CI over trials) against one hw-model knob;
// a table, and with --out the curve as SVG, sweep.json and a self-contained sweep.html (src/report).

import { Command } from "commander";
import cliProgress from "cli-progress";
import { join } from "node:path";
import { checkModelFitsData, loadDataset } from "../data/index.js";
import { readQModel } from "../ir/io.js";
import { prepareOutputDir, writeOutputDir } from "../fsutil.js";
import { SWEEP_REPORT } from "../report/outputs.js";
import { sweepDoc, sweepHtml, sweepSvg, sweepTable } from "../report/sweep.js";
import { textTable } from "../report/table.js";
import { loadHwModel } from "../sim/hw/hwmodel.js";
import { checkPrecision, chipWarnings } from "../sim/hw/resolve.js";
import { sweepStudy } from "../sim/study/study.js";
import { parseVary } from "../sim/study/vary.js";
import { collect, pathOption, printJson, printWarnings, say } from "./common.js";
import { studyOptions, type StudyCliOptions } from "./options.js";

interface SweepOptions extends StudyCliOptions {
  hw: string;
  data: string;
  vary: string;
  set: string[];
  out?: string;
}

export function sweepCommand(): Command {
  const cmd = new Command("sweep")
    .description("robustness curve: accuracy (mean ± 95% CI over trials) against one hw-model knob")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--hw <HW>", "hw-model JSON file or a shipped model's name", pathOption)
    .requiredOption("--data <D>", "dataset: mnist, fashion-mnist or idx:DIR", pathOption)
    .requiredOption("--vary <key=from:to:steps[:log]>", "the knob and its values, e.g. noise.weightGaussian.sigma=0:1:6 or noise.pcm.tInferenceS=1:31536000:5:log");
  return studyOptions(cmd, { trials: "Monte-Carlo trials per point" })
    .option("--set <key=value>", "override a hw-model field before sweeping (repeatable)", collect, [])
    .option("--out <DIR>", "write sweep.json, sweep.svg and sweep.html there (a new directory, or a previous sweep report)", pathOption)
    .action(async (file: string, o: SweepOptions) => {
      if (o.out) prepareOutputDir(o.out, SWEEP_REPORT);
      const { hw, file: hwFile } = loadHwModel(o.hw, o.set);
      const vary = parseVary(o.vary, hw);
      const program = readQModel(file);
      checkPrecision(program, hw);
      const warnings = printWarnings(chipWarnings(program, hw));
      const data = loadDataset(o.data, "test", o.limit);
      checkModelFitsData(file, program.layers[0].out.shape, data);
      const bar = new cliProgress.SingleBar({ format: "sweep |{bar}| {value}/{total} trials | {key}={val}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(vary.values.length * o.trials, 0, { key: vary.key, val: "–" });
      let done = 0;
      let current = "–";
      const points = await sweepStudy(program, hw, vary, data, { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch, onPoint: (v) => (current = String(v)), onTrial: () => bar.update(++done, { val: current }) });
      bar.stop();
      const doc = sweepDoc(vary, points, { hw: hw.name, hwFile, model: file, data: data.name, samples: data.n, trials: o.trials, seed: o.seed, set: o.set, warnings });
      if (o.out) {
        const svg = sweepSvg(doc, `${file} on ${hw.name}`);
        writeOutputDir(o.out, [["sweep.json", JSON.stringify(doc, null, 2) + "\n"], ["sweep.svg", svg], ["sweep.html", sweepHtml(doc, svg, hw.noise)]], SWEEP_REPORT);
      }
      if (o.json) return printJson(doc);
      const t = sweepTable(doc);
      say(false, `${file} on ${hw.name}, ${data.name} test, ${data.n} images, ${o.trials} trials per point, seed ${o.seed}`);
      say(false, textTable([t.header, ...t.rows]));
      if (o.out) say(false, `curve written to ${join(o.out, "sweep.svg")}`);
    });
}
