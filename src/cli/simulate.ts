// `nipq simulate FILE.qmodel --hw HW.json --data D [--trials N] [--seed S] [--limit N] [--workers N]
//  [--set key=value]... [--out DIR] [--json]` (DESIGN.md §5): runs the integer program on a simulated chip
// (src/sim), prints the per-layer costs and the accuracy clean and under noise (mean, std, 95% CI over
// Monte-Carlo trials), and with --out writes report.json and a self-contained report.html (src/report).

import { Command } from "commander";
import cliProgress from "cli-progress";
import { join } from "node:path";
import { dataFor } from "../data/index.js";
import { decodeQModel } from "../ir/qmodel.js";
import { prepareOutputDir, readFileChecked, writeOutputDir } from "../fsutil.js";
import { SIMULATE_REPORT } from "../report/outputs.js";
import { LAYER_HEADER, layerRows, simulateDoc, simulateHtml } from "../report/simulate.js";
import { textTable } from "../report/table.js";
import { programCost } from "../sim/hw/cost.js";
import { loadHwModel } from "../sim/hw/hwmodel.js";
import { chipWarnings } from "../sim/hw/resolve.js";
import { accuracyStudy, type AccuracyStudy } from "../sim/study/study.js";
import { DATA_HELP, RESIZE_HELP, collect, fmtInt, modelFacts, pathOption, printJson, printWarnings, say } from "./common.js";
import { studyOptions, type StudyCliOptions } from "./options.js";
import { addQueueOptions, checkQueueOptions, runQueued, type QueueCliOptions } from "./queue-options.js";

interface SimulateOptions extends StudyCliOptions, QueueCliOptions {
  hw: string;
  data: string;
  set: string[];
  out?: string;
  resize?: boolean;
}

export function simulateCommand(): Command {
  const cmd = new Command("simulate")
    .description("simulate an integer program on an accelerator model: costs per layer, accuracy clean and under injected noise")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--hw <HW>", "hw-model JSON file, or a shipped model's name (int8-systolic-16x16, lowbit-npu, bitserial-edge, analog-pcm-crossbar)", pathOption)
    .requiredOption("--data <D>", DATA_HELP, pathOption)
    .option("--resize", RESIZE_HELP);
  return addQueueOptions(studyOptions(cmd, { trials: "Monte-Carlo trials (noisy chip instances)" }))
    .option("--set <key=value>", "override a hw-model field (dotted path, repeatable), e.g. noise.weightGaussian.sigma=0.5", collect, [])
    .option("--out <DIR>", "write report.json and report.html there (a new directory, or a previous simulate report)", pathOption)
    .addHelpText("after", "\nTrials: each is one chip instance (per-chip noise drawn once) over the same images; draws are keyed by (seed, trial, image).")
    .action(async (file: string, o: SimulateOptions) => {
      checkQueueOptions(o);
      if (o.out) prepareOutputDir(o.out, SIMULATE_REPORT);
      const modelBytes = readFileChecked(file);
      const program = decodeQModel(modelBytes, file);
      const { hw, file: hwFile } = loadHwModel(o.hw, o.set);
      const data = dataFor(o.data, modelFacts(program, file), { limit: o.limit, resize: o.resize });
      const cost = programCost(program, hw);
      const warnings = printWarnings(chipWarnings(program, hw));
      const t0 = performance.now();
      let study: AccuracyStudy;
      if (o.queue) [study] = await runQueued(o, modelBytes, [hw], data);
      else {
        const bar = new cliProgress.SingleBar({ format: "simulate |{bar}| {value}/{total} trials | last {acc}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(o.trials, 0, { acc: "–" });
        let done = 0;
        study = await accuracyStudy(program, hw, data, { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch, onTrial: (_t, acc) => bar.update(++done, { acc: `${(100 * acc).toFixed(2)}%` }) });
        bar.stop();
      }
      const doc = simulateDoc(cost, study, { hw, hwFile, model: file, data: data.name, samples: data.n, seed: o.seed, seconds: (performance.now() - t0) / 1000, set: o.set, warnings });
      if (o.out) writeOutputDir(o.out, [["report.json", JSON.stringify(doc, null, 2) + "\n"], ["report.html", simulateHtml(doc, cost)]], SIMULATE_REPORT);
      if (o.json) return printJson(doc);
      const { clean, noisy, active } = study;
      say(false, `${file} on ${hw.name} (${hwFile}), ${data.name} test, ${data.n} images`);
      say(false, textTable([LAYER_HEADER, ...layerRows(cost)]));
      say(false, `BOPs ${fmtInt(cost.bops)} (Baskin ${fmtInt(Math.round(cost.bopsBaskin))}) · weights ${fmtInt(cost.memory.weightBytes)} B · peak activation bytes ${fmtInt(cost.memory.peakActivationBytes)} (packed)`);
      say(false, `cycles ${fmtInt(cost.cycles)} (${cost.latencyMs.toFixed(4)} ms at ${hw.clockMHz} MHz) · energy ${cost.energyMicroJ.toFixed(4)} µJ (MAC ${(cost.energyPj.mac * 1e-6).toFixed(4)}, SRAM ${(cost.energyPj.sram * 1e-6).toFixed(4)}, DRAM ${(cost.energyPj.dram * 1e-6).toFixed(4)}, ADC/DAC ${(cost.energyPj.adcDac * 1e-6).toFixed(4)})`);
      say(false, `accuracy clean ${(100 * clean).toFixed(2)}% · noisy ${(100 * noisy.mean).toFixed(2)}% ± ${(100 * noisy.ci95).toFixed(2)} (95% CI; std ${(100 * noisy.std).toFixed(2)}, ${noisy.trials} trials${active ? "" : ", no noise source on"})`);
      if (o.out) say(false, `report written to ${join(o.out, "report.html")}`);
    });
}
