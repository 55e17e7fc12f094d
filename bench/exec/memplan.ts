// How the activation planner (src/exec/memplan.ts) scales with the number of layers, measured in one run
// against its O(L²) predecessor (naiveOffsets, bench/exec/many-layers.ts) on synthetic programs of L and
// 2L layers: t(2L)/t(L) is ~2 for O(L log L), ~4 for O(L²). The old planner is skipped once one call
// takes over 20 s. `nipq inspect` of a --write'n 100,000-layer chain measures the whole command. Not a test.
//
//   npx tsx bench/exec/memplan.ts [--max L] [--write FILE.qmodel]

import { writeFileSync } from "node:fs";
import { deployedBytes, planActivations } from "../../src/exec/memplan.js";
import { encodeQModel } from "../../src/ir/qmodel.js";
import type { Program } from "../../src/ir/types.js";
import { validateProgram } from "../../src/ir/validate.js";
import { chainProgram, fanoutProgram, naiveOffsets } from "./many-layers.js";

const argv = process.argv.slice(2);
const opt = (k: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : undefined);
const max = Number(opt("--max") ?? 100_000);

/** Median of 3 runs (1 when a run takes over 2 s), ms. */
function time(f: () => unknown): number {
  const t: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
    if (t[0] > 2000) return t[0];
  }
  return t.sort((a, b) => a - b)[1];
}

const write = opt("--write");
if (write) {
  const p = chainProgram(100_000);
  writeFileSync(write, encodeQModel(p));
  console.log(`wrote ${write}: ${p.layers.length} layers`);
}

console.log("| shape | layers | O(L log L) ms | × previous row | O(L²) ms (before) | × previous row | before / after |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [shape, make] of [["chain", (L: number) => chainProgram(L)], ["fanout", (L: number) => fanoutProgram(Math.floor((L - 2) / 2))]] as const) {
  let prev = [0, 0];
  let oldDone = false;
  for (const L of [1000, 2000, 4000, 8000, 16000, 32000, 64000, 100_000].filter((n) => n <= max)) {
    const p: Program = make(L);
    validateProgram(p, "<synthetic>", true);
    const now = time(() => planActivations(p, deployedBytes));
    const old = oldDone ? NaN : time(() => naiveOffsets(p));
    if (old > 20000) oldDone = true;
    const r = (a: number, b: number) => (b && Number.isFinite(a) ? (a / b).toFixed(2) : "");
    console.log(`| ${shape} | ${p.layers.length.toLocaleString("en-US")} | ${now.toFixed(1)} | ${r(now, prev[0])} | ${Number.isFinite(old) ? old.toFixed(0) : "–"} | ${r(old, prev[1])} | ${Number.isFinite(old) ? (old / now).toFixed(0) + "×" : ""} |`);
    prev = [now, old];
  }
}
