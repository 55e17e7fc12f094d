// Trials over worker threads. Each worker decodes the program once, then takes trial indices from a shared
// queue and answers with that trial's accuracy; the (seed, trial, inference) keys make the result of a
// trial the same in any worker, so the assignment order never changes the numbers.

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { encodeQModel } from "../ir/qmodel.js";
import type { Program } from "../ir/types.js";
import type { HwModel } from "./hwmodel.js";
import { runTrial, type SimData } from "./simulate.js";

/** What a worker needs: everything by value (no file is re-read). */
export interface WorkerInit {
  qmodel: Uint8Array;
  hw: HwModel;
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
  n: number;
  seed: number;
  batch: number;
}

/**
 * A Worker running `url`. From TypeScript sources (vitest, tsx) an eval'd bootstrap registers tsx's ESM
 * loader first: `--import tsx` in execArgv is not honoured by worker threads on Node 20 (the same
 * bootstrap as src/exec/workers.ts).
 */
function workerFor(url: URL, workerData: WorkerInit): Worker {
  if (!url.pathname.endsWith(".ts")) return new Worker(url, { workerData });
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

/**
 * Accuracy of every trial in `trials` (same order). workers ≤ 1 runs in this thread. `onDone` is called
 * after each finished trial (for a progress bar).
 */
export async function runTrials(program: Program, hw: HwModel, data: SimData, seed: number, trials: number[], workers: number, batch = 64, onDone?: (trial: number, acc: number) => void): Promise<number[]> {
  const out = new Array<number>(trials.length);
  if (workers <= 1 || trials.length <= 1) {
    trials.forEach((t, i) => {
      out[i] = runTrial(program, hw, data, seed, t, batch);
      onDone?.(t, out[i]);
    });
    return out;
  }
  const init: WorkerInit = { qmodel: encodeQModel(program), hw, images: data.images, labels: data.labels, n: data.n, seed, batch };
  // From TypeScript sources (tests, tsx) the worker is the .ts file, loaded through tsx.
  const fromTs = import.meta.url.endsWith(".ts");
  const url = new URL(fromTs ? "./worker.ts" : "./worker.js", import.meta.url);
  let next = 0;
  const count = Math.min(workers, trials.length);
  await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<void>((resolve, reject) => {
        const w = workerFor(url, init);
        const feed = () => {
          if (next >= trials.length) {
            void w.terminate().then(() => resolve());
            return;
          }
          const i = next++;
          w.postMessage({ i, trial: trials[i] });
        };
        w.on("message", (m: { i: number; trial: number; acc: number }) => {
          out[m.i] = m.acc;
          onDone?.(m.trial, m.acc);
          feed();
        });
        w.on("error", reject);
        w.on("exit", (code) => {
          if (code !== 0 && code !== 1) reject(new Error(`simulator worker exited with code ${code}`));
        });
        feed();
      }),
    ),
  );
  return out;
}
