// Noise models with fixed seeds: sample moments against the formulas (tolerances stated per test, ≥ 4σ
// of the sampling error), flip counts within 3σ of the BER, and reproducibility: the same seed gives the
// same numbers whatever the batch size or the number of workers.

import { describe, expect, it } from "vitest";
import { interpretLayers } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { loadDataset, limitDataset } from "../../src/data/index.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";
import type { PcmConfig } from "../../src/sim/noise/sources.js";
import { flipInputs, simKernels } from "../../src/sim/chip/kernels.js";
import { flipBits, gaussianIntWeights, perturbAccumulators, pcmDrift, pcmNu, pcmNuMoments, pcmProgSigma, pcmProgram, pcmReadSigmaRel, stuckBits } from "../../src/sim/noise/models.js";
import { runTrials } from "../../src/sim/study/trials.js";
import { CHIP, Rng, streamId } from "../../src/sim/noise/rng.js";
import { STREAM } from "../../src/sim/noise/sources.js";

const N = 200_000;
function moments(xs: ArrayLike<number>): { mean: number; sd: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, sd: Math.sqrt(v / (xs.length - 1)) };
}
const PCM: PcmConfig = loadHwModel("analog-pcm-crossbar").hw.noise.pcm!;

describe("random streams", () => {
  it("are a function of the key only", () => {
    const a = new Rng(42, 3, 17, 5);
    const b = new Rng(42, 3, 17, 5);
    const c = new Rng(42, 3, 18, 5);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
    expect(new Rng(2 ** 40 + 1, 0, CHIP, 0).nextU32()).not.toBe(new Rng(1, 0, CHIP, 0).nextU32()); // high seed bits count
  });

  it("nextU32 is xoshiro128** 1.1 and nextPlus xoshiro128+ 1.0 on one shared state, as the authors' C (prng.di.unimi.it), written out here in BigInt", () => {
    const M = 0xffffffffn;
    const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
    const w = new Int32Array(4);
    const r = new Rng(7, 1, 2, 3);
    r.saveState(w, 0, 1);
    let [s0, s1, s2, s3] = Array.from(w, (v) => BigInt(v >>> 0));
    const next = (plus: boolean) => {
      const result = plus ? (s0 + s3) & M : (rotl((s1 * 5n) & M, 7n) * 9n) & M;
      const t = (s1 << 9n) & M;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11n);
      return Number(result);
    };
    const pattern = Array.from({ length: 64 }, (_, i) => (i * 7) % 3 === 0);
    expect(pattern.map((plus) => (plus ? r.nextPlus() : r.nextU32()))).toEqual(pattern.map(next));
  });

  it("normal(): mean 0 ± 0.01, sd 1 ± 0.01 over 200,000 draws (sampling sd 0.0022, 0.0016)", () => {
    const r = new Rng(1, 0, 0, 0);
    const m = moments(Float64Array.from({ length: N }, () => r.normal()));
    expect(Math.abs(m.mean)).toBeLessThan(0.01);
    expect(Math.abs(m.sd - 1)).toBeLessThan(0.01);
  });
});

describe("ziggurat normals (Rng.normalZig32, the output Gaussian noise)", () => {
  const n = 1_000_000;
  // Φ(z) from erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, far below a bin's sampling sd of 1e-4).
  const phi = (z: number) => {
    const x = Math.abs(z) / Math.SQRT2;
    const t = 1 / (1 + 0.3275911 * x);
    const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
    return z < 0 ? (1 - erf) / 2 : (1 + erf) / 2;
  };
  const schemes: [string, () => Float64Array][] = [
    ["one stream", () => {
      const r = new Rng(12, 0, 0, 9);
      return Float64Array.from({ length: n }, () => r.normalZig32());
    }],
    ["as perturbAccumulators draws them: four lanes and a slow stream, z = (round(2^20·z))/2^20 (σ = 2^20: fl32(σ·z) exact)", () => {
      const acc = new Float64Array(n);
      perturbAccumulators(acc, 0, n / 8, 8, 32, 0, null, new Float64Array(8).fill(2 ** 20), [0, 1, 2, 3, 4].map((k) => new Rng(12, 0, 0, 20 + k)));
      return acc.map((v) => v / 2 ** 20);
    }],
  ];
  for (const [what, draw] of schemes)
    it(`${what}: mean 0 ± 0.01, sd 1 ± 1%, P(z < 1), P(|z| > 3), P(|z| > 3.8) within 4 standard errors, χ² over 100 equiprobable bins < 171 (p ≈ 10^−5 at 99 degrees of freedom) (1,000,000 draws)`, () => {
      const z = draw();
      const bins = new Float64Array(100);
      for (const v of z) bins[Math.min(99, Math.floor(100 * phi(v)))]++;
      const chi2 = bins.reduce((acc, o) => acc + (o - n / 100) ** 2 / (n / 100), 0);
      expect(chi2).toBeLessThan(171); // Wilson–Hilferty: 99·(1 − 2/891 + 4.265·√(2/891))³ = 171
      const m = moments(z);
      expect(Math.abs(m.mean)).toBeLessThan(0.01);
      expect(Math.abs(m.sd - 1)).toBeLessThan(0.01);
      // Φ(1) = 0.8413447; 2(1 − Φ(3)) = 0.0026998; 2(1 − Φ(3.8)) = 0.0001447 (beyond r = 3.6542: the tail path)
      for (const [p, count] of [[0.8413447, z.filter((v) => v < 1).length], [0.0026998, z.filter((v) => Math.abs(v) > 3).length], [0.0001447, z.filter((v) => Math.abs(v) > 3.8).length]] as const)
        expect(Math.abs(count / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    });

  it("the output noise on an accumulator, rounded (ties to even): mean 0, variance σ² + 1/12 (Sheppard) within 2%, σ = 3 and 0.7 acc-LSB (1,000,000 draws)", () => {
    for (const sigma of [3, 0.7]) {
      const acc = new Float64Array(n);
      perturbAccumulators(acc, 0, n / 8, 8, 32, 0, null, new Float64Array(8).fill(sigma), [0, 1, 2, 3, 4].map((k) => new Rng(13, 0, 0, 20 + k)));
      const m = moments(acc);
      expect(acc.every((v) => Number.isInteger(v))).toBe(true);
      expect(Math.abs(m.mean)).toBeLessThan(4 * Math.sqrt((sigma * sigma + 1 / 12) / n)); // 4 standard errors
      expect(Math.abs(m.sd ** 2 / (sigma * sigma + 1 / 12) - 1)).toBeLessThan(0.02); // sampling sd of s² ≈ √(2/n) = 0.14%
    }
  });
});

describe("digital weight faults", () => {
  it("Gaussian in LSB units, rounded to the grid: mean 0, variance σ² + 1/12 (Sheppard) within 2%", () => {
    const w = new Int32Array(N); // all zeros, 8-bit: the clamp at ±127 never binds for σ = 3
    gaussianIntWeights(w, 8, 3, new Rng(2, 0, CHIP, 0));
    const m = moments(w);
    expect(Math.abs(m.mean)).toBeLessThan(0.03); // 4.5σ of the mean (3/√N = 0.0067)
    expect(Math.abs(m.sd ** 2 / (9 + 1 / 12) - 1)).toBeLessThan(0.02); // sampling sd of s² ≈ √(2/N) = 0.3%
  });

  for (const ber of [1e-4, 1e-3, 0.05])
    it(`bit flips at BER ${ber}: count within 3σ of n·BER, each flip changes exactly one stored bit`, () => {
      const n = 100_000;
      const bits = 4;
      const v = new Int32Array(n).fill(3);
      const flips = flipBits(v, 0, n, bits, true, ber, new Rng(3, 0, CHIP, 1));
      const total = n * bits;
      expect(Math.abs(flips - total * ber)).toBeLessThanOrEqual(3 * Math.sqrt(total * ber * (1 - ber)));
      let changed = 0;
      for (const x of v) {
        let d = ((x & 15) ^ 3) & 15;
        while (d) {
          changed += d & 1;
          d >>= 1;
        }
        expect(x).toBeGreaterThanOrEqual(-8); // still a 4-bit two's-complement field
        expect(x).toBeLessThanOrEqual(7);
      }
      expect(changed).toBe(flips);
    });

  it("stuck-at-1 bits: count within 3σ of the rate, every stuck bit reads 1", () => {
    const n = 50_000;
    const v = new Int32Array(n); // all bits 0: every stuck bit shows up as a 1
    const stuck = stuckBits(v, 8, true, 0.01, "1", new Rng(4, 0, CHIP, 2));
    const total = n * 8;
    expect(Math.abs(stuck - total * 0.01)).toBeLessThanOrEqual(3 * Math.sqrt(total * 0.01 * 0.99));
    let ones = 0;
    for (const x of v) for (let b = 0; b < 8; b++) ones += (x >> b) & 1;
    expect(ones).toBe(stuck);
  });
});

describe("PCM (aihwkit PCMLikeNoiseModel)", () => {
  it("programming noise at g_T = 12.5 µS: σ = (0.26348 + 1.965·0.5 − 1.1731·0.25)·25/25 = 0.952705 µS", () => {
    expect(pcmProgSigma(12.5, 25, PCM)).toBeCloseTo(0.952705, 9);
    const r = new Rng(5, 0, CHIP, 3);
    const m = moments(Float64Array.from({ length: N }, () => pcmProgram(12.5, 25, PCM, r)));
    expect(Math.abs(m.mean - 12.5)).toBeLessThan(0.01); // 4.7σ (0.9527/√N = 0.0021)
    expect(Math.abs(m.sd / 0.952705 - 1)).toBeLessThan(0.01);
  });

  it("drift exponent ν: μ, σ clipped as in generate_drift_coefficients; folded-normal moments", () => {
    // g = g_max: ln 1 = 0 → μ = clamp(0.0244, 0.049, 0.1) = 0.049, σ = clamp(−0.0059, 0.008, 0.045) = 0.008
    expect(pcmNuMoments(25, 25)).toEqual({ mu: 0.049, sigma: 0.008 });
    // g = 0 → clipped to 1e-7: μ = 0.1, σ = 0.045 (both at their upper clamps)
    expect(pcmNuMoments(0, 25)).toEqual({ mu: 0.1, sigma: 0.045 });
    const r = new Rng(6, 0, CHIP, 4);
    const m = moments(Float64Array.from({ length: N }, () => pcmNu(0, 25, PCM, r)));
    // |N(μ, σ²)|: E = σ√(2/π)·e^(−μ²/2σ²) + μ·(1 − 2Φ(−μ/σ)); with μ/σ = 2.22, Φ(−2.22) = 0.01321
    const mu = 0.1, sd = 0.045;
    const E = sd * Math.sqrt(2 / Math.PI) * Math.exp(-(mu * mu) / (2 * sd * sd)) + mu * (1 - 2 * 0.013209);
    expect(Math.abs(m.mean - E)).toBeLessThan(0.0005); // 5σ (0.045/√N = 0.0001)
  });

  it("drift (t/t0)^−ν exactly when read noise is off; 1/f σ matches q_s·sqrt(ln((t + t_read)/(2 t_read)))", () => {
    const day: PcmConfig = { ...PCM, tInferenceS: 86400, readNoiseScale: 0 };
    const r = new Rng(7, 0, CHIP, 5);
    // t = 86400 + 20 s: g = 20·(86420/20)^−0.05
    expect(pcmDrift(20, 0.05, 25, day, r)).toBeCloseTo(20 * (86420 / 20) ** -0.05, 12);
    const hour: PcmConfig = { ...PCM, tInferenceS: 3600 };
    // g = g_max: q_s = 0.0088; t = 3620 s: sqrt(ln((3620 + 2.5e-7)/5e-7)) = 4.7656…
    const rel = pcmReadSigmaRel(25, 25, hour);
    expect(rel).toBeCloseTo(0.0088 * Math.sqrt(Math.log((3620 + 2.5e-7) / 5e-7)), 12);
    const m = moments(Float64Array.from({ length: N }, () => pcmDrift(25, 0, 25, hour, r) / 25));
    expect(Math.abs(m.mean - 1)).toBeLessThan(0.0005);
    expect(Math.abs(m.sd / rel - 1)).toBeLessThan(0.01);
  });
});

// ---- reproducibility over batch sizes and workers, on the fixture ----

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

function logitsOf(hw: HwModel, trial: number, n: number, batch: number): Int32Array {
  const program = readQModel(FIXTURE);
  const d = limitDataset(loadDataset("mnist", "test"), n);
  const chip = buildChip(program, hw, 11, trial);
  const k = simKernels(chip);
  const out = new Int32Array(n * 10);
  for (let b0 = 0; b0 < n; b0 += batch) {
    const nb = Math.min(batch, n - b0);
    k.setFirstInference(b0);
    const imgs = flipInputs(chip, d.images.subarray(b0 * 784, (b0 + nb) * 784), nb, b0);
    out.set(interpretLayers(program, k, imgs, nb).slice(-1)[0].data, b0 * 10);
  }
  return out;
}

describe("input-image bit flips (flipInputs)", () => {
  it("flip the u8 pixels of each image from its own stream, in a copy: bit j of pixel i is position 8i + j", () => {
    const program = readQModel("test/fixtures/cnn-s-w4a4-random.qmodel");
    const chip = buildChip(program, withSet(loadHwModel("int8-systolic-16x16").hw, ["noise", "activationBitFlip", "ber"], 0.05), 7, 3);
    const n = 3;
    const first = 5;
    const images = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37) & 255);
    images.fill(0, 0, 100).fill(255, 100, 200); // every bit 0, then every bit 1: each flip moves 0 up, 255 down
    const before = images.slice();
    const got = flipInputs(chip, images, n, first);
    // The definition, spelled out: per image b, flipBits over its 784 u8 fields from stream (seed, trial, first + b, inputFlip).
    const want = Int32Array.from(images);
    let flips = 0;
    for (let b = 0; b < n; b++) flips += flipBits(want, b * 784, 784, 8, false, 0.05, new Rng(7, 3, first + b, streamId(0, STREAM.inputFlip)));
    expect(flips).toBeGreaterThan(500); // ~0.05 · 3 · 784 · 8 = 941
    expect(got).toBeInstanceOf(Uint8Array);
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(images).toEqual(before); // the caller's images are not touched
    expect(got.subarray(0, 200).some((v, i) => v !== before[i])).toBe(true);
  });
});

describe("same seed → same numbers", () => {
  it("digital chip with every per-chip and per-inference source: batch 1, 3, 8 give identical logits", () => {
    let hw = loadHwModel("lowbit-npu").hw;
    for (const [k, v] of [["noise.weightGaussian.sigma", 0.3], ["noise.weightBitFlip.ber", 1e-3], ["noise.weightStuckAt.rate", 1e-3], ["noise.activationBitFlip.ber", 1e-3], ["noise.accumulatorBitFlip.ber", 1e-3], ["noise.outputGaussian.sigma", 0.5]] as const)
      hw = withSet(hw, k.split("."), v);
    const a = logitsOf(hw, 2, 8, 1);
    expect(Array.from(logitsOf(hw, 2, 8, 3))).toEqual(Array.from(a));
    expect(Array.from(logitsOf(hw, 2, 8, 8))).toEqual(Array.from(a));
    expect(Array.from(logitsOf(hw, 3, 8, 8))).not.toEqual(Array.from(a)); // another trial, other draws
  });

  it("analog chip (PCM, ADC noise, per-read noise): batch 1 and 4 give identical logits", () => {
    const hw = withSet(loadHwModel("analog-pcm-crossbar").hw, ["noise", "pcm", "perReadSigma"], 0.01);
    expect(Array.from(logitsOf(hw, 0, 4, 4))).toEqual(Array.from(logitsOf(hw, 0, 4, 1)));
  });

  it("trials over 1 or 2 worker threads give the same accuracies", async () => {
    const program = readQModel(FIXTURE);
    const d = limitDataset(loadDataset("mnist", "test"), 12);
    const hw = withSet(withSet(loadHwModel("lowbit-npu").hw, ["noise", "weightGaussian", "sigma"], 1.5), ["noise", "activationBitFlip", "ber"], 0.01);
    const one = await runTrials(program, hw, d, 5, [0, 1, 2], 1, 5);
    const two = await runTrials(program, hw, d, 5, [0, 1, 2], 2, 7);
    expect(two).toEqual(one);
  });
});
