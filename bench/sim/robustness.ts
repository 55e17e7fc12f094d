// Robustness study (issue 6 §8): models (e.g. NIPQ and LSQ Fashion-MNIST at W4A4 and W3A3) under
// (a) weight Gaussian noise in LSB units on the int8 systolic array and (b) the PCM crossbar at drift times
// 1 s, 1 h, 1 day, 1 month, 1 year; accuracy mean ± 95% CI over trials. Writes robustness.json, two SVG
// curves and a markdown table (stdout) for docs/RESULTS.md.
//
//   npx tsx bench/sim/robustness.ts A.qmodel [B.qmodel …] [--data fashion-mnist] [--limit N] [--trials 10]
//        [--analog-limit N] [--workers 2] [--seed 0] [--out bench/sim/out]

import { basename, join } from "node:path";
import { readQModel } from "../../src/ir/io.js";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { ensureDir, writeFileAtomic } from "../../src/fsutil.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { runTrials } from "../../src/sim/study/trials.js";
import { runTrial } from "../../src/sim/chip/run.js";
import { trialStats } from "../../src/sim/study/stats.js";
import { accuracySeries, curveChart, type CurveSeries } from "../../src/report/svg.js";

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : d);
const models = argv.filter((a) => a.endsWith(".qmodel"));
if (!models.length) {
  console.error("usage: robustness.ts A.qmodel [B.qmodel …] [--data D] [--limit N] [--trials N] [--workers N] [--out DIR]");
  process.exit(2);
}
const dataName = opt("--data", "fashion-mnist");
const limit = Number(opt("--limit", "1000"));
// The crossbar runs on the plain-TS analog kernels with the MACs on WASM (~110 images/s on cnn-s): a
// smaller image count keeps the study short.
const analogLimit = Number(opt("--analog-limit", String(limit)));
const trials = Number(opt("--trials", "10"));
const workers = Number(opt("--workers", "2"));
const seed = Number(opt("--seed", "0"));
const out = opt("--out", "bench/sim/out");
const testSet = loadDataset(dataName, "test");
const data = limitDataset(testSet, limit);
const analogData = limitDataset(testSet, analogLimit);

const SIGMAS = [0, 0.25, 0.5, 0.75, 1.0, 1.5];
const TIMES: [string, number][] = [["1 s", 1], ["1 h", 3600], ["1 day", 86400], ["1 month", 2592000], ["1 year", 31536000]];

interface Point { label: string; x: number; clean: number; mean: number; std: number; ci95: number }
async function curve(program: ReturnType<typeof readQModel>, base: HwModel, path: string[], xs: [string, number][], data: ReturnType<typeof limitDataset>): Promise<Point[]> {
  const pts: Point[] = [];
  for (const [label, x] of xs) {
    const hw = withSet(base, path, x);
    const clean = runTrial(program, hw, data, seed, null);
    const s = trialStats(await runTrials(program, hw, data, seed, Array.from({ length: trials }, (_, i) => i), workers));
    pts.push({ label, x, clean, mean: s.mean, std: s.std, ci95: s.ci95 });
    process.stderr.write(`  ${path.join(".")}=${label}: ${(100 * s.mean).toFixed(2)}% ± ${(100 * s.ci95).toFixed(2)}\n`);
  }
  return pts;
}

const results: Record<string, { weightNoise: Point[]; pcmDrift: Point[] }> = {};
for (const m of models) {
  process.stderr.write(`${m}\n`);
  const program = readQModel(m);
  results[m] = {
    weightNoise: await curve(program, loadHwModel("int8-systolic-16x16").hw, ["noise", "weightGaussian", "sigma"], SIGMAS.map((s) => [String(s), s]), data),
    pcmDrift: await curve(program, loadHwModel("analog-pcm-crossbar").hw, ["noise", "pcm", "tInferenceS"], TIMES, analogData),
  };
}
ensureDir(out);
const series = (k: "weightNoise" | "pcmDrift"): CurveSeries[] => models.map((m) => accuracySeries(basename(m, ".qmodel"), results[m][k].map((p) => ({ ...p, value: p.x }))));
writeFileAtomic(join(out, "robustness.json"), JSON.stringify({ data: data.name, samples: data.n, analogSamples: analogData.n, trials, seed, results }, null, 2) + "\n");
writeFileAtomic(join(out, "weight-noise.svg"), curveChart(`Weight Gaussian noise, int8-systolic-16x16 (${data.name}, ${data.n} images)`, "σ (weight LSB)", "accuracy (%)", series("weightNoise")));
writeFileAtomic(join(out, "pcm-drift.svg"), curveChart(`PCM crossbar drift (${data.name}, ${analogData.n} images)`, "t since programming (s)", "accuracy (%)", series("pcmDrift"), true));
const pct = (p: Point) => `${(100 * p.mean).toFixed(2)} ± ${(100 * p.ci95).toFixed(2)}`;
console.log(`| model | ${SIGMAS.map((s) => `σ=${s} LSB`).join(" | ")} |\n|---|${SIGMAS.map(() => "---").join("|")}|`);
for (const m of models) console.log(`| ${basename(m)} | ${results[m].weightNoise.map(pct).join(" | ")} |`);
console.log(`\n| model | clean crossbar | ${TIMES.map(([l]) => l).join(" | ")} |\n|---|---|${TIMES.map(() => "---").join("|")}|`);
for (const m of models) console.log(`| ${basename(m)} | ${(100 * results[m].pcmDrift[0].clean).toFixed(2)} | ${results[m].pcmDrift.map(pct).join(" | ")} |`);
