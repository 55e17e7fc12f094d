// Lowering agreement for mbv2-s (./agreement.ts): trained inside the test, lowered, compared with the tfjs eval model.

import { describe, it } from "vitest";
import { agreement } from "./agreement.js";

describe("integer program vs the tfjs eval model, on 1,000 mnist test images", () => {
  // Time limit: 2× the longest time measured in five loaded full runs (docs/DECISIONS.md, "Test time limits").
  it("mbv2-s, NIPQ learned mixed precision (depthwise, residual adds, ReLU6)", { timeout: 1_560_000 }, async () => {
    await agreement({ arch: "mbv2-s", method: "nipq", targetAvgBits: 4, epochs: 4, batch: 32, limit: 1000, seed: 22 });
  });
});
