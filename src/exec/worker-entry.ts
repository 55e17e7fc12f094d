// The worker side of ./workers.ts: load the job module, run its init once, then run chunks on request.

import { parentPort, workerData } from "node:worker_threads";
import { NipqInputError } from "../errors.js";

const port = parentPort!;
const { module, init } = workerData as { module: string; init: unknown };

function errorMsg(e: unknown) {
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message, stack: err.stack, input: err instanceof NipqInputError };
}

try {
  const mod = (await import(module)) as { init(d: unknown): unknown; run(s: unknown, c: unknown): unknown };
  const state = await mod.init(init);
  port.on("message", async (m: { i: number; chunk: unknown }) => {
    try {
      const result = await mod.run(state, m.chunk);
      port.postMessage({ i: m.i, result });
    } catch (e) {
      port.postMessage({ i: m.i, error: errorMsg(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ error: errorMsg(e) });
}
