// The coordinator side of a queued study (`nipq simulate|sweep --queue`): uploads the blobs, records the
// sweep, enqueues its jobs, follows their results, and gathers the accuracies only when every expected job
// has exactly one result. It survives what a queue can do to it:
// - a job that fails on bad input fails the study with the job's one line (NipqInputError, exit 2);
// - a job that died with its worker comes back through BullMQ's stall check (the result is written once);
// - Redis restarted without its data: the sweep's meta key is gone, so everything is published again and
//   the jobs without a result run again; Redis unreachable for longer than `timeoutS`: a clean failure;
// - the coordinator itself died: the same command with --resume finds the sweep by its id.

import { hostname } from "node:os";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { NipqInputError, ServiceError, UsageError } from "../errors.js";
import type { SimData } from "../sim/chip/run.js";
import type { HwModel } from "../sim/hw/hwmodel.js";
import { noiseActive } from "../sim/hw/resolve.js";
import type { AccuracyStudy } from "../sim/study/study.js";
import { putBlobs, sha256 } from "./blobs.js";
import { connectChecked, type QueueUrl } from "./connection.js";
import { encodeData, encodeHw } from "./content.js";
import { gatherStudies, jobId, jobKey, planJobs, sweepId, type JobPayload, type StudyPlan } from "./jobs.js";
import { JOB_ATTEMPTS, QUEUE_NAME, QUEUE_PREFIX, sweepKeys, type JobError } from "./store.js";

export interface QueuedStudyOptions {
  queue: QueueUrl;
  /** The .qmodel file's bytes, as read (workers decode them with the same validator). */
  modelBytes: Uint8Array;
  /** One hw-model per point (a sweep's points; simulate has one). */
  points: HwModel[];
  data: SimData;
  seed: number;
  trials: number;
  batch: number;
  /** Trials per job and images per job. */
  jobTrials: number;
  jobImages: number;
  /** Pick up a sweep with the same inputs that is already in Redis (its coordinator died). */
  resume: boolean;
  /** Give up when Redis has not answered for this many seconds. */
  timeoutS: number;
  /** After each poll: jobs with a result, all jobs, workers connected (−1: unknown). */
  onProgress?: (done: number, total: number, workers: number) => void;
  /** Notes for the user: the sweep id; and, `always` (a warning), a republish after Redis lost the sweep. */
  log?: (line: string, always?: boolean) => void;
}

/** What the coordinator stores in the meta key. */
interface SweepMeta {
  started: string;
  host: string;
  jobs: number;
}

const POLL_MS = 250;
/** How often the jobs without a result are checked in BullMQ (failed for good? gone?). */
const RECONCILE_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The studies of every point, computed by `nipq worker` processes: identical to the in-process numbers. */
export async function queuedStudies(o: QueuedStudyOptions): Promise<AccuracyStudy[]> {
  const log = o.log ?? (() => {});
  const hwBytes = o.points.map(encodeHw);
  const data = encodeData(o.data);
  const plan: StudyPlan = {
    hw: hwBytes.map(sha256),
    active: o.points.map(noiseActive),
    model: sha256(o.modelBytes),
    images: sha256(data.images),
    labels: sha256(data.labels),
    n: o.data.n,
    seed: o.seed,
    trials: o.trials,
    batch: o.batch,
    jobTrials: o.jobTrials,
    jobImages: o.jobImages,
  };
  const id = sweepId(plan);
  const short = id.slice(0, 12);
  const keys = sweepKeys(id);
  const jobs = planJobs(plan);
  const redis = await connectChecked(o.queue, `nipq-coordinator:${hostname()}:${process.pid}`);
  let down: { since: number; why: string } | null = null;
  redis.on("error", (e: Error) => (down ??= { since: Date.now(), why: e.message }));
  redis.on("ready", () => (down = null));
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  queue.on("error", () => {});
  const gone = (why: string) =>
    new ServiceError(`queue ${o.queue.shown}: no answer from Redis for ${o.timeoutS} s (${why}); sweep ${short} stays there if Redis kept it: the same command with --resume picks it up`);
  /** Awaits a Redis round trip, failing cleanly once Redis has been unreachable for timeoutS. */
  const answer = async <T>(p: Promise<T>): Promise<T> => {
    for (;;) {
      const r = await Promise.race([p.then((v) => ({ v })), sleep(1000).then(() => null)]);
      if (r) return r.v;
      if (down && Date.now() - down.since > o.timeoutS * 1000) throw gone(down.why);
    }
  };

  const publish = async (): Promise<void> => {
    await putBlobs(redis, [o.modelBytes, ...hwBytes, data.images, data.labels]);
    const meta: SweepMeta = { started: new Date().toISOString(), host: `${hostname()}:${process.pid}`, jobs: jobs.length };
    await redis.set(keys.meta, JSON.stringify(meta), "NX");
    const have = new Set(await redis.hkeys(keys.results));
    const todo = jobs.filter((j) => !have.has(jobKey(j)));
    for (let i = 0; i < todo.length; i += 500) await queue.addBulk(todo.slice(i, i + 500).map((j) => jobEntry(id, j)));
  };

  try {
    const meta = await answer(redis.get(keys.meta));
    if (meta && !o.resume) {
      const m = JSON.parse(meta) as SweepMeta;
      throw new UsageError(`--queue ${o.queue.shown}: sweep ${short} (these inputs) is already there, started ${m.started} by ${m.host}: add --resume to pick it up`);
    }
    if (!meta && o.resume) throw new UsageError(`--resume: no sweep ${short} (these inputs) in ${o.queue.shown}: it finished, failed or was lost; run without --resume to start it`);
    log(`sweep ${short}: ${jobs.length} jobs on ${o.queue.shown}${o.resume ? " (resumed)" : ""}`);
    await answer(publish());

    let workers = -1;
    let lastReconcile = Date.now();
    let lastWorkers = 0;
    for (;;) {
      const [[, exists], [, done], [, failed]] = (await answer(redis.multi().exists(keys.meta).hlen(keys.results).hlen(keys.errors).exec()))! as [unknown, number][];
      if (failed > 0) {
        const errs = await answer(redis.hgetall(keys.errors));
        const first = Object.keys(errs).sort()[0];
        const e = JSON.parse(errs[first]) as JobError;
        await abandon(queue, redis, id, jobs);
        const line = e.message.startsWith(`job ${first}`) ? e.message : `job ${first}: ${e.message}`;
        throw e.input ? new NipqInputError(`${line} (worker ${e.host})`) : new ServiceError(`${line} (worker ${e.host})`);
      }
      if (!exists) {
        // Redis lost the sweep (restarted without persistence, flushed, evicted): publish it again.
        log(`nipq: warning: sweep ${short}: Redis lost its state (restarted without persistence?): publishing it again; jobs without a result run again`, true);
        await answer(publish());
        continue;
      }
      if (Date.now() - lastWorkers > 5000) {
        lastWorkers = Date.now();
        workers = await answer(queue.getWorkersCount()).catch(() => -1);
      }
      o.onProgress?.(done, jobs.length, workers);
      if (done >= jobs.length) {
        const raw = await answer(redis.hgetall(keys.results));
        const results = new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as unknown]));
        const studies = gatherStudies(plan, results);
        await answer(redis.del(keys.meta, keys.results, keys.errors));
        return studies;
      }
      if (Date.now() - lastReconcile > RECONCILE_MS) {
        lastReconcile = Date.now();
        await answer(reconcile(queue, redis, id, jobs, abandon));
      }
      await sleep(POLL_MS);
    }
  } finally {
    await Promise.race([queue.close(), sleep(2000)]).catch(() => {});
    redis.disconnect();
  }
}

/** The BullMQ entry of a job: its id makes adding it twice a no-op; retries for errors that are not bad input. */
function jobEntry(sweep: string, j: JobPayload) {
  return {
    name: sweep.slice(0, 12),
    data: j,
    opts: {
      jobId: jobId(sweep, jobKey(j)),
      attempts: JOB_ATTEMPTS,
      backoff: { type: "exponential", delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  };
}

/**
 * The jobs without a result: a job BullMQ no longer has (lost with Redis' data, removed) is added again; a
 * job BullMQ failed for good without a recorded error (it stalled too often: its workers keep dying) fails
 * the study.
 */
async function reconcile(queue: Queue, redis: Redis, sweep: string, jobs: JobPayload[], giveUp: typeof abandon): Promise<void> {
  const have = new Set(await redis.hkeys(sweepKeys(sweep).results));
  for (const j of jobs) {
    const key = jobKey(j);
    if (have.has(key)) continue;
    const state = await queue.getJobState(jobId(sweep, key));
    if (state === "unknown") await queue.add(jobEntry(sweep, j).name, j, jobEntry(sweep, j).opts);
    else if (state === "failed") {
      const job = await queue.getJob(jobId(sweep, key));
      if ((await redis.hexists(sweepKeys(sweep).errors, key)) === 1) return; // the poll reports it
      await giveUp(queue, redis, sweep, jobs);
      throw new ServiceError(`job ${key}: ${job?.failedReason ?? "failed"}`);
    }
  }
}

/** A failed study: its waiting jobs are removed and its keys deleted (running jobs find no sweep to write to). */
async function abandon(queue: Queue, redis: Redis, sweep: string, jobs: JobPayload[]): Promise<void> {
  const k = sweepKeys(sweep);
  await redis.del(k.meta, k.results, k.errors);
  for (let i = 0; i < jobs.length; i += 100) await Promise.all(jobs.slice(i, i + 100).map((j) => queue.remove(jobId(sweep, jobKey(j))).catch(() => 0)));
}
