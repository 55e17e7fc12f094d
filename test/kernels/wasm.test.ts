// The WASM engine beyond the per-op suite: the AssemblyScript requantize at its limits and at constructed
// ties on every build (test/helpers/requant-cases.ts), the per-channel parameters the kernels pad and whose
// shared shifts they derive (requant_params), weight containers and resident memory, loader feature
// detection and its errors, the memory limit, the memory plan.

import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requantBig } from "../../src/kernels/reference/requant.js";
import { clampBig, coverageKey, integerCases, nearTieCases, roundedBig, tieCases, uncovered, type RqCase } from "../helpers/requant-cases.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels, loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { instantiateKernels, simdSupported } from "../../src/kernels/wasm/loader.js";
import { KernelsNotBuiltError, WasmMemoryError } from "../../src/kernels/wasm/errors.js";
import { i32View, usedBytes } from "../../src/kernels/wasm/arena.js";
import { NipqInputError } from "../../src/errors.js";
import { packedBytes } from "../../src/ir/pack.js";
import { readQModel } from "../../src/ir/io.js";
import { runProgram } from "../../src/exec/interpret.js";
import { compileProgram } from "../../src/exec/runner.js";
import { deployedBytes, liveBytesBound, planActivations } from "../../src/exec/memplan.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import { sharedShift } from "../../src/kernels/wasm/prepare.js";
import type { DenseLayer } from "../../src/ir/types.js";

const FLAVORS = ["simd", "scalar"] as const;
const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

describe("AssemblyScript requantClamp (requant_i32_perchannel) at the limits", () => {
  for (const flavor of FLAVORS) {
    it(`${flavor}: int32 limits, extreme shifts and multipliers match the BigInt definition`, () => {
      const e = new WasmEngine({ flavor });
      const as = [-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1, -3, 3, 2 ** 20 + 1, -(2 ** 20) - 1];
      const ms = [2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1];
      const cases: [number, number, number][] = [];
      // (Exact ties at every shift are the next describe's.)
      for (const a of as) for (const m of ms) for (let s = 1; s <= 62; s++) cases.push([a, m, s]);
      const n = cases.length;
      const a = e.arena;
      const acc = a.putI32(cases.map((c) => c[0]), "acc");
      const m = a.putI32(cases.map((c) => c[1]), "m");
      const s = a.putI32(cases.map((c) => c[2]), "s");
      const out = a.alloc(n * 4, "out");
      for (const [lo, hi] of [[-(2 ** 31), 2 ** 31 - 1], [-32767, 32767], [0, 15]]) {
        e.k.requant_i32_perchannel(acc, out, n, n, m, s, lo, hi);
        const got = i32View(a, out, n);
        cases.forEach(([x, mm, ss], i) => {
          const r = requantBig(BigInt(x), BigInt(mm), BigInt(ss));
          const want = r < BigInt(lo) ? lo : r > BigInt(hi) ? hi : Number(r);
          if (got[i] !== want) throw new Error(`requant(${x}, ${mm}, ${ss}) clamp [${lo}, ${hi}]: want ${want}, kernel ${got[i]}`);
        });
      }
    });
  }
});

/** Every compiled build: the edge kernels (assembly/index.ts) and the simulator's (assembly/sim.ts, + sim-only kernels). */
const BUILDS = [
  { name: "nipq-simd", flavor: "simd", sim: false },
  { name: "nipq-scalar", flavor: "scalar", sim: false },
  { name: "nipq-sim-simd", flavor: "simd", sim: true },
  { name: "nipq-sim-scalar", flavor: "scalar", sim: true },
] as const;
const ALL_CASES = [...tieCases(), ...nearTieCases()];
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/** Throws on the first case whose kernel result differs from `want`; counts the cases `want` is not clamped in. */
function checkCases(what: string, cases: RqCase[], got: ArrayLike<number>, want: (c: RqCase) => bigint, lo: number, hi: number, seen: Map<string, number>): void {
  cases.forEach((c, i) => {
    const w = want(c);
    if (got[i] !== clampBig(w, lo, hi)) throw new Error(`${what}: requant(${c.a}, ${c.m}, ${c.s}) with a·m ${c.off >= 0 ? "+" : "−"} ${Math.abs(c.off)} from the boundary (mod 2^s), clamp [${lo}, ${hi}]: want ${clampBig(w, lo, hi)}, kernel ${got[i]}`);
    if (w > BigInt(lo) && w < BigInt(hi)) seen.set(coverageKey(c), (seen.get(coverageKey(c)) ?? 0) + 1);
  });
}

describe("AssemblyScript requant at constructed exact ties (and truncation boundaries), and the products beside them, every build", () => {
  for (const b of BUILDS) {
    it(`${b.name}: requant_i32_perchannel (requantClamp) equals the BigInt definition at every s in 1..62`, () => {
      const e = new WasmEngine({ flavor: b.flavor, sim: b.sim });
      expect(e.k.simd_enabled()).toBe(b.flavor === "simd" ? 1 : 0);
      const a = e.arena;
      const n = ALL_CASES.length;
      const acc = a.putI32(ALL_CASES.map((c) => c.a), "acc");
      const m = a.putI32(ALL_CASES.map((c) => c.m), "m");
      const s = a.putI32(ALL_CASES.map((c) => c.s), "s");
      const out = a.alloc(n * 4, "out");
      e.k.requant_i32_perchannel(acc, out, n, n, m, s, I32_MIN, I32_MAX);
      const seen = new Map<string, number>();
      checkCases(b.name, ALL_CASES, i32View(a, out, n), (c) => roundedBig(c.a, c.m, c.s, "half-up"), I32_MIN, I32_MAX, seen);
      // Not vacuous: for every s, sign and side some case's true result lies inside the int32 clamp.
      expect(uncovered(seen, 1, "tie")).toEqual([]);
    });

    it(`${b.name}: the GEMM's requant (the shared-shift SIMD form where proven exact, else requantClamp) at every s in 16..62`, () => {
      // Dense layers whose channels are the constructed cases of one s whose result fits the i16 output
      // (|a·m/2^s| ≥ 2^(30−s) ≥ 2^15 for s ≤ 15 and a ≠ 0: those only ever clamp). Zero weights, so
      // acc = bias = a. Cases with |a| < 2^30 (accBits ≤ 31, and s ≥ accBits − 1 since the result fits i16)
      // go in one layer, where the prepare step proves the one-shift SIMD form exact (ps = s) and the SIMD
      // builds take it; the rest (accBits = 32) in another, which requantizes with the scalar requantClamp.
      // Twice on the SIMD builds: with the GEMMs' f64 requant off (the forms named above), then on (ps = −2 for the
      // groups its proof admits, assembly/requant.ts f64Channel: none whose unclamped range holds a tie; the rest as before).
      const e = new WasmEngine({ flavor: b.flavor, sim: b.sim });
      const k = new WasmKernels(e);
      const seen = { shared: new Map<string, number>(), scalar: new Map<string, number>() };
      const rows = 5; // a 4-row tile and a leftover row (the 1×32 / 1×8 tiles)
      const K = 3;
      let f64Groups = 0;
      for (const f64 of b.flavor === "simd" ? [0, 1] : [0])
      for (let s = 16; s <= 62; s++) {
        const fits = ALL_CASES.filter((c) => c.s === s && clampBig(roundedBig(c.a, c.m, c.s, "half-up"), -32768, 32767) === Number(roundedBig(c.a, c.m, c.s, "half-up")));
        for (const path of ["shared", "scalar"] as const) {
          const cases = fits.filter((c) => (Math.abs(c.a) < 2 ** 30 || c.a === -(2 ** 30)) === (path === "shared"));
          const N = cases.length;
          if (N === 0) continue; // counted below: the seen maps must still cover every (s, sign, side)
          const layer: DenseLayer = {
            op: "dense", name: `ties-s${s}-${path}`, inputs: [0], out: { shape: [N], bits: 16, signed: true, scale: 1 }, wBits: 8, weights: new Int8Array(N * K),
            wScale: new Float64Array(N).fill(1), bias: Int32Array.from(cases, (c) => c.a), rq: { m: Int32Array.from(cases, (c) => c.m), s: new Int32Array(N).fill(s), lo: -32768, hi: 32767 },
          };
          const x = { n: rows, spec: { shape: [K], bits: 8, signed: false, scale: 1 }, data: Int32Array.from({ length: rows * K }, (_, i) => (i * 37) % 256) };
          e.k.requant_gemm_forms!(f64 ? 3 : 1);
          const p = e.prepare(layer, x.spec);
          if (p.kind !== "dense") throw new Error("not prepared as dense");
          const panels = p.gemm.host.Np / 8;
          // On the SIMD builds requant_fit raises the shared shift to 44 (assembly/requant.ts FIXED_S) where the
          // contract allows (44 − s ≤ 31 − accBits): those ties then run the fixed-shift form, the others S = s.
          const raised = b.flavor !== "scalar" && s < 44 && 44 - s <= 31 - p.gemm.host.rqBits;
          const ps = Array.from(i32View(e.arena, p.gemm.ps, panels));
          f64Groups += ps.filter((S) => S === -2).length;
          expect(ps.map((S) => (f64 && S === -2 ? "f64" : S)), `s = ${s}, ${path}: the shared shift`).toEqual(ps.map((S) => (f64 && S === -2 ? "f64" : path === "shared" ? (raised ? 44 : s) : 0)));
          const got = k.dense(layer, x);
          for (let r = 0; r < rows; r++) checkCases(`${b.name} dense (${path}${f64 ? ", f64 on" : ""}) row ${r}`, cases, got.subarray(r * N, (r + 1) * N), (c) => roundedBig(c.a, c.m, c.s, "half-up"), -32768, 32767, f64 ? new Map() : seen[path]);
        }
      }
      // Every (s, sign, side) through the SIMD form except where no product with |a| < 2^30 exists: the
      // positive tie at s = 61 (a = 2^30, m = 2^30 only), one side at s = 59 (the one product at distance 1,
      // 7·2^58 + 1, is 1148096051·1757355259), and everything at s = 62 (the tie is a = −2^31; the nearest
      // products have |a| ≥ 2^30). Those go through requantClamp in the other layer.
      expect(uncovered(seen.shared, 16, "tie")).toEqual(["59 1 1", "59 -1 -1", "61 1 0", "62 1 -1", "62 1 1", "62 -1 0", "62 -1 -1", "62 -1 1"]);
      expect(uncovered(new Map([...seen.scalar, ...seen.shared]), 16, "tie")).toEqual([]);
      if (b.flavor === "simd") expect(f64Groups, "groups on the f64 requant (near-tie cases: no tie in their unclamped range)").toBeGreaterThan(0);
    });
  }

  for (const b of BUILDS.filter((b) => b.sim))
    it(`${b.name}: requant_rows_mode (the chip's requant) in each rounding mode equals its BigInt definition at ties and truncation boundaries, s in 16..62`, () => {
      // The outputs are i16: for s ≤ 15 every non-zero product's result lies beyond ±2^15 and clamps.
      const e = new WasmEngine({ flavor: b.flavor, sim: b.sim });
      const k = e.k as unknown as { requant_rows_mode(acc: number, rows: number, channels: number, m: number, s: number, lo: number, hi: number, y: number, ldy: number, mode: number): void };
      const a = e.arena;
      for (const boundary of ["tie", "integer"] as const) {
        const cases = boundary === "tie" ? ALL_CASES : integerCases();
        const n = cases.length;
        const acc = a.putI32(cases.map((c) => c.a), "acc");
        const m = a.putI32(cases.map((c) => c.m), "m");
        const s = a.putI32(cases.map((c) => c.s), "s");
        const y = a.alloc(n * 2, "y");
        (["half-up", "half-even", "truncate"] as const).forEach((mode, code) => {
          k.requant_rows_mode(acc, 1, n, m, s, -32768, 32767, y, n, code);
          const seen = new Map<string, number>();
          checkCases(`${b.name} ${mode}`, cases, Int32Array.from(a.i16(y, n)), (c) => roundedBig(c.a, c.m, c.s, mode), -32768, 32767, seen);
          expect(uncovered(seen, 16, boundary), `${mode}, ${boundary}`).toEqual([]);
        });
      }
      // s = 16..61 each have an observable tie where half even must differ (s = 62: see test/sim/requant.test.ts).
      const up = (c: RqCase) => roundedBig(c.a, c.m, c.s, "half-up");
      const evenDiffers = new Set(ALL_CASES.filter((c) => c.off === 0 && c.s >= 16 && roundedBig(c.a, c.m, c.s, "half-even") !== up(c) && up(c) > -32768n && up(c) < 32767n).map((c) => c.s));
      expect(evenDiffers.size).toBe(61 - 16 + 1);
    });
});

function denseCase(seed: number, wBits: number, K: number, N: number, n: number): { layer: DenseLayer; x: { n: number; spec: { shape: number[]; bits: number; signed: boolean; scale: number }; data: Int32Array } } {
  const rng = new Rng(seed);
  const layer: DenseLayer = {
    op: "dense", name: "d", inputs: [0], out: { shape: [N], bits: 8, signed: true, scale: 1 }, wBits, weights: rng.weights(N * K, wBits),
    wScale: new Float64Array(N).fill(1), bias: rng.ints(N, -1000, 1000), rq: { m: new Int32Array(N).fill(2 ** 30), s: new Int32Array(N).fill(36), lo: -127, hi: 127 },
  };
  return { layer, x: { n, spec: { shape: [K], bits: 8, signed: false, scale: 1 }, data: rng.ints(n * K, 0, 255) } };
}

describe("requant_params: the per-channel parameters padded and the shared shifts derived in linear memory, every build", () => {
  // Per 8 channels, the panels at the rule's edges for each accumulator width: all s = accBits − 1 (the
  // smallest s the SIMD form takes), one channel below it, s spread by exactly 31 − accBits (the largest
  // spread) and by one more; then seeded panels of s in [accBits − 3, 31]; N not a multiple of 8.
  const panels = (bits: number, r: Rng): number[][] => {
    const lo = Math.max(1, bits - 1);
    const edges = [new Array(8).fill(lo), [lo, lo, lo, Math.max(1, bits - 2), lo, lo, lo, lo], [lo, 30, lo, 30, 30, 30, lo, 30], [lo, 31, 31, lo, 31, 31, 31, 31]];
    const seeded = Array.from({ length: 6 }, () => Array.from({ length: 8 }, () => r.int(Math.max(1, bits - 3), 31)));
    return [...edges, ...seeded];
  };
  for (const b of BUILDS)
    it(`${b.name}: bias 0, m = 2^30, s = 1 past N; ps = sharedShift per 8 channels; pw = 2^(S − s) where S > 0, else 1`, () => {
      const e = new WasmEngine({ flavor: b.flavor, sim: b.sim });
      const r = new Rng(18);
      let simd = 0;
      for (const bits of [2, 8, 17, 24, 30, 31, 32, 33])
        for (const N of [1, 5, 8, 13, 40]) {
          const s = Int32Array.from(panels(bits, r).flat().slice(0, N));
          const bias = r.ints(N, -(2 ** 31), 2 ** 31 - 1);
          const m = r.ints(N, 2 ** 30, 2 ** 31 - 1);
          const Np = Math.ceil(N / 8) * 8;
          const mark = e.arena.mark();
          const p = e.arena.alloc(16 * Np + Np / 2, "params");
          const all = i32View(e.arena, p, 4 * Np + Np / 8);
          all.fill(0x55555555); // what a released allocation may hold: every padded word must be written
          all.set(bias);
          all.set(m, Np);
          all.set(s, 2 * Np);
          e.k.requant_params(p, N, Np, bits);
          const pad = (v: Int32Array, fill: number) => Array.from({ length: Np }, (_, c) => (c < N ? v[c] : fill));
          const ps = Array.from({ length: Np / 8 }, (_, j) => sharedShift(s, 8 * j, Math.min(N, 8 * j + 8), bits));
          const pw = Array.from({ length: Np }, (_, c) => (ps[c >> 3] > 0 && c < N ? 2 ** (ps[c >> 3] - s[c]) : 1));
          const what = `${b.name} accBits ${bits}, N ${N}`;
          expect(Array.from(all), what).toEqual([...pad(bias, 0), ...pad(m, 2 ** 30), ...pad(s, 1), ...pw, ...ps]);
          simd += ps.filter((S) => S > 0).length;
          e.arena.release(mark);
        }
      expect(simd, "panels that take the SIMD form").toBeGreaterThan(20);
    });
});

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
    // Every engine the project runs on (Node ≥ 20, V8 ≥ 9.1; Chromium) validates fixed-width SIMD, so
    // "auto" must pick the SIMD build; the scalar build reports it has none.
    expect(simdSupported()).toBe(true);
    expect(loadWasmKernels().name).toBe("wasm-simd");
    expect(instantiateKernels("scalar").exports.simd_enabled()).toBe(0);
    expect(instantiateKernels("simd").exports.simd_enabled()).toBe(1);
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
    // Weights fit (175 KB: conv2 and conv3 as Winograd, 16/9 × 2 the bytes of 4-bit panels), activations do not.
    const small = new WasmKernels(new WasmEngine({ memoryLimit: 256 * 1024 }));
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
    const before = usedBytes(e.arena);
    k.dense(layer, x);
    expect(usedBytes(e.arena)).toBeGreaterThan(before);
    expect(e.forgetPrepared()).toBe(true);
    expect(usedBytes(e.arena)).toBe(before);
    expectExact("dense after forget", referenceKernels.dense(layer, x), k.dense(layer, x), [64]); // re-prepared
    compileProgram(readQModel(FIXTURE), k, 4);
    expect(e.forgetPrepared()).toBe(false);
  });
});
