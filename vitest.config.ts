import { defineConfig } from "vitest/config";

// Tests run against the TypeScript sources; `npm test` builds first (pretest) so CLI tests can spawn bin/nipq.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Time limits hold on 2 cores at load average 6: 120 s is ≥ 2.4× the longest time any other test took in
    // five full runs under heavier load; the three slow tests carry their own limit, 2× their longest
    // (docs/DECISIONS.md, "Test time limits").
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One temporary directory per run, removed at its end (test/helpers/tmp-setup.ts).
    globalSetup: ["./test/helpers/tmp-setup.ts"],
    // The default reporter, and one line for every test skipped with a reason (test/helpers/skip-reporter.ts).
    reporters: ["default", "./test/helpers/skip-reporter.ts"],
  },
});
