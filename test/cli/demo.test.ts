import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectInputError, nipq } from "../helpers/cli.js";

describe("nipq demo (the embedded default)", () => {
  it("inspects, runs, simulates, sweeps and writes the report it names", () => {
    const out = join(mkdtempSync(join(tmpdir(), "nipq-demo-")), "report");
    const r = nipq(["demo", "--limit", "200", "--trials", "2", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/bits per layer \(w\/a\): conv1 \d\/\d/);
    expect(r.stdout).toMatch(/reference kernels give the same logits on the first 16: yes/);
    expect(r.stdout).toContain(`report: ${join(out, "report.html")}`);
    for (const f of ["report.html", "report.json", "sweep.svg"]) expect(existsSync(join(out, f))).toBe(true);
    const doc = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(doc.samples).toBe(200);
    expect(doc.accuracy).toBe(0.955); // 191 of the first 200: the shipped model is trained (96.3% on the 2,000-image split)
    expect(doc.simulate.accuracy.clean).toBe(doc.accuracy); // a clean int8 chip with 32-bit accumulators is the spec
    expect(doc.sweep.points).toHaveLength(5);
    expect(doc.sweep.points[0]).toMatchObject({ value: 0, std: 0 });
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("<svg");
  });

  it("--json prints one document; a missing model is a one-line error", () => {
    const out = join(mkdtempSync(join(tmpdir(), "nipq-demo-")), "r");
    const r = nipq(["demo", "--limit", "50", "--trials", "1", "--out", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(expect.arrayContaining(["accuracy", "simulate", "sweep", "report"]));
    expectInputError(nipq(["demo", "--model", "/nonexistent.qmodel", "--out", out]), /\/nonexistent\.qmodel: cannot read/);
  });
});
