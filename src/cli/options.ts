// The options of the commands that run studies (simulate, sweep, demo), built in one place so that they
// have the same names, help and defaults (STUDY_DEFAULTS, src/sim/study/study.ts: 10 trials, seed 0,
// batches of 64; --workers is every command's workersOption: one per core).

import type { Command } from "commander";
import { MAX_BATCH, MAX_LIMIT, MAX_TRIALS } from "../limits.js";
import { STUDY_DEFAULTS } from "../sim/study/study.js";
import { intOption, workersOption } from "./common.js";

/** The parsed shared options. */
export interface StudyCliOptions {
  trials: number;
  seed: number;
  limit?: number;
  workers: number;
  batch: number;
  json?: boolean;
}

/**
 * Adds --trials, --seed, --limit, --workers, --batch and --json to a study command. A command may
 * change the default trial count or give --limit a default, but only with the reason (`why`), which the
 * help shows.
 */
export function studyOptions(cmd: Command, o: { trials: string; defaults?: { trials: number; limit: number; why: string } }): Command {
  const d = o.defaults;
  return cmd
    .option("--trials <N>", o.trials, intOption("--trials", 1, MAX_TRIALS), d?.trials ?? STUDY_DEFAULTS.trials)
    .option("--seed <S>", "seed of every random draw", intOption("--seed", 0), STUDY_DEFAULTS.seed)
    .option("--limit <N>", d ? `test images (${d.why})` : "use only the first N test images", intOption("--limit", 1, MAX_LIMIT), d?.limit)
    .addOption(workersOption("that share the trials"))
    .option("--batch <N>", "images per batch (does not change any number)", intOption("--batch", 1, MAX_BATCH), STUDY_DEFAULTS.batch)
    .option("--json", "print one JSON document on stdout");
}
