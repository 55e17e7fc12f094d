// Activation memory of a program, one line per figure: the liveness plan of one inference packed at each
// tensor's bits (what `nipq inspect` and `nipq simulate` report) and the WASM runner's arena (i16 elements,
// sized for its micro-batch) for a few maximum batch sizes. Not a speed benchmark: no clock.
//   npx tsx bench/exec/arena.ts FILE.qmodel   (e.g. a `nipq init --arch resnet18 --bits 8/8` program)

import { peakActivationBytes } from "../../src/exec/memplan.js";
import { MICRO_BATCH, WasmProgram } from "../../src/exec/wasm-program.js";
import { readQModel } from "../../src/ir/io.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";

const file = process.argv[2];
if (!file) throw new Error("usage: npx tsx bench/exec/arena.ts FILE.qmodel");
const p = readQModel(file);
console.log(`${file} (${p.name}): peak activation bytes (one inference, packed) ${peakActivationBytes(p)} B`);
for (const b of [1, MICRO_BATCH, 64]) console.log(`WASM arena for batches up to ${b}: ${new WasmProgram(new WasmEngine(), p, b).arenaBytes} B`);
