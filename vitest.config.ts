import { defineConfig } from "vitest/config";

// Tests run against the TypeScript sources; `npm test` builds first (pretest) so CLI tests can spawn bin/nipq.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
  },
});
