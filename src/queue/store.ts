// The Redis layout of queued studies beside BullMQ's own keys (queue "sim", key prefix "nipq"):
//   nipq:blob:<sha256>          content-addressed blobs (./blobs.ts)
//   nipq:sweep:<id>:meta        the study's description; its presence means "this sweep is running"
//   nipq:sweep:<id>:results     job key → JSON correct counts, each written once (HSETNX)
//   nipq:sweep:<id>:errors      job key → JSON {message, input, host}, a job that failed for good
// Workers write results and errors only while the meta key exists, so a finished, failed or lost sweep
// never collects stray results.

import type { Redis } from "ioredis";

/** BullMQ's key prefix and queue name: every worker serves every sweep on the same Redis database. */
export const QUEUE_PREFIX = "nipq";
export const QUEUE_NAME = "sim";

export function sweepKeys(sweep: string): { meta: string; results: string; errors: string } {
  const base = `nipq:sweep:${sweep}`;
  return { meta: `${base}:meta`, results: `${base}:results`, errors: `${base}:errors` };
}

/** HSETNX, only while the sweep exists: 1 written, 0 already there (a retried job), -1 no such sweep. */
const WRITE_ONCE = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])`;

/** Stores a job's result (or final error) once; a second write of the same key changes nothing. */
export async function writeOnce(redis: Redis, sweep: string, hash: "results" | "errors", key: string, value: unknown): Promise<number> {
  const k = sweepKeys(sweep);
  return (await redis.eval(WRITE_ONCE, 2, k.meta, k[hash], key, JSON.stringify(value))) as number;
}

/** Attempts per job for errors that are not bad input (a blob Redis lost, a worker thread that died). */
export const JOB_ATTEMPTS = 3;

/** A failed job as the worker records it. */
export interface JobError {
  message: string;
  /** Bad input (the sweep fails with exit 2) or anything else (exit 1). */
  input: boolean;
  host: string;
}
