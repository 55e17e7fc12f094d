// Queued sweeps on this machine (src/queue/, docs/DISTRIBUTED.md): a redis-server on a loopback port and two
// `nipq worker` processes (one job at a time each) against the in-process sweep with --workers 2, the same
// command otherwise; the JSON must be identical. Then the queue's cost per job (a sweep of near-empty jobs),
// the per-job compute of the two job kinds of the docs/RESULTS.md robustness study (cnn-s on Fashion-MNIST:
// weight noise on int8-systolic-16x16 over 1,000 images, the PCM crossbar over 200), and that study's
// projected wall time on 10 and 100 workers: a greedy longest-job-first schedule of its 444 jobs at the
// measured per-job times (worker-side, so each includes the worker's per-job overhead), plus the measured
// fixed cost of a queued run (connect, upload, enqueue, gather).
//
//   npm run build && npx tsx bench/queue/sweep.ts [--json]

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { missingPackage } from "../../test/helpers/debian.js";
import { nipqAsync, spawnWorker, startRedis } from "../../test/helpers/redis.js";

const missing = missingPackage("redis-server");
if (missing) {
  console.error(missing);
  process.exit(2);
}
const json = process.argv.includes("--json");
const MODEL = "models/cnn-s-fashion-nipq-mp.qmodel";
const tmp = mkdtempSync(join(tmpdir(), "nipq-bench-queue-"));
const redis = await startRedis();
const url = (db: number) => `redis://127.0.0.1:${redis.port}/${db}`;
const loads: number[] = [];
const load = () => loads.push(loadavg()[0]);

/** Wall seconds of `nipq …args` and its stdout. */
async function timed(args: string[]): Promise<{ s: number; out: string }> {
  const t0 = performance.now();
  const r = await nipqAsync(args).done;
  if (r.code !== 0) throw new Error(`nipq ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  return { s: (performance.now() - t0) / 1000, out: r.stdout };
}

/** Per-job seconds the workers reported ("done … (1.234 s)"), in order. */
const jobSeconds = (out: string) => [...out.matchAll(/^done .*\((\d+\.\d+) s\)$/gm)].map((m) => Number(m[1]));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;

async function withWorkers<T>(db: number, n: number, f: () => Promise<T>): Promise<{ r: T; seconds: number[] }> {
  const ws = Array.from({ length: n }, () => spawnWorker(url(db), ["--concurrency", "1", "--cache", join(tmp, "cache")]));
  try {
    for (const w of ws) await w.waitFor(/nipq worker .* on redis:/);
    const r = await f();
    await new Promise((res) => setTimeout(res, 300)); // the last "done" lines
    return { r, seconds: ws.flatMap((w) => jobSeconds(w.output())) };
  } finally {
    await Promise.all(ws.map((w) => w.stop()));
  }
}

try {
  // 1. The weight-noise sweep of the study for one model: 6 points × 10 trials over 1,000 images.
  const sweep = ["sweep", MODEL, "--hw", "int8-systolic-16x16", "--data", "fashion-mnist", "--limit", "1000", "--trials", "10", "--seed", "0", "--vary", "noise.weightGaussian.sigma=0:1.5:7", "--json"];
  load();
  const local = await timed([...sweep, "--workers", "2"]);
  load();
  const queued = await withWorkers(1, 2, () => timed([...sweep, "--queue", url(1)]));
  load();
  if (queued.r.out !== local.out) throw new Error("the queued sweep's JSON differs from the in-process one");
  const weightJobs = queued.seconds;

  // 2. The queue's own cost per job: 200 jobs of one image each (a chip is still built per job).
  const tiny = ["sweep", MODEL, "--hw", "int8-systolic-16x16", "--data", "fashion-mnist", "--limit", "20", "--trials", "9", "--vary", "noise.weightGaussian.sigma=0.5:1.5:2", "--job-images", "1", "--json"];
  const tinyRun = await withWorkers(2, 2, () => timed([...tiny, "--queue", url(2)]));
  load();
  const tinyJobs = tinyRun.seconds.length;
  // Wall time per job with 2 workers, both busy: what one job costs end to end, less the compute it did.
  const perJobWall = (2 * tinyRun.r.s) / tinyJobs;

  // 3. PCM crossbar jobs over 200 images (the study's part (b)): 1 point, clean + 2 trials.
  const pcm = ["simulate", MODEL, "--hw", "analog-pcm-crossbar", "--data", "fashion-mnist", "--limit", "200", "--trials", "2", "--seed", "0", "--set", "noise.pcm.tInferenceS=86400", "--json"];
  const pcmRun = await withWorkers(3, 2, () => timed([...pcm, "--queue", url(3)]));
  load();
  const pcmJobs = pcmRun.seconds;

  // The study: 4 models × [(a) 1 clean job (σ = 0: no noise) + 5 noisy points × 11 jobs of 1,000 images;
  // (b) 5 drift times × 11 jobs of 200 images] = 444 jobs.
  const cA = mean(weightJobs);
  const cB = mean(pcmJobs);
  const studyJobs: number[] = [];
  for (let m = 0; m < 4; m++) {
    studyJobs.push(cA);
    for (let i = 0; i < 55; i++) studyJobs.push(cA);
    for (let i = 0; i < 55; i++) studyJobs.push(cB);
  }
  // Fixed cost of a queued run: its wall time beyond the workers' busy time (2 workers).
  const fixed = Math.max(0, queued.r.s - sum(weightJobs) / 2);
  const lpt = (jobs: number[], w: number) => {
    const loads = new Array<number>(w).fill(0);
    for (const c of [...jobs].sort((a, b) => b - a)) loads[loads.indexOf(Math.min(...loads))] += c;
    return Math.max(...loads);
  };
  // The same study with --job-images 100 (the PCM jobs split in 2, the weight-noise jobs in 10): compute
  // scales with images; each extra job pays the measured per-job queue cost once more.
  const split = studyJobs.flatMap((c) => (c === cA ? Array(10).fill(c / 10 + perJobWall) : Array(2).fill(c / 2 + perJobWall)));
  const doc = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`,
    load: { min: Math.min(...loads), max: Math.max(...loads) },
    weightSweep: { jobs: weightJobs.length, inProcessWorkers2S: local.s, queue2WorkersS: queued.r.s, ratio: queued.r.s / local.s, identical: true },
    queueCostPerJobS: { jobs: tinyJobs, wallS: tinyRun.r.s, perJobWallS: perJobWall, meanWorkerSideS: mean(tinyRun.seconds) },
    perJobS: { weightNoise1000Images: cA, pcm200Images: cB },
    fixedS: fixed,
    study: {
      jobs: studyJobs.length,
      workS: sum(studyJobs),
      projectedS: Object.fromEntries([1, 2, 10, 100].map((w) => [w, lpt(studyJobs, w) + fixed])),
      projectedJobImages100S: Object.fromEntries([10, 100].map((w) => [w, lpt(split, w) + fixed])),
    },
  };
  if (json) console.log(JSON.stringify(doc, null, 2));
  else {
    const f = (s: number) => (s >= 100 ? s.toFixed(0) : s.toFixed(2));
    console.log(`machine: ${doc.machine}; load ${doc.load.min.toFixed(1)}–${doc.load.max.toFixed(1)}`);
    console.log(`weight-noise sweep (7 points × 10 trials, 1,000 images; ${weightJobs.length} jobs): in-process --workers 2 ${f(local.s)} s, queue with 2 workers ${f(queued.r.s)} s (× ${(queued.r.s / local.s).toFixed(2)}), identical JSON`);
    console.log(`queue cost per job: ${tinyJobs} one-image jobs on 2 workers in ${f(tinyRun.r.s)} s = ${(perJobWall * 1000).toFixed(0)} ms of worker time per job (worker-side ${(mean(tinyRun.seconds) * 1000).toFixed(0)} ms)`);
    console.log(`per-job time: weight noise, 1,000 images ${f(cA)} s; PCM crossbar, 200 images ${f(cB)} s; fixed cost of a queued run ${f(fixed)} s`);
    console.log(`RESULTS robustness study: ${studyJobs.length} jobs, ${f(sum(studyJobs))} s of work`);
    console.log(`| workers | projected (default split) | projected (--job-images 100) |\n| ---: | ---: | ---: |`);
    for (const w of [1, 2, 10, 100]) console.log(`| ${w} | ${f(doc.study.projectedS[w as 1])} s | ${w >= 10 ? `${f(doc.study.projectedJobImages100S[w as 10])} s` : "–"} |`);
  }
} finally {
  await redis.stop();
  rmSync(tmp, { recursive: true, force: true });
}
