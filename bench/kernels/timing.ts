// Timing of several runners in alternating windows, free of Node APIs so that the browser bench
// (bench/deploy/browser.ts) runs the same code in its page.

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

