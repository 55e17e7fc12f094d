// The job module of `nipq run` for the worker pool (./workers.ts): each worker loads the backend and
// prepares the program once (./runner.ts: the whole program in linear memory on the wasm backend, the
// interpreter on others), then runs batches of images.

import type { Program } from "../ir/types.js";
import { loadBackend, type BackendName } from "./backends.js";
import { compileProgram, type ProgramRunner } from "./runner.js";
import type { EngineOptions } from "../kernels/wasm/engine.js";

export interface RunJobInit {
  program: Program;
  backend: BackendName;
  /** Largest batch a chunk will hold. */
  batch: number;
  /** Options of the wasm engine (flavor, weight policy, memory limit); default: auto, as `loadBackend`. */
  wasm?: EngineOptions;
}

export interface RunChunk {
  images: Uint8Array;
  n: number;
}

export interface RunChunkResult {
  logits: Int16Array;
  predictions: Int32Array;
}

/** Job init: load the backend, prepare the program. */
export async function init(d: RunJobInit): Promise<ProgramRunner> {
  if (d.backend === "wasm" && d.wasm) {
    const { loadWasmKernels } = await import("../kernels/wasm/backend.js");
    return compileProgram(d.program, loadWasmKernels(d.wasm), d.batch);
  }
  return compileProgram(d.program, await loadBackend(d.backend), d.batch);
}

/** Job run: one batch. */
export function run(s: ProgramRunner, c: RunChunk): RunChunkResult {
  const r = s.run(c.images, c.n);
  return { logits: r.logits, predictions: r.predictions };
}

/** This module's URL, for ChunkPool/runChunks. */
export const RUN_JOB_URL = import.meta.url;
