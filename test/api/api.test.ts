// The typed public API (src/index.ts) from its sources: loading from a path or bytes, running on the
// reference and both WASM builds with identical integers, evaluating on a dataset, simulating and sweeping
// on a shipped hw-model, exporting a bundle from a model loaded from bytes, and one-line input errors.

import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset, loadModel, Model, NipqInputError, QModelFormatError } from "../../src/index.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

describe("public API", () => {
  const model = loadModel(FIXTURE);
  const digits = loadDataset("mnist", "test");
  const images = digits.images.subarray(0, 40 * 784);

  it("loads from a path or from bytes, the same program", () => {
    const fromBytes = loadModel(new Uint8Array(readFileSync(FIXTURE)), "fixture");
    expect(model).toBeInstanceOf(Model);
    expect(fromBytes.name).toBe(model.name);
    expect(fromBytes.file).toBe("fixture");
    expect(model.inputShape).toEqual([28, 28, 1]);
    expect(model.classes).toBe(10);
    expect(model.summary().totals.weightBytes).toBe(46864); // as `nipq inspect` (test/cli/spine.test.ts)
  });

  it("reference and WASM (SIMD and scalar, any batch) give identical logits", () => {
    const ref = model.run(images);
    expect(ref.backend).toBe("reference");
    expect(ref.n).toBe(40);
    for (const [flavor, batch] of [["simd", 64], ["scalar", 7], ["auto", 16]] as const) {
      const w = model.run(images, { backend: "wasm", flavor, batch });
      expect(w.backend).toMatch(flavor === "auto" ? /^wasm-(simd|scalar)$/ : new RegExp(`^wasm-${flavor}$`));
      expect(Array.from(w.logits)).toEqual(Array.from(ref.logits));
      expect(Array.from(w.predictions)).toEqual(Array.from(ref.predictions));
    }
  });

  it("evaluates on a dataset by name or object", () => {
    const a = model.evaluate("mnist", { limit: 50, backend: "wasm" });
    const b = model.evaluate(digits, { limit: 50 });
    expect(a.samples).toBe(50);
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.correct).toBe(Math.round(a.accuracy * 50));
    expect(a.imagesPerSecond).toBeGreaterThan(0);
  });

  it("simulates on a shipped hw-model with the `nipq simulate --json` keys, and sweeps a knob", async () => {
    const sim = await model.simulate("int8-systolic-16x16", digits, { limit: 30, trials: 2, seed: 1 });
    expect(sim.hw).toBe("int8-systolic-16x16");
    // The figures of `nipq simulate` on the fixture (test/sim/cli.test.ts): Σ MACs·bw·ba, the packed weights,
    // conv1's 4-bit outputs live with pool1's (12,544 + 3,136 B); cycles and energy from the cost model.
    expect(sim).toMatchObject({ bops: 122851328, cycles: 49595, memory: { weightBytes: 46864, peakActivationBytes: 12544 + 3136 } });
    expect(sim.energyMicroJ).toBeCloseTo(7.9770952, 9);
    // Random weights: 3 of 30 right, in every trial (no noise source is on).
    expect(sim.accuracy).toMatchObject({ clean: 0.1, noisy: { mean: 0.1, std: 0, ci95: 0, trials: 2 } });
    // A digital int8 array with wide accumulators and no noise computes the spec: clean accuracy = reference's.
    expect(sim.accuracy.clean).toBe(model.evaluate(digits, { limit: 30 }).accuracy);
    const sw = await model.sweep("lowbit-npu", digits, "noise.weightGaussian.sigma=0:1:2", { limit: 20, trials: 2 });
    expect(sw.vary.key).toBe("noise.weightGaussian.sigma");
    expect(sw.points.map((p) => p.value)).toEqual([0, 1]);
    // Weight noise up to σ = 1 LSB leaves the random-weight fixture at 2 of 20 in both trials.
    for (const p of sw.points) expect(p).toMatchObject({ mean: 0.1, std: 0, ci95: 0 });
  });

  it("exports a bundle from a model loaded from bytes", () => {
    if (!existsSync("build/deploy/nipq-runtime.mjs")) throw new Error("run `npm run build` first (npm test does)");
    const out = join(mkdtempSync(join(tmpdir(), "nipq-api-")), "bundle");
    const m = loadModel(new Uint8Array(readFileSync(FIXTURE)), "in-memory.qmodel");
    const r = m.exportBundle(out, { samples: 20 });
    expect(r.samples.n).toBe(20);
    expect(readdirSync(out)).toContain("nipq-runtime.mjs");
    expect(JSON.parse(readFileSync(join(out, "bundle.json"), "utf8")).source).toBe("in-memory.qmodel");
  });

  it("bad input is a NipqInputError with one line", () => {
    expect(() => loadModel("no/such.qmodel")).toThrow(NipqInputError);
    expect(() => loadModel("no/such.qmodel")).toThrow(/^no\/such\.qmodel: cannot read: no such file or directory$/);
    expect(() => loadModel(new Uint8Array(8), "x.qmodel")).toThrow(QModelFormatError);
    expect(() => model.run(new Uint8Array(783))).toThrow(/expected a multiple of 784 bytes/);
    expect(() => model.run(images, { backend: "gpu" as "wasm" })).toThrow(/backend: expected reference or wasm/);
  });
});
