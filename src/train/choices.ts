// The choices `nipq train` and `nipq init` offer, in a module without TensorFlow.js: the CLI builds its option
// table from them at every start, and loading tfjs (~0.6 s) is left to the commands that train or calibrate.

/** Backends `--backend` accepts; "auto" tries tensorflow → wasm → cpu. */
export const BACKEND_CHOICES = ["auto", "tensorflow", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export type Method = "nipq" | "lsq" | "float";
export const METHODS: readonly Method[] = ["nipq", "lsq", "float"];

/** The rounding-noise source of NIPQ's training forward. */
export type NoiseKind = "uniform" | "empirical";
export const NOISE_KINDS: readonly NoiseKind[] = ["uniform", "empirical"];
/**
 * The default: the authors' own. On the mnist new-user check the two are within seed noise (75.45% vs 75.25%,
 * docs/RESULTS.md "Training", issue 14).
 */
export const DEFAULT_NOISE: NoiseKind = "empirical";
