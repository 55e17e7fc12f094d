// A vitest reporter beside the default one: one line for every test skipped with a reason (a note given to
// `ctx.skip(note)`, e.g. by ./debian.ts), so a skip is never silent. The default reporter shows such notes
// only in verbose mode.

import type { Reporter, TestCase, Vitest } from "vitest/node";

export default class SkipReasonReporter implements Reporter {
  private vitest?: Vitest;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestCaseResult(test: TestCase): void {
    const r = test.result();
    if (r.state !== "skipped" || !r.note) return;
    const line = `skipped: ${test.module.relativeModuleId} > ${test.fullName}: ${r.note}`;
    if (this.vitest) this.vitest.logger.log(line);
    else process.stdout.write(line + "\n");
  }
}
