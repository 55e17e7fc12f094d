// `nipq simulate` and `nipq sweep` as a user runs them (bin/nipq.mjs → dist/; run `npm run build:ts` after
// changing src/): the --json keys of DESIGN.md §5, reports written, and exit 2 with one line on bad input.

import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectInputError, nipq } from "../helpers/cli.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";
const tmp = () => mkdtempSync(join(tmpdir(), "nipq-sim-"));

describe("nipq simulate", () => {
  it("--json has the keys of DESIGN.md §5; --out writes report.json and a self-contained report.html", () => {
    const out = join(tmp(), "rep");
    const r = nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "16", "--trials", "3", "--set", "noise.weightGaussian.sigma=0.5", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(expect.arrayContaining(["hw", "bops", "memory", "cycles", "energyMicroJ", "layers", "accuracy"]));
    expect(doc.hw).toBe("lowbit-npu");
    expect(doc.bops).toBe(122851328); // the fixture's Σ MACs·bw·ba (nipq inspect)
    // Peak activations at 4 bits per value: conv1's 28·28·32 outputs (12,544 B) live with pool1's 14·14·32 (3,136 B).
    expect(doc.memory).toMatchObject({ weightBytes: 46864, peakActivationBytes: 12544 + 3136 });
    // The random-weight fixture gets 1 of 16 right, clean and in each noisy trial (seeded: the same every run).
    expect(doc.accuracy).toEqual({ clean: 0.0625, noisy: { mean: 0.0625, std: 0, ci95: 0, trials: 3, values: [0.0625, 0.0625, 0.0625] } });
    expect(doc.layers).toHaveLength(8);
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).bops).toBe(doc.bops);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toMatch(/<svg[^>]*>/);
    expect(html).not.toMatch(/<script|src="http|href="http/); // self-contained
    expect(readdirSync(out).sort()).toEqual(["report.html", "report.json"]); // no temp files left
  });

  it("an imported model (.qmodel format 2): nipq import, then simulate's clean accuracy is run's, on a digital and an analog chip", () => {
    const m = join(tmp(), "m.qmodel");
    expect(nipq(["import", "test/fixtures/onnx/mnist-qdq-ptq.onnx", "--out", m]).code).toBe(0);
    const run = JSON.parse(nipq(["run", m, "--data", "mnist", "--limit", "64", "--json"]).stdout);
    for (const hw of ["int8-systolic-16x16", "analog-pcm-crossbar"]) {
      const r = nipq(["simulate", m, "--hw", hw, "--data", "mnist", "--limit", "64", "--trials", "2", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.accuracy.noisy.trials).toBe(2);
      if (hw === "int8-systolic-16x16") expect(doc.accuracy.clean).toBe(run.accuracy);
      else expect(Math.abs(doc.accuracy.clean - run.accuracy)).toBeLessThanOrEqual(0.05); // the ADC quantizes
    }
  });

  it("prints a per-layer table and totals", () => {
    const r = nipq(["simulate", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "8", "--trials", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/conv2\s*│ conv2d/);
    expect(r.stdout).toMatch(/BOPs 122,851,328/);
    expect(r.stdout).toMatch(/accuracy clean [\d.]+% · noisy/);
    // Memory per layer (issue 16): packed weight bytes and the SRAM and DRAM bytes each layer moves, as --json has them.
    expect(r.stdout).toMatch(/energy µJ\s*│ weight B\s*│ SRAM B\s*│ DRAM B/);
    const doc = JSON.parse(nipq(["simulate", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "8", "--trials", "2", "--json"]).stdout);
    const conv2 = doc.layers.find((l: { name: string }) => l.name === "conv2");
    const row = r.stdout.split("\n").find((line) => /conv2\s*│ conv2d/.test(line))!;
    const cells = row.split(/[│║]/).map((c) => c.trim()).filter(Boolean);
    expect(cells.slice(-3)).toEqual([conv2.weightBytes, conv2.sramBytes, conv2.dramBytes].map((b: number) => b.toLocaleString("en-US")));
    expect(conv2.weightBytes).toBeGreaterThan(0);
  });

  it("bad input → exit 2, one line", () => {
    const bad = join(tmp(), "bad.json");
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync("hw-models/lowbit-npu.json", "utf8")), clockMHz: "fast" }));
    expectInputError(nipq(["simulate", FIXTURE, "--hw", bad, "--data", "mnist"]), /bad\.json: clockMHz: expected number, found "fast"/);
    expectInputError(nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--trials", "0"]), /--trials.*expected an integer in \[1, 10000\], found "0"/);
    expectInputError(nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--set", "nope"]), /--set "nope": expected key=value/);
    expectInputError(nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--set", "accumulator.size=3"]), /--set accumulator\.size: unknown hw-model field/);
    // Every layer that does not fit, in one line: here all four (W4), and in the shipped model conv1 and fc.
    expectInputError(
      nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--set", "precision.weightBits=[2,8]"]),
      /lowbit-npu: 4 layers use widths it does not support: layer 1 "conv1" \(4-bit weights\); layer 3 "conv2" \(4-bit weights\); layer 5 "conv3" \(4-bit weights\); layer 7 "dense" \(4-bit weights\) \(precision\.weightBits: 2, 8;/,
    );
    expectInputError(
      nipq(["simulate", "models/cnn-s-mnist-nipq-mp.qmodel", "--hw", "lowbit-npu", "--data", "mnist"]),
      /lowbit-npu: 2 layers use widths it does not support: layer 1 "conv1" \(7-bit weights\); layer 7 "fc" \(5-bit weights, 5-bit input activations\)/,
    );
  });
});

describe("nipq sweep", () => {
  it("--json {vary, points: [{value, mean, std, ci95}]}, curve SVG written", () => {
    const out = join(tmp(), "sw");
    const r = nipq(["sweep", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "8", "--trials", "2", "--vary", "noise.weightGaussian.sigma=0:1:3", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.vary).toMatchObject({ key: "noise.weightGaussian.sigma", from: 0, to: 1, steps: 3, scale: "linear" });
    expect(doc.points.map((p: { value: number }) => p.value)).toEqual([0, 0.5, 1]);
    for (const p of doc.points) expect(Object.keys(p)).toEqual(expect.arrayContaining(["value", "mean", "std", "ci95"]));
    expect(existsSync(join(out, "sweep.svg"))).toBe(true);
    expect(readFileSync(join(out, "sweep.svg"), "utf8")).toMatch(/^<svg /);
  });

  it("malformed --vary → exit 2, one line", () => {
    expectInputError(nipq(["sweep", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--vary", "noise.weightGaussian.sigma=0:1"]), /--vary .*expected 3 or 4/);
    expectInputError(nipq(["sweep", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--vary", "noise.bogus=0:1:3"]), /--vary noise\.bogus: unknown hw-model field/);
  });
});
