// The job module of `nipq run` for the worker pool (./workers.ts): each worker loads the backend and
// prepares the program once, then runs batches of images. With the wasm backend the whole program runs
// in linear memory (WasmProgram); other backends go through the interpreter.

import type { Program } from "../ir/types.js";
import { loadBackend, type BackendName } from "./backends.js";
import { runProgram } from "./interpret.js";
import type { LayerKernels } from "./backend.js";
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

export interface RunState {
  name: string;
  run(images: Uint8Array, n: number): RunChunkResult;
}

/** A batch runner for a program on loaded kernels (whole-program fast path when the backend has one). */
export function makeRunner(program: Program, kernels: LayerKernels, batch: number): RunState {
  const c = kernels as LayerKernels & { compile?: (p: Program, maxBatch: number) => { run(images: Uint8Array, n: number): RunChunkResult } };
  if (typeof c.compile === "function") {
    const compiled = c.compile(program, batch);
    return { name: kernels.name, run: (images, n) => compiled.run(images, n) };
  }
  return { name: kernels.name, run: (images, n) => runProgram(program, kernels, images, n) };
}

/** Job init: load the backend, prepare the program. */
export async function init(d: RunJobInit): Promise<RunState> {
  if (d.backend === "wasm" && d.wasm) {
    const { loadWasmKernels } = await import("../kernels/wasm/backend.js");
    return makeRunner(d.program, loadWasmKernels(d.wasm), d.batch);
  }
  return makeRunner(d.program, await loadBackend(d.backend), d.batch);
}

/** Job run: one batch. */
export function run(s: RunState, c: RunChunk): RunChunkResult {
  return s.run(c.images, c.n);
}

/** This module's URL, for ChunkPool/runChunks. */
export const RUN_JOB_URL = import.meta.url;
