// How well NIPQ's training proxy (rounding replaced by independent noise) stands for the deployed rounding,
// measured on trained checkpoints (not a test; docs/RESULTS.md "NIPQ as its authors define it (issue 14)").
//
// For each checkpoint: the test accuracy with the deployed quantizers (hard rounding, BN moving statistics),
// the same network with every learned quantizer replaced by NIPQ's pseudo-quantization noise (the empirical
// rounding-error noise of the grid's runs, strictly inside the range; clamped outside), and with the noise at
// one quantizer only (--at, default a:conv3: conv3's output, which global average pooling reads). Then, for
// that quantizer's input x on the test images: its step Δ and range α, the share of positive values that
// round to 0 (x < Δ/2) and that are clipped (x > α), and the error of the rounding and of the noise, per
// element and after the global average pool (relative RMS error, and the mean error, i.e. the bias): does
// the pool average the rounding error away as it does the independent noise that stood for it in training?
//
//   npx tsx bench/train/proxy-gap.ts [--test-limit 5000] [--draws 2] [--at a:conv3] DIR…   (--draws 0: no noisy evaluations)

import * as tf from "@tensorflow/tfjs";
import { loadDataset } from "../../src/data/index.js";
import { selectBackend } from "../../src/train/backend.js";
import { empiricalNoise, evalQuant, qmaxOf, qminOf } from "../../src/train/quantizers.js";
import { evaluate, loadTeacher } from "../../src/train/trainer.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const TEST = Number(arg("test-limit", "5000"));
const DRAWS = Number(arg("draws", "2"));
const AT = arg("at", "a:conv3");
const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length === 0) {
  console.error("usage: npx tsx bench/train/proxy-gap.ts [--test-limit N] [--draws N] [--at QUANT_ID] CHECKPOINT_DIR…");
  process.exit(2);
}

await selectBackend("wasm");
const test = loadDataset("fashion-mnist", "test", TEST);
let key = 1;

/** NIPQ's noise forward at deployed {α, Δ}: clamp to [lo, α], plus Δ·ε strictly inside (lo, α). */
function noiseQuant(x: tf.Tensor, alpha: number, step: number, signed: boolean): tf.Tensor {
  const eps = empiricalNoise(x.dataSync(), alpha, step, signed, key++);
  const lo = signed ? -alpha : 0;
  return tf.tidy(() => {
    const inside = tf.cast(tf.logicalAnd(tf.greater(x, lo), tf.less(x, alpha)), "float32");
    return tf.add(tf.clipByValue(x, lo, alpha), tf.mul(tf.mul(tf.tensor(eps, x.shape), inside), step));
  });
}

const pct = (v: number) => (100 * v).toFixed(2);
console.log(`test images: ${TEST}, noise draws: ${DRAWS}, quantizer studied: ${AT}\n`);
for (const dir of dirs) {
  const { net } = loadTeacher(dir, "cnn-s", { input: [28, 28, 1], classes: 10 }, 0); // Fashion-MNIST
  const quants = [...net.quants.entries()];
  const original = new Map(quants.map(([id, q]) => [id, q.apply.bind(q)]));
  /** Which quantizers run the noise in eval mode; the others round as deployed. */
  let noisy = new Set<string>();
  let capture: { shape: number[]; data: Float32Array }[] | null = null; // x at AT, per test batch
  for (const [id, q] of quants) {
    q.apply = (x, mode, k) => {
      if (mode !== "eval") return original.get(id)!(x, mode, k);
      if (id === AT && capture) capture.push({ shape: x.shape, data: Float32Array.from(x.dataSync()) });
      if (!noisy.has(id)) return original.get(id)!(x, mode, k);
      const s = q.spec();
      return noiseQuant(x, s.alpha, s.step, s.signed);
    };
  }
  const evalWith = (set: Set<string>, draws: number) => {
    noisy = set;
    const a: number[] = [];
    for (let d = 0; d < draws; d++) a.push(evaluate(net, test));
    return a.reduce((p, c) => p + c, 0) / a.length;
  };
  capture = [];
  const hard = evalWith(new Set(), 1);
  const xs = capture;
  capture = null;
  // --draws 0: the statistics at AT only (the noisy evaluations are the slow part: JS noise on every tensor).
  const all = DRAWS > 0 ? evalWith(new Set(quants.map(([id]) => id)), DRAWS) : NaN;
  const one = DRAWS > 0 ? evalWith(new Set([AT]), DRAWS) : NaN;

  // Statistics of the rounding and of the noise at AT, on the captured inputs.
  const s = net.quants.get(AT)!.spec();
  const [qmin, qmax] = [qminOf(s.bits, s.signed), qmaxOf(s.bits, s.signed)];
  let [pos, zeroed, clipped, n] = [0, 0, 0, 0];
  const acc = { ex2: 0, eh2: 0, en2: 0, gx2: 0, gh2: 0, gn2: 0, gh: 0, gn: 0, groups: 0 };
  for (const { shape, data: flat } of xs) {
    if (shape.length !== 4) throw new Error(`${AT}: expected an NHWC feature map before the pool, found shape [${shape}]`);
    const x = tf.tensor(flat, shape);
    const h = evalQuant(x, s.step, qmin, qmax);
    const z = noiseQuant(x, s.alpha, s.step, s.signed);
    const [hv, zv] = [h.dataSync(), z.dataSync()];
    tf.dispose([x, h, z]);
    const [B, H, W, C] = shape;
    const per = H * W; // the map each pooled value averages
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      n++;
      if (v > 0) {
        pos++;
        if (v < s.step / 2) zeroed++;
        if (v > s.alpha) clipped++;
      }
      acc.ex2 += v * v;
      acc.eh2 += (hv[i] - v) ** 2;
      acc.en2 += (zv[i] - v) ** 2;
    }
    // Pooled values: NHWC, so position p of image b is flat[(b·H·W + p)·C + c].
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        let [g, gh, gn] = [0, 0, 0];
        for (let p = 0; p < per; p++) {
          const i = (b * per + p) * C + c;
          g += flat[i];
          gh += hv[i];
          gn += zv[i];
        }
        [g, gh, gn] = [g / per, gh / per, gn / per];
        acc.gx2 += g * g;
        acc.gh2 += (gh - g) ** 2;
        acc.gn2 += (gn - g) ** 2;
        acc.gh += gh - g;
        acc.gn += gn - g;
        acc.groups++;
      }
    }
  }
  const rel = (e2: number, x2: number) => Math.sqrt(e2 / x2).toFixed(3);
  console.log(`${dir}`);
  console.log(`  test %: deployed (hard) ${pct(hard)}${DRAWS > 0 ? `; noise at every quantizer ${pct(all)}; noise at ${AT} only ${pct(one)}` : ""}`);
  console.log(`  ${AT}: ${s.bits} bits, α ${s.alpha.toFixed(3)}, Δ ${s.step.toFixed(3)}; of the positive inputs ${pct(zeroed / pos)}% round to 0, ${pct(clipped / pos)}% are clipped (positive: ${pct(pos / n)}%)`);
  console.log(`  relative RMS error per element: rounding ${rel(acc.eh2, acc.ex2)}, noise ${rel(acc.en2, acc.ex2)}; after the ${xs[0].shape[1]}×${xs[0].shape[2]} pool: rounding ${rel(acc.gh2, acc.gx2)}, noise ${rel(acc.gn2, acc.gx2)}; mean pooled error (bias): rounding ${(acc.gh / acc.groups).toFixed(4)}, noise ${(acc.gn / acc.groups).toFixed(4)}, RMS pooled value ${Math.sqrt(acc.gx2 / acc.groups).toFixed(4)}`);
  net.dispose();
}
