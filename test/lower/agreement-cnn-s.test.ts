// Lowering agreement for cnn-s (./agreement.ts): trained inside the test, lowered, compared with the tfjs eval model.

import { describe, it } from "vitest";
import { agreement } from "./agreement.js";

describe("integer program vs the tfjs eval model, on 1,000 mnist test images", () => {
  // Time limit: 2× the longest time measured in five loaded full runs (docs/DECISIONS.md, "Test time limits").
  it("cnn-s, NIPQ W4A4 (155 steps on 1,000 digits)", { timeout: 720_000 }, async () => {
    await agreement({ arch: "cnn-s", method: "nipq", bits: { w: 4, a: 4 }, epochs: 5, batch: 32, limit: 1000, seed: 21 });
  });
});
