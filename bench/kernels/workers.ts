// Worker scaling: cnn-s (the fixture, or any .qmodel given, e.g. a `nipq init` resnet20) through the worker
// pool of `nipq run --workers` (src/exec/workers.ts, job module src/exec/run-job.ts), warm pools, 1 worker
// (inline, as the CLI runs it) vs 2 worker threads.
// Images/s over 6,400 images in batches of 64 (best of a few passes). Results are checked identical.
// On a shared machine the second worker may get no second core: the benchmark also reports how many cores
// the process actually obtained (its CPU time / wall time) and images per CPU-second (the pool's cost).
//
//   npx tsx bench/kernels/workers.ts [FILE.qmodel] [--json] [--quick]

import { readQModel } from "../../src/ir/io.js";
import { RUN_JOB_URL, type RunChunk, type RunChunkResult, type RunJobInit } from "../../src/exec/run-job.js";
import { ChunkPool } from "../../src/exec/workers.js";
import { inputBytes } from "../../src/exec/runner.js";
import { machine } from "./common.js";

const quick = process.argv.includes("--quick");
const BATCH = 64;
const CHUNKS = quick ? 40 : 100;

function chunks(per: number): RunChunk[] {
  const out: RunChunk[] = [];
  let s = 7;
  for (let c = 0; c < CHUNKS; c++) {
    const images = new Uint8Array(BATCH * per);
    for (let i = 0; i < images.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      images[i] = s >>> 24;
    }
    out.push({ images, n: BATCH });
  }
  return out;
}

/** Images/s of a warm pool with `workers` threads (1 runs inline in this thread, as the CLI does) and its results. */
async function measure(program: ReturnType<typeof readQModel>, workers: number, reps: number): Promise<{ ips: number; cores: number; ipcs: number; logits: Int16Array }> {
  const pool = await ChunkPool.start<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "wasm", batch: BATCH }, workers: Math.max(1, workers) });
  const cs = chunks(inputBytes(program));
  await pool.map(cs.slice(0, 4)); // warm-up (JIT tier-up in every worker)
  let best = Infinity;
  let cores = 0;
  let cpuBest = Infinity;
  let res: RunChunkResult[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage(); // user + system time of the whole process, all threads
    const t0 = performance.now();
    res = await pool.map(cs);
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000; // ms
    if (wall < best) {
      best = wall;
      cores = cpu / wall;
    }
    cpuBest = Math.min(cpuBest, cpu);
  }
  await pool.close();
  // ipcs: images per CPU-second — what the pool costs in work, independent of how much CPU the OS gave us.
  return { ips: (CHUNKS * BATCH * 1000) / best, cores, ipcs: (CHUNKS * BATCH * 1000) / cpuBest, logits: Int16Array.from(res.flatMap((r) => Array.from(r.logits))) };
}

async function main(): Promise<void> {
  const program = readQModel(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "test/fixtures/cnn-s-w4a4-random.qmodel");
  const reps = quick ? 2 : 4;
  const one = await measure(program, 1, reps);
  const two = await measure(program, 2, reps);
  const same = one.logits.length === two.logits.length && one.logits.every((v, i) => v === two.logits[i]);
  const doc = {
    machine: machine(), images: CHUNKS * BATCH, batch: BATCH, oneWorker: one.ips, twoWorkers: two.ips, scaling: two.ips / one.ips, identical: same,
    coresObtained: { oneWorker: one.cores, twoWorkers: two.cores },
    imagesPerCpuSecond: { oneWorker: one.ipcs, twoWorkers: two.ipcs },
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(doc, null, 2));
  else
    console.log(
      `1 worker (inline) ${one.ips.toFixed(0)} images/s; 2 workers ${two.ips.toFixed(0)} images/s; scaling ${doc.scaling.toFixed(2)}×; results identical: ${same}\n` +
        `CPU the process obtained (CPU time / wall time): ${one.cores.toFixed(2)} cores with 1 worker, ${two.cores.toFixed(2)} with 2; ` +
        `images per CPU-second ${one.ipcs.toFixed(0)} vs ${two.ipcs.toFixed(0)} (pool overhead: ${((1 - two.ipcs / one.ipcs) * 100).toFixed(0)}%)\n${doc.machine}`,
    );
}

await main();
