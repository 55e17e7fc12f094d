// The two studies every front end runs (nipq simulate, nipq sweep, nipq demo, the API): accuracy of one
// chip configuration clean and over Monte-Carlo trials, and that at each value of one swept knob. Trials
// run as jobs (./trials.ts) on one worker pool per study.

import { UsageError } from "../../errors.js";
import { defaultWorkers } from "../../exec/workers.js";
import type { Program } from "../../ir/types.js";
import { MAX_BATCH, MAX_SWEEP_TRIALS, MAX_TRIALS, MAX_WORKERS } from "../../limits.js";
import { runTrial, type SimData } from "../chip/run.js";
import { withSet, type HwModel } from "../hw/hwmodel.js";
import { noiseActive } from "../hw/resolve.js";
import { trialStats, type TrialStats } from "./stats.js";
import { TrialPool } from "./trials.js";
import type { Vary } from "./vary.js";

/**
 * The defaults of every front end of the studies (nipq simulate, sweep and demo, Model.simulate and
 * Model.sweep): 10 trials, seed 0, batches of 64 images, and as many workers as the machine has cores
 * (trials are independent jobs; one worker per core is what the pool scales to).
 */
export const STUDY_DEFAULTS: Readonly<Omit<StudyOptions, "onTrial">> = { trials: 10, seed: 0, batch: 64, workers: defaultWorkers() };

export interface StudyOptions {
  seed: number;
  trials: number;
  /** Worker threads for the trials (1: this thread). */
  workers: number;
  /** Images per batch (changes no number). */
  batch: number;
  /** Called after each trial (also for trials that need no run because no noise source is on). */
  onTrial?: (trial: number, accuracy: number) => void;
}

export interface AccuracyStudy {
  /** Accuracy of the noise-free chip. */
  clean: number;
  /** Over the trials (each one chip instance); every trial equals `clean` when no noise source is on. */
  noisy: TrialStats;
  /** Whether any noise source is on. */
  active: boolean;
}

/** One study on a pool that may already be running (a sweep keeps one for all its points). */
async function study(program: Program, hw: HwModel, data: SimData, o: StudyOptions, pool: () => Promise<TrialPool>): Promise<AccuracyStudy> {
  const clean = runTrial(program, hw, data, o.seed, null, o.batch);
  const active = noiseActive(hw);
  const trials = Array.from({ length: o.trials }, (_, t) => t);
  let values: number[];
  if (active) values = await (await pool()).accuracies(hw, trials, o.onTrial);
  else {
    values = trials.map(() => clean);
    trials.forEach((t) => o.onTrial?.(t, clean));
  }
  return { clean, noisy: trialStats(values), active };
}

/** Starts the pool on first use; `close` ends it if it was started. */
function lazyPool(program: Program, data: SimData, o: StudyOptions): { get: () => Promise<TrialPool>; close: () => Promise<void> } {
  let p: Promise<TrialPool> | undefined;
  return {
    get: () => (p ??= TrialPool.start(program, data, o.seed, Math.min(o.workers, o.trials), o.batch)),
    close: async () => {
      if (p) await (await p).close();
    },
  };
}

/** A count from the caller (CLI or API) checked against its limit before anything is sized by it. */
function checkCount(name: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name}: expected an integer in [1, ${max}], found ${n}`);
}

/** The study options checked against the limits (src/limits.ts). */
function checkStudy(o: StudyOptions): void {
  checkCount("trials", o.trials, MAX_TRIALS);
  checkCount("workers", o.workers, MAX_WORKERS);
  checkCount("batch", o.batch, MAX_BATCH);
}

/** A sweep's points × trials against MAX_SWEEP_TRIALS (in-process or queued). */
export function checkSweepSize(vary: Vary, trials: number): void {
  if (vary.values.length * trials > MAX_SWEEP_TRIALS)
    throw new UsageError(`--vary ${vary.key} with --trials ${trials}: expected at most ${MAX_SWEEP_TRIALS} trials in all (points × trials), found ${vary.values.length} × ${trials} = ${vary.values.length * trials}`);
}

/** Accuracy of `program` on chip `hw`: clean, and over `o.trials` noisy chip instances. */
export async function accuracyStudy(program: Program, hw: HwModel, data: SimData, o: StudyOptions): Promise<AccuracyStudy> {
  checkStudy(o);
  const pool = lazyPool(program, data, o);
  try {
    return await study(program, hw, data, o, pool.get);
  } finally {
    await pool.close();
  }
}

/** One point of a robustness curve. */
export interface SweepPoint {
  value: number;
  mean: number;
  std: number;
  ci95: number;
  clean: number;
  values: number[];
}

/** The point of a curve at knob value `value` from its study (in-process, or gathered from a queue: src/queue/). */
export function sweepPoint(value: number, s: AccuracyStudy): SweepPoint {
  return { value, mean: s.noisy.mean, std: s.noisy.std, ci95: s.noisy.ci95, clean: s.clean, values: s.noisy.values };
}

/** accuracyStudy at each value of `vary` (hw-model field `vary.path` set to the value), on one pool. */
export async function sweepStudy(program: Program, base: HwModel, vary: Vary, data: SimData, o: StudyOptions & { onPoint?: (value: number) => void }): Promise<SweepPoint[]> {
  checkStudy(o);
  checkSweepSize(vary, o.trials);
  const pool = lazyPool(program, data, o);
  const points: SweepPoint[] = [];
  try {
    for (const value of vary.values) {
      o.onPoint?.(value);
      points.push(sweepPoint(value, await study(program, withSet(base, vary.path, value), data, o, pool.get)));
    }
  } finally {
    await pool.close();
  }
  return points;
}
