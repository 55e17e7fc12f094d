// The Settings section of the simulate, sweep and demo reports: what produced the numbers (hw-model,
// overrides, the noise sources with their parameters, images, trials, seed), one table for all three.

import { fmtNum, htmlTable } from "./svg.js";
import { fmtInt } from "./table.js";

/** What produced a report's numbers. */
export interface ReportSettings {
  model: string;
  hw: string;
  /** The hw-model file (null: a HwModel object handed to the API). */
  hwFile: string | null;
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
    ["hw-model", s.hwFile ? `${s.hw} (${s.hwFile})` : s.hw],
    ...(s.varied ? [["varied", s.varied]] : []),
    ["--set overrides", s.set.length ? s.set.join("  ") : "none"],
    ["noise sources", noise.length ? noise.join("; ") : "none: a noise-free chip"],
    ["images", `${fmtInt(s.samples)} of the ${s.data} test split`],
    ["trials", s.trials],
    ["seed", String(s.seed)],
  ];
  return htmlTable(["setting", "value"], rows, true);
}
