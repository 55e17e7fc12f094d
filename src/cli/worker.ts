// `nipq worker --queue redis://… [--concurrency N] [--cache DIR] [--stall-timeout S] [--json]`: serves the
// jobs of queued simulations and sweeps (src/queue/worker.ts, docs/DISTRIBUTED.md) until SIGINT or SIGTERM,
// then lets running jobs finish and exits 0 (with --json: one summary document).

import { Command, Option } from "commander";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { defaultWorkers } from "../exec/workers.js";
import { parseQueueUrl } from "../queue/url.js";
import { MAX_WORKERS } from "../limits.js";
import { intOption, pathOption, printJson, say } from "./common.js";

interface WorkerCliOptions {
  queue?: string;
  concurrency: number;
  cache: string;
  stallTimeout: number;
  json?: boolean;
}

/** The default cache directory: $XDG_CACHE_HOME/nipq/blobs, else ~/.cache/nipq/blobs. */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "nipq", "blobs");
}

export function workerCommand(): Command {
  return new Command("worker")
    .description("serve the jobs of `simulate --queue` and `sweep --queue` from Redis until stopped (SIGINT/SIGTERM)")
    .addOption(new Option("--queue <URL>", "redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://… (TLS); default $NIPQ_QUEUE").env("NIPQ_QUEUE"))
    .addOption(new Option("--concurrency <N>", "jobs at once, one worker thread each").argParser(intOption("--concurrency", 1, MAX_WORKERS)).default(Math.min(MAX_WORKERS, defaultWorkers()), `the number of cores, ${Math.min(MAX_WORKERS, defaultWorkers())} here`))
    .option("--cache <DIR>", "where fetched models, hw-models and datasets are kept (by content address)", pathOption, defaultCacheDir())
    .option("--stall-timeout <S>", "seconds after which a job whose worker stopped renewing its lock goes to another worker", intOption("--stall-timeout", 1, 3600), 30)
    .option("--json", "on exit, print one JSON document: {host, pid, queue, concurrency, cache, jobs: {done, failed}, seconds}")
    .addHelpText("after", "\nThe password may come from NIPQ_REDIS_PASSWORD instead of the URL (a command line is visible to `ps`).\nrediss:// checks the server's certificate against Node's CA store; add a private CA with NODE_EXTRA_CA_CERTS=ca.pem.\nWorkers need no shared file system: every job names its blobs by sha256; each is fetched once into --cache.")
    .action(async (o: WorkerCliOptions) => {
      if (o.queue === undefined) throw new UsageError("--queue: required (or set NIPQ_QUEUE)");
      const log = (line: string) => say(o.json, line);
      const queue = parseQueueUrl(o.queue);
      const { startWorker } = await import("../queue/worker.js"); // bullmq and ioredis: only to connect
      const w = await startWorker({ queue, concurrency: o.concurrency, cacheDir: o.cache, stallTimeoutS: o.stallTimeout, log });
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log(`${sig}: finishing the running jobs (again to stop at once)`);
          process.once(sig as NodeJS.Signals, () => process.exit(130));
          resolve();
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
      });
      const summary = await w.close();
      if (o.json) return printJson(summary);
      log(`stopped: ${summary.jobs.done} jobs done, ${summary.jobs.failed} failed in ${summary.seconds.toFixed(1)} s`);
    });
}
