// Lowering agreement on trained checkpoints (issue "Lowering" §4): for each checkpoint, the tfjs eval
// accuracy recorded at training time, the float64 fake-quant accuracy with a real bias and with the
// deployed (rounded) bias (src/graph/evaluate.ts), the integer program's accuracy, and the prediction
// agreement of the integer program with each. Prints a markdown table for docs/RESULTS.md.
//
//   npx tsx bench/lower/agreement.ts CKPT_DIR [CKPT_DIR …] [--data fashion-mnist] [--limit 2000]

import { basename } from "node:path";
import { limitDataset, loadDataset } from "../../src/data/index.js";
import { evalGraph } from "../../src/graph/evaluate.js";
import { readCheckpoint } from "../../src/graph/checkpoint.js";
import { lowerGraph } from "../../src/lower/index.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { classesOf, compileProgram, inputBytes, runBatched } from "../../src/exec/runner.js";

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
const dirs = argv.filter((a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1].startsWith("--")));
const data = limitDataset(loadDataset(opt("--data", "fashion-mnist"), "test"), Number(opt("--limit", "2000")));
const argmax = (v: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[b]) b = i;
  return b;
};

console.log(`| checkpoint | tfjs eval at training (full test set) | float64 fake-quant, real bias | float64 fake-quant, deployed bias | integer | agreement int vs real bias | agreement int vs deployed bias |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const dir of dirs) {
  const { graph, weights } = readCheckpoint(dir);
  const program = lowerGraph(graph, weights, dir);
  const runner = compileProgram(program, loadWasmKernels(), 256);
  const ints = runBatched(data.images, inputBytes(program), classesOf(program), 256, (x, n) => runner.run(x, n)).predictions;
  let real = 0, dep = 0, int = 0, agReal = 0, agDep = 0;
  for (let i = 0; i < data.n; i++) {
    const img = data.images.subarray(i * 784, (i + 1) * 784);
    const pr = argmax(evalGraph(graph, weights, img).at(-1)!);
    const pd = argmax(evalGraph(graph, weights, img, { deployedBias: true }).at(-1)!);
    const y = data.labels[i];
    real += +(pr === y);
    dep += +(pd === y);
    int += +(ints[i] === y);
    agReal += +(pr === ints[i]);
    agDep += +(pd === ints[i]);
  }
  const pct = (k: number) => `${((100 * k) / data.n).toFixed(2)}%`;
  const acc = graph.meta.accuracy === null ? "–" : `${(100 * graph.meta.accuracy).toFixed(2)}%`;
  console.log(`| ${basename(dir)} | ${acc} | ${pct(real)} | ${pct(dep)} | ${pct(int)} | ${pct(agReal)} (${data.n - agReal} differ) | ${pct(agDep)} (${data.n - agDep} differ) |`);
}
console.error(`(${data.name} test, first ${data.n} images)`);
