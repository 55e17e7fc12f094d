// `nipq demo`: the embedded default, what `npm start` runs. The shipped NIPQ mixed-precision model on the
// shipped digits: its bits and size, integer accuracy on the WASM kernels, a simulated chip (costs, clean
// and noisy accuracy), a short weight-noise sweep, and report/ with the plots. About a minute on 2 cores.

import { Command } from "commander";
import cliProgress from "cli-progress";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkModelFitsData, loadDataset, limitDataset } from "../data/index.js";
import { compileProgram, evaluate } from "../exec/runner.js";
import { prepareOutputDir, writeOutputDir } from "../fsutil.js";
import { readQModel } from "../ir/io.js";
import { programStats } from "../ir/stats.js";
import { referenceKernels } from "../kernels/reference/backend.js";
import { loadWasmKernels } from "../kernels/wasm/backend.js";
import { DEMO_REPORT } from "../report/outputs.js";
import { LAYER_HEADER, layerRows, simulateDoc, simulateSections } from "../report/simulate.js";
import { htmlPage, htmlTable } from "../report/svg.js";
import { sweepDoc, sweepSvg, sweepTable } from "../report/sweep.js";
import { textTable } from "../report/table.js";
import { programCost } from "../sim/hw/cost.js";
import { loadHwModel, withSet } from "../sim/hw/hwmodel.js";
import { chipWarnings } from "../sim/hw/resolve.js";
import { accuracyStudy, sweepStudy } from "../sim/study/study.js";
import { parseVary } from "../sim/study/vary.js";
import { fmtInt, pathOption, printJson, printWarnings, say } from "./common.js";
import { studyOptions, type StudyCliOptions } from "./options.js";

/** The package root (two levels above dist/cli or src/cli). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEMO_MODEL = join(ROOT, "models", "cnn-s-mnist-nipq-mp.qmodel");
export const DEMO_HW = "int8-systolic-16x16";
/** The sweep: Gaussian weight noise in weight LSBs (per chip instance). */
export const DEMO_VARY = "noise.weightGaussian.sigma=0:1.2:5";
/** The noisy operating point of the simulation: σ = 0.3 LSB. */
export const DEMO_SIGMA = 0.3;

interface DemoOptions extends StudyCliOptions {
  model: string;
  hw: string;
  limit: number;
  out: string;
}

export function demoCommand(): Command {
  const cmd = new Command("demo")
    .description("the embedded default: the shipped NIPQ model on the shipped digits, a simulated chip, a noise sweep, a report")
    .option("--model <FILE>", "the .qmodel to show", pathOption, DEMO_MODEL)
    .option("--hw <HW>", "hw-model name or JSON file", pathOption, DEMO_HW);
  // Fewer trials and images than simulate/sweep by default: the demo runs 6 studies and is meant to take about a minute on 2 cores.
  return studyOptions(cmd, { trials: "Monte-Carlo trials per noise level", defaults: { trials: 5, limit: 1000, why: "the mnist test split has 2,000; the demo uses 1,000 so it takes about a minute" } })
    .option("--out <DIR>", "where to write the report (a new directory, or a previous demo report)", pathOption, "report")
    .addHelpText("after", `\nSteps: inspect the model; run it on the WASM kernels; simulate it on ${DEMO_HW} clean and with ${DEMO_SIGMA} LSB Gaussian weight noise;\nsweep ${DEMO_VARY}; write <out>/report.html, report.json and sweep.svg.\nThe shipped models and the commands that made them: models/README.md.`)
    .action(async (o: DemoOptions) => {
      const log = (s: string) => say(o.json, s);
      const t0 = performance.now();
      prepareOutputDir(o.out, DEMO_REPORT);
      const program = readQModel(o.model);
      const shown = relative(process.cwd(), o.model) || o.model;
      const st = programStats(program);
      const data = loadDataset("mnist", "test", o.limit);
      checkModelFitsData(shown, program.layers[0].out.shape, data);
      log(`nipq demo: ${shown} (${program.name}) on the shipped mnist digits, ${data.n} test images`);
      log(`  bits per layer (w/a): ${st.layers.filter((l) => l.wBits).map((l) => `${l.name} ${l.wBits}/${l.aBits}`).join(", ")}`);
      log(`  ${fmtInt(st.totals.weightBytes)} B packed weights, ${fmtInt(st.totals.macs)} MACs, ${fmtInt(st.totals.bops)} BOPs per image`);

      // 1. The integer program on the WASM kernels, and the reference kernels on a few images: the same integers.
      const wasm = compileProgram(program, loadWasmKernels({ flavor: "auto" }), 256);
      const ev = evaluate(program, wasm, data.images, data.labels, 256);
      const accuracy = ev.correct / data.n;
      const k = Math.min(16, data.n);
      const few = limitDataset(data, k);
      const ref = evaluate(program, compileProgram(program, referenceKernels, k), few.images, few.labels, k);
      const same = ref.logits.every((q, i) => q === ev.logits[i]);
      log(`  integer accuracy ${(100 * accuracy).toFixed(2)}% on ${wasm.name} (${fmtInt(Math.round(ev.imagesPerSecond))} images/s); reference kernels give the same logits on the first ${k}: ${same ? "yes" : "NO"}`);

      // 2. The simulated chip, clean and with per-chip weight noise.
      const { hw: base, file: hwFile } = loadHwModel(o.hw, []);
      const set = [`noise.weightGaussian.sigma=${DEMO_SIGMA}`];
      const hw = withSet(base, ["noise", "weightGaussian", "sigma"], DEMO_SIGMA);
      const cost = programCost(program, hw);
      const vary = parseVary(DEMO_VARY, hw);
      const total = o.trials * (1 + vary.values.length);
      const bar = new cliProgress.SingleBar({ format: "  trials |{bar}| {value}/{total} | {what}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(total, 0, { what: "simulate" });
      let done = 0;
      const tick = (what: string) => () => bar.update(++done, { what });
      const study = { seed: o.seed, trials: o.trials, workers: o.workers, batch: o.batch };
      const ts = performance.now();
      const sim = await accuracyStudy(program, hw, data, { ...study, onTrial: tick(`simulate σ=${DEMO_SIGMA}`) });
      const simSeconds = (performance.now() - ts) / 1000;
      let current = "";
      const points = await sweepStudy(program, hw, vary, data, { ...study, onPoint: (v) => (current = `sweep σ=${v}`), onTrial: () => tick(current)() });
      bar.stop();

      const warnings = printWarnings(chipWarnings(program, hw));
      const simDoc = simulateDoc(cost, sim, { hw, hwFile, model: o.model, data: data.name, samples: data.n, seed: o.seed, seconds: simSeconds, set, warnings });
      const swDoc = sweepDoc(vary, points, { hw: hw.name, hwFile, model: o.model, data: data.name, samples: data.n, trials: o.trials, seed: o.seed, set, warnings });
      const doc = { model: o.model, samples: data.n, accuracy, backend: wasm.name, imagesPerSecond: ev.imagesPerSecond, simulate: simDoc, sweep: swDoc, report: join(o.out, "report.html"), seconds: 0 };

      // 3. The report (src/report): the simulation's sections (its settings say σ = DEMO_SIGMA), with the sweep after its summary.
      const curve = sweepSvg(swDoc, `${program.name} on ${hw.name}: Gaussian weight noise`, "σ (weight LSB)", "chips");
      const table = sweepTable(swDoc, "σ (LSB)");
      const [warn, settings, summary, ...perLayer] = simulateSections(simDoc, cost);
      const sweepSection = { heading: `Noise sweep: ${DEMO_VARY} (${o.trials} chips per point, the same images and seed)`, html: curve + htmlTable(table.header, table.rows) };
      const page = htmlPage(`nipq demo: ${shown} (${program.name}) on ${hw.name}`, [warn, settings, summary, sweepSection, ...perLayer]);
      doc.seconds = (performance.now() - t0) / 1000;
      writeOutputDir(o.out, [["report.json", JSON.stringify(doc, null, 2) + "\n"], ["sweep.svg", curve], ["report.html", page]], DEMO_REPORT);

      if (o.json) return printJson(doc);
      log(`\n${shown} on ${hw.name}:`);
      log(textTable([LAYER_HEADER, ...layerRows(cost)]));
      log(`cycles ${fmtInt(cost.cycles)} · energy ${cost.energyMicroJ.toFixed(3)} µJ · peak activation bytes ${fmtInt(cost.memory.peakActivationBytes)} (packed) per inference`);
      log(`accuracy: clean chip ${(100 * sim.clean).toFixed(2)}%; σ = ${DEMO_SIGMA} LSB weight noise ${(100 * sim.noisy.mean).toFixed(2)}% ± ${(100 * sim.noisy.ci95).toFixed(2)} (95% CI, ${o.trials} chips)`);
      log(`\nGaussian weight noise sweep (${o.trials} chips per point):`);
      log(textTable([table.header, ...table.rows]));
      log(`\nreport: ${resolve(o.out, "report.html")} (and report.json, sweep.svg) — ${doc.seconds.toFixed(1)} s`);
      if (!existsSync(join(o.out, "report.html"))) throw new Error("report.html was not written");
    });
}
