// Input limits (src/limits.ts, docs/SECURITY.md): one short argument can no longer make the tool allocate
// without bound or hang; user strings never reach inherited members of a table; hw-model numbers are
// finite and every figure computed from them too; terminal output cannot carry escape codes.

import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as limits from "../../src/limits.js";
import { printable } from "../../src/cli/common.js";
import { loadModel } from "../../src/index.js";
import { encodeQModel } from "../../src/ir/qmodel.js";
import { readQModel } from "../../src/ir/io.js";
import { programCost } from "../../src/sim/hw/cost.js";
import { HW_MODELS_DIR, SHIPPED_MODELS, loadHwModel, lookupSchema, withSet } from "../../src/sim/hw/hwmodel.js";
import { parseVary } from "../../src/sim/study/vary.js";
import { expectInputError, nipq } from "../helpers/cli.js";
import { inputErrorMessage } from "../helpers/errors.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";
const tmp = () => mkdtempSync(join(tmpdir(), "nipq-limits-"));
const msg = inputErrorMessage;

describe("docs/SECURITY.md lists every limit of src/limits.ts with its value", () => {
  it("each constant's value appears in the document next to its name", () => {
    const doc = readFileSync("docs/SECURITY.md", "utf8");
    for (const [name, value] of Object.entries(limits)) {
      const shown = [String(value), value.toLocaleString("en-US")];
      const line = doc.split("\n").find((l) => l.includes(`\`${name}\``));
      expect(line, `${name} is not in docs/SECURITY.md`).toBeDefined();
      expect(shown.some((s) => line!.includes(s)), `docs/SECURITY.md gives ${name} another value than ${value}: ${line}`).toBe(true);
    }
  });
});

describe("counts on the command line have upper bounds, checked before anything is allocated", () => {
  it("--trials 1000000000 and friends: exit 2 at once, one line naming the bound", () => {
    const base = ["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist"];
    expectInputError(nipq([...base, "--trials", "1000000000"]), /--trials <N>' argument '1000000000' is invalid\. expected an integer in \[1, 10000\]/);
    expectInputError(nipq([...base, "--limit", "99999999"]), /--limit .*expected an integer in \[1, 1000000\]/);
    expectInputError(nipq([...base, "--batch", "65537"]), /--batch .*expected an integer in \[1, 65536\]/);
    expectInputError(nipq([...base, "--workers", "65"]), /--workers .*expected an integer in \[1, 64\]/);
    expectInputError(nipq(["run", FIXTURE, "--data", "mnist", "--workers", "1000"]), /--workers .*expected an integer in \[1, 64\]/);
    const sweep = ["sweep", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "2"];
    expectInputError(nipq([...sweep, "--vary", "noise.weightGaussian.sigma=0:1:1001"]), /steps must be an integer in \[1, 1000\], found 1001/);
    expectInputError(nipq([...sweep, "--vary", "noise.weightGaussian.sigma=0:1:1000", "--trials", "101"]), /expected at most 100000 trials in all \(points × trials\), found 1000 × 101 = 101000/);
  });

  it("--set array indices are bounded by the schema's maxItems and the array's length (no sparse arrays)", () => {
    expectInputError(nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--set", "precision.weightBits.30000000=4"]), /--set precision\.weightBits\.30000000: array index 30000000 out of range: expected 0\.\.3 \(the array has 3 item\(s\), at most 8\)/);
    // --set edits the document as written (defaults are filled in later): this pcm block has no progCoeff yet.
    expect(msg(() => loadHwModel("analog-pcm-crossbar", ["noise.pcm.progCoeff.8=1"]))).toMatch(/array index 8 out of range: expected 0\.\.0 \(the array has 0 item\(s\), at most 8\)/);
    expect(loadHwModel("lowbit-npu", ["precision.weightBits.3=6"]).hw.precision.weightBits).toEqual([2, 4, 8, 6]); // append one
    expect(msg(() => loadHwModel("lowbit-npu", ["precision.weightBits.99999999999999999999=4"]))).toMatch(/array index 999999999999… out of range/);
    expect(msg(() => parseVary("precision.weightBits.9=1:4:4", loadHwModel("lowbit-npu").hw))).toMatch(/--vary precision\.weightBits\.9: array index 9 out of range/);
  });
});

describe("the library API checks the same counts", () => {
  it("simulate, sweep and run with a huge trials, workers or batch: NipqInputError before any work", async () => {
    const m = loadModel(FIXTURE);
    await expect(m.simulate("lowbit-npu", "mnist", { trials: 1e9, limit: 2 })).rejects.toThrow(/trials: expected an integer in \[1, 10000\], found 1000000000/);
    await expect(m.simulate("lowbit-npu", "mnist", { trials: 2, workers: 1e6, limit: 2 })).rejects.toThrow(/workers: expected an integer in \[1, 64\], found 1000000/);
    await expect(m.sweep("lowbit-npu", "mnist", "noise.weightGaussian.sigma=0:1:1000", { trials: 1000, limit: 2 })).rejects.toThrow(/expected at most 100000 trials in all/);
    expect(() => m.run(new Uint8Array(784), { batch: 1e9 })).toThrow(/batch: expected an integer in \[1, 65536\], found 1000000000/);
  });
});

describe("prototype keys name nothing", () => {
  it("--set and --vary: __proto__, constructor, toString are unknown fields, and nothing is polluted", () => {
    for (const key of ["__proto__", "constructor", "toString", "__proto__.polluted", "compute.__proto__.x", "noise.constructor.prototype.x", "precision.weightBits.__proto__"]) {
      expect(msg(() => loadHwModel("lowbit-npu", [`${key}=1`])), key).toMatch(/unknown hw-model field/);
      expect(typeof lookupSchema(key.split("."), loadHwModel("lowbit-npu").hw), key).toBe("string");
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expectInputError(nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--set", "__proto__=1"]), /--set __proto__: unknown hw-model field/);
    expectInputError(nipq(["sweep", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--vary", "constructor=0:1:2"]), /--vary constructor: unknown hw-model field/);
  });

  it("a hw-model file with a __proto__ or constructor key is an unknown field", () => {
    const dir = tmp();
    const base = readFileSync(join(HW_MODELS_DIR, "lowbit-npu.json"), "utf8");
    for (const key of ["__proto__", "constructor"]) {
      const f = join(dir, `${key}.json`);
      writeFileSync(f, base.replace('"clockMHz"', `"${key}": { "clockMHz": 1 }, "clockMHz"`));
      expect(msg(() => loadHwModel(f))).toMatch(new RegExp(`${key}: unknown field`));
    }
  });
});

describe("hw-model numbers are bounded, so every figure is finite", () => {
  const numericLeaves = (s: Record<string, any>, path: string[] = []): { path: string[]; schema: Record<string, any> }[] => {
    const out: { path: string[]; schema: Record<string, any> }[] = [];
    if (s.type === "number" || s.type === "integer") out.push({ path, schema: s });
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, any>)) out.push(...numericLeaves(v, [...path, k]));
    for (const branch of ["then", "else"]) if (s[branch]) out.push(...numericLeaves(s[branch], path));
    if (s.items) out.push(...numericLeaves(s.items, [...path, "0"]));
    return out;
  };
  const schema = JSON.parse(readFileSync(join(HW_MODELS_DIR, "schema.json"), "utf8"));

  it("the schema walks: every array has maxItems, every number a finite maximum and a minimum", () => {
    const arrays: string[] = [];
    const walk = (s: Record<string, any>, path: string) => {
      if (s.type === "array") {
        arrays.push(path);
        expect(s.maxItems, `${path}: maxItems`).toBeGreaterThan(0);
      }
      for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, any>)) walk(v, `${path}.${k}`);
      for (const b of ["then", "else", "items"]) if (s[b]) walk(s[b], path);
    };
    walk(schema, "");
    expect(arrays.length).toBeGreaterThanOrEqual(3);
    const leaves = numericLeaves(schema);
    expect(leaves.length).toBeGreaterThan(30);
    for (const { path, schema: s } of leaves) {
      expect(Number.isFinite(s.maximum), `${path.join(".")}: maximum`).toBe(true);
      expect(Number.isFinite(s.minimum ?? s.exclusiveMinimum), `${path.join(".")}: minimum`).toBe(true);
    }
  });

  it("each numeric field at its extremes (the smallest double above an exclusive minimum too) gives finite costs", () => {
    const program = readQModel(FIXTURE);
    let tried = 0;
    for (const name of SHIPPED_MODELS) {
      const hw = loadHwModel(name).hw;
      for (const { path, schema: s } of numericLeaves(schema)) {
        if (typeof lookupSchema(path, hw) === "string") continue; // the other compute kind's fields
        for (const v of [s.minimum ?? (s.exclusiveMinimum === 0 ? Number.MIN_VALUE : s.exclusiveMinimum), s.maximum]) {
          let chip;
          try {
            chip = withSet(hw, path, v);
          } catch {
            continue; // a cross-field rule rejects it: fine, that is an error message, not a figure
          }
          const c = programCost(program, chip);
          for (const [k, x] of Object.entries({ cycles: c.cycles, latencyMs: c.latencyMs, energyMicroJ: c.energyMicroJ, bops: c.bops }))
            expect(Number.isFinite(x), `${name} with ${path.join(".")}=${v}: ${k} = ${x}`).toBe(true);
          tried++;
        }
      }
    }
    expect(tried).toBeGreaterThan(100);
  });

  it("1e999 (Infinity) in a file, and progCoeff with 10^6 entries, are rejected at once", () => {
    const dir = tmp();
    const inf = join(dir, "inf.json");
    writeFileSync(inf, readFileSync(join(HW_MODELS_DIR, "lowbit-npu.json"), "utf8").replace(/"clockMHz":\s*[\d.]+/, '"clockMHz": 1e999'));
    expect(msg(() => loadHwModel(inf))).toMatch(/clockMHz: expected a number <= 1000000, found Infinity/);
    const big = join(dir, "big.json");
    const doc = JSON.parse(readFileSync(join(HW_MODELS_DIR, "analog-pcm-crossbar.json"), "utf8"));
    doc.noise.pcm.progCoeff = new Array(1e6).fill(0.5);
    writeFileSync(big, JSON.stringify(doc));
    expect(msg(() => loadHwModel(big))).toMatch(/noise\.pcm\.progCoeff: must NOT have more than 8 items/);
    expect(msg(() => loadHwModel("lowbit-npu", ["clockMHz=5e-324"]))).toMatch(/clockMHz: expected a number >= 0\.001, found 5e-324/);
  });

  it("--vary -1e308:1e308:3 names the value that is out of range (no NaN)", () => {
    const m = msg(() => parseVary("noise.weightGaussian.sigma=-1e308:1e308:3", loadHwModel("lowbit-npu").hw));
    expect(m).toMatch(/noise\.weightGaussian\.sigma: expected a number >= 0, found -1e\+308/);
    expect(m).not.toMatch(/NaN/);
    expect(parseVary("noise.weightGaussian.sigma=0:1e6:3", loadHwModel("lowbit-npu").hw).values).toEqual([0, 5e5, 1e6]);
    // to/from = 1e312 overflows: the old from·(to/from)^t gave Infinity in the middle.
    expect(parseVary("noise.pcm.tInferenceS=1e-300:1e12:3:log", loadHwModel("analog-pcm-crossbar").hw).values).toEqual([1e-300, 1e-144, 1e12]);
  });
});

describe("the command line itself", () => {
  it("nipq with no command: exit 2, one line listing the commands", () => {
    expectInputError(nipq([]), /^nipq: missing command: expected one of demo, lower, import, inspect, run, train, init, export, export-onnx, simulate, sweep, worker \(nipq --help explains them\)$/);
    expect(nipq(["--help"]).code).toBe(0);
  });

  it("layer names with terminal escape codes are printed escaped by inspect, and in error lines", () => {
    const p = readQModel(FIXTURE);
    p.layers[1].name = "conv\u001b[2J\u001b]0;owned\u0007\u009b31m\u202e";
    p.name = "evil\rname";
    const f = join(tmp(), "esc.qmodel");
    writeFileSync(f, encodeQModel(p));
    const r = nipq(["inspect", f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.stdout).toContain("conv\\u001b[2J\\u001b]0;owned\\u0007\\u009b31m\\u202e");
    expect(r.stdout).toContain("evil\\u000dname");
    const e = nipq(["inspect", join(tmp(), "no\u001b[31m.qmodel")]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("no\\u001b[31m.qmodel: cannot read");
    expect(printable("tab\there\nnewline kept")).toBe("tab\\u0009here\nnewline kept");
  });
});
