// The noise table (src/sim/noise/sources.ts) walked source by source, so a source cannot be forgotten by
// one of the places that must know it: the hw-model schema has a key for it and nothing more, turning it
// on makes a trial noisy (on the plain-TS chip kernels, the definition), it draws when its lifetime says
// (per chip: the stored weights change; per inference: they do not), and every fast execution path it
// claims gives exactly the plain-TS integers while every path it does not claim is refused.

import { describe, expect, it } from "vitest";
import { compileProgram } from "../../src/exec/runner.js";
import { interpretLayers } from "../../src/exec/interpret.js";
import type { Program } from "../../src/ir/types.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { buildChip, type ChipInstance } from "../../src/sim/chip/chip.js";
import { NoisyWasmProgram, fastPathEquivalent } from "../../src/sim/chip/fastpath.js";
import { flipInputs, simKernels } from "../../src/sim/chip/kernels.js";
import { wasmEquivalent, withChipWeights } from "../../src/sim/chip/run.js";
import { loadHwModel, lookupSchema, validateHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { noiseActive, resolveChip } from "../../src/sim/hw/resolve.js";
import { NOISE_SOURCES, STREAM, activeSources, type NoiseSource } from "../../src/sim/noise/sources.js";
import { randomImages, randomProgram } from "../backends/random-program.js";

const DIGITAL = loadHwModel("int8-systolic-16x16").hw;
const ANALOG = loadHwModel("analog-pcm-crossbar", ["noise.pcm.enabled=false", "noise.adc.sigma=0"]).hw;
const turnOn = (hw: HwModel, s: NoiseSource) => Object.entries(s.example).reduce((h, [k, v]) => withSet(h, k.split("."), v), hw);
const chipsFor = (s: NoiseSource): HwModel[] => (s.compute === "analog" ? [ANALOG] : [DIGITAL, ANALOG]);

/** Logits of the plain-TS chip kernels (every source exact) for n images of inferences 0 … n − 1. */
function exactLogits(program: Program, chip: ChipInstance, images: Uint8Array, n: number): Int32Array {
  const k = simKernels(chip);
  k.setFirstInference(0);
  return interpretLayers(program, k, flipInputs(chip, images, n, 0), n).slice(-1)[0].data;
}

const PROGRAMS = [1, 2, 3, 4, 5, 6].map((seed) => ({ seed, p: randomProgram(seed) }));

describe("the noise table", () => {
  it("names each source once, with disjoint streams below 64 (the layer·64 + source key)", () => {
    expect(new Set(NOISE_SOURCES.map((s) => s.id)).size).toBe(NOISE_SOURCES.length);
    const streams = NOISE_SOURCES.flatMap((s) => [...s.streams]);
    expect(new Set(streams).size).toBe(streams.length);
    expect(streams.every((x) => Number.isInteger(x) && x >= 0 && x < 64)).toBe(true);
    expect([...Object.values(STREAM)].every((x) => streams.includes(x))).toBe(true); // no stream without a source
  });

  it("covers every noise setting of the hw-model schema, and only those", () => {
    const schemaKeys = Object.keys((lookupSchema(["noise"], DIGITAL) as { properties: object }).properties).sort();
    expect([...new Set(NOISE_SOURCES.map((s) => s.key))].sort()).toEqual(schemaKeys);
  });

  it("the shipped base chips have every source off", () => {
    for (const hw of [DIGITAL, ANALOG]) {
      expect(activeSources(hw.noise, hw.compute.kind)).toEqual([]);
      expect(noiseActive(hw)).toBe(false);
    }
  });

  for (const s of NOISE_SOURCES) {
    describe(`${s.id} (${s.lifetime}, ${s.compute}, paths ${s.paths.join(" ")})`, () => {
      it("its example turns it on; an analog source on a digital chip is a hw-model error", () => {
        for (const base of chipsFor(s)) {
          const hw = turnOn(base, s);
          expect(activeSources(hw.noise, hw.compute.kind).map((a) => a.id)).toContain(s.id);
          expect(noiseActive(hw)).toBe(true);
          expect(resolveChip(hw).sources).toContain(s);
          // The clean chip draws nothing.
          const clean = buildChip(PROGRAMS[0].p, hw, 1, null);
          expect(clean.sources).toEqual([]);
          expect(clean.noise).toEqual({});
        }
        if (s.compute === "analog") {
          const doc = structuredClone(turnOn(ANALOG, s)) as unknown as Record<string, unknown>;
          doc.compute = structuredClone(DIGITAL.compute);
          doc.precision = structuredClone(DIGITAL.precision);
          expect(() => validateHwModel(doc, "x.json")).toThrow(new RegExp(`^x\\.json: noise\\.${s.key}: .* needs an analog chip`));
        }
      });

      it("makes noisy trials differ from the clean chip on the plain-TS kernels, drawing when its lifetime says", () => {
        for (const base of chipsFor(s)) {
          const hw = turnOn(base, s);
          // The chip's stored weights (digital) or normalized conductances (analog).
          const stored = (c: ChipInstance) => [...c.prep.values()].flatMap((q) => (q.kind === "digital" ? Array.from(q.weights) : q.kind === "analog" ? Array.from(q.wn) : []));
          let differs = 0;
          let changedChips = 0;
          for (const { seed, p } of PROGRAMS) {
            const images = randomImages(p, 3, seed);
            const clean = buildChip(p, hw, seed, null);
            const noisy = buildChip(p, hw, seed, 1);
            const a = exactLogits(p, clean, images, 3);
            const b = exactLogits(p, noisy, images, 3);
            if (a.some((v, i) => v !== b[i])) differs++;
            const s0 = stored(clean);
            if (stored(noisy).some((v, i) => v !== s0[i])) changedChips++;
          }
          expect(differs, `${s.id} on ${hw.name}: noisy logits equal the clean chip's on every program`).toBeGreaterThan(0);
          // Per chip: the instance's stored weights change; per inference: they do not (the draws are per image).
          if (s.lifetime === "chip") expect(changedChips, `${s.id} on ${hw.name}: a per-chip source left every chip as lowered`).toBeGreaterThan(0);
          else expect(changedChips, `${s.id} on ${hw.name}: a per-inference source changed the chip`).toBe(0);
        }
      });

      it("gives the plain-TS integers on every fast path it claims, and is refused by every other", () => {
        if (!chipsFor(s).includes(DIGITAL)) {
          // An analog source: analog chips take the plain-TS kernels only.
          const chip = buildChip(PROGRAMS[0].p, turnOn(ANALOG, s), 1, 1);
          expect(fastPathEquivalent(chip)).toBe(false);
          expect(wasmEquivalent(chip)).toBe(false);
          return;
        }
        const hw = turnOn(DIGITAL, s);
        let fast = 0;
        let program = 0;
        for (const { seed, p } of PROGRAMS) {
          const n = 3;
          const images = randomImages(p, n, seed);
          const chip = buildChip(p, hw, seed, 1);
          const ref = exactLogits(p, chip, images, n);
          if (!s.paths.includes("fast-path")) expect(fastPathEquivalent(chip)).toBe(false);
          else if (fastPathEquivalent(chip)) {
            const got = new NoisyWasmProgram(chip, withChipWeights(p, chip), new WasmEngine({ sim: true })).run(flipInputs(chip, images, n, 0), n, 0).logits;
            expect(Array.from(got), `${s.id}: fast path, program ${seed}`).toEqual(Array.from(ref));
            fast++;
          }
          if (!s.paths.includes("wasm-program")) expect(wasmEquivalent(chip)).toBe(false);
          else if (wasmEquivalent(chip)) {
            const got = compileProgram(withChipWeights(p, chip), loadWasmKernels(), n).run(images, n).logits;
            expect(Array.from(got), `${s.id}: WASM program, program ${seed}`).toEqual(Array.from(ref));
            program++;
          }
        }
        if (s.paths.includes("fast-path")) expect(fast, `${s.id} claims the fast path but it never applied`).toBeGreaterThan(0);
        if (s.paths.includes("wasm-program")) expect(program, `${s.id} claims the WASM program but it never applied`).toBeGreaterThan(0);
      });
    });
  }
});
