// One training step (batch 64: forward, backward, optimizer update) of an arch (cnn-s at 28×28×1 by default)
// for float, LSQ and NIPQ (uniform and empirical noise, and NIPQ with a float teacher), timed in one run in
// alternating windows so that load drift hits all alike; prints each step's time and its ratio to the float
// step, then the per-kernel profile of one step of each (tf.profile: where a step's time goes).
//
//   npx tsx bench/train/step.ts [--backend wasm|cpu] [--arch cnn-s] [--input 28,28,1] [--width X] [--batch 64]
//                               [--bits 4] [--seconds 1] [--reps 4]

import { loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { timeInterleaved } from "../kernels/common.js";
import { selectBackend } from "../../src/train/backend.js";
import { buildArch } from "../../src/train/archs.js";
import { type ForwardMode, Net } from "../../src/train/model.js";
import type { NoiseKind } from "../../src/train/quantizers.js";
import { distillationLoss, Optimizer } from "../../src/train/trainer.js";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const backend = await selectBackend(arg("backend", "wasm"));
const B = Number(arg("batch", "64"));
const bits = Number(arg("bits", "4"));
const seconds = Number(arg("seconds", "1"));
const reps = Number(arg("reps", "4"));
const archName = arg("arch", "cnn-s");
const input = arg("input", "28,28,1").split(",").map(Number) as [number, number, number];
const width = process.argv.includes("--width") ? Number(arg("width", "1")) : undefined;
const arch = () => buildArch(archName, { input, classes: 10, width });

const x = tf.randomUniform([B, ...input], 0, 1, "float32", 1) as tf.Tensor4D;
const y = tf.oneHot(tf.tensor1d(Array.from({ length: B }, (_, i) => i % 10), "int32"), 10);

interface Case {
  name: string;
  method: "float" | "lsq" | "nipq";
  noise?: NoiseKind;
  teacher?: boolean;
}
const cases: Case[] = [
  { name: "float", method: "float" },
  { name: "lsq", method: "lsq" },
  { name: "nipq uniform", method: "nipq", noise: "uniform" },
  { name: "nipq empirical", method: "nipq", noise: "empirical" },
  { name: "nipq empirical + teacher", method: "nipq", noise: "empirical", teacher: true },
];

const teacher = new Net(arch(), { method: "float", bits: { w: 32, a: 32 }, seed: 2 });
const steps = cases.map((c) => {
  const net = new Net(arch(), { method: c.method, bits: { w: bits, a: bits }, noise: c.noise, seed: 1 });
  const params = net.paramInfos();
  const opt = new Optimizer("sgd", params, 0.9, 1e-5);
  const vars = params.map((p) => p.variable);
  if (c.method !== "float") tf.tidy(() => void net.forward(x, { training: true, mode: "calib", step: 0 }));
  const mode: ForwardMode = c.method === "float" ? "float" : c.method === "lsq" ? "hard" : "noise";
  let k = 1;
  return () => {
    k++;
    const t = c.teacher ? tf.tidy(() => teacher.forward(x, { training: false, mode: "float", step: 0 })) : null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = net.forward(x, { training: true, updateStats: true, mode, step: k });
      const ce = tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      return t ? (tf.add(ce, distillationLoss(logits, t, 1)) as tf.Scalar) : ce;
    }, vars);
    opt.apply(grads, 1e-4);
    value.dataSync();
    tf.dispose([value, ...(t ? [t] : []), ...Object.values(grads).filter((g): g is tf.Tensor => g !== null)]);
  };
});

const load0 = loadavg()[0];
const times = timeInterleaved(steps, seconds, reps);
console.log(`${archName}${width === undefined ? "" : ` ×${width}`} at ${input.join("×")}, W${bits}A${bits}, batch ${B}, backend ${backend}, one training step (forward + backward + SGD update); best of ${reps} windows of ≥ ${seconds} s, interleaved; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
console.log("| step | ms | × float |\n|---|---:|---:|");
cases.forEach((c, i) => console.log(`| ${c.name} | ${(times[i] * 1000).toFixed(1)} | ${(times[i] / times[0]).toFixed(2)} |`));

for (const [i, c] of cases.entries()) {
  const prof = await tf.profile(() => steps[i]());
  const agg = new Map<string, number>();
  for (const kk of prof.kernels) agg.set(kk.name, (agg.get(kk.name) ?? 0) + (kk.kernelTimeMs as number));
  const total = [...agg.values()].reduce((a, b) => a + b, 0);
  console.log(`\n${c.name}: kernel time ${total.toFixed(1)} ms of the step; top: ` + [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([kk, v]) => `${kk} ${v.toFixed(1)}`).join(", "));
}
