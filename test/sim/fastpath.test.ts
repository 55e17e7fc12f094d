// The simulator's WASM fast path for per-inference noise (src/sim/chip/fastpath.ts) against the plain-TS sim
// kernels (src/sim/chip/kernels.ts): the same seed must give exactly the same logits, for each per-inference
// noise source alone and all together, on seeded random programs (every op: strided, grouped and
// depthwise conv, pools, add, dense; signed and unsigned activations of 2–8 bits) and on the fixture.

import { describe, expect, it } from "vitest";
import { interpretLayers } from "../../src/exec/interpret.js";
import { NipqInputError } from "../../src/errors.js";
import { readQModel } from "../../src/ir/io.js";
import { isWeightLayer, sizeOf, type Layer, type Program } from "../../src/ir/types.js";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { i32View, usedBytes } from "../../src/kernels/wasm/arena.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import { flipInputs, simKernels } from "../../src/sim/chip/kernels.js";
import { runChip, runTrial, simOptions, withChipWeights, type SimData } from "../../src/sim/chip/run.js";
import { NoisyWasmProgram, fastPathEquivalent, slabOptions, slabPixels } from "../../src/sim/chip/fastpath.js";
import { randomImages, randomProgram } from "../backends/random-program.js";

const BASE = loadHwModel("int8-systolic-16x16").hw;
const set = (hw: HwModel, kv: [string, number | string][]) => kv.reduce((h, [k, v]) => withSet(h, k.split("."), v), hw);
const KINDS: [string, [string, number | string][]][] = [
  ["activation bit flips", [["noise.activationBitFlip.ber", 0.01]]],
  ["accumulator bit flips", [["noise.accumulatorBitFlip.ber", 0.002]]],
  ["output Gaussian (out-lsb)", [["noise.outputGaussian.sigma", 0.7]]],
  ["output Gaussian (acc-lsb)", [["noise.outputGaussian.sigma", 40], ["noise.outputGaussian.unit", "acc-lsb"]]],
  ["all per-inference sources + weight noise", [["noise.activationBitFlip.ber", 0.005], ["noise.accumulatorBitFlip.ber", 0.001], ["noise.outputGaussian.sigma", 0.5], ["noise.weightGaussian.sigma", 0.4], ["noise.weightBitFlip.ber", 0.001]]],
];

/** Logits of the plain-TS sim kernels (the definition) for images of inferences first …. */
function tsLogits(program: Program, hw: HwModel, seed: number, trial: number | null, images: Uint8Array, n: number, batch: number): Int32Array {
  const chip = buildChip(program, hw, seed, trial);
  const k = simKernels(chip);
  const per = images.length / n;
  const classes = sizeOf(program.layers[program.layers.length - 1].out.shape);
  const out = new Int32Array(n * classes);
  for (let b0 = 0; b0 < n; b0 += batch) {
    const nb = Math.min(batch, n - b0);
    k.setFirstInference(b0);
    const imgs = flipInputs(chip, images.subarray(b0 * per, (b0 + nb) * per), nb, b0);
    out.set(interpretLayers(program, k, imgs, nb).slice(-1)[0].data, b0 * classes);
  }
  return out;
}

/** Logits of the fast path, or null when it does not apply to this chip instance. */
function fastLogits(program: Program, hw: HwModel, seed: number, trial: number, images: Uint8Array, n: number, batch: number, micro: number, flavor: "auto" | "scalar" = "auto", engine = new WasmEngine({ flavor, sim: true })): Int32Array | null {
  const chip = buildChip(program, hw, seed, trial);
  if (!fastPathEquivalent(chip)) return null;
  const layers = program.layers.map((l): Layer => {
    const p = chip.prep.get(l);
    return isWeightLayer(l) && p && p.kind === "digital" ? { ...l, weights: Int8Array.from(p.weights) } : l;
  });
  const fast = new NoisyWasmProgram(chip, { ...program, layers }, engine, micro);
  const per = images.length / n;
  const classes = sizeOf(program.layers[program.layers.length - 1].out.shape);
  const out = new Int32Array(n * classes);
  for (let b0 = 0; b0 < n; b0 += batch) {
    const nb = Math.min(batch, n - b0);
    out.set(fast.run(flipInputs(chip, images.subarray(b0 * per, (b0 + nb) * per), nb, b0), nb, b0).logits, b0 * classes);
  }
  return out;
}

/** fastLogits, or "refused" when the chip cannot hold the program (a shift its cut multiplier cannot represent). */
function fastOrRefused(...args: Parameters<typeof fastLogits>): Int32Array | null | "refused" {
  try {
    return fastLogits(...args);
  } catch (e) {
    if (e instanceof NipqInputError) return "refused";
    throw e;
  }
}

function expectSame(what: string, ref: Int32Array, got: Int32Array): void {
  for (let i = 0; i < ref.length; i++) if (ref[i] !== got[i]) expect.fail(`${what}: logit ${i}: plain-TS ${ref[i]}, fast path ${got[i]}`);
}

describe("WASM fast path = plain-TS sim kernels, per-inference noise", () => {
  for (const [name, kv] of KINDS) {
    it(`${name}: 40 random programs, identical logits`, () => {
      const hw = set(BASE, kv);
      let ran = 0;
      let noisy = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const p = randomProgram(seed);
        const n = 1 + (seed % 4);
        const images = randomImages(p, n, seed);
        const got = fastLogits(p, hw, seed, seed % 3, images, n, 3, 1 + (seed % 2));
        if (!got) continue;
        ran++;
        expectSame(`program ${p.name} (seed ${seed})`, tsLogits(p, hw, seed, seed % 3, images, n, 2), got);
        if (tsLogits(p, hw, seed, null, images, n, n).some((v, i) => v !== got[i])) noisy++;
      }
      expect(ran).toBeGreaterThanOrEqual(35); // the fast path applies to (nearly) every program
      expect(noisy).toBeGreaterThanOrEqual(ran / 4); // and the noise does change logits: the test is not vacuous
    });
  }

  it("the bound on |acc| handed to gauss_requant_s16 holds for every accumulator (output noise alone and with every source)", () => {
    // The kernel takes the exact requant without reading the accumulators first when this bound proves it; a
    // bound too small would rarely change an integer (only near a rounding boundary), so it is checked here.
    let bounded = 0;
    let unbounded = 0;
    for (const [name, kv] of KINDS.slice(2))
      for (let seed = 1; seed <= 20; seed++) {
        const p = randomProgram(seed);
        const hw = set(BASE, kv);
        const chip = buildChip(p, hw, seed, 1);
        if (!fastPathEquivalent(chip)) continue;
        const engine = new WasmEngine({ sim: true });
        const fast = new NoisyWasmProgram(chip, withChipWeights(p, chip), engine);
        const k = (fast as unknown as { k: Record<string, (...a: number[]) => void> }).k;
        (fast as unknown as { k: object }).k = Object.create(k, {
          gauss_requant_s16: {
            value: (...a: number[]) => {
              const acc = i32View(engine.arena, a[0], a[1]);
              const max = acc.reduce((v, x) => Math.max(v, Math.abs(x)), 0);
              const bound = new Float64Array(engine.arena.bytes().buffer, a[14] + 16, 1)[0]; // accMax in the layer block (gauss_prepare)
              if (bound === Infinity) unbounded++;
              else bounded++;
              if (!(bound >= max)) expect.fail(`${name}, seed ${seed}: bound ${bound} below max |acc| ${max}`);
              k.gauss_requant_s16(...a);
            },
          },
        });
        fast.run(flipInputs(chip, randomImages(p, 2, seed), 2, 0), 2, 0);
      }
    expect(bounded).toBeGreaterThan(100); // the slab path passes a bound
    expect(unbounded).toBeGreaterThan(10); // with accumulator flips: none
  });

  it("output Gaussian noise on convs in tiny slabs (depthwise: 4 pixels, often mid-row; 1×1: 4 pixels, a few evened out to 8 or the whole image; im2col: 1–8 rows), the streams continued: identical logits", () => {
    const saved = { ...slabOptions };
    Object.assign(slabOptions, { elements: 1, minRows: 4 });
    const kinds = { direct: 0, depthwise: 0, im2col: 0, midRow: 0 };
    try {
      for (const kv of [KINDS[2][1], KINDS[3][1], [...KINDS[2][1], ["noise.activationBitFlip.ber", 0.01], ["requant.rounding", "half-even"]] as [string, number | string][]]) {
        const hw = set(BASE, kv);
        let ran = 0;
        for (let seed = 1; seed <= 40; seed++) {
          const p = randomProgram(seed);
          const convs = p.layers.filter((l) => l.op === "conv2d");
          if (convs.length === 0) continue;
          const images = randomImages(p, 3, seed);
          const got = fastLogits(p, hw, seed, 1, images, 3, 3, 2);
          if (!got) continue;
          ran++;
          expectSame(`program ${p.name} (seed ${seed}, tiny slabs)`, tsLogits(p, hw, seed, 1, images, 3, 2), got);
          for (const l of convs) {
            const C = p.layers[l.inputs[0]].out.shape[2];
            const depthwise = l.groups === C && l.out.shape[2] === C;
            const direct = !depthwise && l.kernel[0] === 1 && l.kernel[1] === 1 && l.stride[0] === 1 && l.stride[1] === 1 && l.groups === 1 && C % 2 === 0; // prepareConv's direct (Kp = C)
            kinds[depthwise ? "depthwise" : direct ? "direct" : "im2col"]++;
            if ((depthwise || direct) && l.out.shape[1] % 4 !== 0) kinds.midRow++;
          }
        }
        expect(ran).toBeGreaterThanOrEqual(30);
      }
    } finally {
      Object.assign(slabOptions, saved);
    }
    // Every kind of slab was taken, and slabs of 4 pixels did cut rows of a width that is not a multiple of 4.
    expect(kinds.direct).toBeGreaterThan(0);
    expect(kinds.depthwise).toBeGreaterThan(0);
    expect(kinds.im2col).toBeGreaterThan(0);
    expect(kinds.midRow).toBeGreaterThan(0);
  });

  it("slab sizes: a multiple of the unit (or the whole image), even slabs where the last would fall below the GEMM's minimum, never a last slab below it", () => {
    const split = (nPix: number, slab: number) => Array.from({ length: Math.ceil(nPix / slab) }, (_, i) => Math.min(slab, nPix - i * slab));
    // mobilenetv2 224 at the shipped 32,768 accumulators: its 14×14 and 7×7 1×1 layers evened out, the others as before.
    expect(split(196, slabPixels(196, 576, 4, 24))).toEqual([68, 68, 60]);
    expect(split(196, slabPixels(196, 384, 4, 24))).toEqual([100, 96]);
    expect(split(49, slabPixels(49, 960, 4, 24))).toEqual([49]);
    expect(split(49, slabPixels(49, 1280, 4, 24))).toEqual([49]); // the head: 28 + 21 would put 21 rows on the short path
    expect(split(784, slabPixels(784, 192, 4, 24))).toEqual([172, 172, 172, 172, 96]);
    expect(split(196, slabPixels(196, 576, 4, 1))).toEqual([60, 60, 60, 16]); // depthwise: no minimum
    expect(slabPixels(12544, 32, 112, 24)).toBe(1120); // the stem's im2col: 10 rows of 112
    // Every size the kernels can take: ≤ nPix, a multiple of the unit unless the whole image, ≥ the minimum when the image has it.
    for (let nPix = 1; nPix <= 300; nPix++)
      for (const [C, unit, min] of [[6, 4, 24], [40, 4, 24], [576, 4, 24], [24, 12, 24], [1000, 28, 24], [3, 4, 1]])
        for (const elements of [1, 100, 1000, 32768]) {
          slabOptions.elements = elements;
          const slab = slabPixels(nPix, C, unit, min);
          slabOptions.elements = 32768;
          const last = nPix - (Math.ceil(nPix / slab) - 1) * slab;
          expect(slab <= nPix && (slab === nPix || slab % unit === 0) && slab >= Math.min(nPix, min) && last >= Math.min(nPix, min), `nPix ${nPix}, C ${C}, unit ${unit}, min ${min}, elements ${elements}: ${slab}`).toBe(true);
        }
  });

  it("cut multipliers (requant.multiplierBits 16 and 24, lowbit-npu and bitserial-edge style), every source: identical logits", () => {
    let ran = 0;
    for (const bits of [16, 24]) {
      const hw = set(BASE, [...KINDS[4][1], ["requant.multiplierBits", bits]]);
      for (let seed = 61; seed <= 90; seed++) {
        const p = randomProgram(seed);
        const images = randomImages(p, 2, seed);
        const got = fastOrRefused(p, hw, seed, 1, images, 2, 2, 2);
        if (!got || got === "refused") continue;
        ran++;
        expectSame(`program ${p.name} (seed ${seed}, ${bits}-bit multipliers)`, tsLogits(p, hw, seed, 1, images, 2, 1), got);
      }
    }
    expect(ran).toBeGreaterThanOrEqual(20);
  });

  it("half-even and truncating requant (with and without cut multipliers), every source: identical logits, and they differ from half up", () => {
    let ran = 0;
    let differs = 0;
    for (const rounding of ["half-even", "truncate"])
      for (const bits of [31, 20]) {
        const hw = set(BASE, [...KINDS[4][1], ["requant.rounding", rounding], ["requant.multiplierBits", bits]]);
        const halfUp = set(BASE, [...KINDS[4][1], ["requant.multiplierBits", bits]]);
        for (let seed = 201; seed <= 215; seed++) {
          const p = randomProgram(seed);
          const images = randomImages(p, 2, seed);
          const got = fastOrRefused(p, hw, seed, 1, images, 2, 2, 2);
          if (got === "refused") continue;
          expect(got, `seed ${seed}: ${rounding} takes the fast path`).not.toBeNull();
          ran++;
          expectSame(`program ${p.name} (seed ${seed}, ${rounding}, ${bits}-bit multipliers)`, tsLogits(p, hw, seed, 1, images, 2, 1), got!);
          if (tsLogits(p, halfUp, seed, 1, images, 2, 2).some((v, i) => v !== got![i])) differs++;
        }
      }
    expect(ran).toBeGreaterThanOrEqual(40);
    expect(differs).toBeGreaterThanOrEqual(ran / 4); // the rounding mode does change logits: not vacuous
  });

  it("exact ties inside the fused output-noise requant (multipliers 2^−1 … 2^−8): half up and half even equal the plain-TS kernels", () => {
    // gauss_requant_s16 requantizes in f64 and redoes exactly only the lanes within 2^−31 of a rounding
    // boundary; every exact tie must be among them. Random multipliers almost never make a·m a tie, so
    // here every weight layer gets m = 2^30 with s = 31 … 38: the noisy accumulator v is a tie whenever
    // v ≡ 2^(s−31) (mod 2^(s−30)), i.e. in 1/2 … 1/256 of the elements.
    let ran = 0;
    let differs = 0;
    for (let seed = 301; seed <= 312; seed++) {
      const p0 = randomProgram(seed);
      const layers = p0.layers.map((l): Layer => {
        if (!isWeightLayer(l)) return l;
        const n = l.rq.m.length;
        return { ...l, rq: { ...l.rq, m: new Int32Array(n).fill(2 ** 30), s: Int32Array.from({ length: n }, (_, c) => 31 + ((c + seed) % 8)) } };
      });
      const p = { ...p0, layers };
      const images = randomImages(p, 2, seed);
      const logits: Int32Array[] = [];
      for (const rounding of ["half-up", "half-even"]) {
        const hw = set(BASE, [["noise.outputGaussian.sigma", 30], ["noise.outputGaussian.unit", "acc-lsb"], ["requant.rounding", rounding]]);
        const got = fastLogits(p, hw, seed, 1, images, 2, 2, 1);
        expect(got, `seed ${seed}: ${rounding} takes the fast path`).not.toBeNull();
        expectSame(`program ${p.name} (seed ${seed}, ${rounding}, tie multipliers)`, tsLogits(p, hw, seed, 1, images, 2, 2), got!);
        logits.push(got!);
        ran++;
      }
      if (logits[0].some((v, i) => v !== logits[1][i])) differs++;
    }
    expect(ran).toBe(24);
    expect(differs).toBeGreaterThanOrEqual(8); // ties did occur: half even moved the logits of 9 of the 12 programs
  });

  it("narrow wrapping accumulators (8–20 bits, per K-tile and per MAC) that do overflow, with every source: identical logits", () => {
    let ran = 0;
    let wrapped = 0;
    for (let seed = 91; seed <= 130; seed++) {
      const bits = 8 + (seed % 13);
      const hw = set(BASE, [...KINDS[4][1], ["accumulator.bits", bits], ["accumulator.kTile", 1 + (seed % 7)], ["accumulator.partialSums", seed % 2 ? "per-mac" : "per-k-tile"]]);
      const p = randomProgram(seed);
      const images = randomImages(p, 2, seed);
      const got = fastLogits(p, hw, seed, 0, images, 2, 2, 1);
      expect(got, `seed ${seed}: a wrapping accumulator takes the fast path`).not.toBeNull();
      ran++;
      const chip = buildChip(p, hw, seed, 0);
      if ([...chip.prep.values()].some((q) => q.kind === "digital" && !q.exact)) wrapped++;
      expectSame(`program ${p.name} (seed ${seed}, ${bits}-bit wrapping accumulator)`, tsLogits(p, hw, seed, 0, images, 2, 2), got!);
    }
    expect(wrapped).toBeGreaterThanOrEqual(ran / 2); // overflow is possible in most cases: the wrap is exercised
  });

  it("narrow saturating accumulators (8–20 bits, per K-tile of 1–33 and per MAC) that do overflow, with every source: identical logits", () => {
    let ran = 0;
    let saturated = 0;
    for (let seed = 131; seed <= 190; seed++) {
      const bits = 8 + (seed % 13);
      const hw = set(BASE, [...KINDS[4][1], ["accumulator.bits", bits], ["accumulator.overflow", "saturate"], ["accumulator.kTile", [1, 2, 3, 5, 7, 16, 33][seed % 7]], ["accumulator.partialSums", seed % 3 ? "per-k-tile" : "per-mac"]]);
      const p = randomProgram(seed);
      const images = randomImages(p, 2, seed);
      const got = fastLogits(p, hw, seed, 0, images, 2, 2, 1 + (seed % 2));
      if (!got) continue; // a depthwise layer that can saturate: plain TS
      ran++;
      const chip = buildChip(p, hw, seed, 0);
      if ([...chip.prep.values()].some((q) => q.kind === "digital" && !q.exact)) saturated++;
      expectSame(`program ${p.name} (seed ${seed}, ${bits}-bit saturating accumulator)`, tsLogits(p, hw, seed, 0, images, 2, 2), got);
    }
    expect(ran).toBeGreaterThanOrEqual(30);
    expect(saturated).toBeGreaterThanOrEqual(ran / 2);
  });

  it("a depthwise layer whose saturating accumulator can overflow stays on the plain-TS kernels", () => {
    let checked = 0;
    for (let seed = 1; seed <= 60 && checked < 3; seed++) {
      const p = randomProgram(seed);
      const dw = p.layers.find((l) => l.op === "conv2d" && l.groups > 1 && l.groups === p.layers[l.inputs[0]].out.shape[2] && l.out.shape[2] === l.groups);
      if (!dw) continue;
      const hw = set(BASE, [["accumulator.bits", 8], ["accumulator.overflow", "saturate"], ["noise.outputGaussian.sigma", 0.5]]);
      const chip = buildChip(p, hw, 1, 0);
      const prep = chip.prep.get(dw);
      if (!prep || prep.kind !== "digital" || prep.exact) continue; // this depthwise layer cannot overflow 8 bits
      expect(fastPathEquivalent(chip)).toBe(false);
      checked++;
    }
    expect(checked).toBe(3);
  });

  it("the scalar build (the SIMD kernels' twins): every source, 20 random programs, wrapping and saturating accumulators, identical logits", () => {
    const ran = { wrap: 0, saturate: 0, wide: 0 };
    for (let seed = 41; seed <= 60; seed++) {
      const kind = seed % 3 === 0 ? "wide" : seed % 3 === 1 ? "wrap" : "saturate";
      const hw = set(BASE, kind === "wide" ? KINDS[4][1] : [...KINDS[4][1], ["accumulator.bits", 10 + (seed % 7)], ["accumulator.overflow", kind], ["accumulator.kTile", 1 + (seed % 5)]]);
      const p = randomProgram(seed);
      const images = randomImages(p, 3, seed);
      const got = fastLogits(p, hw, seed, 0, images, 3, 3, 2, "scalar");
      if (!got) continue; // a depthwise layer whose saturating accumulator can overflow: plain TS only (counted below)
      expectSame(`program ${p.name} (seed ${seed}, scalar)`, tsLogits(p, hw, seed, 0, images, 3, 3), got);
      ran[kind]++;
    }
    // Not vacuous: the scalar build ran every program of each kind (6 wrap, 7 wide seeds) but one of the
    // 7 saturating ones, whose depthwise layer can saturate.
    expect(ran).toEqual({ wrap: 6, saturate: 6, wide: 7 });
  });

  it("one engine recycled from program to program (WasmEngine.recycle): a new engine's state, identical logits", () => {
    const engine = new WasmEngine({ sim: true });
    const start = usedBytes(engine.arena);
    let ran = 0;
    for (let seed = 61; seed <= 72; seed++) {
      const hw = set(BASE, KINDS[seed % KINDS.length][1]);
      const p = randomProgram(seed);
      const images = randomImages(p, 3, seed);
      const got = fastLogits(p, hw, seed, 1, images, 3, 3, 2, "auto", engine);
      if (got) expectSame(`program ${p.name} (seed ${seed}, a recycled engine)`, tsLogits(p, hw, seed, 1, images, 3, 3), got);
      ran += got ? 1 : 0;
      expect(usedBytes(engine.arena)).toBeGreaterThan(start);
      engine.recycle();
      // What a new engine is: nothing prepared, the arena at its start, every byte above it zero, unpinned.
      expect([usedBytes(engine.arena), engine.weightBytes, engine.pinned]).toEqual([start, 0, false]);
      expect(new Uint8Array(engine.k.memory.buffer, engine.arena.base + start).every((b) => b === 0)).toBe(true);
    }
    expect(ran).toBeGreaterThanOrEqual(10);
  });

  it("chip runs reuse their engines (simOptions.reuseEngines): the same predictions as new engines, on every path", () => {
    const fixture = readQModel("test/fixtures/cnn-s-w4a4-random.qmodel");
    const d = limitDataset(loadDataset("mnist", "test"), 6);
    // The clean chip (the WASM program), per-inference noise (the fast path), an analog chip (plain TS with WASM
    // MACs), on two programs of different sizes in turn, so that each engine is reused by another program.
    const small = randomProgram(3);
    const smallData = { n: 4, images: randomImages(small, 4, 3), labels: new Uint8Array(4) };
    const runs: [Program, SimData, HwModel, number | null][] = [
      [fixture, d, BASE, null],
      [small, smallData, set(BASE, KINDS[4][1]), 2],
      [fixture, d, set(BASE, KINDS[4][1]), 1],
      [small, smallData, BASE, null],
      [fixture, d, loadHwModel("analog-pcm-crossbar").hw, 0],
      [small, smallData, set(BASE, KINDS[2][1]), 0],
      [fixture, d, set(BASE, KINDS[2][1]), 3],
    ];
    const predict = () => runs.map(([p, data, hw, t]) => Array.from(runChip(p, buildChip(p, hw, 5, t), data, 4).predictions));
    const reused = predict();
    simOptions.reuseEngines = false;
    try {
      expect(predict()).toEqual(reused);
    } finally {
      simOptions.reuseEngines = true;
    }
  });

  it("the fixture, every source: identical logits, and runTrial gives the same accuracy on both paths", () => {
    const program = readQModel("test/fixtures/cnn-s-w4a4-random.qmodel");
    const d = limitDataset(loadDataset("mnist", "test"), 12);
    const hw = set(BASE, KINDS[4][1]);
    const got = fastLogits(program, hw, 9, 1, d.images, d.n, 5, 2);
    expect(got).not.toBeNull();
    expectSame("fixture", tsLogits(program, hw, 9, 1, d.images, d.n, 4), got!);
    const fast = runTrial(program, hw, d, 9, 1, 5);
    simOptions.useWasm = false;
    try {
      expect(runTrial(program, hw, d, 9, 1, 7)).toBe(fast);
    } finally {
      simOptions.useWasm = true;
    }
  });
});
