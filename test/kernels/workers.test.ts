// The worker pool: `nipq run --workers N` results identical to one worker, in dataset order; errors from a
// worker surface in the caller with their type (input errors stay exit-2 errors).

import { describe, expect, it } from "vitest";
import { readQModel } from "../../src/ir/io.js";
import { RUN_JOB_URL, type RunChunk, type RunChunkResult, type RunJobInit } from "../../src/exec/run-job.js";
import { ChunkPool, runChunks } from "../../src/exec/workers.js";
import { NipqInputError } from "../../src/errors.js";
import { randomImages } from "../backends/random-program.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

describe("worker pool", () => {
  it("2 and 3 workers give the same logits, in order, as 1 worker (wasm and reference)", async () => {
    const program = readQModel(FIXTURE);
    const images = randomImages(program, 300, 11);
    const chunks = (batch: number): RunChunk[] => {
      const c: RunChunk[] = [];
      for (let b = 0; b < 300; b += batch) c.push({ images: images.slice(b * 784, Math.min(300, b + batch) * 784), n: Math.min(batch, 300 - b) });
      return c;
    };
    const flat = (rs: RunChunkResult[]) => Int16Array.from(rs.flatMap((r) => Array.from(r.logits)));
    const one = flat(await runChunks<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "wasm", batch: 32 }, workers: 1, chunks: chunks(32) }));
    for (const workers of [2, 3]) {
      const many = flat(await runChunks<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "wasm", batch: 32 }, workers, chunks: chunks(32) }));
      expect(many).toEqual(one);
    }
    // The reference backend on a slice agrees too (same job module, other backend).
    const ref = flat(await runChunks<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "reference", batch: 8 }, workers: 2, chunks: chunks(8).slice(0, 3) }));
    expect(ref).toEqual(one.subarray(0, ref.length));
  });

  it("a worker's input error reaches the caller as a NipqInputError", async () => {
    const program = readQModel(FIXTURE);
    const pool = await ChunkPool.start<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "wasm", batch: 4 }, workers: 2 });
    try {
      // A batch larger than the prepared maximum is a RangeError in the runner: not an input error.
      await expect(pool.map([{ images: new Uint8Array(8 * 784), n: 8 }])).rejects.toThrow(/exceeds the prepared maximum/);
    } finally {
      await pool.close();
    }
    // cnn-s in a 256 KiB memory limit: its weights fit (175 KB with the Winograd layers), its activations do not —
    // WasmMemoryError in the worker's init.
    const err = await ChunkPool.start<RunJobInit, RunChunk, RunChunkResult>({ module: RUN_JOB_URL, init: { program, backend: "wasm", batch: 64, wasm: { memoryLimit: 256 * 1024 } }, workers: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(NipqInputError);
    expect((err as Error).message).toMatch(/^wasm memory: the activations of .* for batch 2 needs/);
  });
});
