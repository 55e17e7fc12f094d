// `nipq sweep FILE.qmodel --hw HW.json --data D --vary key=from:to:steps[:log] [--trials N] [--workers N]
//  [--out DIR] [--json]` (DESIGN.md §5): accuracy (mean, std, 95% CI over trials) against one hw-model knob;
// a table, and with --out the curve as SVG, sweep.json and a self-contained sweep.html.

import { Command } from "commander";
import cliProgress from "cli-progress";
import { join } from "node:path";
import { dataFor } from "../data/index.js";
import { requireFormat1 } from "../ir/features.js";
import { readQModel } from "../ir/io.js";
import { prepareOutputDir, writeOutputDir } from "../fsutil.js";
import { checkPrecision, chipWarnings } from "../sim/chip.js";
import { loadHwModel } from "../sim/hwmodel.js";
import { sweepStudy, varyDoc } from "../sim/study.js";
import { parseVary } from "../sim/sweep.js";
import { SWEEP_REPORT } from "../report/outputs.js";
import { accuracySeries, curveChart, htmlPage, htmlTable, warningsHtml } from "../report/svg.js";
import { textTable } from "../report/table.js";
import { DATA_HELP, RESIZE_HELP, collect, intOption, modelFacts, pathOption, printJson, printWarnings, say, workersOption } from "./common.js";
import { MAX_BATCH, MAX_LIMIT, MAX_TRIALS } from "../limits.js";
import { settingsHtml, type SimulateOptions } from "./simulate.js";

interface SweepOptions extends SimulateOptions {
  vary: string;
}

export function sweepCommand(): Command {
  return new Command("sweep")
    .description("robustness curve: accuracy (mean ± 95% CI over trials) against one hw-model knob")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--hw <HW>", "hw-model JSON file or a shipped model's name", pathOption)
    .requiredOption("--data <D>", DATA_HELP, pathOption)
    .option("--resize", RESIZE_HELP)
    .requiredOption("--vary <key=from:to:steps[:log]>", "the knob and its values, e.g. noise.weightGaussian.sigma=0:1:6 or noise.pcm.tInferenceS=1:31536000:5:log")
    .option("--trials <N>", "Monte-Carlo trials per point", intOption("--trials", 1, MAX_TRIALS), 10)
    .option("--seed <S>", "seed of every random draw", intOption("--seed", 0), 0)
    .option("--limit <N>", "use only the first N test images", intOption("--limit", 1, MAX_LIMIT))
    .addOption(workersOption("that share the trials"))
    .option("--batch <N>", "images per batch (does not change any number)", intOption("--batch", 1, MAX_BATCH), 64)
    .option("--set <key=value>", "override a hw-model field before sweeping (repeatable)", collect, [])
    .option("--out <DIR>", "write sweep.json, sweep.svg and sweep.html there (a new directory, or a previous sweep report)", pathOption)
    .option("--json", "print one JSON document on stdout")
    .action(async (file: string, o: SweepOptions) => {
      if (o.out) prepareOutputDir(o.out, SWEEP_REPORT);
      const { hw, file: hwFile } = loadHwModel(o.hw, o.set);
      const vary = parseVary(o.vary, hw);
      const program = readQModel(file);
      requireFormat1(program, "the simulator", file);
      checkPrecision(program, hw);
      const warnings = printWarnings(chipWarnings(program, hw));
      const data = dataFor(o.data, modelFacts(program, file), { limit: o.limit, resize: o.resize });
      const bar = new cliProgress.SingleBar({ format: "sweep |{bar}| {value}/{total} trials | {key}={val}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(vary.values.length * o.trials, 0, { key: vary.key, val: "–" });
      let done = 0;
      let current = "–";
      const points = await sweepStudy(program, hw, vary, data, { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch, onPoint: (v) => (current = String(v)), onTrial: () => bar.update(++done, { val: current }) });
      bar.stop();
      const doc = {
        vary: varyDoc(vary),
        points,
        hw: hw.name,
        hwFile,
        model: file,
        data: data.name,
        samples: data.n,
        trials: o.trials,
        seed: o.seed,
        set: o.set,
        warnings,
      };
      const rows = points.map((p) => [String(p.value), (100 * p.clean).toFixed(2), (100 * p.mean).toFixed(2), (100 * p.std).toFixed(2), `± ${(100 * p.ci95).toFixed(2)}`]);
      const header = [vary.key, "clean %", "mean %", "std", "95% CI"];
      if (o.out) {
        const svg = curveChart(`${file} on ${hw.name}`, vary.key, "accuracy (%)", [accuracySeries(`mean and 95% CI over ${o.trials} trials`, points)], vary.scale === "log");
        const sections = [
          { heading: "Warnings", html: warningsHtml(warnings) },
          { heading: "Settings", html: settingsHtml({ model: file, hw: hw.name, hwFile, varied: vary.spec, set: o.set, noise: hw.noise, data: data.name, samples: data.n, trials: `${o.trials} Monte-Carlo chip instances per point`, seed: o.seed }) },
          { heading: "Curve", html: svg },
          { heading: "Points", html: htmlTable(header, rows) },
        ];
        writeOutputDir(o.out, [["sweep.json", JSON.stringify(doc, null, 2) + "\n"], ["sweep.svg", svg], ["sweep.html", htmlPage(`nipq sweep: ${vary.key} on ${hw.name}`, sections)]], SWEEP_REPORT);
      }
      if (o.json) return printJson(doc);
      say(false, `${file} on ${hw.name}, ${data.name} test, ${data.n} images, ${o.trials} trials per point, seed ${o.seed}`);
      say(false, textTable([header, ...rows]));
      if (o.out) say(false, `curve written to ${join(o.out, "sweep.svg")}`);
    });
}
