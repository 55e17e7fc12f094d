// Two builds of the WASM kernels on one whole program, for a loaded machine: DIR_A/nipq-simd.wasm and
// DIR_B/nipq-simd.wasm (e.g. main's, built with `asc assembly/index.ts --target release --outFile DIR/nipq-simd.wasm`,
// and this tree's build/) each run the same `nipq init` program (seed 1, cached as bench/kernels/scale.ts's) in
// short alternating windows, A first in odd rounds and B first in even ones. Each window is timed by this
// process's CPU time, not the wall clock: with both runs single-threaded here, the time other processes held
// the core drops out (caches and a shared hyperthread still do not). Prints the median and quartiles of the
// per-round ratio time(A) / time(B) (> 1: B faster); the two builds must give identical logits. Run it with
// DIR_A = DIR_B once to see the spread of a null comparison. `--im2col-chunk-a BYTES` gives side A's engine
// another im2col step size (src/kernels/wasm/engine.ts; 1e12: one step per image, as before the bands), to
// compare the engine's host-side change too; `--no-winograd-a`: side A keeps the im2col GEMM for the 3×3
// stride-1 convolutions (a build without the Winograd kernel, e.g. main's before it, always does).
//
//   npx tsx bench/kernels/ab.ts resnet20|mobilenetv2|resnet18 8|4 DIR_A DIR_B [--batch N] [--rounds R] [--im2col-chunk-a BYTES] [--no-winograd-a]
//   npx tsx bench/kernels/ab.ts FILE.qmodel - DIR_A DIR_B [...]      (any program, e.g. test/fixtures/cnn-s-w4a4-random.qmodel; batch 64)

import { WasmProgram } from "../../src/exec/wasm-program.js";
import { readQModel } from "../../src/ir/io.js";
import { sizeOf } from "../../src/ir/types.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { cachedInit, cpuMsPerCall, machine } from "./common.js";
import { images } from "./model.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const [arch, bitsArg, dirA, dirB] = process.argv.slice(2);
const file = arch?.endsWith(".qmodel") ? arch : undefined;
if ((!file && (!["resnet20", "mobilenetv2", "resnet18"].includes(arch) || !["8", "4"].includes(bitsArg))) || !dirA || !dirB) {
  console.error("usage: npx tsx bench/kernels/ab.ts resnet20|mobilenetv2|resnet18 8|4 DIR_A DIR_B [--batch N] [--rounds R] [--im2col-chunk-a BYTES] [--no-winograd-a]\n       npx tsx bench/kernels/ab.ts FILE.qmodel - DIR_A DIR_B [...]");
  process.exit(2);
}
const bits = Number(bitsArg);
const input: [number, number, number] = arch === "resnet20" ? [32, 32, 3] : [224, 224, 3];
const classes = arch === "resnet20" ? 10 : 1000;
const p = readQModel(file ?? (await cachedInit(`${arch}-${input.join("x")}-${classes}-w${bits}a${bits}`, { arch, bits: { w: bits, a: bits }, input, classes, seed: 1 })));
const n = arg("--batch", file ? 64 : arch === "resnet20" ? 8 : 1);
const rounds = arg("--rounds", 150);
const x = images(n, sizeOf(p.layers[0].out.shape));
const chunkA = arg("--im2col-chunk-a", 0) || undefined;
const progs = [dirA, dirB].map((d, i) => new WasmProgram(new WasmEngine({ buildDir: d, flavor: "simd", im2colChunkBytes: i === 0 ? chunkA : undefined, winograd: i > 0 || !process.argv.includes("--no-winograd-a") }), p, n));
const [la, lb] = progs.map((q) => q.run(x, n).logits);
if (la.some((v, i) => v !== lb[i])) throw new Error("the two builds give different logits");

/** CPU ms per run over a window of ≥ 30 ms wall time. */
const window = (q: WasmProgram) => cpuMsPerCall(() => q.run(x, n), 30);
console.log(machine());
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t = [0, 0];
  for (const i of r % 2 ? [1, 0] : [0, 1]) t[i] = window(progs[i]);
  ratios.push(t[0] / t[1]);
}
ratios.sort((u, v) => u - v);
const q = (f: number) => ratios[Math.floor(f * (rounds - 1))].toFixed(3);
console.log(`${file ?? `${arch} W${bits}A${bits}`} batch ${n}, ${rounds} rounds: CPU time A / B median ${q(0.5)} (quartiles ${q(0.25)}–${q(0.75)})`);
console.log(machine());
