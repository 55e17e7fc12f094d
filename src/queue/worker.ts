// `nipq worker`: a long-running BullMQ worker. For each job it checks the payload (schema, and that it is
// the job its id names), makes sure the blobs it names are in the cache directory (fetched from Redis by
// content address and verified), runs the job in a worker thread of the exec pool — so this thread keeps
// renewing the job's lock while the simulator computes — and records the per-trial counts once.
// A job killed with its worker is not lost: its lock runs out, another worker's stall check puts it back
// in the queue, and its result key can be written only once.

import { hostname } from "node:os";
import { resolve } from "node:path";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import { NipqInputError } from "../errors.js";
import { ensureDir } from "../fsutil.js";
import { ChunkPool } from "../exec/workers.js";
import { BlobCache } from "./blobs.js";
import { COMPUTE_URL, type ComputeInit } from "./compute.js";
import { connectChecked, type QueueUrl } from "./connection.js";
import { parseJobId, validatePayload, type JobPayload } from "./jobs.js";
import { QUEUE_NAME, QUEUE_PREFIX, writeOnce, type JobError } from "./store.js";

export interface WorkerOptions {
  queue: QueueUrl;
  /** Jobs at once (one worker thread each). */
  concurrency: number;
  /** Where blobs are cached (created if missing). */
  cacheDir: string;
  /** Seconds without a lock renewal after which a job counts as stalled and is given to another worker. */
  stallTimeoutS: number;
  /** One line per event (blob fetched, job started, done, failed; connection trouble). */
  log: (line: string) => void;
}

export interface WorkerSummary {
  host: string;
  pid: number;
  queue: string;
  concurrency: number;
  cache: string;
  jobs: { done: number; failed: number };
  seconds: number;
}

export interface RunningWorker {
  /** Stops taking jobs, lets running ones finish, closes everything. */
  close(): Promise<WorkerSummary>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const t0 = performance.now();
  const host = hostname();
  const name = `${host}:${process.pid}`;
  const cacheDir = resolve(o.cacheDir);
  ensureDir(cacheDir); // a --cache that cannot be a directory fails before any connection is opened
  const redis = await connectChecked(o.queue, `nipq-worker:${name}`);
  let lastNote = "";
  const note = (what: string) => {
    // Connection trouble repeats every retry: say each distinct message once until it changes.
    if (what !== lastNote) o.log(what);
    lastNote = what;
  };
  redis.on("error", (e: Error) => note(`redis ${o.queue.shown}: ${e.message}`));
  redis.on("ready", () => lastNote && note(`redis ${o.queue.shown}: connected`));
  const cache = new BlobCache(cacheDir, redis, (sha, bytes) => o.log(`fetched ${sha.slice(0, 12)} ${bytes} B`));
  const pool = await ChunkPool.start<ComputeInit, JobPayload, number[]>({ module: COMPUTE_URL, init: { cacheDir }, workers: o.concurrency, threads: true });
  const jobs = { done: 0, failed: 0 };
  let running = 0;

  const processJob = async (job: Job): Promise<number[]> => {
    const ids = parseJobId(job.id);
    const started = performance.now();
    running++;
    try {
      const { sweep, key, payload } = validatePayload(job.data, job.id);
      o.log(`start ${sweep.slice(0, 12)} ${key}`);
      await Promise.all([payload.model, payload.hw, payload.images, payload.labels].map((sha) => cache.ensure(sha)));
      const counts = await pool.submit(payload);
      await writeOnce(redis, sweep, "results", key, counts);
      jobs.done++;
      o.log(`done ${sweep.slice(0, 12)} ${key}: [${counts.join(", ")}] correct of ${payload.to - payload.from} (${((performance.now() - started) / 1000).toFixed(3)} s)`);
      return counts;
    } catch (e) {
      const input = e instanceof NipqInputError;
      const message = String((e as Error)?.message ?? e).split("\n")[0];
      const last = input || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) {
        jobs.failed++;
        // The coordinator of the job's sweep fails with this line (exit 2 for bad input).
        if (ids) await writeOnce(redis, ids.sweep, "errors", ids.key, { message, input, host: name } satisfies JobError).catch(() => {});
      }
      o.log(`${last ? "failed" : "will retry"} ${ids ? `${ids.sweep.slice(0, 12)} ${ids.key}` : JSON.stringify(String(job.id).slice(0, 80))}: ${message}`);
      if (pool.size === 0) {
        // Every compute thread died: stop taking jobs (their locks run out and other workers retry them).
        o.log("no live compute thread left: exiting (a supervisor restarts the worker)");
        setImmediate(() => process.exit(1));
      }
      throw input ? new UnrecoverableError(message) : e;
    } finally {
      running--;
    }
  };

  const worker = new Worker(QUEUE_NAME, processJob, {
    connection: redis,
    prefix: QUEUE_PREFIX,
    concurrency: o.concurrency,
    name,
    lockDuration: o.stallTimeoutS * 1000,
    stalledInterval: o.stallTimeoutS * 1000,
    // A job may lose its worker a few times (kill -9, a crash) before it counts as failed.
    maxStalledCount: 3,
  });
  worker.on("error", (e: Error) => note(`worker: ${e.message.split("\n")[0]}`));
  await worker.waitUntilReady();
  o.log(`nipq worker ${name} on ${o.queue.shown}: ${o.concurrency} at once, cache ${cacheDir}`);

  return {
    async close() {
      // BullMQ's graceful close waits for the running jobs and for its job-fetching loop. Stopped while its
      // blocking connection was reconnecting (SIGTERM just after Redis came back), that loop never returned
      // (test/queue/queue.test.ts, "Redis gone …"); so once none of our jobs runs, it gets 5 s, then its
      // connections are dropped (a job fetched meanwhile is not lost: its lock runs out and it is retried).
      const closed = worker.close().then(() => true);
      const idle = async () => {
        while (running > 0) await sleep(100);
        await sleep(5000);
        return false;
      };
      const forced = !(await Promise.race([closed, idle()]));
      if (forced) {
        o.log("worker: BullMQ did not close within 5 s of the last job: disconnecting");
        await Promise.race([worker.disconnect().catch(() => {}), sleep(2000)]);
        // Its stuck loop keeps timers alive: the process ends 1 s after this returns (with the exit code set
        // by then), as it does when no compute thread is left.
        setTimeout(() => process.exit(), 1000).unref();
      }
      await pool.close();
      redis.disconnect();
      return { host, pid: process.pid, queue: o.queue.shown, concurrency: o.concurrency, cache: cacheDir, jobs, seconds: (performance.now() - t0) / 1000 };
    },
  };
}
