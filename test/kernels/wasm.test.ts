// The WASM engine beyond the per-op suite: the AssemblyScript requantize at its limits, weight containers
// and resident memory, loader feature detection and its errors, the memory limit, the memory plan.

import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requantBig } from "../../src/kernels/reference/requant.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels, loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { instantiateKernels, simdSupported } from "../../src/kernels/wasm/loader.js";
import { KernelsNotBuiltError, WasmMemoryError } from "../../src/kernels/wasm/errors.js";
import { NipqInputError } from "../../src/errors.js";
import { packedBytes } from "../../src/ir/pack.js";
import { readQModel } from "../../src/ir/io.js";
import { runProgram } from "../../src/exec/interpret.js";
import { compileProgram } from "../../src/exec/runner.js";
import { deployedBytes, liveBytesBound, planActivations } from "../../src/exec/memplan.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import type { DenseLayer } from "../../src/ir/types.js";

const FLAVORS = ["simd", "scalar"] as const;
const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

describe("AssemblyScript requantClamp (requant_i32_perchannel) at the limits", () => {
  for (const flavor of FLAVORS) {
    it(`${flavor}: int32 limits, ties, extreme shifts and multipliers match the BigInt definition`, () => {
      const e = new WasmEngine({ flavor });
      const as = [-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1, -3, 3, 2 ** 20 + 1, -(2 ** 20) - 1];
      const ms = [2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1];
      const cases: [number, number, number][] = [];
      for (const a of as) for (const m of ms) for (let s = 1; s <= 62; s++) cases.push([a, m, s]);
      // Ties: a·m = (2k+1)·2^(s−1) exactly → rounds toward +∞.
      for (const s of [1, 2, 31, 32]) cases.push([3, 2 ** 30, s], [-3, 2 ** 30, s], [-1, 2 ** 30, s]);
      const n = cases.length;
      const a = e.arena;
      const acc = a.putI32(cases.map((c) => c[0]), "acc");
      const m = a.putI32(cases.map((c) => c[1]), "m");
      const s = a.putI32(cases.map((c) => c[2]), "s");
      const out = a.alloc(n * 4, "out");
      for (const [lo, hi] of [[-(2 ** 31), 2 ** 31 - 1], [-32767, 32767], [0, 15]]) {
        e.k.requant_i32_perchannel(acc, out, n, n, m, s, lo, hi);
        const got = a.i32(out, n);
        cases.forEach(([x, mm, ss], i) => {
          const r = requantBig(BigInt(x), BigInt(mm), BigInt(ss));
          const want = r < BigInt(lo) ? lo : r > BigInt(hi) ? hi : Number(r);
          if (got[i] !== want) throw new Error(`requant(${x}, ${mm}, ${ss}) clamp [${lo}, ${hi}]: want ${want}, kernel ${got[i]}`);
        });
      }
    });
  }
});

function denseCase(seed: number, wBits: number, K: number, N: number, n: number): { layer: DenseLayer; x: { n: number; spec: { shape: number[]; bits: number; signed: boolean; scale: number }; data: Int32Array } } {
  const rng = new Rng(seed);
  const layer: DenseLayer = {
    op: "dense", name: "d", inputs: [0], out: { shape: [N], bits: 8, signed: true, scale: 1 }, wBits, weights: rng.weights(N * K, wBits),
    wScale: new Float64Array(N).fill(1), bias: rng.ints(N, -1000, 1000), rq: { m: new Int32Array(N).fill(2 ** 30), s: new Int32Array(N).fill(36), lo: -127, hi: 127 },
  };
  return { layer, x: { n, spec: { shape: [K], bits: 8, signed: false, scale: 1 }, data: rng.ints(n * K, 0, 255) } };
}

describe("weight containers and resident weight memory", () => {
  it("every container (i16 panels, int8, 4-bit, 2-bit packed) is bit-exact on both builds", () => {
    for (const flavor of FLAVORS)
      for (const policy of [{ wide: 8, narrow: "packed" }, { wide: 16, narrow: 16 }] as const) {
        const k = new WasmKernels(new WasmEngine({ flavor, policy }));
        for (let wBits = 2; wBits <= 8; wBits++) {
          const { layer, x } = denseCase(wBits, wBits, 37, 21, 6);
          expectExact(`dense ${flavor} ${JSON.stringify(policy)} w${wBits}`, referenceKernels.dense(layer, x), k.dense(layer, x), [21]);
        }
      }
  });
  it("2- and 4-bit weights stay packed: resident bytes = packed size of the padded panels", () => {
    for (const [wBits, bitsStored] of [[2, 2], [3, 4], [4, 4], [6, 8], [8, 8]] as const) {
      const e = new WasmEngine({ flavor: "simd" });
      const { layer } = denseCase(1, wBits, 1024, 1000, 1);
      e.prepare(layer, { shape: [1024], bits: 8, signed: false, scale: 1 });
      expect(e.weightBytes).toBe((1024 * 1000 * bitsStored) / 8);
      if (wBits <= 4) expect(e.weightBytes).toBeLessThanOrEqual(packedBytes(1024 * 1000, wBits) * (bitsStored / wBits));
    }
  });
});

describe("loader", () => {
  it("feature-detects SIMD and reports the build it picked", () => {
    const k = loadWasmKernels();
    expect(k.name).toBe(simdSupported() ? "wasm-simd" : "wasm-scalar");
    expect(instantiateKernels("scalar").exports.simd_enabled()).toBe(0);
    if (simdSupported()) expect(instantiateKernels("simd").exports.simd_enabled()).toBe(1);
  });
  it("kernels not built → a one-line input error that says to run `npm run build`", () => {
    const empty = mkdtempSync(join(tmpdir(), "nipq-nobuild-"));
    let err: unknown;
    try {
      new WasmEngine({ buildDir: empty });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelsNotBuiltError);
    expect(err).toBeInstanceOf(NipqInputError);
    expect((err as Error).message).toMatch(/^wasm kernels not built: .*nipq-(simd|scalar)\.wasm is missing; run `npm run build`$/);
  });
  it("a model too big for the configured memory → WasmMemoryError, not a trap", () => {
    const k = new WasmKernels(new WasmEngine({ memoryLimit: 2 ** 19 }));
    const { layer, x } = denseCase(1, 8, 1024, 1000, 1); // 1,024,000 B of int8 panels > 512 KiB
    expect(() => k.dense(layer, x)).toThrow(WasmMemoryError);
    expect(() => k.dense(layer, x)).toThrow(/wasm memory: the weights of layer d needs .* MiB, over the configured limit of 0\.5 MiB/);
    const p = readQModel(FIXTURE);
    const small = new WasmKernels(new WasmEngine({ memoryLimit: 100 * 1024 })); // weights fit, activations do not
    expect(() => compileProgram(p, small, 64)).toThrow(/the activations of .* for batch 2 needs/);
  });
});

describe("activation memory plan", () => {
  it("cnn-s fixture: liveness lets buffers share; peak within the live-bytes bound", () => {
    const p = readQModel(FIXTURE);
    const plan = planActivations(p, deployedBytes);
    // input 784, conv1 25088, pool1 6272, conv2 12544, pool2 3136, conv3 6272, gap 128, dense 20 (bytes, 1 B/elem, logits 2 B).
    expect(plan.sizes).toEqual([784, 25088, 6272, 12544, 3136, 6272, 128, 20]);
    expect(liveBytesBound(plan)).toBe(25088 + 6272);
    expect(plan.peakBytes).toBe(liveBytesBound(plan));
    // No two simultaneously live buffers overlap.
    for (let a = 0; a < 8; a++)
      for (let b = a + 1; b < 8; b++) {
        const live = plan.live[a][0] <= plan.live[b][1] && plan.live[b][0] <= plan.live[a][1];
        const overlap = plan.offsets[a] < plan.offsets[b] + plan.sizes[b] && plan.offsets[b] < plan.offsets[a] + plan.sizes[a];
        expect(live && overlap).toBe(false);
      }
  });
  it("random programs: no live overlap; flatten aliases its input", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const p = randomProgram(seed);
      const plan = planActivations(p, deployedBytes, 16);
      const owners = [...new Set(plan.owner)];
      for (const a of owners)
        for (const b of owners) {
          if (a >= b) continue;
          const live = plan.live[a][0] <= plan.live[b][1] && plan.live[b][0] <= plan.live[a][1];
          const overlap = plan.offsets[a] < plan.offsets[b] + plan.sizes[b] && plan.offsets[b] < plan.offsets[a] + plan.sizes[a];
          expect(live && overlap, `program ${seed}: buffers ${a}, ${b}`).toBe(false);
        }
      p.layers.forEach((l, i) => l.op === "flatten" && expect(plan.offsets[i]).toBe(plan.offsets[l.inputs[0]]));
      expect(plan.peakBytes).toBeGreaterThanOrEqual(liveBytesBound(plan));
    }
  });
  it("the whole-program runner (arena from the plan) matches the reference on cnn-s", () => {
    const p = readQModel(FIXTURE);
    const images = randomImages(p, 7, 3);
    const ref = runProgram(p, referenceKernels, images, 7);
    for (const flavor of FLAVORS) {
      const prog = compileProgram(p, loadWasmKernels({ flavor }), 8);
      expectExact(`cnn-s ${flavor}`, ref.logits, prog.run(images, 7).logits, [10]);
    }
  });
});

describe("per-layer backend memory", () => {
  it("forgets prepared layers instead of growing without bound; never while a program runner holds pointers", () => {
    const e = new WasmEngine({ flavor: "simd" });
    const k = new WasmKernels(e);
    const { layer, x } = denseCase(3, 8, 64, 64, 2);
    const before = e.arena.used();
    k.dense(layer, x);
    expect(e.arena.used()).toBeGreaterThan(before);
    expect(e.forgetPrepared()).toBe(true);
    expect(e.arena.used()).toBe(before);
    expectExact("dense after forget", referenceKernels.dense(layer, x), k.dense(layer, x), [64]); // re-prepared
    compileProgram(readQModel(FIXTURE), k, 4);
    expect(e.forgetPrepared()).toBe(false);
  });
});
