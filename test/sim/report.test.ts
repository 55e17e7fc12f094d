// What `simulate --out` and `sweep --out` write for a reader: the settings that produced the numbers
// (noise, --set overrides, seed, images, trials), a warning when the chip's accumulators are narrower than
// a layer's proven bound (stderr, JSON and HTML), no heading without content, formatted tooltips, one
// energy unit (µJ), accuracy axes spanning the data rather than starting at 0.

import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accuracySeries, curveChart, fmtNum, htmlPage } from "../../src/report/svg.js";
import { chipWarnings as narrowWarning, narrowAccumulators } from "../../src/sim/hw/resolve.js";
import { parseVary, sweepWarnings } from "../../src/sim/study/vary.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import { readQModel } from "../../src/ir/io.js";
import { programStats } from "../../src/ir/stats.js";
import { inspectDoc } from "../../src/cli/inspect.js";
import { programCost } from "../../src/sim/hw/cost.js";
import { nipq } from "../helpers/cli.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";
const tmp = () => mkdtempSync(join(tmpdir(), "nipq-report-"));

/** Every <h2> heading of a page with the content of its section. */
function sections(html: string): { heading: string; body: string }[] {
  return [...html.matchAll(/<section><h2>([^<]*)<\/h2>([^]*?)<\/section>/g)].map((m) => ({ heading: m[1], body: m[2].trim() }));
}

/** Checks shared by every report page. */
function expectReadable(html: string): void {
  for (const s of sections(html)) expect(s.body, `section "${s.heading}" is empty`).not.toBe("");
  expect(html.match(/<h2>/g)?.length).toBe(sections(html).length);
  const titles = [...html.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
  expect(titles.length).toBeGreaterThan(1);
  // Decimals carry at most 4 significant digits (fmtNum), never a raw float such as 384.00000000000006.
  for (const t of titles) for (const d of t.match(/\d+\.\d+/g) ?? []) expect(d.replace(".", "").replace(/^0+/, "").length, `tooltip "${t}"`).toBeLessThanOrEqual(4);
  expect(html).not.toMatch(/pJ/); // µJ throughout, as the tables
}

describe("simulate's report", () => {
  it("says which settings produced it and warns when accumulators are narrower than a layer's proven bound", () => {
    const out = join(tmp(), "rep");
    const args = ["simulate", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "16", "--trials", "2", "--seed", "7"];
    const r = nipq([...args, "--set", "noise.weightGaussian.sigma=0.5", "--set", "accumulator.bits=12", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // The fixture's acc bits (nipq inspect): conv1 15, conv2 15, conv3 16, dense 14 — all above 12.
    const warning = "int8-systolic-16x16: 12-bit accumulators are narrower than the proven bounds of 4 layers (conv1 needs 15, conv2 needs 15, conv3 needs 16, dense needs 14): sums beyond 12 bits wrap around, which can collapse accuracy";
    expect(r.stderr.split("\n").filter((l) => l.startsWith("nipq:"))).toEqual([`nipq: warning: ${warning}`]);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ warnings: [warning], set: ["noise.weightGaussian.sigma=0.5", "accumulator.bits=12"], seed: 7, samples: 16, data: "mnist" });
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).warnings).toEqual([warning]);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expectReadable(html);
    const byHeading = new Map(sections(html).map((s) => [s.heading, s.body]));
    expect(byHeading.get("Warnings")).toContain(warning);
    const settings = byHeading.get("Settings")!;
    for (const s of ["noise.weightGaussian.sigma=0.5", "accumulator.bits=12", "weightGaussian: sigma 0.5", "<td>seed</td><td>7</td>", "16 of the mnist test split", "2 Monte-Carlo chip instances"]) expect(settings).toContain(s);

    // A chip whose accumulators hold every bound: no warning anywhere, and no empty Warnings heading.
    const quiet = nipq([...args, "--out", out, "--json"]);
    expect(quiet.stderr).not.toMatch(/warning/);
    expect(JSON.parse(quiet.stdout).warnings).toEqual([]);
    const html2 = readFileSync(join(out, "report.html"), "utf8");
    expectReadable(html2);
    expect(html2).not.toContain("<h2>Warnings</h2>");
    expect(sections(html2).find((s) => s.heading === "Settings")!.body).toContain("none: a noise-free chip");
  });

  it("the warning's layers are exactly those whose acc bits (nipq inspect) exceed the chip's", () => {
    const program = readQModel(FIXTURE);
    const accBits = programStats(program).layers.filter((l) => l.wBits !== null).map((l) => l.accBits!);
    const hw = loadHwModel("int8-systolic-16x16").hw;
    for (const bits of [12, 14, 15, 16, 32]) {
      const narrow = narrowAccumulators(program, withSet(hw, ["accumulator", "bits"], bits));
      expect(narrow.map((n) => n.needBits)).toEqual(accBits.filter((b) => b > bits));
    }
  });
});

describe("peak activation bytes", () => {
  it("mean one thing everywhere: the liveness plan with activations packed at their bits", () => {
    const program = readQModel(FIXTURE);
    // W4A4 with the u8 input: at pool1, conv1's 28·28·32 4-bit outputs (12,544 B) and pool1's 14·14·32 (3,136 B) are live.
    expect(inspectDoc(program, false).totals).toMatchObject({ peakActivationBytes: 15680 });
    for (const hw of ["int8-systolic-16x16", "lowbit-npu", "bitserial-edge", "analog-pcm-crossbar"]) expect(programCost(program, loadHwModel(hw).hw).memory.peakActivationBytes).toBe(15680);
  });
});

describe("sweep's report", () => {
  it("says which settings produced it; its accuracy axis spans the data", () => {
    const out = join(tmp(), "sw");
    const r = nipq(["sweep", FIXTURE, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "16", "--trials", "2", "--vary", "noise.weightGaussian.sigma=0:0.5:2", "--set", "accumulator.bits=14", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^nipq: warning: int8-systolic-16x16: 14-bit accumulators are narrower than the proven bounds of 3 layers/m);
    const html = readFileSync(join(out, "sweep.html"), "utf8");
    for (const s of sections(html)) expect(s.body, `section "${s.heading}" is empty`).not.toBe("");
    const settings = sections(html).find((s) => s.heading === "Settings")!.body;
    for (const s of ["noise.weightGaussian.sigma=0:0.5:2", "accumulator.bits=14", "16 of the mnist test split", "2 Monte-Carlo chip instances per point"]) expect(settings).toContain(s);
  });
});

describe("a sweep over the accumulator width", () => {
  it("warns at the points whose accumulators are narrower than a layer's bound, naming each point, and only there", () => {
    const program = readQModel(FIXTURE);
    const hw = loadHwModel("int8-systolic-16x16").hw;
    // The fixture's bounds: conv1 15, conv2 15, conv3 16, dense 14. 32 bits holds them; 14 and 15 do not.
    const at = (bits: number, n: number, layers: string) =>
      `at accumulator.bits=${bits}: int8-systolic-16x16: ${bits}-bit accumulators are narrower than the proven bound${n === 1 ? " of 1 layer" : `s of ${n} layers`} (${layers}): sums beyond ${bits} bits wrap around, which can collapse accuracy`;
    expect(sweepWarnings(program, hw, parseVary("accumulator.bits=14:16:3", hw))).toEqual([at(14, 3, "conv1 needs 15, conv2 needs 15, conv3 needs 16"), at(15, 1, "conv3 needs 16")]);
    expect(sweepWarnings(program, hw, parseVary("accumulator.bits=16:32:2", hw))).toEqual([]);
    // A knob that leaves the accumulator alone keeps the base chip's one warning, unprefixed.
    const narrow = withSet(hw, ["accumulator", "bits"], 14);
    expect(sweepWarnings(program, narrow, parseVary("noise.weightGaussian.sigma=0:0.5:3", narrow))).toEqual(narrowWarning(program, narrow));
  });
});

describe("charts", () => {
  it("format numbers for people: 384.00000000000006 is 384", () => {
    expect([384.00000000000006, 0.0067123, 3.662749, 1234567.8, 100, 0].map(fmtNum)).toEqual(["384", "0.006712", "3.663", "1,234,568", "100", "0"]);
  });

  it("an accuracy curve between 90% and 96% gets an axis around its data, not from 0; the CI band stays within [0, 100]", () => {
    const series = accuracySeries("acc", [
      { value: 0, mean: 0.96, ci95: 0.01 },
      { value: 1, mean: 0.9, ci95: 0.2 },
    ]);
    expect(series.points[1]).toMatchObject({ mean: 90, hi: 100 });
    expect(series.points[1].lo).toBeCloseTo(70, 9);
    const svg = curveChart("t", "σ", "accuracy (%)", [accuracySeries("acc", [{ value: 0, mean: 0.96, ci95: 0.005 }, { value: 1, mean: 0.9, ci95: 0.005 }])]);
    const yTicks = [...svg.matchAll(/text-anchor="end" font-size="10">([^<]+)</g)].map((m) => Number(m[1]));
    expect(Math.min(...yTicks)).toBeGreaterThanOrEqual(89);
    expect(Math.max(...yTicks)).toBeLessThanOrEqual(97);
  });

  it("htmlPage gives no heading to a section without content", () => {
    expect(htmlPage("p", [{ heading: "Empty", html: " " }, { heading: "Full", html: "<p>x</p>" }])).not.toContain("Empty");
  });
});
