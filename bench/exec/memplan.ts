// How the activation planner (src/exec/memplan.ts) scales with the number of layers, measured in one run:
// the time of planActivations on synthetic programs (bench/exec/many-layers.ts) of L and 2L layers; the
// ratio t(2L)/t(L) is ~2 for O(L log L) and ~4 for O(L²). Not a test.
//
//   npx tsx bench/exec/memplan.ts [--max L]

import { planActivations } from "../../src/exec/memplan.js";
import { validateProgram } from "../../src/ir/validate.js";
import type { Program } from "../../src/ir/types.js";
import { chainProgram, fanoutProgram } from "./many-layers.js";

const argv = process.argv.slice(2);
const max = argv.includes("--max") ? Number(argv[argv.indexOf("--max") + 1]) : 64000;

/** Median of 3 runs, ms. */
function time(p: Program): number {
  const t: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    planActivations(p);
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b)[1];
}

console.log("| shape | layers | plan ms | t(L) / t(L/2) |");
console.log("| --- | ---: | ---: | ---: |");
for (const [shape, make] of [["chain", (L: number) => chainProgram(L)], ["fanout", (L: number) => fanoutProgram(Math.floor((L - 2) / 2))]] as const) {
  let prev = 0;
  for (let L = 1000; L <= max; L *= 2) {
    const p = make(L);
    validateProgram(p, "<synthetic>", true);
    const ms = time(p);
    console.log(`| ${shape} | ${p.layers.length.toLocaleString("en-US")} | ${ms.toFixed(1)} | ${prev ? (ms / prev).toFixed(2) : ""} |`);
    prev = ms;
    if (ms > 20000) break;
  }
}
