// Training benchmark (not a test): cnn-s on Fashion-MNIST with float, LSQ and NIPQ at W4A4 / W3A3 / W2A2,
// NIPQ mixed precision at W3A3's BOPs, plus training speed (images/s) float vs NIPQ and wasm vs CPU.
// The full run (many epochs each) takes hours on 2 cores; flags reduce it. Checkpoints go to
// bench-out/train/<run>/ (gitignored), where `nipq lower` can pick them up.
//
//   npx tsx bench/train/fashion.ts [--epochs 1] [--limit N] [--test-limit N] [--batch 64] [--seed 0]
//       [--runs float,lsq-w4a4,nipq-w4a4,...] [--init DIR] [--no-speed] [--speed-only] [--cpu-steps 3] [--out bench-out/train]
//
// --init DIR starts every run but "float" from that checkpoint (e.g. bench-out/train/float): the protocol of
// both the LSQ and the NIPQ papers, which fine-tune a pretrained float network.
//
// Results are appended as JSON lines to <out>/results.jsonl and printed as a markdown table at the end.

import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/train/backend.js";
import { bops, buildArch, layerBits } from "../../src/train/archs.js";
import { train, type TrainConfig } from "../../src/train/trainer.js";

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const epochs = Number(arg("epochs", "1"));
const limit = arg("limit") ? Number(arg("limit")) : undefined;
const testLimit = arg("test-limit") ? Number(arg("test-limit")) : undefined;
const batch = Number(arg("batch", "64"));
const seed = Number(arg("seed", "0"));
const outDir = arg("out", "bench-out/train")!;
const cpuSteps = Number(arg("cpu-steps", "3"));
const data = arg("data", "fashion-mnist")!;
const init = arg("init");
mkdirSync(outDir, { recursive: true });
const resultsFile = join(outDir, "results.jsonl");

// W3A3 BOPs of cnn-s (first layer reads the 8-bit image): the mixed-precision budget.
const w3a3Bops = bops(layerBits(buildArch("cnn-s"), (id) => (id === "input" ? 8 : 3)));

type Run = { name: string; cfg: Partial<TrainConfig> };
const ALL: Run[] = [
  { name: "float", cfg: { method: "float" } },
  { name: "float-ft", cfg: { method: "float" } }, // float fine-tuned from --init like the quantized runs: the fair reference
  { name: "nipq-w4a4", cfg: { method: "nipq", bits: { w: 4, a: 4 } } },
  { name: "lsq-w4a4", cfg: { method: "lsq", bits: { w: 4, a: 4 } } },
  { name: "nipq-w3a3", cfg: { method: "nipq", bits: { w: 3, a: 3 } } },
  { name: "lsq-w3a3", cfg: { method: "lsq", bits: { w: 3, a: 3 } } },
  { name: "nipq-w2a2", cfg: { method: "nipq", bits: { w: 2, a: 2 } } },
  { name: "lsq-w2a2", cfg: { method: "lsq", bits: { w: 2, a: 2 } } },
  { name: "nipq-mixed@w3a3-bops", cfg: { method: "nipq", targetBops: w3a3Bops } },
];
const wanted = arg("runs")?.split(",");
const runs = wanted ? ALL.filter((r) => wanted.includes(r.name)) : ALL;

function record(doc: Record<string, unknown>): void {
  appendFileSync(resultsFile, JSON.stringify({ time: new Date().toISOString(), ...doc }) + "\n");
  process.stderr.write(JSON.stringify(doc) + "\n");
}

const rows: string[] = [];
if (!flag("speed-only")) {
  const backend = await selectBackend(arg("backend", "auto"));
  for (const r of runs) {
    const t0 = performance.now();
    const res = await train(
      { arch: "cnn-s", data, epochs, batch, limit, testLimit, seed, out: join(outDir, r.name), init: r.name === "float" ? undefined : init, ...r.cfg } as TrainConfig,
      undefined,
      (l) => process.stderr.write(`${r.name} epoch ${l.epoch}: test ${(100 * l.testAcc).toFixed(2)}% loss ${l.loss.toFixed(4)} ${l.imagesPerSecond.toFixed(0)} img/s\n`),
    );
    const seconds = (performance.now() - t0) / 1000;
    const bitsStr = res.bits.map((b) => `${b.w}/${b.a}`).join(" ");
    record({ kind: "accuracy", run: r.name, backend, epochs, limit: limit ?? null, batch, seed, init: r.name === "float" ? null : init ?? null, accuracy: res.accuracy, bops: res.bops, bits: res.bits, seconds });
    rows.push(`| ${r.name} | ${(100 * res.accuracy).toFixed(2)} | ${(res.bops / 1e9).toFixed(4)} | ${bitsStr} | ${seconds.toFixed(0)} |`);
  }
}

const speedRows: string[] = [];
if (!flag("no-speed")) {
  // Training throughput: `steps` steps of batch 64 (the first step includes calibration and warm-up).
  const speed = async (backendName: string, method: "float" | "nipq", steps: number) => {
    await selectBackend(backendName);
    const res = await train({ arch: "cnn-s", data, method, bits: method === "nipq" ? { w: 4, a: 4 } : undefined, epochs: 1, batch, limit: batch * steps, testLimit: 256, seed, out: join(outDir, `speed-${backendName}-${method}`) });
    const ips = res.log[0].imagesPerSecond;
    record({ kind: "speed", backend: backendName, method, steps, batch, imagesPerSecond: ips });
    speedRows.push(`| ${backendName} | ${method} | ${steps} | ${ips.toFixed(1)} |`);
    return ips;
  };
  const wf = await speed("wasm", "float", 30);
  const wn = await speed("wasm", "nipq", 30);
  const cf = await speed("cpu", "float", cpuSteps);
  speedRows.push(`\nNIPQ step / float step on wasm: ${(wf / wn).toFixed(2)}×; wasm / CPU (float): ${(wf / cf).toFixed(1)}×`);
  record({ kind: "speed-ratios", nipqOverFloatStepTime: wf / wn, wasmOverCpu: wf / cf });
}

console.log(`\ncnn-s on ${data}, ${epochs} epoch(s)${limit ? `, first ${limit} training images` : ""}, batch ${batch}, seed ${seed}, backend ${tf.getBackend()}\n`);
if (rows.length) console.log(["| run | test acc % | GBOPs | bits w/a per layer | wall s |", "|---|---|---|---|---|", ...rows].join("\n"));
if (speedRows.length) console.log(["\n| backend | method | steps | train images/s |", "|---|---|---|---|", ...speedRows].join("\n"));
