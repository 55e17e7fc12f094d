// The two studies every front end runs (nipq simulate, nipq sweep, nipq demo, the API): accuracy of one
// chip configuration clean and over Monte-Carlo trials, and that at each value of one swept knob.

import { UsageError } from "../errors.js";
import type { Program } from "../ir/types.js";
import { MAX_BATCH, MAX_SWEEP_TRIALS, MAX_TRIALS, MAX_WORKERS } from "../limits.js";
import { withSet, type HwModel } from "./hwmodel.js";
import { runTrials } from "./pool.js";
import { noiseActive, runTrial, trialStats, type SimData, type TrialStats } from "./simulate.js";
import type { Vary } from "./sweep.js";

export interface StudyOptions {
  seed: number;
  trials: number;
  workers?: number;
  /** Images per batch (changes no number). */
  batch?: number;
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

/** Accuracy of `program` on chip `hw`: clean, and over `o.trials` noisy chip instances. */
export async function accuracyStudy(program: Program, hw: HwModel, data: SimData, o: StudyOptions): Promise<AccuracyStudy> {
  checkCount("trials", o.trials, MAX_TRIALS);
  checkCount("workers", o.workers ?? 1, MAX_WORKERS);
  checkCount("batch", o.batch ?? 64, MAX_BATCH);
  const batch = o.batch ?? 64;
  const clean = runTrial(program, hw, data, o.seed, null, batch);
  const active = noiseActive(hw);
  const trials = Array.from({ length: o.trials }, (_, t) => t);
  let values: number[];
  if (active) values = await runTrials(program, hw, data, o.seed, trials, o.workers ?? 1, batch, o.onTrial);
  else {
    values = trials.map(() => clean);
    trials.forEach((t) => o.onTrial?.(t, clean));
  }
  return { clean, noisy: trialStats(values), active };
}

/** A count from the caller (CLI or API) checked against its limit before anything is sized by it. */
function checkCount(name: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name}: expected an integer in [1, ${max}], found ${n}`);
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

/** accuracyStudy at each value of `vary` (hw-model field `vary.path` set to the value). */
export async function sweepStudy(program: Program, base: HwModel, vary: Vary, data: SimData, o: StudyOptions & { onPoint?: (value: number) => void }): Promise<SweepPoint[]> {
  checkCount("trials", o.trials, MAX_TRIALS);
  if (vary.values.length * o.trials > MAX_SWEEP_TRIALS)
    throw new UsageError(`--vary ${vary.key} with --trials ${o.trials}: expected at most ${MAX_SWEEP_TRIALS} trials in all (points × trials), found ${vary.values.length} × ${o.trials} = ${vary.values.length * o.trials}`);
  const points: SweepPoint[] = [];
  for (const value of vary.values) {
    o.onPoint?.(value);
    const s = await accuracyStudy(program, withSet(base, vary.path, value), data, o);
    points.push({ value, mean: s.noisy.mean, std: s.noisy.std, ci95: s.noisy.ci95, clean: s.clean, values: s.noisy.values });
  }
  return points;
}

/** The `vary` object of sweep documents (DESIGN.md §5 `sweep.vary`). */
export function varyDoc(v: Vary): { key: string; from: number; to: number; steps: number; scale: "linear" | "log"; spec: string } {
  return { key: v.key, from: v.from, to: v.to, steps: v.steps, scale: v.scale, spec: v.spec };
}
