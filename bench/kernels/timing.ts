// Timing of several runners in alternating windows, free of Node APIs so that the browser bench
// (bench/deploy/browser.ts) runs the same code in its page.

import type { Layer } from "../../src/ir/types.js";
import type { KernelEngine } from "../../src/kernels/wasm/engine.js";

/**
 * Best seconds per call of each runner, timed in alternating windows (nipq, tfjs, ort, nipq, …) so that
 * the load of the shared machine falls on all of them alike.
 */
export async function timeWindows(calls: (() => unknown)[], minSeconds: number, reps = 6): Promise<number[]> {
  for (const c of calls) for (let i = 0; i < 2; i++) await c();
  const best = calls.map(() => Infinity);
  for (let r = 0; r < reps; r++)
    for (let i = 0; i < calls.length; i++) {
      let k = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < minSeconds * 1000) {
        await calls[i]();
        k++;
        t = performance.now();
      }
      best[i] = Math.min(best[i], (t - t0) / 1000 / k);
    }
  return best;
}


/**
 * Where a whole-program runner's time goes: each layer's `engine.exec` timed by a wrapper on this engine
 * instance over `reps` runs (the runner has no hook: the edge runtime would carry it). Slot 0 is the rest
 * of each run's time (the u8 → i16 input conversion and the runner's own work). Milliseconds per run, by
 * `clock` (milliseconds; default the wall clock, e.g. a thread's CPU time where the host can read it).
 */
export function layerProfile(engine: KernelEngine, layers: readonly Layer[], run: () => void, reps = 20, clock = () => performance.now()): Float64Array {
  const perLayer = new Float64Array(layers.length);
  const exec = engine.exec;
  engine.exec = function (this: KernelEngine, l, ...rest) {
    const t = clock();
    exec.call(this, l, ...rest);
    perLayer[layers.indexOf(l)] += clock() - t;
  };
  let total = 0;
  try {
    for (let i = 0; i < reps; i++) {
      const t = clock();
      run();
      total += clock() - t;
    }
  } finally {
    engine.exec = exec;
  }
  perLayer[0] = total - perLayer.reduce((a, b) => a + b, 0);
  return perLayer.map((v) => v / reps);
}
