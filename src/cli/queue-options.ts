// The options simulate and sweep take to run their trials on a Redis queue (src/queue/, docs/DISTRIBUTED.md),
// and the one call both make: the studies of their points, with a progress bar fed by job completions.

import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { UsageError } from "../errors.js";
import { parseQueueUrl } from "../queue/url.js";
import type { SimData } from "../sim/chip/run.js";
import type { HwModel } from "../sim/hw/hwmodel.js";
import type { AccuracyStudy } from "../sim/study/study.js";
import { MAX_LIMIT, MAX_TRIALS } from "../limits.js";
import { intOption } from "./common.js";

/** The queue options as commander parses them. */
export interface QueueCliOptions {
  queue?: string;
  resume?: boolean;
  jobTrials: number;
  jobImages: number;
  queueTimeout: number;
}

/** Adds --queue, --resume, --job-trials, --job-images and --queue-timeout to a command. */
export function addQueueOptions(c: Command): Command {
  return c
    .option("--queue <URL>", "run the trials as jobs on Redis, computed by `nipq worker` processes: redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://… (same report; docs/DISTRIBUTED.md)")
    .option("--resume", "with --queue: pick up the run with these same inputs that is already in Redis (its coordinator died)")
    .addOption(new Option("--job-trials <N>", "with --queue: trials per job").argParser(intOption("--job-trials", 1, MAX_TRIALS)).default(1))
    .addOption(new Option("--job-images <N>", "with --queue: images per job (counts over image ranges add up exactly)").argParser(intOption("--job-images", 1, MAX_LIMIT)).default(1000))
    .addOption(new Option("--queue-timeout <S>", "with --queue: fail when Redis has not answered for S seconds").argParser(intOption("--queue-timeout", 1, 86_400)).default(300));
}

/**
 * Checks --queue before anything is loaded (an empty URL, e.g. from an unset variable, is an error, not an
 * in-process run) and rejects --resume without it. The job sizes are accepted (and unused) without --queue,
 * so that a queued run is the local command plus --queue.
 */
export function checkQueueOptions(o: QueueCliOptions): void {
  if (o.queue !== undefined) parseQueueUrl(o.queue);
  else if (o.resume) throw new UsageError("--resume: only with --queue (an in-process run has nothing to resume)");
}

/**
 * The accuracy study of every point on the queue: progress on stderr (not with --json), the same studies
 * the in-process run computes.
 */
export async function runQueued(o: QueueCliOptions & { json?: boolean; seed: number; trials: number; batch: number }, modelBytes: Uint8Array, points: HwModel[], data: SimData): Promise<AccuracyStudy[]> {
  const queue = parseQueueUrl(o.queue!);
  // bullmq and ioredis load here, not at the CLI's start (src/queue/url.ts).
  const { queuedStudies } = await import("../queue/coordinator.js");
  const bar = o.json ? null : new cliProgress.SingleBar({ format: "queue |{bar}| {value}/{total} jobs | {workers} workers", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  try {
    return await queuedStudies({
      queue,
      modelBytes,
      points,
      data,
      seed: o.seed,
      trials: o.trials,
      batch: o.batch,
      jobTrials: o.jobTrials,
      jobImages: o.jobImages,
      resume: !!o.resume,
      timeoutS: o.queueTimeout,
      // The sweep id only for people (a --json run that fails prints its one error line alone); warnings always.
      log: (line, always) => (always || !o.json) && process.stderr.write(`${line}\n`),
      onProgress: (done, total, workers) => {
        const payload = { workers: workers < 0 ? "?" : String(workers) };
        if (!bar) return;
        if (!started) bar.start(total, done, payload);
        else bar.update(done, payload);
        started = true;
      },
    });
  } finally {
    bar?.stop();
  }
}
