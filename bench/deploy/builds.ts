// Kernel builds side by side on one whole program, the same code in Node and in a Chromium page
// (bench/deploy/builds-ab.ts drives it and does the timing): each build (any .wasm of the edge kernels, e.g.
// this tree's build/nipq-simd.wasm and build/nipq-relaxed.wasm, or a variant built elsewhere) runs the
// model in linear memory (WasmProgram, as the edge runtime does). Free of Node APIs.

import { WasmProgram } from "../../src/exec/wasm-program.js";
import { decodeQModel } from "../../src/ir/qmodel.js";
import { sizeOf } from "../../src/ir/types.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { kernelImports, type KernelExports, type WasmFlavor } from "../../src/kernels/wasm/features.js";
import type { RelaxedForm } from "../../src/kernels/wasm/prepare.js";
import { layerProfile } from "../kernels/timing.js";
import { benchImages } from "./suite.js";

export interface Build {
  name: string;
  flavor: WasmFlavor;
  /** The relaxed GEMM's form (default: the engine's choice, src/kernels/wasm/engine.ts). */
  relaxedForm?: RelaxedForm;
  bytes: Uint8Array;
}

export interface Builds {
  /** Every build gave the same int16 logits as the first. */
  same: boolean;
  /** Layer names (slot 0: the input conversion and the runner's own work). */
  layers: string[];
  /** Runs build b on the batch until `seconds` of wall time have passed; returns the number of runs. */
  run(b: number, seconds: number): number;
  /** Build b's milliseconds per batch in each layer (bench/kernels/timing.ts, layerProfile; clock in ms, default wall time). */
  profile(b: number, clock?: () => number): number[];
}

export async function openBuilds(builds: Build[], qmodel: Uint8Array, batch: number): Promise<Builds> {
  const program = decodeQModel(qmodel, "model");
  const x = benchImages(batch, sizeOf(program.layers[0].out.shape));
  const progs = await Promise.all(
    builds.map(async (b) => {
      const instance = await WebAssembly.instantiate(await WebAssembly.compile(b.bytes as BufferSource), kernelImports());
      return new WasmProgram(new WasmEngine({ kernels: { exports: instance.exports as unknown as KernelExports, flavor: b.flavor }, relaxedForm: b.relaxedForm, memoryLimit: 2 ** 30, winograd: false }), program, batch);
    }),
  );
  const ref = progs[0].run(x, batch).logits;
  return {
    same: progs.every((p) => p.run(x, batch).logits.every((v, i) => v === ref[i])),
    layers: program.layers.map((l, i) => (i === 0 ? "input→i16" : l.name)),
    run(b, seconds) {
      let k = 0;
      const t0 = performance.now();
      do {
        progs[b].run(x, batch);
        k++;
      } while (performance.now() - t0 < seconds * 1000);
      return k;
    },
    profile: (b, clock) => Array.from(layerProfile(progs[b].engine, program.layers, () => progs[b].run(x, batch), 20, clock)),
  };
}
