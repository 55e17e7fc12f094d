// The GEMM kernel alone on two or more builds: gemm_s16_8c2_requant (nipqGemm of ./gemm.ts: random operands,
// s = 40, odd m, the requant form each build's requant_fit picks for 8-bit outputs: FIXED_S, or the f64 requant
// since session 30) of DIR/nipq-simd.wasm for each DIR, at mobilenetv2's 1×1-convolution GEMM shapes
// (M×K×N; the stem's im2col is K = 27 → 28), timed in alternating windows (timeInterleaved: best of 8 windows
// each). Prints GMAC/s per build and each build's speed relative to the first (> 1: faster) — the per-layer view
// of a kernel change that bench/kernels/layers.ts, one build after the other, reads through more drift.
// --raw: the simulator's accumulate-only gemm_s16_8c2_acc of DIR/nipq-sim-simd.wasm instead, on the rows of one
// slab of its output-noise pass (slabPixels of src/sim/chip/fastpath.ts: ~32,768 i32 accumulators, as the noisy
// run calls it), M×K×N printed with that M.
//
//   npx tsx bench/kernels/gemm-ab.ts DIR_A DIR_B [DIR_C ...] [--w4] [--raw]

import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { slabOptions, slabPixels } from "../../src/sim/chip/fastpath.js";
import { machine, timeInterleaved } from "./common.js";
import { nipqGemm } from "./gemm.js";

const dirs = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (dirs.length < 2) {
  console.error("usage: npx tsx bench/kernels/gemm-ab.ts DIR_A DIR_B [DIR_C ...] [--w4] [--raw]");
  process.exit(2);
}
const bits = process.argv.includes("--w4") ? 4 : 8;
const raw = process.argv.includes("--raw");
const SHAPES: [number, number, number][] = [[12544, 28, 32], [12544, 16, 96], [12544, 32, 16], [3136, 24, 144], [784, 32, 192], [3136, 96, 24], [3136, 144, 24], [196, 64, 384], [196, 576, 96], [49, 960, 320]];
console.log(machine());
const engines = dirs.map((d) => new WasmEngine({ buildDir: d, flavor: "simd", sim: raw }));
console.log(`W${bits}${raw ? `, raw (gemm_s16_8c2_acc, slabs of ${slabOptions.elements} accumulators)` : ""}: M×K×N, GMAC/s per build (${dirs.join(", ")}), then each ÷ the first`);
for (const [layerM, K, N] of SHAPES) {
  const M = raw ? slabPixels(layerM, N, 4, slabOptions.minRows) : layerM;
  const t = timeInterleaved(engines.map((e) => nipqGemm(e, M, K, N, bits, undefined, raw).call), 0.1, 8);
  console.log(`${M}×${K}×${N}`.padEnd(14), t.map((v) => ((M * K * N) / v / 1e9).toFixed(1).padStart(6)).join(" "), "  ", t.slice(1).map((v) => (t[0] / v).toFixed(3)).join(" "));
}
console.log(machine());
