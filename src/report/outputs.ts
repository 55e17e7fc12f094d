// The report directories `--out DIR` writes, each as one directory swap (src/fsutil.ts): a kill never
// leaves a report.json beside the report.html of another run, and an existing DIR is replaced only when
// it holds nothing but a previous report of the same command (docs/SECURITY.md).

import type { OutputDirKind } from "../fsutil.js";

/** `nipq simulate --out DIR`. */
export const SIMULATE_REPORT: OutputDirKind = { what: "simulate report", files: ["report.json", "report.html"] };
/** `nipq sweep --out DIR`. */
export const SWEEP_REPORT: OutputDirKind = { what: "sweep report", files: ["sweep.json", "sweep.svg", "sweep.html"] };
/** `nipq demo --out DIR`. */
export const DEMO_REPORT: OutputDirKind = { what: "demo report", files: ["report.json", "sweep.svg", "report.html"] };
