// One cnn-s training step (batch 64) on a backend, float / LSQ / NIPQ, with the per-kernel time profile
// from tf.profile: where a step's time goes, and what the registered wasm gradient kernels cost.
//
//   npx tsx bench/train/step.ts [--backend wasm|cpu] [--method float|lsq|nipq] [--steps 5] [--batch 64]

import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/train/backend.js";
import { buildArch } from "../../src/train/archs.js";
import { Net } from "../../src/train/model.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const backend = await selectBackend(arg("backend", "wasm"));
const method = arg("method", "float") as "float" | "lsq" | "nipq";
const steps = Number(arg("steps", "5"));
const B = Number(arg("batch", "64"));

const net = new Net(buildArch("cnn-s"), { method, bits: { w: 4, a: 4 }, seed: 1 });
const x = tf.randomUniform([B, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
const y = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => i % 10), "int32"), 10);
const vars = net.paramInfos().map((p) => p.variable);
if (method !== "float") tf.tidy(() => void net.forward(x, { training: true, mode: "calib", step: 0 }));
const mode = method === "float" ? "float" : method === "lsq" ? "hard" : "noise";
const step = (k: number) => {
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, net.forward(x, { training: true, updateStats: true, mode, step: k })) as tf.Scalar,
    vars,
  );
  value.dataSync();
  tf.dispose([value, ...Object.values(grads).filter((g): g is tf.Tensor => g !== null)]);
};
step(1);
const t0 = performance.now();
for (let i = 0; i < steps; i++) step(2 + i);
const stepMs = (performance.now() - t0) / steps;
const prof = await tf.profile(() => step(100));
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log(`cnn-s ${method}, batch ${B}, backend ${backend}: ${stepMs.toFixed(1)} ms per training step (${((B * 1000) / stepMs).toFixed(0)} images/s)`);
console.log("kernel time in one profiled step (ms): " + [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "));
net.dispose();
