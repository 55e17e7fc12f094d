// Monte-Carlo trials as jobs. A job is (hw-model point, trials, image range) → correct predictions per
// trial: a pure, deterministic function of its inputs (every draw is keyed by seed, trial and image
// index), so it may run in this thread, in a worker of the pool (src/exec/workers.ts, with this file as
// the job module), or — for queued sweeps — in a worker process anywhere, and the numbers do not change.

import { ChunkPool } from "../../exec/workers.js";
import { decodeQModel, encodeQModel } from "../../ir/qmodel.js";
import type { Program } from "../../ir/types.js";
import { buildChip } from "../chip/chip.js";
import { runChip, type SimData } from "../chip/run.js";
import type { HwModel } from "../hw/hwmodel.js";

/** One unit of simulation work. */
export interface SimJob {
  /** The chip (one point of a sweep). */
  hw: HwModel;
  /** Trial indices (null: the clean chip, no noise). */
  trials: (number | null)[];
  /** Images [from, to) of the data (dataset indices: the per-inference draws are keyed by them). */
  from: number;
  to: number;
}

/** What a job needs besides itself, the same for every job of a study. */
export interface SimContext {
  program: Program;
  data: SimData;
  seed: number;
  /** Images per batch (changes no number). */
  batch: number;
}

/** Runs a job: for each of its trials, the number of correct predictions over its images. */
export function runSimJob(ctx: SimContext, job: SimJob): number[] {
  return job.trials.map((t) => runChip(ctx.program, buildChip(ctx.program, job.hw, ctx.seed, t), ctx.data, ctx.batch, job.from, job.to).correct);
}

/** A worker's init: the context by value (the program as .qmodel bytes; no file is re-read). */
export interface SimInit {
  qmodel: Uint8Array;
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
  n: number;
  seed: number;
  batch: number;
}

/** Job module init (src/exec/workers.ts): decode the program once per worker. */
export function init(d: SimInit): SimContext {
  return { program: decodeQModel(d.qmodel, "<worker>"), data: { n: d.n, images: d.images, labels: d.labels }, seed: d.seed, batch: d.batch };
}

/** Job module run: one job. */
export function run(ctx: SimContext, job: SimJob): number[] {
  return runSimJob(ctx, job);
}

/** This module's URL, for the pool. */
export const SIM_JOB_URL = import.meta.url;

/** A pool of workers holding one program and one dataset; `accuracies` may be called for many hw-models. */
export class TrialPool {
  private constructor(
    private readonly pool: ChunkPool<SimInit, SimJob, number[]>,
    private readonly n: number,
  ) {}

  /** Starts `workers` workers (1: in this thread) for the program and data. */
  static async start(program: Program, data: SimData, seed: number, workers: number, batch = 64): Promise<TrialPool> {
    const init: SimInit = { qmodel: encodeQModel(program), images: data.images, labels: data.labels, n: data.n, seed, batch };
    return new TrialPool(await ChunkPool.start<SimInit, SimJob, number[]>({ module: SIM_JOB_URL, init, workers }), data.n);
  }

  /** Accuracy of every trial in `trials` (same order), one job per trial; `onDone` after each. */
  async accuracies(hw: HwModel, trials: number[], onDone?: (trial: number, acc: number) => void): Promise<number[]> {
    const jobs = trials.map((t): SimJob => ({ hw, trials: [t], from: 0, to: this.n }));
    const correct = await this.pool.map(jobs, (i, r) => onDone?.(trials[i], r[0] / this.n));
    return correct.map((r) => r[0] / this.n);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Accuracy of every trial in `trials` (same order) over `workers` workers (≤ 1: this thread). */
export async function runTrials(program: Program, hw: HwModel, data: SimData, seed: number, trials: number[], workers: number, batch = 64, onDone?: (trial: number, acc: number) => void): Promise<number[]> {
  const pool = await TrialPool.start(program, data, seed, Math.min(workers, trials.length), batch);
  try {
    return await pool.accuracies(hw, trials, onDone);
  } finally {
    await pool.close();
  }
}
