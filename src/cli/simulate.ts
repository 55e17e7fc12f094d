// `nipq simulate FILE.qmodel --hw HW.json --data D [--trials N] [--seed S] [--limit N] [--workers N]
//  [--set key=value]... [--out DIR] [--json]` (DESIGN.md §5): runs the integer program on a simulated chip
// (src/sim), prints the per-layer costs and the accuracy clean and under noise (mean, std, 95% CI over
// Monte-Carlo trials), and with --out writes report.json and a self-contained report.html.

import { Command } from "commander";
import cliProgress from "cli-progress";
import { join } from "node:path";
import { dataFor } from "../data/index.js";
import { requireFormat1 } from "../ir/features.js";
import { readQModel } from "../ir/io.js";
import { prepareOutputDir, writeOutputDir } from "../fsutil.js";
import { programCost, type ProgramCost } from "../sim/cost.js";
import { chipWarnings } from "../sim/chip.js";
import { loadHwModel, type HwModel } from "../sim/hwmodel.js";
import type { TrialStats } from "../sim/simulate.js";
import { accuracyStudy } from "../sim/study.js";
import { SIMULATE_REPORT } from "../report/outputs.js";
import { barChart, fmtNum, htmlPage, htmlTable, warningsHtml } from "../report/svg.js";
import { textTable } from "../report/table.js";
import { DATA_HELP, RESIZE_HELP, collect, fmtInt, intOption, modelFacts, pathOption, printJson, printWarnings, say, workersOption } from "./common.js";
import { MAX_BATCH, MAX_LIMIT, MAX_TRIALS } from "../limits.js";

/** Options of `nipq simulate` (and, with --vary, of `nipq sweep`). */
export interface SimulateOptions {
  hw: string;
  data: string;
  trials: number;
  seed: number;
  limit?: number;
  workers: number;
  batch: number;
  set: string[];
  out?: string;
  resize?: boolean;
  json?: boolean;
}

/** Per-layer rows of the cost table (shared with sweep's report). */
export function layerRows(cost: ProgramCost): (string | number)[][] {
  return cost.layers.map((l, i) => [
    i,
    l.name,
    l.op,
    l.wBits === null ? "–" : l.runWBits !== null && l.runWBits !== l.wBits ? `${l.wBits}→${l.runWBits}` : String(l.wBits),
    l.aBits === null ? "–" : l.runABits !== null && l.runABits !== l.aBits ? `${l.aBits}→${l.runABits}` : String(l.aBits),
    l.macs ? fmtInt(l.macs) : "",
    l.bops ? fmtInt(l.bops) : "",
    l.cycles ? fmtInt(l.cycles) : "",
    l.cycles ? l.bound : "",
    ((l.energyPj.mac + l.energyPj.sram + l.energyPj.dram + l.energyPj.adcDac) / 1e6).toFixed(4),
  ]);
}

export const LAYER_HEADER = ["#", "layer", "op", "w bits", "a bits", "MACs", "BOPs", "cycles", "bound", "energy µJ"];

/** What produced a simulation's numbers (report.json keys; report.html's Settings and Warnings). */
export interface SimulateRun {
  model: string;
  data: string;
  samples: number;
  seed: number;
  /** The --set overrides, as given. */
  set: string[];
  /** Chip warnings (chipWarnings), also printed on stderr. */
  warnings: string[];
}

/** The --json document of simulate (DESIGN.md §5 keys, plus more). */
export function simulateDoc(hw: HwModel, hwFile: string, cost: ProgramCost, clean: number, noisy: TrialStats, run: SimulateRun, extra: Record<string, unknown> = {}) {
  return {
    hw: hw.name,
    hwFile,
    bops: cost.bops,
    bopsBaskin: cost.bopsBaskin,
    macs: cost.macs,
    memory: { weightBytes: cost.memory.weightBytes, peakActivationBytes: cost.memory.peakActivationBytes, biasBytes: cost.memory.biasBytes },
    cycles: cost.cycles,
    latencyMs: cost.latencyMs,
    energyMicroJ: cost.energyMicroJ,
    energyBreakdownMicroJ: { mac: cost.energyPj.mac * 1e-6, sram: cost.energyPj.sram * 1e-6, dram: cost.energyPj.dram * 1e-6, adcDac: cost.energyPj.adcDac * 1e-6 },
    layers: cost.layers.map((l) => ({ ...l, energyMicroJ: (l.energyPj.mac + l.energyPj.sram + l.energyPj.dram + l.energyPj.adcDac) * 1e-6 })),
    accuracy: { clean, noisy: { mean: noisy.mean, std: noisy.std, ci95: noisy.ci95, trials: noisy.trials, values: noisy.values } },
    ...run,
    noise: hw.noise,
    ...extra,
  };
}

/** What produced a report's numbers (simulate's and sweep's Settings section). */
export interface ReportSettings {
  model: string;
  hw: string;
  hwFile: string;
  /** sweep: the --vary spec. */
  varied?: string;
  set: string[];
  noise: object;
  data: string;
  samples: number;
  /** e.g. "3 Monte-Carlo chip instances". */
  trials: string;
  seed: number;
}

/** The Settings table of a report: hw-model, overrides, noise sources with their parameters, images, trials, seed. */
export function settingsHtml(s: ReportSettings): string {
  const noise = Object.entries(s.noise).map(([k, v]) => `${k}: ${Object.entries(v as object).map(([f, x]) => `${f} ${typeof x === "number" ? fmtNum(x) : String(x)}`).join(", ")}`);
  const rows = [
    ["model", s.model],
    ["hw-model", `${s.hw} (${s.hwFile})`],
    ...(s.varied ? [["varied", s.varied]] : []),
    ["--set overrides", s.set.length ? s.set.join("  ") : "none"],
    ["noise sources", noise.length ? noise.join("; ") : "none: a noise-free chip"],
    ["images", `${fmtInt(s.samples)} of the ${s.data} test split`],
    ["trials", s.trials],
    ["seed", String(s.seed)],
  ];
  return htmlTable(["setting", "value"], rows, true);
}

/**
 * The sections of report.html (simulate's, and the demo's beside its sweep): what produced the numbers
 * (settings, warnings), totals and accuracy, and the per-layer charts and table. Energy in µJ throughout.
 */
export function simulateSections(doc: ReturnType<typeof simulateDoc>, cost: ProgramCost, model: string): { heading: string; html: string }[] {
  const wl = cost.layers.filter((l) => l.macs > 0);
  const names = wl.map((l) => l.name);
  const acc = doc.accuracy;
  const summary = htmlTable(
    ["figure", "value"],
    [
      ["BOPs (MACs·bw·ba)", fmtInt(doc.bops)],
      ["BOPs (Baskin, with accumulator terms)", fmtInt(Math.round(doc.bopsBaskin))],
      ["weight bytes (packed)", fmtInt(doc.memory.weightBytes)],
      ["peak activation bytes (packed at each tensor's bits)", fmtInt(doc.memory.peakActivationBytes)],
      ["cycles / inference", fmtInt(doc.cycles)],
      ["latency / inference", `${doc.latencyMs.toFixed(4)} ms`],
      ["energy / inference", `${doc.energyMicroJ.toFixed(4)} µJ`],
      ["accuracy, clean chip", `${(100 * acc.clean).toFixed(2)}%`],
      ["accuracy, noisy (mean ± 95% CI)", `${(100 * acc.noisy.mean).toFixed(2)}% ± ${(100 * acc.noisy.ci95).toFixed(2)} (std ${(100 * acc.noisy.std).toFixed(2)}, ${acc.noisy.trials} trials)`],
    ],
  );
  const energyLayers = cost.layers.filter((l) => l.op !== "flatten");
  return [
    { heading: "Warnings", html: warningsHtml(doc.warnings) },
    { heading: "Settings", html: settingsHtml({ ...doc, model, trials: `${acc.noisy.trials} Monte-Carlo chip instances` }) },
    { heading: "Summary", html: summary },
    { heading: "Per-layer bits", html: barChart("Bits per weight layer", names, [{ name: "weight bits", values: wl.map((l) => l.wBits ?? 0) }, { name: "activation bits", values: wl.map((l) => l.aBits ?? 0) }], "bits") },
    { heading: "Per-layer BOPs", html: barChart("BOPs per layer", names, [{ name: "MACs·bw·ba", values: wl.map((l) => l.bops) }, { name: "Baskin", values: wl.map((l) => l.bopsBaskin) }], "bit operations") },
    {
      heading: "Per-layer energy",
      html: barChart(
        "Energy per layer (µJ)",
        energyLayers.map((l) => l.name),
        (["mac", "sram", "dram", "adcDac"] as const).map((k) => ({ name: k, values: energyLayers.map((l) => l.energyPj[k] * 1e-6) })),
        "µJ",
      ),
    },
    { heading: "Per-layer table", html: htmlTable(LAYER_HEADER, layerRows(cost)) },
  ];
}

/** report.html of `nipq simulate --out`. */
export function simulateHtml(doc: ReturnType<typeof simulateDoc>, cost: ProgramCost, model: string): string {
  return htmlPage(`nipq simulate: ${model} on ${doc.hw}`, simulateSections(doc, cost, model));
}

export function simulateCommand(): Command {
  return new Command("simulate")
    .description("simulate an integer program on an accelerator model: costs per layer, accuracy clean and under injected noise")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--hw <HW>", "hw-model JSON file, or a shipped model's name (int8-systolic-16x16, lowbit-npu, bitserial-edge, analog-pcm-crossbar)", pathOption)
    .requiredOption("--data <D>", DATA_HELP, pathOption)
    .option("--resize", RESIZE_HELP)
    .option("--trials <N>", "Monte-Carlo trials (noisy chip instances)", intOption("--trials", 1, MAX_TRIALS), 10)
    .option("--seed <S>", "seed of every random draw", intOption("--seed", 0), 0)
    .option("--limit <N>", "use only the first N test images", intOption("--limit", 1, MAX_LIMIT))
    .addOption(workersOption("that share the trials"))
    .option("--batch <N>", "images per batch (does not change any number)", intOption("--batch", 1, MAX_BATCH), 64)
    .option("--set <key=value>", "override a hw-model field (dotted path, repeatable), e.g. noise.weightGaussian.sigma=0.5", collect, [])
    .option("--out <DIR>", "write report.json and report.html there (a new directory, or a previous simulate report)", pathOption)
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nTrials: each is one chip instance (per-chip noise drawn once) over the same images; draws are keyed by (seed, trial, image).")
    .action(async (file: string, o: SimulateOptions) => {
      if (o.out) prepareOutputDir(o.out, SIMULATE_REPORT);
      const program = readQModel(file);
      requireFormat1(program, "the simulator", file);
      const { hw, file: hwFile } = loadHwModel(o.hw, o.set);
      const data = dataFor(o.data, modelFacts(program, file), { limit: o.limit, resize: o.resize });
      const cost = programCost(program, hw);
      const warnings = printWarnings(chipWarnings(program, hw));
      const t0 = performance.now();
      const bar = new cliProgress.SingleBar({ format: "simulate |{bar}| {value}/{total} trials | last {acc}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(o.trials, 0, { acc: "–" });
      let done = 0;
      const { clean, noisy, active } = await accuracyStudy(program, hw, data, { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch, onTrial: (_t, acc) => bar.update(++done, { acc: `${(100 * acc).toFixed(2)}%` }) });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const doc = simulateDoc(hw, hwFile, cost, clean, noisy, { model: file, data: data.name, samples: data.n, seed: o.seed, set: o.set, warnings }, { noiseActive: active, seconds });
      if (o.out) writeOutputDir(o.out, [["report.json", JSON.stringify(doc, null, 2) + "\n"], ["report.html", simulateHtml(doc, cost, file)]], SIMULATE_REPORT);
      if (o.json) return printJson(doc);
      say(false, `${file} on ${hw.name} (${hwFile}), ${data.name} test, ${data.n} images`);
      say(false, textTable([LAYER_HEADER, ...layerRows(cost)]));
      say(false, `BOPs ${fmtInt(cost.bops)} (Baskin ${fmtInt(Math.round(cost.bopsBaskin))}) · weights ${fmtInt(cost.memory.weightBytes)} B · peak activation bytes ${fmtInt(cost.memory.peakActivationBytes)} (packed)`);
      say(false, `cycles ${fmtInt(cost.cycles)} (${cost.latencyMs.toFixed(4)} ms at ${hw.clockMHz} MHz) · energy ${cost.energyMicroJ.toFixed(4)} µJ (MAC ${(cost.energyPj.mac * 1e-6).toFixed(4)}, SRAM ${(cost.energyPj.sram * 1e-6).toFixed(4)}, DRAM ${(cost.energyPj.dram * 1e-6).toFixed(4)}, ADC/DAC ${(cost.energyPj.adcDac * 1e-6).toFixed(4)})`);
      say(false, `accuracy clean ${(100 * clean).toFixed(2)}% · noisy ${(100 * noisy.mean).toFixed(2)}% ± ${(100 * noisy.ci95).toFixed(2)} (95% CI; std ${(100 * noisy.std).toFixed(2)}, ${noisy.trials} trials${active ? "" : ", no noise source on"})`);
      if (o.out) say(false, `report written to ${join(o.out, "report.html")}`);
    });
}
