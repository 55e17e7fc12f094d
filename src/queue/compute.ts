// The job module a `nipq worker` runs in its worker threads (src/exec/workers.ts): the blobs a job names are
// already in the cache directory (fetched and verified by src/queue/worker.ts); this reads them — by
// validated address only — decodes them with the validators files go through, and runs the simulator's one
// job function. Decoded models, hw-models and datasets stay in memory for the next jobs of the same study.

import { NipqInputError } from "../errors.js";
import type { Program } from "../ir/types.js";
import type { SimData } from "../sim/chip/run.js";
import type { HwModel } from "../sim/hw/hwmodel.js";
import { runSimJob } from "../sim/study/trials.js";
import { readCached } from "./blobs.js";
import { decodeData, decodeHw, decodeModel } from "./content.js";
import { jobKey, jobTrials, type JobPayload } from "./jobs.js";

export interface ComputeInit {
  /** The worker's cache directory (absolute). */
  cacheDir: string;
}

interface ComputeState {
  cacheDir: string;
  models: Map<string, Program>;
  hws: Map<string, HwModel>;
  data: Map<string, SimData>;
}

/** Keeps the last few decoded values (a worker serves one or two studies at a time). */
function cached<T>(m: Map<string, T>, key: string, make: () => T): T {
  let v = m.get(key);
  if (v === undefined) {
    v = make();
    if (m.size >= 4) m.delete(m.keys().next().value!);
    m.set(key, v);
  }
  return v;
}

export function init(d: ComputeInit): ComputeState {
  return { cacheDir: d.cacheDir, models: new Map(), hws: new Map(), data: new Map() };
}

/** One job: its correct predictions per trial (one count for the clean chip). */
export function run(s: ComputeState, p: JobPayload): number[] {
  const program = cached(s.models, p.model, () => decodeModel(readCached(s.cacheDir, p.model), p.model));
  const hw = cached(s.hws, p.hw, () => decodeHw(readCached(s.cacheDir, p.hw), p.hw));
  const data = cached(s.data, `${p.model}.${p.images}.${p.labels}`, () => decodeData(readCached(s.cacheDir, p.images), readCached(s.cacheDir, p.labels), p, program));
  if (p.to > data.n) throw new NipqInputError(`job ${jobKey(p)}: payload: to: expected at most ${data.n} (the images in blob ${p.images.slice(0, 12)}), found ${p.to}`);
  return runSimJob({ program, data, seed: p.seed, batch: p.batch }, { hw, trials: jobTrials(p), from: p.from, to: p.to });
}

/** This module's URL, for the pool. */
export const COMPUTE_URL = import.meta.url;
