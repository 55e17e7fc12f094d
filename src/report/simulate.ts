// The simulate document — what `nipq simulate --json` prints, report.json holds and Model.simulate
// returns (DESIGN.md §5 keys, plus more) — and its report.html. Built here once, so the CLI and the API
// cannot drift apart.

import type { ProgramCost } from "../sim/hw/cost.js";
import type { HwModel } from "../sim/hw/hwmodel.js";
import type { AccuracyStudy } from "../sim/study/study.js";
import { settingsHtml } from "./settings.js";
import { barChart, htmlPage, htmlTable, warningsHtml } from "./svg.js";
import { fmtInt } from "./table.js";

/** Where the numbers came from. */
export interface SimulateContext {
  hw: HwModel;
  /** The hw-model file, or null for a HwModel object handed to the API. */
  hwFile: string | null;
  /** The .qmodel (a path, or the name a model loaded from bytes was given). */
  model: string;
  /** The dataset's name. */
  data: string;
  samples: number;
  seed: number;
  /** Wall-clock seconds of the study. */
  seconds: number;
  /** `--set` overrides applied to the hw-model, if any. */
  set?: string[];
  /** The chip's warnings about the program (src/sim/hw/resolve.ts chipWarnings; the CLI also prints them). */
  warnings: string[];
}

const energyMicroJ = (e: ProgramCost["energyPj"]) => (e.mac + e.sram + e.dram + e.adcDac) * 1e-6;

/** The simulate document. */
export function simulateDoc(cost: ProgramCost, study: AccuracyStudy, ctx: SimulateContext) {
  const { noisy } = study;
  return {
    hw: ctx.hw.name,
    hwFile: ctx.hwFile,
    model: ctx.model,
    data: ctx.data,
    samples: ctx.samples,
    seed: ctx.seed,
    set: ctx.set ?? [],
    warnings: ctx.warnings,
    bops: cost.bops,
    bopsBaskin: cost.bopsBaskin,
    macs: cost.macs,
    memory: { weightBytes: cost.memory.weightBytes, peakActivationBytes: cost.memory.peakActivationBytes, biasBytes: cost.memory.biasBytes },
    cycles: cost.cycles,
    latencyMs: cost.latencyMs,
    energyMicroJ: cost.energyMicroJ,
    energyBreakdownMicroJ: { mac: cost.energyPj.mac * 1e-6, sram: cost.energyPj.sram * 1e-6, dram: cost.energyPj.dram * 1e-6, adcDac: cost.energyPj.adcDac * 1e-6 },
    layers: cost.layers.map((l) => ({ ...l, energyMicroJ: energyMicroJ(l.energyPj) })),
    accuracy: { clean: study.clean, noisy: { mean: noisy.mean, std: noisy.std, ci95: noisy.ci95, trials: noisy.trials, values: noisy.values } },
    noise: ctx.hw.noise,
    noiseActive: study.active,
    seconds: ctx.seconds,
  };
}

export type SimulateDoc = ReturnType<typeof simulateDoc>;

/** Per-layer table columns; the memory ones are per inference: packed weight bytes, and the SRAM and DRAM bytes the layer moves (src/sim/hw/cost.ts). */
export const LAYER_HEADER = ["#", "layer", "op", "w bits", "a bits", "MACs", "BOPs", "cycles", "bound", "energy µJ", "weight B", "SRAM B", "DRAM B"];

/** Per-layer rows of the cost table (terminal and report.html). */
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
    energyMicroJ(l.energyPj).toFixed(4),
    l.weightBytes ? fmtInt(l.weightBytes) : "",
    fmtInt(l.sramBytes),
    fmtInt(l.dramBytes),
  ]);
}

/**
 * The sections of report.html (simulate's, and the demo's beside its sweep): what produced the numbers
 * (warnings, settings), totals and accuracy, and the per-layer charts and table. Energy in µJ throughout.
 */
export function simulateSections(doc: SimulateDoc, cost: ProgramCost): { heading: string; html: string }[] {
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
  const shown = cost.layers.filter((l) => l.op !== "flatten");
  return [
    { heading: "Warnings", html: warningsHtml(doc.warnings) },
    { heading: "Settings", html: settingsHtml({ ...doc, trials: `${acc.noisy.trials} Monte-Carlo chip instances` }) },
    { heading: "Summary", html: summary },
    { heading: "Per-layer bits", html: barChart("Bits per weight layer", names, [{ name: "weight bits", values: wl.map((l) => l.wBits ?? 0) }, { name: "activation bits", values: wl.map((l) => l.aBits ?? 0) }], "bits") },
    { heading: "Per-layer BOPs", html: barChart("BOPs per layer", names, [{ name: "MACs·bw·ba", values: wl.map((l) => l.bops) }, { name: "Baskin", values: wl.map((l) => l.bopsBaskin) }], "bit operations") },
    { heading: "Per-layer energy", html: barChart("Energy per layer (µJ)", shown.map((l) => l.name), (["mac", "sram", "dram", "adcDac"] as const).map((k) => ({ name: k, values: shown.map((l) => l.energyPj[k] * 1e-6) })), "µJ") },
    { heading: "Per-layer table", html: htmlTable(LAYER_HEADER, layerRows(cost)) },
  ];
}

/** report.html of a simulation. */
export function simulateHtml(doc: SimulateDoc, cost: ProgramCost): string {
  return htmlPage(`nipq simulate: ${doc.model} on ${doc.hw}`, simulateSections(doc, cost));
}
