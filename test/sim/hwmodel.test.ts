// hw-model loading: the shipped models validate; errors name the file, the field, the allowed values and
// the value found; --set overrides dotted paths and rejects unknown keys; --vary parses and expands.

import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HW_MODELS_DIR, SHIPPED_MODELS, loadHwModel, parseSet } from "../../src/sim/hw/hwmodel.js";
import { parseVary } from "../../src/sim/study/vary.js";
import { inputErrorMessage } from "../helpers/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "nipq-hw-"));
function withDoc(edit: (d: Record<string, any>) => void): string {
  const d = JSON.parse(readFileSync(join(HW_MODELS_DIR, "lowbit-npu.json"), "utf8"));
  edit(d);
  const f = join(tmp(), "bad.json");
  writeFileSync(f, JSON.stringify(d));
  return f;
}
const msg = inputErrorMessage;

describe("hw-models", () => {
  it("the four shipped models validate, by name and by path", () => {
    for (const name of SHIPPED_MODELS) {
      const { hw } = loadHwModel(name);
      expect(hw.name).toBe(name);
      expect(loadHwModel(join(HW_MODELS_DIR, `${name}.json`)).hw.name).toBe(name);
    }
    const a = loadHwModel("analog-pcm-crossbar").hw;
    // schema defaults fill the PCM parameters of aihwkit's PCMLikeNoiseModel
    expect(a.noise.pcm).toMatchObject({ t0S: 20, tReadS: 2.5e-7, progCoeff: [0.26348, 1.965, -1.1731], progCoeffGMaxRef: 25, progNoiseScale: 1, driftCompensation: "global" });
  });

  it("an enum violation names file, field, allowed values and the value found", () => {
    const f = withDoc((d) => (d.accumulator.overflow = "clip"));
    expect(msg(() => loadHwModel(f))).toBe(`${f}: accumulator.overflow: expected one of "wrap", "saturate", found "clip"`);
  });

  it("unknown fields, wrong types, ranges and missing fields", () => {
    expect(msg(() => loadHwModel(withDoc((d) => (d.accumulator.width = 3))))).toMatch(/: accumulator\.width: unknown field; allowed fields: bits, overflow, partialSums, kTile$/);
    expect(msg(() => loadHwModel(withDoc((d) => (d.compute.rows = "16"))))).toMatch(/: compute\.rows: expected integer, found "16"$/);
    expect(msg(() => loadHwModel(withDoc((d) => (d.accumulator.bits = 64))))).toMatch(/: accumulator\.bits: expected a number <= 32, found 64$/);
    expect(msg(() => loadHwModel(withDoc((d) => delete d.clockMHz)))).toMatch(/: clockMHz: required field is missing$/);
    expect(msg(() => loadHwModel(withDoc((d) => (d.compute.dataflow = "rs"))))).toMatch(/compute\.dataflow: expected one of "os", "ws", "is", found "rs"/);
    expect(msg(() => loadHwModel(withDoc((d) => (d.noise = { pcm: {} }))))).toMatch(/noise\.pcm: PCM noise needs an analog chip/);
    const bad = join(tmp(), "x.json");
    writeFileSync(bad, "{ nope");
    expect(msg(() => loadHwModel(bad))).toMatch(/x\.json: not valid JSON/);
    expect(msg(() => loadHwModel("no-such-chip"))).toMatch(/no-such-chip: no such hw-model file, and not a shipped model \(shipped: int8-systolic-16x16, lowbit-npu/);
  });

  it("--set overrides dotted paths, creates absent noise sources with defaults, rejects unknown keys", () => {
    const { hw } = loadHwModel("lowbit-npu", ["accumulator.bits=24", "noise.weightGaussian.sigma=0.5", "precision.promote=true"]);
    expect(hw.accumulator.bits).toBe(24);
    expect(hw.noise.weightGaussian).toEqual({ sigma: 0.5, unit: "lsb" });
    expect(hw.precision.promote).toBe(true);
    expect(loadHwModel("analog-pcm-crossbar", ["compute.adc.bits=6"]).hw.compute).toMatchObject({ adc: { bits: 6 } });
    expect(msg(() => loadHwModel("lowbit-npu", ["accumulator.widht=3"]))).toBe("--set accumulator.widht: unknown hw-model field (see hw-models/schema.json and docs/HW_MODELS.md)");
    expect(msg(() => loadHwModel("lowbit-npu", ["compute.adc.bits=6"]))).toMatch(/--set compute\.adc\.bits: unknown hw-model field/); // digital compute has no ADC
    expect(msg(() => loadHwModel("lowbit-npu", ["accumulator.overflow=clip"]))).toMatch(/with --set accumulator\.overflow=clip\): accumulator\.overflow: expected one of "wrap", "saturate", found "clip"/);
    expect(msg(() => parseSet("noequals"))).toMatch(/expected key=value/);
    expect(msg(() => parseSet("a..b=1"))).toMatch(/malformed key/);
    expect(msg(() => parseSet("a.b="))).toMatch(/missing value/);
  });

  it("--vary: linear, log, integer fields, malformed specs", () => {
    const hw = loadHwModel("analog-pcm-crossbar").hw;
    expect(parseVary("noise.adc.sigma=0:1:5", hw).values).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(parseVary("noise.pcm.tInferenceS=1:10000:5:log", hw).values).toEqual([1, 10, 100, 1000, 10000]);
    expect(parseVary("compute.adc.bits=4:8:9", hw).values).toEqual([4, 5, 6, 7, 8]);
    expect(msg(() => parseVary("noise.adc.sigma=0:1", hw))).toMatch(/expected 3 or 4 ":"-separated fields, found 2/);
    expect(msg(() => parseVary("noise.adc.sigma=0:x:3", hw))).toMatch(/to is not a number/);
    expect(msg(() => parseVary("noise.adc.sigma=0:1:3:lin", hw))).toMatch(/the 4th field must be "log"/);
    expect(msg(() => parseVary("noise.adc.sigma=0:1:3:log", hw))).toMatch(/a log sweep needs from > 0/);
    expect(msg(() => parseVary("noise.adc.sigma=0:1:0", hw))).toMatch(/steps must be an integer/);
    expect(msg(() => parseVary("noise.nope=0:1:3", hw))).toMatch(/--vary noise\.nope: unknown hw-model field/);
    expect(msg(() => parseVary("accumulator.overflow=0:1:3", hw))).toMatch(/not a numeric field/);
  });
});
