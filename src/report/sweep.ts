// The sweep document — what `nipq sweep --json` prints, sweep.json holds and Model.sweep returns
// (DESIGN.md §5 keys, plus more) — with its table, curve and sweep.html. Built here once for the CLI,
// the API and the demo.

import type { SweepPoint } from "../sim/study/study.js";
import type { Vary } from "../sim/study/vary.js";
import { settingsHtml } from "./settings.js";
import { accuracySeries, curveChart, htmlPage, htmlTable, warningsHtml } from "./svg.js";

/** Where the numbers came from. */
export interface SweepContext {
  hw: string;
  hwFile: string | null;
  model: string;
  data: string;
  samples: number;
  trials: number;
  seed: number;
  /** `--set` overrides applied to the hw-model before sweeping. */
  set: string[];
  /** The chip's warnings about the program (src/sim/hw/resolve.ts chipWarnings). */
  warnings: string[];
}

/** The sweep document. */
export function sweepDoc(vary: Vary, points: SweepPoint[], ctx: SweepContext) {
  return {
    vary: { key: vary.key, from: vary.from, to: vary.to, steps: vary.steps, scale: vary.scale, spec: vary.spec },
    points,
    hw: ctx.hw,
    hwFile: ctx.hwFile,
    model: ctx.model,
    data: ctx.data,
    samples: ctx.samples,
    trials: ctx.trials,
    seed: ctx.seed,
    set: ctx.set,
    warnings: ctx.warnings,
  };
}

export type SweepDoc = ReturnType<typeof sweepDoc>;

/** The points as a table: header and rows (terminal and HTML). */
export function sweepTable(doc: SweepDoc, key = doc.vary.key): { header: string[]; rows: string[][] } {
  return {
    header: [key, "clean %", "mean %", "std", "95% CI"],
    rows: doc.points.map((p) => [String(p.value), (100 * p.clean).toFixed(2), (100 * p.mean).toFixed(2), (100 * p.std).toFixed(2), `± ${(100 * p.ci95).toFixed(2)}`]),
  };
}

/** The robustness curve (mean and 95% CI per point, in %) as SVG. */
export function sweepSvg(doc: SweepDoc, title: string, xLabel = doc.vary.key, what = "trials"): string {
  return curveChart(title, xLabel, "accuracy (%)", [accuracySeries(`mean and 95% CI over ${doc.trials} ${what}`, doc.points)], doc.vary.scale === "log");
}

/** sweep.html: warnings, the settings (with the hw-model's `noise`), the curve and the table. */
export function sweepHtml(doc: SweepDoc, svg: string, noise: object): string {
  const t = sweepTable(doc);
  return htmlPage(`nipq sweep: ${doc.vary.key} on ${doc.hw}`, [
    { heading: "Warnings", html: warningsHtml(doc.warnings) },
    { heading: "Settings", html: settingsHtml({ ...doc, varied: doc.vary.spec, noise, trials: `${doc.trials} Monte-Carlo chip instances per point` }) },
    { heading: "Curve", html: svg },
    { heading: "Points", html: htmlTable(t.header, t.rows) },
  ]);
}
