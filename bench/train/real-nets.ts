// Real network sizes (issue 16), a benchmark run, not a test: resnet20 and a small-input MobileNetV2 (×0.5)
// trained with `nipq train` on 32×32×3 data (Fashion-MNIST padded to 32×32 and copied to 3 channels, see
// scripts/fashion-npy32.ts), float first, then NIPQ W4A4 fine-tuned from the float run; each NIPQ checkpoint is
// lowered and run with `nipq run` on the WASM kernels (the first --test-limit test images), its logits compared bit for bit
// with the reference kernels on the first --exact images, and the tfjs eval model's predictions (the
// checkpoint reloaded with its deployed quantizers) compared with the integer program's on the first
// --test-limit images. Every command line is printed; a markdown summary ends the run.
//
//   npx tsx scripts/fashion-npy32.ts /tmp/f32
//   nice -n 10 npx tsx bench/train/real-nets.ts /tmp/f32 bench-out/real-nets [--limit 4000] [--float-epochs 2]
//       [--nipq-epochs 1] [--nipq-limit N] [--test-limit 2000] [--exact 200] [--archs resnet20,mobilenetv2]
//
// A float checkpoint already in OUT_DIR with all its --float-epochs is reused (its command is printed, marked so).

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { limitDataset } from "../../src/data/index.js";
import { selectBackend } from "../../src/train/backend.js";
import { loadTeacher, loadTrainingData, predict } from "../../src/train/trainer.js";

const argv = process.argv.slice(2);
const [dataDir, outDir] = argv;
if (!dataDir || !outDir) throw new Error("usage: npx tsx bench/train/real-nets.ts DATA_DIR OUT_DIR [--limit N] [--float-epochs N] [--nipq-epochs N] [--test-limit N] [--exact N]");
const arg = (name: string, def: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const limit = arg("limit", "4000");
const nipqLimit = arg("nipq-limit", limit);
const floatEpochs = arg("float-epochs", "2");
const nipqEpochs = arg("nipq-epochs", "1");
const testLimit = Number(arg("test-limit", "2000"));
const exact = arg("exact", "200");
const archs = arg("archs", "resnet20,mobilenetv2").split(",");
const data = `npy:${resolve(dataDir)}`;
const bin = fileURLToPath(new URL("../../bin/nipq.mjs", import.meta.url));

/** Runs `nipq ARGS` (printing the command line and its wall time) and returns its --json document. */
function nipq(args: string[]): Record<string, unknown> {
  console.log(`$ nipq ${args.join(" ")}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`nipq ${args[0]} failed (${r.status}): ${r.stderr}`);
  console.log(`  ${s.toFixed(1)} s, load average ${loadavg()[0].toFixed(2)}`);
  return args.includes("--json") ? JSON.parse(r.stdout) : {};
}

const epochsOf = (dir: string) => readFileSync(join(dir, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { epoch: number; testAcc: number; imagesPerSecond: number; loss: number });
const logitsOf = (f: string) => JSON.parse(readFileSync(f, "utf8")) as { logits: number[][]; predictions: number[]; labels: number[] };
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

await selectBackend("auto");
const { testSet, layout } = loadTrainingData({ data, limit: 1, testLimit });
const rows: string[] = [];
for (const arch of archs) {
  const width = arch === "mobilenetv2" ? ["--width", "0.5"] : [];
  const name = `${arch}${width.length ? "-x0.5" : ""}`;
  const common = ["--arch", arch, ...width, "--data", data, "--batch", "64", "--limit", limit, "--test-limit", String(testLimit), "--seed", "1", "--json"];
  const fdir = join(outDir, `${name}-float`);
  const qdir = join(outDir, `${name}-nipq-w4a4`);
  const floatArgs = ["train", ...common, "--method", "float", "--epochs", floatEpochs, "--out", fdir];
  const done = existsSync(join(fdir, "train.jsonl")) && epochsOf(fdir).length === Number(floatEpochs);
  if (done) console.log(`$ nipq ${floatArgs.join(" ")}\n  (reused: ${fdir} holds its ${floatEpochs} epochs)`);
  const f = done ? { accuracy: epochsOf(fdir).at(-1)!.testAcc } : nipq(floatArgs);
  const nipqCommon = common.map((v, i) => (common[i - 1] === "--limit" ? nipqLimit : v));
  const q = nipq(["train", ...nipqCommon, "--method", "nipq", "--bits", "4/4", "--epochs", nipqEpochs, "--init", fdir, "--out", qdir]);
  const qmodel = join(outDir, `${name}-nipq-w4a4.qmodel`);
  nipq(["lower", qdir, "--out", qmodel, "--json"]);
  const full = join(outDir, `${name}-wasm-logits.json`);
  const run = nipq(["run", qmodel, "--data", data, "--backend", "wasm", "--limit", String(testLimit), "--dump-logits", full, "--json"]);
  const wasmFile = join(outDir, `${name}-wasm-exact.json`);
  const refFile = join(outDir, `${name}-ref-exact.json`);
  nipq(["run", qmodel, "--data", data, "--backend", "wasm", "--limit", exact, "--dump-logits", wasmFile, "--json"]);
  const ref = nipq(["run", qmodel, "--data", data, "--backend", "reference", "--limit", exact, "--dump-logits", refFile, "--json"]);
  const same = JSON.stringify(logitsOf(wasmFile).logits) === JSON.stringify(logitsOf(refFile).logits);
  // The tfjs eval model: the checkpoint reloaded with its deployed quantizers and BN moving statistics.
  const teacher = loadTeacher(qdir, arch, layout, 1, width.length ? 0.5 : undefined);
  const tfPred = predict(teacher.net, limitDataset(testSet, testLimit));
  teacher.net.dispose();
  const intPred = logitsOf(full).predictions;
  let agree = 0;
  for (let i = 0; i < tfPred.length; i++) if (tfPred[i] === intPred[i]) agree++;
  const [fe, qe] = [epochsOf(fdir), epochsOf(qdir)];
  const ips = (l: { imagesPerSecond: number }[]) => l.map((e) => e.imagesPerSecond.toFixed(1)).join(", ");
  console.log(`${name}: float ${pct(f.accuracy as number)} (tfjs, ${testLimit} test images), NIPQ W4A4 ${pct(q.accuracy as number)} (tfjs eval), integer ${pct(run.accuracy as number)} on ${run.samples} images (wasm ${(run.imagesPerSecond as number).toFixed(0)} images/s); ` +
    `wasm = reference on ${exact} images: ${same}; tfjs vs integer predictions agree on ${agree}/${tfPred.length}; training images/s float [${ips(fe)}], nipq [${ips(qe)}]`);
  rows.push(`| ${name} | ${pct(f.accuracy as number)} | ${pct(q.accuracy as number)} | ${pct(run.accuracy as number)} | ${agree}/${tfPred.length} | ${same ? "yes" : "NO"} (${exact}) | ${ips(fe)} | ${ips(qe)} | ${(run.imagesPerSecond as number).toFixed(0)} | ${(ref.imagesPerSecond as number).toFixed(1)} |`);
}
console.log(`\ndata ${data} (${layout.input.join("×")}), float ${floatEpochs} epochs on --limit ${limit}, NIPQ W4A4 ${nipqEpochs} on --limit ${nipqLimit} from the float run, batch 64; accuracies on the first ${testLimit} test images`);
console.log("| arch | float (tfjs) | NIPQ W4A4 (tfjs eval) | NIPQ W4A4 integer (nipq run) | tfjs = integer prediction | wasm = reference logits | train images/s float | train images/s nipq | run wasm images/s | run reference images/s |");
console.log("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
