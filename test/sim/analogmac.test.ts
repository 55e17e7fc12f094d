// The analog crossbar's MACs on WASM (src/sim/chip/analogmac.ts, assembly/analog.ts) inside the plain-TS sim
// kernels must give exactly the plain-TS loop's integers: same products and sums, same order. Random
// programs (every op, grouped and depthwise convs) on the PCM crossbar with every analog noise source,
// with tiles small enough that layers span several K-tiles, on the SIMD and the scalar build, and the fixture.

import { describe, expect, it } from "vitest";
import { interpretLayers } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { sizeOf, type Program } from "../../src/ir/types.js";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { simKernels } from "../../src/sim/chip/kernels.js";
import { WasmAnalogMac } from "../../src/sim/chip/analogmac.js";
import { randomImages, randomProgram } from "../backends/random-program.js";

const PCM = loadHwModel("analog-pcm-crossbar").hw;
const set = (hw: HwModel, kv: [string, number | string][]) => kv.reduce((h, [k, v]) => withSet(h, k.split("."), v), hw);

function logits(program: Program, hw: HwModel, seed: number, trial: number | null, images: Uint8Array, n: number, flavor: "auto" | "scalar" | null): Int32Array {
  const chip = buildChip(program, hw, seed, trial);
  const k = simKernels(chip, flavor ? { analogMac: new WasmAnalogMac(new WasmEngine({ flavor, sim: true })) } : {});
  k.setFirstInference(0);
  return interpretLayers(program, k, images, n).slice(-1)[0].data as Int32Array;
}

describe("analog MACs on WASM = the plain-TS loop", () => {
  for (const flavor of ["auto", "scalar"] as const)
    it(`random programs, PCM + ADC + per-read noise, tiles of 3–17 rows (${flavor} build): identical logits`, () => {
      let ran = 0;
      let multiTile = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const hw = set(PCM, [["compute.tileRows", 3 + (seed % 15)], ["accumulator.kTile", 3 + (seed % 15)], ["noise.pcm.perReadSigma", 0.02], ["noise.adc.sigma", 0.5]]);
        const p = randomProgram(seed);
        const n = 1 + (seed % 3);
        const images = randomImages(p, n, seed);
        const ref = logits(p, hw, seed, seed % 2 ? 0 : null, images, n, null);
        const got = logits(p, hw, seed, seed % 2 ? 0 : null, images, n, flavor);
        expect(Array.from(got), `program ${p.name} (seed ${seed})`).toEqual(Array.from(ref));
        ran++;
        const chip = buildChip(p, hw, seed, 0);
        if ([...chip.prep.values()].some((q) => q.kind === "analog" && q.kTiles > 1)) multiTile++;
      }
      expect(ran).toBe(25);
      expect(multiTile).toBeGreaterThanOrEqual(20); // layers spanning several tiles: the tile split is exercised
    });

  it("the fixture on the shipped crossbar, 20 images, a noisy trial: identical logits", () => {
    const program = readQModel("test/fixtures/cnn-s-w4a4-random.qmodel");
    const d = limitDataset(loadDataset("mnist", "test"), 20);
    const classes = sizeOf(program.layers[program.layers.length - 1].out.shape);
    const ref = logits(program, PCM, 3, 1, d.images, d.n, null);
    expect(ref.length).toBe(20 * classes);
    expect(Array.from(logits(program, PCM, 3, 1, d.images, d.n, "auto"))).toEqual(Array.from(ref));
  });
});
