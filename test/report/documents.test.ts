// The simulate and sweep documents are built once (src/report/) for the CLI and the API: the same study
// through `nipq simulate --json` / `nipq sweep --json` and through Model.simulate / Model.sweep gives the
// same document, key for key and number for number (only the wall-clock seconds differ).

import { describe, expect, it } from "vitest";
import { loadModel } from "../../src/index.js";
import { nipq } from "../helpers/cli.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

/** The document without the wall-clock time. */
function timeless(doc: Record<string, unknown>): Record<string, unknown> {
  const { seconds: _s, ...rest } = doc;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

describe("report documents: CLI = API", () => {
  const model = loadModel(FIXTURE);

  it("simulate", async () => {
    const set = ["noise.weightGaussian.sigma=0.5"];
    const r = nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "12", "--trials", "2", "--seed", "3", "--workers", "1", "--set", ...set, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const cli = JSON.parse(r.stdout) as Record<string, unknown>;
    const api = await model.simulate("lowbit-npu", "mnist", { limit: 12, trials: 2, seed: 3, workers: 1, set });
    expect(typeof cli.seconds).toBe("number");
    expect(typeof api.seconds).toBe("number");
    expect(timeless(api as unknown as Record<string, unknown>)).toEqual(timeless(cli));
  });

  it("sweep", async () => {
    const vary = "noise.weightGaussian.sigma=0:1:2";
    const r = nipq(["sweep", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "10", "--trials", "2", "--workers", "1", "--vary", vary, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const api = await model.sweep("int8-systolic-16x16", "mnist", vary, { limit: 10, trials: 2, workers: 1 });
    expect(JSON.parse(JSON.stringify(api))).toEqual(JSON.parse(r.stdout));
  });
});
