// `nipq sweep FILE.qmodel --hw HW.json --data D --vary key=from:to:steps[:log] [--trials N] [--workers N]
//  [--out DIR] [--json]` (DESIGN.md §5): accuracy (mean, std, 95% CI over trials) against one hw-model knob;
// a table, and with --out the curve as SVG, sweep.json and a self-contained sweep.html (src/report).

import { Command } from "commander";
import cliProgress from "cli-progress";
import { join } from "node:path";
import { dataFor } from "../data/index.js";
import { decodeQModel } from "../ir/qmodel.js";
import { prepareOutputDir, readFileChecked, writeOutputDir } from "../fsutil.js";
import { SWEEP_REPORT } from "../report/outputs.js";
import { sweepDoc, sweepHtml, sweepSvg, sweepTable } from "../report/sweep.js";
import { textTable } from "../report/table.js";
import { loadHwModel, withSet } from "../sim/hw/hwmodel.js";
import { checkPrecision } from "../sim/hw/resolve.js";
import { checkSweepSize, sweepPoint, sweepStudy, type SweepPoint } from "../sim/study/study.js";
import { parseVary, sweepWarnings } from "../sim/study/vary.js";
import { DATA_HELP, RESIZE_HELP, collect, modelFacts, pathOption, printJson, printWarnings, say } from "./common.js";
import { studyOptions, type StudyCliOptions } from "./options.js";
import { addQueueOptions, checkQueueOptions, runQueued, type QueueCliOptions } from "./queue-options.js";

interface SweepOptions extends StudyCliOptions, QueueCliOptions {
  hw: string;
  data: string;
  vary: string;
  set: string[];
  out?: string;
  resize?: boolean;
}

export function sweepCommand(): Command {
  const cmd = new Command("sweep")
    .description("robustness curve: accuracy (mean ± 95% CI over trials) against one hw-model knob")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--hw <HW>", "hw-model JSON file or a shipped model's name", pathOption)
    .requiredOption("--data <D>", DATA_HELP, pathOption)
    .option("--resize", RESIZE_HELP)
    .requiredOption("--vary <key=from:to:steps[:log]>", "the knob and its values, e.g. noise.weightGaussian.sigma=0:1:6 or noise.pcm.tInferenceS=1:31536000:5:log");
  return addQueueOptions(studyOptions(cmd, { trials: "Monte-Carlo trials per point" }))
    .option("--set <key=value>", "override a hw-model field before sweeping (repeatable)", collect, [])
    .option("--out <DIR>", "write sweep.json, sweep.svg and sweep.html there (a new directory, or a previous sweep report)", pathOption)
    .action(async (file: string, o: SweepOptions) => {
      checkQueueOptions(o);
      if (o.out) prepareOutputDir(o.out, SWEEP_REPORT);
      const { hw, file: hwFile } = loadHwModel(o.hw, o.set);
      const vary = parseVary(o.vary, hw);
      const modelBytes = readFileChecked(file);
      const program = decodeQModel(modelBytes, file);
      checkPrecision(program, hw);
      const warnings = printWarnings(sweepWarnings(program, hw, vary));
      const data = dataFor(o.data, modelFacts(program, file), { limit: o.limit, resize: o.resize });
      let points: SweepPoint[];
      if (o.queue) {
        checkSweepSize(vary, o.trials);
        const studies = await runQueued(o, modelBytes, vary.values.map((v) => withSet(hw, vary.path, v)), data);
        points = studies.map((s, i) => sweepPoint(vary.values[i], s));
      } else {
        const bar = new cliProgress.SingleBar({ format: "sweep |{bar}| {value}/{total} trials | {key}={val}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(vary.values.length * o.trials, 0, { key: vary.key, val: "–" });
        let done = 0;
        let current = "–";
        points = await sweepStudy(program, hw, vary, data, { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch, onPoint: (v) => (current = String(v)), onTrial: () => bar.update(++done, { val: current }) });
        bar.stop();
      }
      const doc = sweepDoc(vary, points, { hw: hw.name, hwFile, model: file, data: data.name, samples: data.n, trials: o.trials, seed: o.seed, set: o.set, warnings });
      if (o.out) {
        const svg = sweepSvg(doc, `${file} on ${hw.name}`);
        writeOutputDir(o.out, [["sweep.json", JSON.stringify(doc, null, 2) + "\n"], ["sweep.svg", svg], ["sweep.html", sweepHtml(doc, svg, hw.noise)]], SWEEP_REPORT);
      }
      if (o.json) return printJson(doc);
      const t = sweepTable(doc);
      say(false, `${file} on ${hw.name}, ${data.name} test, ${data.n} images, ${o.trials} trial${o.trials === 1 ? "" : "s"} per point, seed ${o.seed}`);
      say(false, textTable([t.header, ...t.rows]));
      if (o.out) say(false, `curve written to ${join(o.out, "sweep.svg")}`);
    });
}
