// A queued study as jobs: the plan (which jobs a study is), their payloads (validated like any input), their
// keys (one result per key, written once), the sweep id (derived from the inputs, so the same command
// finds its sweep again with --resume) and the gathering of per-trial correct counts into accuracies.
//
// A job is (model, hw-model of one point, trial range or the clean chip, image range). Its result is the
// number of correct predictions per trial over its images; counts over an image split add up exactly, and
// the accuracies are formed once, from the totals, as the in-process study forms them (src/sim/study/study.ts).

import AjvModule, { type ValidateFunction } from "ajv";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { NipqInputError, describeValue } from "../errors.js";
import { trialStats } from "../sim/study/stats.js";
import type { AccuracyStudy } from "../sim/study/study.js";
import { MAX_BATCH, MAX_DATASET_IMAGES, MAX_SWEEP_STEPS, MAX_TRIALS } from "../limits.js";
import { SHA256_HEX } from "./blobs.js";

/** Payload format version (a worker refuses any other). */
export const PAYLOAD_VERSION = 1;

/** This package's version: a worker runs only jobs a coordinator of the same version made (same simulator). */
export const NIPQ_VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** What a job carries: addresses of its blobs, the seed, and its part of the study. */
export interface JobPayload {
  v: typeof PAYLOAD_VERSION;
  /** The coordinator's nipq version. */
  nipq: string;
  /** Index of the point (the hw-model) in the study. */
  point: number;
  /** Blob addresses (sha256, src/queue/blobs.ts). */
  model: string;
  hw: string;
  images: string;
  labels: string;
  seed: number;
  /** Images per batch (changes no number). */
  batch: number;
  /** Trials [t0, t1), or null for the clean chip. */
  trials: [number, number] | null;
  /** Images [from, to) (dataset indices). */
  from: number;
  to: number;
}

const hex = { type: "string", pattern: SHA256_HEX.source };
const PAYLOAD_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["v", "nipq", "point", "model", "hw", "images", "labels", "seed", "batch", "trials", "from", "to"],
  properties: {
    v: { const: PAYLOAD_VERSION },
    nipq: { type: "string", maxLength: 64 },
    point: { type: "integer", minimum: 0, maximum: MAX_SWEEP_STEPS - 1 },
    model: hex,
    hw: hex,
    images: hex,
    labels: hex,
    seed: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    batch: { type: "integer", minimum: 1, maximum: MAX_BATCH },
    trials: { oneOf: [{ type: "null" }, { type: "array", minItems: 2, maxItems: 2, items: { type: "integer", minimum: 0, maximum: MAX_TRIALS } }] },
    from: { type: "integer", minimum: 0, maximum: MAX_DATASET_IMAGES },
    to: { type: "integer", minimum: 1, maximum: MAX_DATASET_IMAGES },
  },
} as const;

let validator: ValidateFunction | undefined;
function payloadValidator(): ValidateFunction {
  // ajv's CJS default export under NodeNext (as in src/sim/hw/hwmodel.ts).
  const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
  validator ??= new (Ajv as unknown as new (o: object) => { compile(s: object): ValidateFunction })({ allErrors: false, strict: true }).compile(PAYLOAD_SCHEMA);
  return validator;
}

/** The result key of a job: p<point>.c|t<t0>-<t1>.i<from>-<to>. */
export function jobKey(p: Pick<JobPayload, "point" | "trials" | "from" | "to">): string {
  return `p${p.point}.${p.trials ? `t${p.trials[0]}-${p.trials[1]}` : "c"}.i${p.from}-${p.to}`;
}

/** The trials a job runs, in order ([null]: the clean chip), as runSimJob takes them. */
export function jobTrials(p: Pick<JobPayload, "trials">): (number | null)[] {
  const t = p.trials;
  return t ? Array.from({ length: t[1] - t[0] }, (_, i) => t[0] + i) : [null];
}

/** BullMQ job id: `<sweep id>.<key>` (BullMQ ids may not contain ":"), so a retried or re-added job is the same job. */
export function jobId(sweep: string, key: string): string {
  return `${sweep}.${key}`;
}

const JOB_ID = /^([0-9a-f]{64})\.(p\d{1,4}\.(?:c|t\d{1,5}-\d{1,5})\.i\d{1,7}-\d{1,7})$/;

/** The sweep id and key a job id names, or null for an id no coordinator of this version made. */
export function parseJobId(id: string | undefined): { sweep: string; key: string } | null {
  const m = id ? JOB_ID.exec(id) : null;
  return m ? { sweep: m[1], key: m[2] } : null;
}

/**
 * Checks a job's payload (schema, ranges, and that it is the job its id names); returns it typed.
 * Throws NipqInputError with one line naming the field, what was expected and what was found.
 */
export function validatePayload(data: unknown, id: string | undefined): { sweep: string; key: string; payload: JobPayload } {
  const ids = parseJobId(id);
  if (!ids) throw new NipqInputError(`job ${describeValue(id)}: id: expected <64 hex>.p<point>.c|t<t0>-<t1>.i<from>-<to>`);
  const v = payloadValidator();
  if (!v(data)) {
    const e = v.errors![0];
    const field = e.instancePath.split("/").slice(1).join(".") || (e.params as { missingProperty?: string; additionalProperty?: string }).missingProperty || (e.params as { additionalProperty?: string }).additionalProperty || "(payload)";
    let found: unknown = data;
    for (const k of e.instancePath.split("/").slice(1)) found = (found as Record<string, unknown>)?.[k];
    throw new NipqInputError(`job ${ids.key}: payload: ${field}: ${e.message ?? "invalid"}, found ${describeValue(e.keyword === "required" ? undefined : found)}`);
  }
  const p = data as unknown as JobPayload;
  if (p.trials && p.trials[1] <= p.trials[0]) throw new NipqInputError(`job ${ids.key}: payload: trials: expected [t0, t1) with t1 > t0, found [${p.trials.join(", ")}]`);
  if (p.to <= p.from) throw new NipqInputError(`job ${ids.key}: payload: from, to: expected from < to, found ${p.from}, ${p.to}`);
  if (p.nipq !== NIPQ_VERSION) throw new NipqInputError(`job ${ids.key}: made by nipq ${JSON.stringify(p.nipq)}, this worker runs nipq ${NIPQ_VERSION}: run workers of the coordinator's version`);
  if (jobKey(p) !== ids.key) throw new NipqInputError(`job ${ids.key}: payload: describes job ${jobKey(p)}, not the job its id names`);
  return { sweep: ids.sweep, key: ids.key, payload: p };
}

/** A study to run on the queue: its points (one hw-model each), trials and how it is split into jobs. */
export interface StudyPlan {
  /** Blob addresses of the points' hw-models, in point order. */
  hw: string[];
  /** Whether any noise source is on at each point (else only the clean chip runs, as in-process). */
  active: boolean[];
  model: string;
  images: string;
  labels: string;
  n: number;
  seed: number;
  trials: number;
  batch: number;
  /** Trials per job and images per job. */
  jobTrials: number;
  jobImages: number;
}

/**
 * The sweep id: sha256 of everything that determines the jobs and their results. The same inputs give the
 * same id on any machine, which is how `--resume` finds a sweep whose coordinator died.
 */
export function sweepId(plan: StudyPlan): string {
  const doc = { kind: "nipq-queued-study", v: PAYLOAD_VERSION, nipq: NIPQ_VERSION, ...plan };
  return createHash("sha256").update(JSON.stringify(doc)).digest("hex");
}

/** Every job of a study, in a fixed order: per point the clean chip, then (noise on) the trials; each split over images. */
export function planJobs(plan: StudyPlan): JobPayload[] {
  const jobs: JobPayload[] = [];
  const ranges: [number, number][] = [];
  for (let from = 0; from < plan.n; from += plan.jobImages) ranges.push([from, Math.min(plan.n, from + plan.jobImages)]);
  plan.hw.forEach((hw, point) => {
    const trialRanges: ([number, number] | null)[] = [null];
    if (plan.active[point]) for (let t = 0; t < plan.trials; t += plan.jobTrials) trialRanges.push([t, Math.min(plan.trials, t + plan.jobTrials)]);
    for (const trials of trialRanges)
      for (const [from, to] of ranges) jobs.push({ v: PAYLOAD_VERSION, nipq: NIPQ_VERSION, point, model: plan.model, hw, images: plan.images, labels: plan.labels, seed: plan.seed, batch: plan.batch, trials, from, to });
  });
  return jobs;
}

/** Checks one stored result: as many counts as the job has trials, each an integer in [0, images]. */
export function checkResult(job: JobPayload, value: unknown): number[] {
  const want = job.trials ? job.trials[1] - job.trials[0] : 1;
  const ok = Array.isArray(value) && value.length === want && value.every((c) => Number.isInteger(c) && c >= 0 && c <= job.to - job.from);
  if (!ok) throw new Error(`queue result ${jobKey(job)}: expected ${want} counts in [0, ${job.to - job.from}], found ${JSON.stringify(value)?.slice(0, 80)}`);
  return value as number[];
}

/**
 * The accuracy studies of every point from the job results (key → correct counts), after checking that
 * every job of the plan has exactly one result and there is no other. Counts are summed per (point, trial)
 * over the image ranges, then divided by n once: the same numbers as the in-process study, in any order.
 */
export function gatherStudies(plan: StudyPlan, results: Map<string, unknown>): AccuracyStudy[] {
  const jobs = planJobs(plan);
  const expected = new Set(jobs.map(jobKey));
  const missing = jobs.filter((j) => !results.has(jobKey(j)));
  if (missing.length) throw new Error(`queue: ${missing.length} of ${jobs.length} job results are missing (first: ${jobKey(missing[0])}); the report is not written`);
  const extra = [...results.keys()].filter((k) => !expected.has(k));
  if (extra.length) throw new Error(`queue: ${extra.length} results belong to no job of this study (first: ${extra[0]}); the report is not written`);
  const clean = plan.hw.map(() => 0);
  const correct = plan.hw.map(() => new Array<number>(plan.trials).fill(0));
  for (const j of jobs) {
    const counts = checkResult(j, results.get(jobKey(j)));
    if (!j.trials) clean[j.point] += counts[0];
    else counts.forEach((c, i) => (correct[j.point][j.trials![0] + i] += c));
  }
  return plan.hw.map((_, p) => {
    const c = clean[p] / plan.n;
    const values = plan.active[p] ? correct[p].map((k) => k / plan.n) : correct[p].map(() => c);
    return { clean: c, noisy: trialStats(values), active: plan.active[p] };
  });
}
