import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";
import SlowFirstSequencer from "./test/helpers/sequencer.js";

// Tests run against the TypeScript sources; `npm test` builds first (pretest) so CLI tests can spawn bin/nipq.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Time limits hold on 2 cores at load average 6: 120 s is ≥ 2.4× the longest time any other test took in
    // five full runs under heavier load; the two slow tests (mbv2-s agreement, cnn-s training) carry their own
    // limit, 2× their longest (docs/DECISIONS.md, "Test time limits").
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One test file per core. vitest's default leaves one core to its own process (cores − 1), which on CI's
    // 2 cores ran every file one after another while the second core idled; that process only waits
    // (docs/DECISIONS.md, "Test workers").
    maxWorkers: availableParallelism(),
    // The longest files start first, also on a fresh clone without vitest's results cache.
    sequence: { sequencer: SlowFirstSequencer },
    // One temporary directory per run, removed at its end (test/helpers/tmp-setup.ts).
    globalSetup: ["./test/helpers/tmp-setup.ts"],
    // The default reporter, and one line for every test skipped with a reason (test/helpers/skip-reporter.ts).
    reporters: ["default", "./test/helpers/skip-reporter.ts"],
  },
});
