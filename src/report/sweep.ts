// The sweep document — what `nipq sweep --json` prints, sweep.json holds and Model.sweep returns
// (DESIGN.md §5 keys, plus more) — with its table, curve and sweep.html. Built here once for the CLI,
// the API and the demo.

import type { SweepPoint } from "../sim/study/study.js";
import type { Vary } from "../sim/study/vary.js";
import { curveChart, htmlPage, htmlTable } from "./svg.js";

/** Where the numbers came from. */
export interface SweepContext {
  hw: string;
  hwFile: string | null;
  model: string;
  data: string;
  samples: number;
  trials: number;
  seed: number;
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

/** The robustness curve (mean and 95% CI per point) as SVG. */
export function sweepSvg(doc: SweepDoc, title: string, xLabel = doc.vary.key): string {
  return curveChart(title, xLabel, "accuracy", [{ name: `accuracy (mean, 95% CI, ${doc.trials} trials)`, points: doc.points.map((p) => ({ x: p.value, mean: p.mean, lo: p.mean - p.ci95, hi: p.mean + p.ci95 })) }], doc.vary.scale === "log");
}

/** sweep.html: the curve and the table. */
export function sweepHtml(doc: SweepDoc, svg: string): string {
  const t = sweepTable(doc);
  return htmlPage(`nipq sweep: ${doc.vary.key} on ${doc.hw}`, [{ heading: "Curve", html: svg }, { heading: "Points", html: htmlTable(t.header, t.rows) }]);
}
