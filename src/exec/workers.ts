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
  /** Number of workers; 1 runs inline unless `threads`. */
  workers: number;
  /**
   * Run in worker threads even for one worker, so this thread stays free while jobs run (a queue worker
   * renews its job locks and talks to Redis meanwhile: src/queue/worker.ts).
   */
  threads?: boolean;
}

/** A chunk waiting for a worker in `submit`. */
interface Waiting<C, R> {
  chunk: C;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
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
    if (o.workers <= 1 && !o.threads) {
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

  private idle: Worker[] | undefined;
  private readonly waiting: Waiting<C, R>[] = [];

  /**
   * Runs one chunk on the next idle worker (waiting while all are busy) and resolves to its result.
   * Concurrent calls are safe (a queue worker runs several jobs at once); do not mix them with a `map` in
   * flight on the same pool. A worker thread that dies is not used again; when none is left, waiting and
   * later chunks are rejected.
   */
  submit(chunk: C): Promise<R> {
    if (this.inline) {
      const { mod, state } = this.inline;
      return Promise.resolve().then(() => mod.run(state, chunk));
    }
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ chunk, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    const idle = (this.idle ??= [...this.workers]);
    if (this.workers.length === 0) for (const t of this.waiting.splice(0)) t.reject(new Error("the worker pool has no live worker thread left"));
    while (idle.length && this.waiting.length) {
      const w = idle.pop()!;
      const t = this.waiting.shift()!;
      const settle = (ok: boolean, fn: () => void) => {
        w.off("message", onMsg);
        w.off("error", onErr);
        w.off("exit", onExit);
        if (ok) idle.push(w);
        else this.workers.splice(this.workers.indexOf(w), 1);
        fn();
        this.dispatch();
      };
      const onMsg = (m: { result?: R; error?: ErrorMsg }) => settle(true, () => (m.error ? t.reject(reviveError(m.error)) : t.resolve(m.result as R)));
      const onErr = (e: Error) => settle(false, () => t.reject(e));
      const onExit = (code: number) => settle(false, () => t.reject(new Error(`a worker thread exited with code ${code} while running a chunk`)));
      w.on("message", onMsg);
      w.once("error", onErr);
      w.once("exit", onExit);
      try {
        w.postMessage({ i: 0, chunk: t.chunk });
      } catch (e) {
        settle(true, () => t.reject(e as Error));
      }
    }
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
