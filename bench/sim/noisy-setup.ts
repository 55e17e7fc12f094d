// The set-up bench/sim/noisy-layers.ts and gauss-layers.ts share: a noisy mobilenetv2 224×224×3 (`nipq init`, seed 1,
// cached as bench/kernels/scale.ts's) on int8-systolic-16x16 with output noise σ 0.3 out-LSB, one chip instance on
// the fast path (NoisyWasmProgram, src/sim/chip/fastpath.ts) run once on n images, and the private parts of it that
// these tools reach into (a bench, not an API).

import { readQModel } from "../../src/ir/io.js";
import { sizeOf, type Layer, type Program } from "../../src/ir/types.js";
import { WasmEngine, type PreparedLayer } from "../../src/kernels/wasm/engine.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { NoisyWasmProgram, fastPathEquivalent } from "../../src/sim/chip/fastpath.js";
import { flipInputs } from "../../src/sim/chip/kernels.js";
import { withChipWeights } from "../../src/sim/chip/run.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import { cachedInit } from "../kernels/common.js";
import { images } from "../kernels/model.js";

/** NoisyWasmProgram's layer runners and kernels object. */
export interface NoisyInternals {
  k: object;
  program: Program;
  noise: (object | undefined)[];
  engine: WasmEngine;
  base: number;
  offsets: number[];
  weightLayer(l: Layer, p: PreparedLayer, ln: object, x: number, n: number, y: number, first: number): void;
}

/** The program p, its input images x, the noisy program after one run and its internals nq; buildDir: another tree's simulator build. */
export async function noisyMobilenet(bits: number, n: number, buildDir = "") {
  const p = readQModel(await cachedInit(`mobilenetv2-224x224x3-1000-w${bits}a${bits}`, { arch: "mobilenetv2", bits: { w: bits, a: bits }, input: [224, 224, 3], classes: 1000, seed: 1 }));
  const hw = withSet(loadHwModel("int8-systolic-16x16").hw, ["noise", "outputGaussian", "sigma"], 0.3);
  const chip = buildChip(p, hw, 1, 0);
  if (!fastPathEquivalent(chip)) throw new Error("this chip instance does not take the fast path");
  const x = flipInputs(chip, images(n, sizeOf(p.layers[0].out.shape)), n, 0);
  const noisy = new NoisyWasmProgram(chip, withChipWeights(p, chip), new WasmEngine({ flavor: "simd", sim: true, ...(buildDir ? { buildDir } : {}) }), n);
  noisy.run(x, n, 0);
  return { p, x, noisy, nq: noisy as unknown as NoisyInternals };
}
