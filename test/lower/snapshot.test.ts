import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.js";
import { inspectDoc } from "../../src/cli/inspect.js";
import { lowerGraph } from "../../src/lower/index.js";
import { syntheticGraph } from "./synthetic.js";

describe("golden snapshot of a lowered tiny model", () => {
  it("`inspect --json --weights` of the lowered synthetic network is unchanged (update only on purpose: vitest -u)", async () => {
    const data = loadDataset("mnist", "test");
    const calib = Array.from({ length: 20 }, (_, i) => data.images.subarray(i * 784, (i + 1) * 784));
    const { graph, weights } = syntheticGraph(5, calib);
    const doc = inspectDoc(lowerGraph(graph, weights, "synthetic"), true);
    await expect(JSON.stringify(doc, null, 1) + "\n").toMatchFileSnapshot("__snapshots__/synthetic-inspect.json");
  });
});
