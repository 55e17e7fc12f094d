import { defineConfig } from "vitest/config";

// Tests run against the TypeScript sources; `npm test` builds first (pretest) so CLI tests can spawn bin/nipq.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The default reporter, and one line for every test skipped with a reason (test/helpers/skip-reporter.ts).
    reporters: ["default", "./test/helpers/skip-reporter.ts"],
  },
});
