// A generic worker_threads pool: "run this job module over these chunks". A job module exports
//   init(data) → state           (once per worker: e.g. load kernels, prepare a program)
//   run(state, chunk) → result   (per chunk: e.g. a batch of images, or a range of Monte-Carlo trials)
// Results come back in chunk order whatever the number of workers or the scheduling, so a deterministic
// job gives results identical to one worker. With one worker the job runs inline in this thread (same
// module, same code path, no thread start-up). `nipq run --workers` uses it with ./run-job.ts, and
// simulate, sweep and the demo with the simulator's trial jobs (src/sim/study/trials.ts).

import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { NipqInputError } from "../errors.js";
import { MAX_WORKERS } from "../limits.js";

/** The shape of a job module. */
export interface JobModule<I, S, C, R> {
  init(data: I): S | Promise<S>;
  run(state: S, chunk: C): R | Promise<R>;
}

/** Default worker count: the machine's available parallelism (cores), within MAX_WORKERS. */
export function defaultWorkers(): number {
  return Math.min(MAX_WORKERS, Math.max(1, availableParallelism()));
}

interface ErrorMsg {
  name: string;
  message: string;
  stack?: string;
  input: boolean;
}

/** Rebuilds an error that crossed a thread boundary; input errors stay NipqInputError (CLI exit 2). */
function reviveError(e: ErrorMsg): Error {
  const err = e.input ? new NipqInputError(e.message) : new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** The worker script next to this file (.ts under tsx/vitest, .js once compiled). */
function entryUrl(): URL {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./worker-entry${ext}`, import.meta.url);
}

/**
 * A Worker running `url`. Compiled (.js): directly. From TypeScript sources (tsx, vitest): a tiny eval'd
 * bootstrap registers tsx's ESM loader in the worker first (`--import tsx` in execArgv is not honoured
 * for workers on Node 20), then imports the entry.
 */
function workerFor(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith(".ts")) return new Worker(url, { workerData });
  const api = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}

export interface PoolOptions<I> {
  /** URL (or file URL string) of the job module. */
  module: URL | string;
  /** Passed to the module's init in every worker (structured-cloned). */
  init: I;
  /** Number of workers; 1 runs inline. */
  workers: number;
}

/** A started pool; `map` may be called many times; `close` ends the workers. */
export class ChunkPool<I, C, R> {
  private constructor(
    private readonly workers: Worker[],
    private readonly inline: { mod: JobModule<I, unknown, C, R>; state: unknown } | null,
  ) {}

  /** Starts `workers` workers (or loads the module inline for 1) and runs init in each. */
  static async start<I, C, R>(o: PoolOptions<I>): Promise<ChunkPool<I, C, R>> {
    const href = o.module instanceof URL ? o.module.href : o.module;
    if (o.workers <= 1) {
      const mod = (await import(href)) as JobModule<I, unknown, C, R>;
      return new ChunkPool<I, C, R>([], { mod, state: await mod.init(o.init) });
    }
    const url = entryUrl();
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: o.workers }, () => {
          const w = workerFor(url, { module: href, init: o.init });
          workers.push(w);
          return new Promise<void>((resolve, reject) => {
            const onMsg = (m: { ready?: true; error?: ErrorMsg }) => {
              w.off("message", onMsg);
              w.off("error", reject);
              if (m.error) reject(reviveError(m.error));
              else resolve();
            };
            w.on("message", onMsg);
            w.once("error", reject);
          });
        }),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new ChunkPool<I, C, R>(workers, null);
  }

  /** Number of threads doing work (1 when inline). */
  get size(): number {
    return this.inline ? 1 : this.workers.length;
  }

  /**
   * Runs every chunk; resolves to the results in chunk order. Chunks are handed out dynamically (the next
   * free worker takes the next chunk). `onResult` sees each result as it arrives (for progress).
   */
  async map(chunks: C[], onResult?: (index: number, r: R) => void, transfer?: (c: C) => ArrayBuffer[]): Promise<R[]> {
    const out = new Array<R>(chunks.length);
    if (this.inline) {
      for (let i = 0; i < chunks.length; i++) {
        out[i] = await this.inline.mod.run(this.inline.state, chunks[i]);
        onResult?.(i, out[i]);
      }
      return out;
    }
    let next = 0;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const give = () => {
              if (next >= chunks.length) {
                w.off("message", onMsg);
                w.off("error", onErr);
                return resolve();
              }
              const i = next++;
              try {
                w.postMessage({ i, chunk: chunks[i] }, transfer ? transfer(chunks[i]) : []);
              } catch (e) {
                // e.g. DataCloneError: a chunk that cannot be sent must fail the map, not leave it waiting.
                w.off("message", onMsg);
                w.off("error", onErr);
                next = chunks.length;
                reject(e);
              }
            };
            const onMsg = (m: { i: number; result?: R; error?: ErrorMsg }) => {
              if (m.error) {
                w.off("message", onMsg);
                w.off("error", onErr);
                next = chunks.length; // stop handing out work
                return reject(reviveError(m.error));
              }
              out[m.i] = m.result as R;
              onResult?.(m.i, out[m.i]);
              give();
            };
            const onErr = (e: Error) => {
              w.off("message", onMsg);
              reject(e);
            };
            w.on("message", onMsg);
            w.once("error", onErr);
            give();
          }),
      ),
    );
    return out;
  }

  /** Ends the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Starts a pool, maps the chunks, closes the pool. */
export async function runChunks<I, C, R>(o: PoolOptions<I> & { chunks: C[]; onResult?: (i: number, r: R) => void; transfer?: (c: C) => ArrayBuffer[] }): Promise<R[]> {
  const pool = await ChunkPool.start<I, C, R>(o);
  try {
    return await pool.map(o.chunks, o.onResult, o.transfer);
  } finally {
    await pool.close();
  }
}
