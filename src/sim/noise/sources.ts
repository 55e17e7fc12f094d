// The noise sources as data (DESIGN.md §4, docs/NOISE.md): one table that everything asks — hw-model
// validation (which chips a source needs), the chip instance (which sources are on for a trial), the
// choice of execution path (a source runs on the fast paths only where it says so; everywhere else the
// plain-TS chip kernels, the definition, apply it), and the test that walks the table
// (test/sim/sources.test.ts), so a new source cannot be forgotten by one of them.
//
// Adding a source: its settings here (NoiseConfig) and in hw-models/schema.json, a row in NOISE_SOURCES,
// its draws in the plain-TS chip (src/sim/chip/chip.ts for a per-chip source, src/sim/chip/kernels.ts
// for a per-inference one), docs/NOISE.md. It then runs on the exact path; claiming a fast path in
// `paths` means implementing it there too, and the table test holds the claim to the plain-TS numbers.

/** aihwkit PCMLikeNoiseModel parameters (aihwkit/inference/noise/pcm.py), with its defaults. */
export interface PcmConfig {
  enabled: boolean;
  progNoiseScale: number;
  readNoiseScale: number;
  driftScale: number;
  tInferenceS: number;
  t0S: number;
  tReadS: number;
  progCoeff: number[];
  progCoeffGMaxRef: number;
  driftCompensation: "none" | "global";
  perReadSigma: number;
}

/** A hw-model's `noise` (docs/NOISE.md). Absent or zero-scaled sources are off. */
export interface NoiseConfig {
  weightGaussian?: { sigma: number; unit: "lsb" | "relative" };
  weightStuckAt?: { rate: number; value: "0" | "1" | "random" };
  weightBitFlip?: { ber: number };
  activationBitFlip?: { ber: number };
  accumulatorBitFlip?: { ber: number };
  outputGaussian?: { sigma: number; unit: "acc-lsb" | "out-lsb" };
  adc?: { sigma: number };
  pcm?: PcmConfig;
}

/**
 * Stream ids: the `source` part of a stream key (seed, trial, inference, layer·64 + source; ./rng.ts).
 * Fixed forever: changing one changes every number a seed gives.
 */
export const STREAM = { wGauss: 0, wStuck: 1, wFlip: 2, pcmProg: 3, pcmNu: 4, pcmDrift: 5, accFlip: 8, outGauss: 9, actFlip: 10, adc: 11, pcmRead: 12, inputFlip: 13 } as const;

/**
 * The output Gaussian noise's streams: element j of an image's layer output takes its ziggurat word from
 * lane j mod 4 of the first four, and the rejection steps, in element order, draw from the fifth.
 */
export const OUT_GAUSS_STREAMS = [STREAM.outGauss, 14, 15, 16, 17] as const;

/**
 * Where a chip instance's program can run (src/sim/chip/run.ts): the plain WASM program on the chip's
 * stored weights, the WASM fast path with per-inference noise between the kernels, or the plain-TS chip
 * kernels (exact for every source: the definition the others are tested against).
 */
export type ExecPath = "wasm-program" | "fast-path" | "exact";

export interface NoiseSource {
  /** Unique name (reports, tests). */
  id: string;
  /** Its settings under `noise` in a hw-model (the PCM sources share one). */
  key: keyof NoiseConfig;
  /** Drawn once per chip instance (Monte-Carlo trial) or once per inference. */
  lifetime: "chip" | "inference";
  /** The chips it exists on. A source for analog chips is an error on a digital one. */
  compute: "any" | "analog";
  /** What the one-line validation error calls it. */
  label: string;
  /** The streams it draws from (STREAM ids). */
  streams: readonly number[];
  /** Whether a hw-model's settings turn it on (a non-zero scale). */
  on(n: NoiseConfig): boolean;
  /** The execution paths that apply it exactly ("exact" always). */
  paths: readonly ExecPath[];
  /** It can store a signed value at −2^(b−1), outside the narrow range the accumulator bound assumes. */
  widensRange?: boolean;
  /** `--set` values (dotted keys) that turn it on strongly enough that a few images show it (the table test). */
  example: Readonly<Record<string, number | string | boolean>>;
}

const pcmOn = (n: NoiseConfig) => n.pcm !== undefined && n.pcm.enabled !== false;

export const NOISE_SOURCES: readonly NoiseSource[] = [
  { id: "weightGaussian", key: "weightGaussian", lifetime: "chip", compute: "any", label: "Gaussian weight noise", streams: [STREAM.wGauss], on: (n) => (n.weightGaussian?.sigma ?? 0) > 0, paths: ["wasm-program", "fast-path", "exact"], example: { "noise.weightGaussian.sigma": 1.5 } },
  { id: "weightStuckAt", key: "weightStuckAt", lifetime: "chip", compute: "any", label: "stuck-at weight bits", streams: [STREAM.wStuck], on: (n) => (n.weightStuckAt?.rate ?? 0) > 0, paths: ["wasm-program", "fast-path", "exact"], example: { "noise.weightStuckAt.rate": 0.05 } },
  { id: "weightBitFlip", key: "weightBitFlip", lifetime: "chip", compute: "any", label: "weight bit flips", streams: [STREAM.wFlip], on: (n) => (n.weightBitFlip?.ber ?? 0) > 0, paths: ["wasm-program", "fast-path", "exact"], example: { "noise.weightBitFlip.ber": 0.02 } },
  { id: "pcm", key: "pcm", lifetime: "chip", compute: "analog", label: "PCM noise", streams: [STREAM.pcmProg, STREAM.pcmNu, STREAM.pcmDrift], on: pcmOn, paths: ["exact"], example: { "noise.pcm.enabled": true, "noise.pcm.tInferenceS": 31536000, "noise.pcm.progNoiseScale": 3 } },
  { id: "activationBitFlip", key: "activationBitFlip", lifetime: "inference", compute: "any", label: "activation bit flips", streams: [STREAM.actFlip, STREAM.inputFlip], on: (n) => (n.activationBitFlip?.ber ?? 0) > 0, paths: ["fast-path", "exact"], widensRange: true, example: { "noise.activationBitFlip.ber": 0.02 } },
  { id: "accumulatorBitFlip", key: "accumulatorBitFlip", lifetime: "inference", compute: "any", label: "accumulator bit flips", streams: [STREAM.accFlip], on: (n) => (n.accumulatorBitFlip?.ber ?? 0) > 0, paths: ["fast-path", "exact"], example: { "noise.accumulatorBitFlip.ber": 0.005 } },
  { id: "outputGaussian", key: "outputGaussian", lifetime: "inference", compute: "any", label: "output Gaussian noise", streams: OUT_GAUSS_STREAMS, on: (n) => (n.outputGaussian?.sigma ?? 0) > 0, paths: ["fast-path", "exact"], example: { "noise.outputGaussian.sigma": 1.5 } },
  { id: "adc", key: "adc", lifetime: "inference", compute: "analog", label: "ADC noise", streams: [STREAM.adc], on: (n) => (n.adc?.sigma ?? 0) > 0, paths: ["exact"], example: { "noise.adc.sigma": 3 } },
  { id: "pcmRead", key: "pcm", lifetime: "inference", compute: "analog", label: "PCM read noise", streams: [STREAM.pcmRead], on: (n) => pcmOn(n) && (n.pcm?.perReadSigma ?? 0) > 0, paths: ["exact"], example: { "noise.pcm.enabled": true, "noise.pcm.perReadSigma": 0.2, "noise.pcm.progNoiseScale": 0, "noise.pcm.readNoiseScale": 0, "noise.pcm.driftScale": 0 } },
];

/** The sources a hw-model's settings turn on for a chip of this kind (compute.kind). */
export function activeSources(noise: NoiseConfig, kind: "digital" | "analog"): NoiseSource[] {
  return NOISE_SOURCES.filter((s) => (s.compute === "any" || s.compute === kind) && s.on(noise));
}

/** The settings of the active sources only (what a noisy trial draws from); {} when none is on. */
export function activeNoise(noise: NoiseConfig, sources: readonly NoiseSource[]): NoiseConfig {
  const out: Record<string, unknown> = {};
  for (const s of sources) out[s.key] = noise[s.key];
  return out as NoiseConfig;
}

/** The first source that is on but cannot exist on a chip of this kind (a hw-model error), or undefined. */
export function misplacedSource(noise: NoiseConfig, kind: "digital" | "analog"): NoiseSource | undefined {
  return NOISE_SOURCES.find((s) => s.compute !== "any" && s.compute !== kind && s.on(noise));
}
