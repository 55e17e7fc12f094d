// The order test files start in. With two test workers, the run ends when the later of the two finishes, so
// the longest files must start first. vitest's own order does that from its results cache
// (node_modules/.vite), which a fresh clone (CI's `npm ci`) does not have: without it, vitest runs larger
// source files first, and the lowering agreement file, among the smallest, started last. The files below took
// ≥ 60 s in a full run (docs/RESULTS.md, "Session 32: CI time"); they start first, longest first, and every
// other file follows in vitest's order.

import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Files that start first, longest first (paths relative to the repository root). */
export const SLOW_FIRST = [
  "test/lower/agreement-mbv2-s.test.ts",
  "test/queue/queue.test.ts",
  "test/train/train.test.ts",
  "test/import/import.test.ts",
];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => f.moduleId.endsWith("/" + p));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}
