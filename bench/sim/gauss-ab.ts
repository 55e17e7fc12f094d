// The output-noise kernel alone (assembly/simnoise.ts gauss_requant_s16) on one mobilenetv2-sized layer, two
// simulator builds A/B by CPU time (short alternating windows; the outputs of both must be identical, unless
// --timing-only: B draws other numbers, e.g. another generator, and only the times compare):
// 112×112×96 accumulators (the largest expansion of mobilenetv2 224), |acc| of ~2^14, multipliers in
// [2^30, 2^31), s = 44, output σ 0.3 (out-lsb), a 4-bit unsigned output (0..15), half-up rounding. Prints ns
// per element of each and the median and quartiles of A ÷ B per round (> 1: B faster).
//
//   npx tsx bench/sim/gauss-ab.ts DIR_A DIR_B [--rounds R] [--mode 0|1|2] [--pixels N] [--big K] [--zeros P] [--timing-only]
//
// --pixels: accumulators of N pixels instead of 112·112 (e.g. 2048: 0.8 MB, within L2). --big K: the first K
// channels with s = 30 instead (m·2^−s in [1, 2): a layer with channels |m·2^−s| ≥ ½, as b2_expand's 2 of 96
// and eight depthwise layers' 1–3; their outputs clamp at 15, for timing). --zeros P: P % of the accumulators
// 0 (every ⌊100/P⌋-th; the kernels before 0977487 round a block with a 0 in it by f64.nearest when some
// |m·2^−s| ≥ ½).
//
// DIR holds nipq-sim-simd.wasm (this tree's: build/; main's: `npx asc assembly/sim.ts --target sim --outFile DIR/nipq-sim-simd.wasm`).

import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import { Rng } from "../../src/sim/noise/rng.js";
import { putGaussLayer, putZigTables, saveGaussStreams } from "../../src/sim/chip/fastpath.js";
import { cpuMsPerCall, machine, quantile as q } from "../kernels/common.js";

/** The kernel of this tree (with gauss_prepare and the layer block) or of an older build (41cffaa: σ, m·2^−s and the bound on |acc| as operands). */
interface GaussExports {
  gauss_requant_s16(acc: number, total: number, C: number, P: number, ...rest: number[]): void;
  gauss_prepare?(C: number, P: number, sdp: number, msp: number, m: number, s: number, mode: number, accMax: number, lay: number, zt?: number): void;
}
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const [dirA, dirB] = process.argv.slice(2);
if (!dirA || !dirB || dirA.startsWith("--") || dirB.startsWith("--")) {
  console.error("usage: npx tsx bench/sim/gauss-ab.ts DIR_A DIR_B [--rounds R] [--mode 0|1|2] [--pixels N] [--big K] [--zeros P] [--timing-only]");
  process.exit(2);
}
const rounds = arg("--rounds", 60);
const mode = arg("--mode", 0);

const C = 96;
const total = arg("--pixels", 112 * 112) * C;
const r = new Rng(5, 0, 0, 0);
const m = Int32Array.from({ length: C }, () => 2 ** 30 + Math.floor(r.uniform() * 2 ** 30));
const big = arg("--big", 0);
const s = Int32Array.from({ length: C }, (_, c) => (c < big ? 30 : 44));
const zeroEvery = Math.floor(100 / arg("--zeros", 0)); // Infinity: none
const acc = Int32Array.from({ length: total }, (_, j) => (j % zeroEvery === zeroEvery - 1 ? 0 : Math.round(r.normal() * 2 ** 14)));
const accMax = acc.reduce((v, a) => Math.max(v, Math.abs(a)), 0); // as NoisyWasmProgram passes a layer's bound

/** One build's kernel with its operands in its own memory; `run` redoes the layer from the same streams. */
function setup(dir: string) {
  const engine = new WasmEngine({ buildDir: dir, flavor: "simd", sim: true });
  const k = engine.k as unknown as GaussExports;
  const a = engine.arena;
  const sd = Array.from(m, (mc, c) => (0.3 * 2 ** s[c]) / mc);
  const { zt: ztp, zf: zfp } = putZigTables(a);
  // zt as a trailing operand: builds before session 32 read it in gauss_prepare (this tree's ignores it).
  const g = putGaussLayer(a, { gauss_prepare: (C: number, P: number, sdp: number, msp: number, m: number, s: number, mode: number, accMax: number, lay: number) => k.gauss_prepare?.(C, P, sdp, msp, m, s, mode, accMax, lay, ztp) }, sd, m, s, mode, accMax, "bench");
  const accp = a.putI32(acc, "bench");
  const y = a.alloc(total * 2, "bench");
  const st = a.alloc(112, "bench");
  const rej = a.alloc(Math.ceil(total / 4) * 32, "bench");
  const run = () => {
    saveGaussStreams(i32View(a, st, 20), [0, 1, 2, 3, 4].map((k) => new Rng(1, 0, 0, k)));
    if (k.gauss_prepare) k.gauss_requant_s16(accp, total, C, g.period, g.mPtr, g.sPtr, 0, 15, y, st, rej, ztp, zfp, mode, g.layPtr);
    else k.gauss_requant_s16(accp, total, C, g.period, g.sdPtr, g.msPtr, g.mPtr, g.sPtr, 0, 15, y, st, rej, ztp, zfp, mode, accMax);
  };
  return { run, out: () => Int16Array.from(a.i16(y, total)) };
}

const builds = [setup(dirA), setup(dirB)];
builds.forEach((b) => b.run());
const [oa, ob] = builds.map((b) => b.out());
if (!process.argv.includes("--timing-only") && oa.some((v, i) => v !== ob[i])) throw new Error("the two builds give different outputs");

const window = (f: () => void) => cpuMsPerCall(f, 50);
console.log(machine());
const ratios: number[] = [];
const ns: number[][] = [[], []];
for (let i = 0; i < rounds; i++) {
  const t = [0, 0];
  for (const j of i % 2 ? [1, 0] : [0, 1]) t[j] = window(builds[j].run);
  t.forEach((v, j) => ns[j].push((v * 1e6) / total));
  ratios.push(t[0] / t[1]);
}
console.log(`gauss_requant_s16, ${total.toLocaleString("en")} elements (C ${C}, ${big} with m·2^−s ≥ ½, ${arg("--zeros", 0)} % zeros), rounding mode ${mode}, ${rounds} rounds: ns per element A ${q(ns[0], 0.5).toFixed(2)}, B ${q(ns[1], 0.5).toFixed(2)}; CPU time A / B median ${q(ratios, 0.5).toFixed(3)} (quartiles ${q(ratios, 0.25).toFixed(3)}–${q(ratios, 0.75).toFixed(3)})`);
console.log(machine());
