// The WASM backend as a LayerKernels plug-in (../backend.ts): each call copies its Int32Array activations
// into linear memory as i16, runs the kernel, and copies the result out. For speed, whole programs run
// through the executor's WasmProgram (src/exec/wasm-program.ts) on this backend's engine, which keeps
// activations in linear memory.

import type { Activation, LayerKernels } from "../backend.js";
import { sizeOf, type AddLayer, type AvgPoolLayer, type Conv2DLayer, type DenseLayer, type GlobalAvgPoolLayer, type Layer, type MaxPoolLayer } from "../../ir/types.js";
import { WasmEngine, type EngineOptions } from "./engine.js";
import { usedBytes } from "./arena.js";

/** Prepared-weight memory above which the per-layer backend starts over (see WasmEngine.forgetPrepared). */
const FORGET_ABOVE_BYTES = 64 * 2 ** 20;

/** The wasm kernels behind the LayerKernels interface. */
export class WasmKernels implements LayerKernels {
  readonly name: string;

  constructor(readonly engine: WasmEngine) {
    this.name = `wasm-${engine.flavor}`;
  }

  private call(l: Layer, xs: Activation[]): Int32Array {
    const e = this.engine;
    if (usedBytes(e.arena) > FORGET_ABOVE_BYTES) e.forgetPrepared();
    e.prepare(l, xs[0].spec); // persistent: before the transient mark
    const a = e.arena;
    const mark = a.mark();
    try {
      const ptrs = xs.map((x) => {
        const p = a.alloc(x.data.length * 2, `the input of layer ${l.name}`);
        a.i16(p, x.data.length).set(x.data);
        return p;
      });
      const count = xs[0].n * sizeOf(l.out.shape);
      const y = a.alloc(count * 2, `the output of layer ${l.name}`);
      e.exec(l, xs.map((x) => x.spec), ptrs, xs[0].n, y, count);
      return Int32Array.from(a.i16(y, count));
    } finally {
      a.release(mark);
    }
  }

  conv2d(l: Conv2DLayer, x: Activation): Int32Array {
    return this.call(l, [x]);
  }
  dense(l: DenseLayer, x: Activation): Int32Array {
    return this.call(l, [x]);
  }
  maxpool(l: MaxPoolLayer, x: Activation): Int32Array {
    return this.call(l, [x]);
  }
  avgpool(l: AvgPoolLayer, x: Activation): Int32Array {
    return this.call(l, [x]);
  }
  gap(l: GlobalAvgPoolLayer, x: Activation): Int32Array {
    return this.call(l, [x]);
  }
  add(l: AddLayer, a: Activation, b: Activation): Int32Array {
    return this.call(l, [a, b]);
  }
}

/** Loads the WASM kernels ("auto": SIMD build if the engine supports SIMD, else scalar). */
export function loadWasmKernels(o: EngineOptions = {}): WasmKernels {
  return new WasmKernels(new WasmEngine(o));
}
