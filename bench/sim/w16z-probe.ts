import { readQModel } from "../../src/ir/io.js";
import { isWeightLayer, sizeOf, type Layer, type Program } from "../../src/ir/types.js";
import { WasmProgram } from "../../src/exec/wasm-program.js";
import { WasmEngine, type PreparedLayer } from "../../src/kernels/wasm/engine.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { NoisyWasmProgram, fastPathEquivalent, slabOptions } from "../../src/sim/chip/fastpath.js";
import { flipInputs } from "../../src/sim/chip/kernels.js";
import { withChipWeights } from "../../src/sim/chip/run.js";
import { loadHwModel, withSet } from "../../src/sim/hw/hwmodel.js";
import { cachedInit, cpuMsPerCall, machine } from "../kernels/common.js";
import { images } from "../kernels/model.js";

const opt = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const bits = Number(opt("--bits", "4"));
const n = Number(opt("--images", "2"));
const rounds = Number(opt("--rounds", "7"));
const win = Number(opt("--window", "15"));
const top = Number(opt("--top", "60"));
const only = opt("--only", "").split(",").filter(Boolean);
slabOptions.elements = Number(opt("--slab", String(slabOptions.elements)));

const p = readQModel(await cachedInit(`mobilenetv2-224x224x3-1000-w${bits}a${bits}`, { arch: "mobilenetv2", bits: { w: bits, a: bits }, input: [224, 224, 3], classes: 1000, seed: 1 }));
const hw = withSet(loadHwModel("int8-systolic-16x16").hw, ["noise", "outputGaussian", "sigma"], 0.3);
const chip = buildChip(p, hw, 1, 0);
if (!fastPathEquivalent(chip)) throw new Error("this chip instance does not take the fast path");
const x = flipInputs(chip, images(n, sizeOf(p.layers[0].out.shape)), n, 0);
const cleanEngine = loadWasmKernels({ flavor: "auto" }).engine;
const clean = new WasmProgram(cleanEngine, p, n);
const noisy = new NoisyWasmProgram(chip, withChipWeights(p, chip), new WasmEngine({ flavor: "simd", sim: true }), n);
clean.run(x, n);
const nq = noisy as unknown as { noise: ({ gauss: { layPtr: number; period: number; msPtr: number } | null } | undefined)[]; engine: WasmEngine; program: Program };
const L = nq.program.layers;
let tot = 0, notExact = 0, big = 0;
for (let i = 0; i < L.length; i++) {
  const g = nq.noise[i]?.gauss;
  if (!g) continue;
  const buf = nq.engine.arena.bytes().buffer;
  const f = new Float64Array(buf, g.layPtr, 3);
  const flags = new Int32Array(buf, g.layPtr + 24, 1)[0];
  const ms = new Float64Array(buf, g.msPtr, g.period);
  const nb = ms.filter((v) => Math.abs(v) >= 0.5).length;
  const acc = sizeOf(L[i].out.shape);
  tot += acc; if (!(flags & 2)) notExact += acc; if (!(flags & 1)) big += acc;
  if (!(flags & 2) || nb) console.log(L[i].name, "flags", flags, "sdv", f[0].toFixed(1), "vlim", f[1].toExponential(3), "accMax", f[2], "big", nb, "acc", acc);
}
console.log({ tot, notExact, big });
