// Monte-Carlo trials as jobs. A job is (hw-model point, trials, image range) → correct predictions per
// trial: a pure, deterministic function of its inputs (every draw is keyed by seed, trial and image index,
// docs/NOISE.md), so it may run in this thread or in a `nipq worker` process on another machine
// (src/queue/), and counts over disjoint image ranges add up to the count over their union exactly.

import type { Program } from "../ir/types.js";
import { buildChip } from "./chip.js";
import type { HwModel } from "./hwmodel.js";
import { runChip, type SimData } from "./simulate.js";

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
