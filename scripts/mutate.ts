// The mutation check: are the tests of the core worth what they claim? Each entry of MUTATIONS is a one-line
// bug planted in the core (requant branches, the accumulator bound, packing, padding offsets, the
// simulator's rounding modes and overflow, argmax ties); for each, the script writes the mutated file, runs
// only the test files the entry names, restores the file and records whether some test failed (the
// mutation is "killed") or everything passed ("SURVIVED": a hole in the tests). Not part of `npm test`.
//
//   npx tsx scripts/mutate.ts                  every mutation (≈ 25 min on 2 loaded cores: assembly/ ones
//                                              rebuild the WASM, `npm run build:wasm`, ≈ 1 min each)
//   npx tsx scripts/mutate.ts --only as-,acc-  those whose id contains one of the strings
//   npx tsx scripts/mutate.ts --list           the table, each find checked to occur exactly once
//
// The file is restored in every case: after the run, on an error, and on Ctrl-C / SIGTERM (then the WASM
// is rebuilt from the restored sources when an assembly/ file was mutated). Before the mutations, the
// test files are run once unmutated (skip with --no-baseline): a mutation counts as killed only against a
// passing baseline. Exit code 1 when a mutation survives or a run errs.
//
// Adding a mutation is one row: the file, an exact substring that occurs once in it, its replacement, and
// the test files that should catch it. Format 2 (zero points, full range, the input table) has its rows in
// the reference kernels, the range and the accumulator bound; the WASM kernels get theirs with issue 15b.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";

interface Mutation {
  /** Short name, unique; `--only` matches substrings of it. */
  id: string;
  file: string;
  /** An exact substring of the file that occurs exactly once. */
  find: string;
  replace: string;
  /** The test files that should fail. */
  tests: string[];
  /** Only the tests whose name matches (vitest -t): a slow file's relevant test. */
  filter?: string;
}

const T = {
  refRq: ["test/reference/requant.test.ts"],
  refOps: ["test/reference/ops.test.ts"],
  simRq: ["test/sim/requant.test.ts"],
  wasm: ["test/kernels/wasm.test.ts"],
  fast: ["test/sim/fastpath.test.ts"],
  acc: ["test/ir/accbound.test.ts"],
  pack: ["test/ir/pack.test.ts"],
  ops: ["test/backends/ops.test.ts"],
  ovf: ["test/sim/accumulator.test.ts"],
  quant: ["test/train/quantizers.test.ts"],
  recipe: ["test/train/recipe.test.ts"],
  train: ["test/train/train.test.ts"],
  f2: ["test/reference/format2.test.ts", "test/ir/format2.test.ts"],
};
const QUANT = "src/train/quantizers.ts";
const TRAINER = "src/train/trainer.ts";

const RQ = "src/kernels/reference/requant.ts";
const SIM_RQ = "src/sim/hw/requant.ts";
const ACC = "src/ir/accbound.ts";
const PACK = "src/ir/pack.ts";

export const MUTATIONS: Mutation[] = [
  // The reference requant (the spec): every branch of the exact float64 split.
  { id: "ref-rq-s15-tie-down", file: RQ, find: "r0 + 16384 >= TWO15 ? 1 : 0", replace: "r0 + 16384 > TWO15 ? 1 : 0", tests: T.refRq },
  { id: "ref-rq-s15-offset", file: RQ, find: "r0 + 16384 >= TWO15 ? 1 : 0", replace: "r0 + 16385 >= TWO15 ? 1 : 0", tests: T.refRq },
  { id: "ref-rq-s16-tie-down", file: RQ, find: "Math.floor((H + POW2[s - 16]) / POW2[s - 15])", replace: "Math.floor((H + POW2[s - 16] - 1) / POW2[s - 15])", tests: T.refRq },
  { id: "ref-rq-small-tie-down", file: RQ, find: "Math.floor((r0 + POW2[s - 1]) / POW2[s])", replace: "Math.floor((r0 + POW2[s - 1] - 1) / POW2[s])", tests: T.refRq },
  { id: "ref-rq-split-trunc", file: RQ, find: "const q0 = Math.floor(p0 / TWO15);", replace: "const q0 = Math.trunc(p0 / TWO15);", tests: T.refRq },
  { id: "ref-rq-clamp-hi", file: RQ, find: "return r < lo ? lo : r > hi ? hi : r;", replace: "return r < lo ? lo : r > hi ? r : r;", tests: T.refRq },
  { id: "ref-roundshift-tie-down", file: RQ, find: "return Math.floor((t + 2 ** (s - 1)) / 2 ** s);", replace: "return Math.floor((t + 2 ** (s - 1) - 1) / 2 ** s);", tests: [...T.refRq, ...T.refOps] },
  { id: "ref-roundshift-early-zero", file: RQ, find: "if (s >= 54) return 0;", replace: "if (s >= 52) return 0;", tests: T.refRq },
  // The AssemblyScript requant: the scalar i64 form and the shared-shift SIMD form, and when the host allows the latter.
  { id: "as-rq-tie-down", file: "assembly/requant.ts", find: "const r = ((i64(a) * i64(m) + (i64(1) << i64(s - 1))) >> i64(s)) + i64(zy);", replace: "const r = ((i64(a) * i64(m) + (i64(1) << i64(s - 1)) - 1) >> i64(s)) + i64(zy);", tests: T.wasm },
  { id: "as-rq-clamp-hi", file: "assembly/requant.ts", find: "return r < i64(lo) ? lo : r > i64(hi) ? hi : i32(r);", replace: "return r < i64(lo) ? lo : r > i64(hi) ? i32(r) : i32(r);", tests: T.wasm },
  { id: "as-rq8-tie-down", file: "assembly/requant.ts", find: "const rnd = i64x2.splat(i64(1) << i64(S - 1));", replace: "const rnd = i64x2.splat((i64(1) << i64(S - 1)) - 1);", tests: T.wasm },
  { id: "as-rq8-pw-ignored", file: "assembly/requant.ts", find: "const b1 = i32x4.mul(a1, pw1);", replace: "const b1 = a1;", tests: [...T.wasm, ...T.ops] },
  { id: "as-add-tie-down", file: "assembly/add.ts", find: "const rnd = i64(1) << i64(s - 1);", replace: "const rnd = (i64(1) << i64(s - 1)) - 1;", tests: [...T.wasm, ...T.ops] },
  { id: "prepare-shared-shift-bound", file: "src/kernels/wasm/prepare.ts", find: "S - s[c] > 31 - accBits", replace: "S - s[c] > 32 - accBits", tests: [...T.wasm, ...T.ops] },
  // The simulator's rounding modes and multiplier cut (plain TS), each against its own definition.
  { id: "sim-even-s16-r0", file: SIM_RQ, find: "tie = r0 === 0 && modPow2(H, s - 15) === POW2[s - 16];", replace: "tie = modPow2(H, s - 15) === POW2[s - 16];", tests: T.simRq },
  { id: "sim-even-s15", file: SIM_RQ, find: "tie = r0 === 16384;", replace: "tie = r0 === 16383;", tests: T.simRq },
  { id: "sim-even-small", file: SIM_RQ, find: "tie = r0 % POW2[s] === POW2[s - 1];", replace: "tie = r0 % POW2[s] >= POW2[s - 1];", tests: T.simRq },
  { id: "sim-even-direction", file: SIM_RQ, find: "modPow2(r, 1) === 1 ? r - 1 : r", replace: "modPow2(r, 1) === 1 ? r + 1 : r", tests: T.simRq },
  { id: "sim-trunc-big", file: SIM_RQ, find: "Math.floor(H / POW2[s - 15])", replace: "Math.round(H / POW2[s - 15])", tests: T.simRq },
  { id: "sim-trunc-small", file: SIM_RQ, find: "Math.floor(r0 / POW2[s])", replace: "Math.round(r0 / POW2[s])", tests: T.simRq },
  { id: "sim-trunc-small-edge", file: SIM_RQ, find: "Math.floor(r0 / POW2[s])", replace: "Math.floor((r0 + 1) / POW2[s])", tests: T.simRq },
  { id: "sim-trunc-big-edge", file: SIM_RQ, find: "Math.floor(H / POW2[s - 15])", replace: "Math.floor((H + 1) / POW2[s - 15])", tests: T.simRq },
  { id: "sim-cut-truncates", file: SIM_RQ, find: "let mm = Math.floor((m + 2 ** (d - 1)) / 2 ** d);", replace: "let mm = Math.floor(m / 2 ** d);", tests: T.simRq },
  { id: "sim-cut-carry", file: SIM_RQ, find: "if (mm >= 2 ** bits) {", replace: "if (mm > 2 ** bits) {", tests: T.simRq },
  // The simulator's requant and accumulators in WASM (assembly/simnoise.ts).
  { id: "as-sim-even-tie", file: "assembly/simnoise.ts", find: "if (mode == 1 && (p & ((half << 1) - 1)) == half)", replace: "if (mode == 1 && (p & ((half << 1) - 1)) >= half)", tests: T.wasm },
  { id: "as-sim-even-direction", file: "assembly/simnoise.ts", find: "q &= ~i64(1); // a tie", replace: "q |= i64(1); // a tie", tests: T.wasm },
  { id: "as-sim-trunc", file: "assembly/simnoise.ts", find: "let q = (mode == 2 ? p : p + half) >> i64(s);", replace: "let q = (mode == 2 ? p + 1 : p + half) >> i64(s);", tests: T.wasm },
  { id: "as-sim-certify", file: "assembly/simnoise.ts", find: "const near = f64x2.splat(0.5 - 4.656612873077393e-10);", replace: "const near = f64x2.splat(0.5);", tests: T.fast },
  { id: "as-sim-noise-offset", file: "assembly/simnoise.ts", find: "const offset = f64x2.splat(mode == 2 ? 0.0 : 0.5);", replace: "const offset = f64x2.splat(0.5);", tests: T.fast },
  { id: "as-sim-sat-hi", file: "assembly/simnoise.ts", find: "const hiS = (1 << (bits - 1)) - 1;", replace: "const hiS = 1 << (bits - 1);", tests: T.fast },
  { id: "sim-ovf-sat-hi", file: "src/sim/chip/kernels.ts", find: "return v < 0 ? -half : half - 1;", replace: "return v < 0 ? -half : half;", tests: T.ovf },
  { id: "sim-ovf-wrap-edge", file: "src/sim/chip/kernels.ts", find: "return v - m * Math.floor((v + half) / m);", replace: "return v - m * Math.floor((v + half - 1) / m);", tests: T.ovf },
  // The accumulator bound.
  { id: "acc-bits-max", file: ACC, find: "2 ** (k - 1) - 1 < max", replace: "2 ** (k - 1) < max", tests: T.acc },
  { id: "acc-bits-min", file: ACC, find: "-(2 ** (k - 1)) > min", replace: "-(2 ** (k - 1)) >= min", tests: T.acc },
  { id: "acc-term-min", file: ACC, find: "const a = bias[o] + lo * pos + hi * neg;", replace: "const a = bias[o] + lo * sum;", tests: T.acc },
  { id: "acc-term-max", file: ACC, find: "const b = bias[o] + hi * pos + lo * neg;", replace: "const b = bias[o] + hi * sum;", tests: T.acc },
  { id: "acc-last-channel", file: ACC, find: "if (b > max) max = b;", replace: "max = b;", tests: T.acc },
  { id: "acc-pool-window", file: ACC, find: ": layer.kernel[0] * layer.kernel[1];", replace: ": layer.kernel[0] * layer.kernel[0];", tests: T.acc },
  // Packing: the .qmodel bit streams (src/ir/pack.ts) and the WASM weight containers.
  { id: "pack-no-mask", file: PACK, find: "const v = values[i] & mask;", replace: "const v = values[i];", tests: T.pack },
  { id: "pack-spill", file: PACK, find: "if (off + bits > 8) out[byte + 1] |= v >> (8 - off);", replace: "if (off + bits > 9) out[byte + 1] |= v >> (8 - off);", tests: T.pack },
  { id: "unpack-spill", file: PACK, find: "if (off + bits > 8) v |= bytes[byte + 1] << (8 - off);", replace: "if (off + bits > 9) v |= bytes[byte + 1] << (8 - off);", tests: T.pack },
  { id: "unpack-sign", file: PACK, find: "v - (1 << bits) : v;", replace: "v - (1 << (bits - 1)) : v;", tests: T.pack },
  { id: "pack-size", file: PACK, find: "return Math.ceil((n * bits) / 8);", replace: "return Math.floor((n * bits) / 8);", tests: T.pack },
  { id: "as-panel-mask", file: "assembly/pack.ts", find: "<i32>load<u16>(a) | ((v & mask) << shift)", replace: "<i32>load<u16>(a) | (v << shift)", tests: [...T.wasm, ...T.ops] },
  { id: "as-panel-8c4-order", file: "assembly/pack.ts", find: "const k = q + t;", replace: "const k = q + 3 - t;", tests: ["test/kernels/relaxed-gemm.test.ts"] },
  { id: "as-unpack4-unsigned", file: "assembly/gemm.ts", find: "v128.store(dst, i16x8.shr_s(i16x8.shl(raw, 8), 12), 16);", replace: "v128.store(dst, i16x8.shr_u(i16x8.shl(raw, 8), 12), 16);", tests: [...T.wasm, ...T.ops] },
  { id: "as-unpack-scalar-unsigned", file: "assembly/gemm.ts", find: "<< up) >> down));", replace: "<< up) >>> down));", tests: [...T.wasm, ...T.ops] },
  // Padding offsets (TensorFlow `same`: top/left = floor(total/2)) in each place that applies them.
  { id: "pad-same-ceil", file: "src/ir/types.ts", find: "const before = Math.floor(total / 2);", replace: "const before = Math.ceil(total / 2);", tests: [...T.refOps, ...T.ops] },
  { id: "pad-same-total", file: "src/ir/types.ts", find: "const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);", replace: "const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size - 1, 0);", tests: [...T.refOps, ...T.ops] },
  // The window geometry every backend takes from the shared Prepare step (src/kernels/prepare.ts → windowGeometry → resolvePads).
  { id: "pad-ref-conv-left", file: "src/kernels/reference/ops.ts", find: "const ix = ox * g.sw + kx - pl;", replace: "const ix = ox * g.sw + kx - pt;", tests: [...T.refOps, ...T.ops] },
  { id: "pad-resolve-top", file: "src/ir/types.ts", find: "return [v.before, h.before, v.after, h.after];", replace: "return [v.after, h.before, v.after, h.after];", tests: [...T.refOps, ...T.ops] },
  { id: "pad-sim-left", file: "src/sim/chip/kernels.ts", find: "const ix = ox * s.sw + kx - s.pl;", replace: "const ix = ox * s.sw + kx - s.pt;", tests: T.ops },
  { id: "pad-as-im2col-left", file: "assembly/im2col.ts", find: "const ix0 = ox * sw - pl;", replace: "const ix0 = ox * sw - pt;", tests: T.ops },
  { id: "pad-as-dwconv-right", file: "assembly/dwconv.ts", find: "const kx1 = min(kw, W + pl - ox * sw);", replace: "const kx1 = min(kw, W + pt - ox * sw);", tests: T.ops },
  { id: "pad-as-maxpool-bottom", file: "assembly/pool.ts", find: "const ky1 = min(kh, H + pt - oy * sh);\n      for (let ox = 0; ox < OW; ox++) {\n        const kx0 = max(0, pl - ox * sw);\n        const kx1 = min(kw, W + pl - ox * sw);\n        let c = 0;", replace: "const ky1 = min(kh, H - oy * sh);\n      for (let ox = 0; ox < OW; ox++) {\n        const kx0 = max(0, pl - ox * sw);\n        const kx1 = min(kw, W + pl - ox * sw);\n        let c = 0;", tests: T.ops },
  // NIPQ as its authors define it (issue 14): the noise quantizer, the empirical noise, the recipe inside train().
  { id: "nipq-noise-on-clamped", file: QUANT, find: "tf.mul(delta, epsIn));", replace: "tf.mul(delta, eps));", tests: T.quant },
  { id: "nipq-dalpha-no-clamp", file: QUANT, find: "const da = tf.add(tf.sum(tf.mul(dy, cg)), tf.div(dyEps, qm));", replace: "const da = tf.div(dyEps, qm);", tests: T.quant },
  { id: "nipq-dalpha-no-lower-side", file: QUANT, find: 'const clampGrad = signed ? tf.sub(tf.cast(above, "float32"), tf.cast(below, "float32")) : tf.cast(above, "float32");', replace: 'const clampGrad = tf.cast(above, "float32");', tests: T.quant },
  { id: "nipq-ste-for-x", file: QUANT, find: "const dx = tf.mul(dy, ins);", replace: "const dx = dy;", tests: T.quant },
  { id: "nipq-ddelta-db", file: QUANT, find: "const dDeltaDb = tf.neg(tf.div(tf.mul(tf.mul(d, Math.LN2), tk), qm));", replace: "const dDeltaDb = tf.neg(tf.mul(d, Math.LN2));", tests: T.quant },
  { id: "nipq-hist-all-elements", file: QUANT, find: "if (!(xi > lo && xi < alpha)) continue;", replace: "", tests: T.quant },
  { id: "nipq-default-uniform", file: QUANT, find: 'export const DEFAULT_NOISE: NoiseKind = "empirical";', replace: 'export const DEFAULT_NOISE: NoiseKind = "uniform";', tests: T.quant },
  { id: "nipq-apply-no-empirical", file: QUANT, find: 'if (this.noise === "uniform") {', replace: "if (true) {", tests: T.quant },
  { id: "recipe-plain-momentum", file: TRAINER, find: "w.assign(tf.sub(w, tf.mul(tf.add(gg, tf.mul(buf, this.momentum)), lrp)));", replace: "w.assign(tf.sub(w, tf.mul(buf, lrp)));", tests: [...T.recipe, ...T.train], filter: "Nesterov|recipe inside" },
  { id: "recipe-decay-everywhere", file: "src/train/model.ts", find: 'decay: key.endsWith("/kernel"), lrScale: 1', replace: "decay: true, lrScale: 1", tests: T.recipe },
  { id: "recipe-alpha-lr-ignored", file: "src/train/model.ts", find: "decay: false, lrScale: alphaLrScale", replace: "decay: false, lrScale: 1", tests: T.recipe },
  { id: "recipe-sgd-lr-unscaled", file: TRAINER, find: "(SGD_RECIPE.lrAt256 * c.batch) / 256", replace: "SGD_RECIPE.lrAt256", tests: T.recipe },
  { id: "recipe-schedule-adam-only", file: TRAINER, find: 'const r = c.optimizer === "sgd" ? SGD_RECIPE : ADAM_RECIPE;', replace: "const r = ADAM_RECIPE;", tests: T.recipe },
  { id: "train-optimizer-ignored", file: TRAINER, find: "const opt = new Optimizer(c.optimizer, params,", replace: 'const opt = new Optimizer("adam", params,', tests: T.train, filter: "recipe inside" },
  { id: "train-sgd-no-decay", file: TRAINER, find: "const gg = p.decay && this.weightDecay > 0 ? tf.add(g, tf.mul(w, this.weightDecay)) : g;", replace: "const gg = g;", tests: T.train, filter: "recipe inside" },
  { id: "train-kd-temp-ignored", file: TRAINER, find: "distillationLoss(logits, teacherLogits, c.kdTemp)", replace: "distillationLoss(logits, teacherLogits, 1)", tests: T.train, filter: "recipe inside" },
  { id: "train-kd-weight-ignored", file: TRAINER, find: "loss = tf.add(loss, tf.mul(kd, c.kdWeight)) as tf.Scalar;", replace: "loss = tf.add(loss, kd) as tf.Scalar;", tests: T.train, filter: "recipe inside" },
  { id: "train-teacher-batch-stats", file: TRAINER, find: "teacher!.net.forward(x, { training: false,", replace: "teacher!.net.forward(x, { training: true,", tests: T.train, filter: "recipe inside" },
  { id: "train-no-final-phase", file: TRAINER, find: "Math.floor(totalSteps * (1 - c.finalFrac))", replace: "totalSteps", tests: T.train, filter: "resume gives exactly" },
  // The prediction: the lowest index wins ties.
  // Format 2: zero points, full range, the input table (DESIGN.md §3 "Imported models").
  { id: "zp-conv-taps", file: "src/kernels/reference/ops.ts", find: "* (x[((b * g.H + iy) * g.W + ix) * g.C + c0 + ci] - zx);", replace: "* x[((b * g.H + iy) * g.W + ix) * g.C + c0 + ci];", tests: T.f2 },
  { id: "zp-dense", file: "src/kernels/reference/ops.ts", find: "sum += w[o * inN + i] * (x[b * inN + i] - zx);", replace: "sum += w[o * inN + i] * x[b * inN + i];", tests: T.f2 },
  { id: "zp-out-before-clamp", file: "src/kernels/reference/ops.ts", find: "const r = requant(acc[i], m[c], s[c]) + zy;", replace: "const r = requant(acc[i], m[c], s[c]) + 0 * zy;", tests: T.f2 },
  { id: "zp-avgpool", file: "src/kernels/reference/ops.ts", find: "if (ix >= 0 && ix < W) sum += x[((b * H + iy) * W + ix) * C + c] - zx;", replace: "if (ix >= 0 && ix < W) sum += x[((b * H + iy) * W + ix) * C + c];", tests: T.f2 },
  { id: "zp-gap", file: "src/kernels/reference/ops.ts", find: "acc[b * C + c] += x[(b * H * W + p) * C + c] - zx;", replace: "acc[b * C + c] += x[(b * H * W + p) * C + c];", tests: T.f2 },
  { id: "zp-add-second", file: "src/kernels/reference/ops.ts", find: "(b[i] - zb) * mb, s) + zy;", replace: "(b[i] - za) * mb, s) + zy;", tests: T.f2 },
  { id: "lut-channel", file: "src/kernels/reference/ops.ts", find: "y[i] = lut[(i % C) * 256 + pixels[i]];", replace: "y[i] = lut[pixels[i]];", tests: T.f2 },
  { id: "range-full", file: "src/ir/types.ts", find: "return { lo: t.fullRange ? -hi - 1 : -hi, hi };", replace: "return { lo: -hi, hi };", tests: T.f2 },
  { id: "acc-zero", file: ACC, find: "return { lo: t.lo - z, hi: t.hi - z };", replace: "return { lo: t.lo, hi: t.hi };", tests: [...T.acc, ...T.f2] },
  { id: "argmax-ties", file: "src/kernels/reference/ops.ts", find: "if (scores[b * k + j] > scores[b * k + best]) best = j;", replace: "if (scores[b * k + j] >= scores[b * k + best]) best = j;", tests: T.refOps },
];

type Outcome = "killed" | "SURVIVED" | "ERROR";
interface Result {
  m: Mutation;
  outcome: Outcome;
  seconds: number;
  /** The first failing tests (killed) or what went wrong (error). */
  detail: string;
}

const isAssembly = (file: string) => file.startsWith("assembly/");

/** Checks that each find occurs exactly once in its file (a stale row is an error, not a silent no-op). */
function checkTable(ms: Mutation[]): void {
  const ids = new Set<string>();
  for (const m of ms) {
    if (ids.has(m.id)) throw new Error(`mutation ${m.id}: duplicate id`);
    ids.add(m.id);
    const text = readFileSync(m.file, "utf8");
    const n = text.split(m.find).length - 1;
    if (n !== 1) throw new Error(`mutation ${m.id}: ${m.file} contains its find ${n} times, expected once: ${JSON.stringify(m.find)}`);
    if (m.find === m.replace) throw new Error(`mutation ${m.id}: find and replace are equal`);
  }
}

function buildWasm(): { ok: boolean; out: string } {
  const r = spawnSync("nice", ["-n", "10", "npm", "run", "build:wasm"], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}\n${r.stderr}` };
}

/** Runs vitest on the files; failing test names from its JSON report. */
function runTests(files: string[], filter?: string): { code: number | null; failed: string[]; total: number; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "nipq-mutate-"));
  const report = join(dir, "report.json");
  try {
    const r = spawnSync("nice", ["-n", "10", "npx", "vitest", "run", ...files, ...(filter ? ["-t", filter] : []), "--reporter=json", `--outputFile=${report}`], { encoding: "utf8", timeout: 15 * 60_000, killSignal: "SIGTERM", maxBuffer: 64 << 20 });
    let failed: string[] = [];
    let total = 0;
    try {
      const j = JSON.parse(readFileSync(report, "utf8")) as { numTotalTests: number; testResults: { assertionResults: { fullName: string; status: string }[] }[] };
      total = j.numTotalTests;
      failed = j.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName));
    } catch {
      // no report (vitest crashed or was killed): the exit code tells
    }
    return { code: r.status, failed, total, stderr: r.error ? String(r.error) : (r.stderr ?? "").slice(-2000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The file currently mutated and its original text (for restoring from a signal handler). */
let active: { file: string; text: string } | null = null;
let wasmDirty = false;

function restore(): void {
  if (active) {
    writeFileSync(active.file, active.text);
    active = null;
  }
}

function onSignal(sig: NodeJS.Signals): void {
  const file = active?.file;
  restore();
  process.stderr.write(`\nmutate: ${sig}: ${file ? `${file} restored` : "no file was mutated"}`);
  if (wasmDirty) {
    process.stderr.write("; rebuilding the WASM from the restored sources …");
    const b = buildWasm();
    process.stderr.write(b.ok ? " done\n" : " FAILED: run `npm run build:wasm`\n");
  } else process.stderr.write("\n");
  process.exit(130);
}

function runOne(m: Mutation): Result {
  const t0 = Date.now();
  const text = readFileSync(m.file, "utf8");
  const result = (outcome: Outcome, detail: string): Result => ({ m, outcome, seconds: Math.round((Date.now() - t0) / 1000), detail });
  active = { file: m.file, text };
  try {
    writeFileSync(m.file, text.replace(m.find, m.replace));
    if (isAssembly(m.file)) {
      wasmDirty = true;
      const b = buildWasm();
      if (!b.ok) return result("ERROR", `the mutated WASM does not build: ${b.out.trim().split("\n").slice(-3).join(" / ")}`);
    }
    const r = runTests(m.tests, m.filter);
    if (r.code === 0) return result("SURVIVED", `${r.total} tests passed`);
    if (r.failed.length) return result("killed", `${r.failed.length} of ${r.total} failed: ${r.failed.slice(0, 2).join("; ")}${r.failed.length > 2 ? "; …" : ""}`);
    return result("ERROR", `exit ${r.code}, no failed test reported: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  } finally {
    restore();
  }
}

function main(): void {
  const opts = new Command()
    .name("mutate")
    .description("Plants each one-line bug of the table in the core, runs the tests that should catch it, restores the file, and reports survivors.")
    .option("--only <ids>", "comma-separated substrings: run the mutations whose id contains one")
    .option("--list", "print the table (each find checked) and exit")
    .option("--no-baseline", "skip the unmutated run of the test files")
    .parse()
    .opts<{ only?: string; list?: boolean; baseline: boolean }>();

  checkTable(MUTATIONS);
  const wanted = opts.only ? opts.only.split(",").map((s) => s.trim()).filter(Boolean) : null;
  // assembly/ mutations last: one WASM rebuild each, and one more at the end to restore the build.
  const chosen = MUTATIONS.filter((m) => !wanted || wanted.some((w) => m.id.includes(w))).sort((a, b) => Number(isAssembly(a.file)) - Number(isAssembly(b.file)));
  if (opts.list) {
    for (const m of chosen) console.log(`${m.id.padEnd(28)} ${m.file}: ${JSON.stringify(m.find)} → ${JSON.stringify(m.replace)} [${m.tests.join(", ")}${m.filter ? ` -t ${JSON.stringify(m.filter)}` : ""}]`);
    return;
  }
  if (chosen.length === 0) throw new Error(`no mutation id contains any of ${opts.only}`);

  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const t0 = Date.now();
  const files = [...new Set(chosen.flatMap((m) => m.tests))];
  if (opts.baseline) {
    process.stdout.write(`baseline: ${files.length} test files unmutated … `);
    const r = runTests(files);
    if (r.code !== 0) throw new Error(`the unmutated tests fail (${r.failed.slice(0, 3).join("; ") || r.stderr.slice(-500)}): fix them first`);
    console.log(`${r.total} tests pass`);
  }
  const results: Result[] = [];
  try {
    chosen.forEach((m, i) => {
      process.stdout.write(`[${i + 1}/${chosen.length}] ${m.id} … `);
      const r = runOne(m);
      results.push(r);
      console.log(`${r.outcome} (${r.seconds} s) ${r.detail}`);
    });
  } finally {
    restore();
    if (wasmDirty) {
      process.stdout.write("rebuilding the WASM from the restored sources … ");
      const b = buildWasm();
      console.log(b.ok ? "done" : "FAILED: run `npm run build:wasm`");
      wasmDirty = !b.ok;
    }
  }
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  console.log("\n| id | file | mutation | tests | result | s |\n|---|---|---|---|---|---|");
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  for (const r of results)
    console.log(`| ${r.m.id} | ${r.m.file} | \`${cell(r.m.find)}\` → \`${cell(r.m.replace)}\` | ${r.m.tests.map((t) => t.replace(/^test\//, "")).join(", ")} | ${r.outcome} | ${r.seconds} |`);
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  console.log(`\n${results.length} mutations: ${count("killed")} killed, ${count("SURVIVED")} survived, ${count("ERROR")} errors; ${minutes} min`);
  for (const r of results.filter((r) => r.outcome !== "killed")) console.log(`${r.outcome}: ${r.m.id}: ${r.detail}`);
  if (count("SURVIVED") + count("ERROR") > 0) process.exitCode = 1;
}

main();
