// How many output-noise integers a change of the noise's definition moves: this tree's perturbAccumulators
// against another tree's (OLD, e.g. a worktree of an earlier commit: `git worktree add --detach /tmp/old REV`),
// on the same streams (seed 7), over 10^6 accumulators (|acc| ≤ 10^4, 16 channels, σ_c = σ·(1 + c/7)).
//
//   npx tsx bench/sim/noise-def-diff.ts OLD [σ…]   (σ in accumulator LSB; default 0.3 1.5 37.7 1234.5)

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { perturbAccumulators as pNew } from "../../src/sim/noise/models.js";
import { Rng as RNew } from "../../src/sim/noise/rng.js";

const [oldTree, ...sigmaArgs] = process.argv.slice(2);
if (!oldTree) {
  console.error("usage: npx tsx bench/sim/noise-def-diff.ts OLD_TREE [sigma...]");
  process.exit(2);
}
const url = (p: string) => pathToFileURL(resolve(oldTree, p)).href;
const { perturbAccumulators: pOld } = await import(url("src/sim/noise/models.ts"));
const { Rng: ROld } = await import(url("src/sim/noise/rng.ts"));
const sigmas = sigmaArgs.length ? sigmaArgs.map(Number) : [0.3, 1.5, 37.7, 1234.5];
const N = 1_000_000;
const C = 16;
const acc0 = Float64Array.from({ length: N }, (_, i) => ((i * 2654435761) % 20001) - 10000);
for (const sigma of sigmas) {
  const sd = Float64Array.from({ length: C }, (_, c) => sigma * (1 + c / 7));
  const a = acc0.slice();
  const b = acc0.slice();
  pNew(a, 0, N / C, C, 32, 0, null, sd, [0, 1, 2, 3, 4].map((k) => new RNew(7, 0, 0, k)));
  pOld(b, 0, N / C, C, 32, 0, null, sd, [0, 1, 2, 3, 4].map((k) => new ROld(7, 0, 0, k)));
  let d = 0;
  for (let i = 0; i < N; i++) if (a[i] !== b[i]) d++;
  console.log(`σ ${sigma}: ${d} of ${N} accumulators differ`);
}
