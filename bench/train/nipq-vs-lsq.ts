// The NIPQ-vs-LSQ grid of docs/RESULTS.md "Training" (not a test): cnn-s on Fashion-MNIST, every run
// fine-tuned from ONE float checkpoint, NIPQ and LSQ at W3A3 / W2A2 (5 epochs) and W4A4 (2 epochs), three
// seeds, with the authors' recipe (SGD + the float checkpoint as teacher) and with this tool's earlier
// one (Adam, no teacher); then NIPQ mixed precision at W3A3's BOPs against uniform W3A3.
//
// Resumable: each run is one `nipq train` process writing its checkpoint to <out>/<run>/ (continued with
// --resume after an interruption) and, when it finishes, <out>/results/<run>.json and a line of
// <out>/results.jsonl; a run whose result file exists is skipped. At most --jobs runs at a time, each
// under `nice -n 10`. Runs go in priority order: the float checkpoint, W3A3 and W2A2, W4A4, mixed.
//
//   npx tsx bench/train/nipq-vs-lsq.ts --plan            the runs, their commands, which are done
//   npx tsx bench/train/nipq-vs-lsq.ts --run [--jobs 2]  run what is missing
//   npx tsx bench/train/nipq-vs-lsq.ts --table           mean ± sd tables from the result files
//   npx tsx bench/train/nipq-vs-lsq.ts --curves w2a2     per-epoch test accuracy, loss and α of that group
//   (all take [--out bench-out/nipq-grid] [--only SUBSTRING,…]; --run takes [--bin PATH]: a frozen copy of
//   bin/ + dist/ keeps a long grid on one version of the code while the tree changes)
//
// A reduced grid for a machine without the hours (every run's command records what was reduced):
//   --float DIR      an existing float checkpoint instead of training one (init and teacher of every run)
//   --limit N        the first N training images, --test-limit N the first N test images
//   --epochs E       E epochs for W3A3 / W2A2 / mixed (W4A4 keeps 2, or E if smaller)
//   --seeds 0,1      these seeds only
//   --start-until HH:MM   (with --run) start no run at or after this UTC time of day; runs going then finish

import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { bops, buildArch, layerBits } from "../../src/train/archs.js";

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const OUT = resolve(arg("out", "bench-out/nipq-grid")!);
const RESULTS = join(OUT, "results");
const JOBS = Number(arg("jobs", "2"));
/** --only a,b: the runs whose name contains one of the comma-separated substrings. */
const ONLY = arg("only")?.split(",");
const DATA = "fashion-mnist";
const FLOAT_EPOCHS = 5;
const SEEDS = (arg("seeds") ?? "0,1,2").split(",").map(Number);
const EPOCHS = Number(arg("epochs", "5"));
/** Reduced-data options passed to every quantized run (and the float one). */
const LIMITS = [...(arg("limit") ? ["--limit", arg("limit")!] : []), ...(arg("test-limit") ? ["--test-limit", arg("test-limit")!] : [])];
/** NIPQ's noise in every run here: the tool's default at the time of the grid (see RESULTS.md). */
const NOISE = "empirical";
const BIN = resolve(arg("bin", "bin/nipq.mjs")!);
/** --start-until HH:MM (UTC): the time of day after which --run starts nothing new (a shared machine's slot). */
const START_UNTIL = (() => {
  const v = arg("start-until");
  if (v === undefined) return undefined;
  const m = /^(\d{1,2}):(\d{2})$/.exec(v);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) {
    console.error(`nipq: --start-until: expected a UTC time of day HH:MM, found ${JSON.stringify(v)}`);
    process.exit(2);
  }
  const t = new Date();
  t.setUTCHours(Number(m[1]), Number(m[2]), 0, 0);
  return t.getTime();
})();

/** W3A3 BOPs of cnn-s in G (the first layer reads the 8-bit image): the mixed-precision budget. */
const W3A3_GBOPS = bops(layerBits(buildArch("cnn-s"), (id) => (id === "input" ? 8 : 3))) / 1e9;

export interface Run {
  name: string;
  group: string;
  method: "float" | "nipq" | "lsq";
  recipe: "authors" | "adam" | "float";
  bits: string;
  seed: number;
  epochs: number;
  args: string[];
}

const floatDir = resolve(arg("float") ?? join(OUT, "float"));
const FLOAT_GIVEN = arg("float") !== undefined;
const runs: Run[] = FLOAT_GIVEN ? [] : [{ name: "float", group: "float", method: "float", recipe: "float", bits: "32", seed: 0, epochs: FLOAT_EPOCHS, args: ["--method", "float", "--epochs", String(FLOAT_EPOCHS), "--seed", "0", ...LIMITS] }];
const recipeArgs = { authors: ["--optimizer", "sgd", "--teacher", floatDir], adam: ["--optimizer", "adam"] } as const;
function quantRun(group: string, bitsArgs: string[], bits: string, method: "nipq" | "lsq", recipe: "authors" | "adam", seed: number, epochs: number): Run {
  return {
    name: `${group}-${recipe}-${method}-s${seed}`, group, method, recipe, bits, seed, epochs,
    args: ["--method", method, ...bitsArgs, "--epochs", String(epochs), "--seed", String(seed), ...LIMITS, "--init", floatDir, ...recipeArgs[recipe], ...(method === "nipq" ? ["--noise", NOISE] : [])],
  };
}
// Priority 1: W3A3 and W2A2 at 5 epochs, seed by seed (so that a partial grid has whole seeds).
for (const seed of SEEDS) for (const b of [3, 2]) for (const recipe of ["authors", "adam"] as const) for (const m of ["nipq", "lsq"] as const) runs.push(quantRun(`w${b}a${b}`, ["--bits", `${b}/${b}`], `${b}/${b}`, m, recipe, seed, EPOCHS));
// Priority 2: W4A4 at 2 epochs.
for (const seed of SEEDS) for (const recipe of ["authors", "adam"] as const) for (const m of ["nipq", "lsq"] as const) runs.push(quantRun("w4a4", ["--bits", "4/4"], "4/4", m, recipe, seed, Math.min(2, EPOCHS)));
// Priority 3: NIPQ mixed precision under W3A3's BOPs, authors' recipe (its uniform peer: w3a3-authors-nipq).
for (const seed of SEEDS) runs.push(quantRun("mixed@w3a3", ["--target-bops", String(W3A3_GBOPS)], "learned", "nipq", "authors", seed, EPOCHS));

const selected = runs.filter((r) => ONLY === undefined || ONLY.some((o) => r.name.includes(o)));
const resultFile = (r: Run) => join(RESULTS, `${r.name}.json`);
const command = (r: Run) => ["nice", "-n", "10", "node", BIN, "train", "--arch", "cnn-s", "--data", DATA, ...r.args, "--out", join(OUT, r.name), "--json"];

interface Result {
  run: string;
  group: string;
  method: string;
  recipe: string;
  seed: number;
  epochs: number;
  accuracy: number;
  bops: number;
  bits: { layer: string; w: number; a: number }[];
  seconds: number;
  command: string;
  /** `git describe --always --dirty` of the tree when the grid was started. */
  code: string;
  finished: string;
}

const CODE = (() => {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();

function readResult(r: Run): Result | null {
  return existsSync(resultFile(r)) ? (JSON.parse(readFileSync(resultFile(r), "utf8")) as Result) : null;
}

/** Is a `nipq train` of this run alive already (another runner of the grid)? Its pid is in <out>/<run>.lock. */
function lockedElsewhere(r: Run): boolean {
  const lock = join(OUT, `${r.name}.lock`);
  if (!existsSync(lock)) return false;
  const pid = Number(readFileSync(lock, "utf8"));
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    rmSync(lock, { force: true }); // left by a runner that died
    return false;
  }
}

function runOne(r: Run): Promise<void> {
  const dir = join(OUT, r.name);
  const lock = join(OUT, `${r.name}.lock`);
  const cmd = command(r);
  if (existsSync(join(dir, "train-state.json"))) cmd.push("--resume"); // continue an interrupted run
  const t0 = Date.now();
  process.stderr.write(`[${new Date().toISOString()}] start ${r.name}: ${cmd.join(" ")}\n`);
  return new Promise((done, fail) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const fd = openSync(lock, "w");
    writeSync(fd, String(child.pid));
    closeSync(fd);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      rmSync(lock, { force: true });
      if (code !== 0) return fail(new Error(`${r.name}: exit ${code}: ${err.split("\n").filter((l) => l.startsWith("nipq:") || l.includes("Error")).slice(-3).join(" | ")}`));
      const doc = JSON.parse(out) as { accuracy: number; bops: number; bits: Result["bits"] };
      const res: Result = {
        run: r.name, group: r.group, method: r.method, recipe: r.recipe, seed: r.seed, epochs: r.epochs,
        accuracy: doc.accuracy, bops: doc.bops, bits: doc.bits, seconds: (Date.now() - t0) / 1000,
        command: command(r).slice(3).join(" ").replaceAll(resolve(".") + "/", ""), code: CODE, finished: new Date().toISOString(),
      };
      const tmp = `${resultFile(r)}.tmp`;
      writeFileSync(tmp, JSON.stringify(res, null, 1) + "\n");
      renameSync(tmp, resultFile(r));
      appendFileSync(join(OUT, "results.jsonl"), JSON.stringify(res) + "\n");
      process.stderr.write(`[${res.finished}] done ${r.name}: ${(100 * res.accuracy).toFixed(2)}% in ${(res.seconds / 60).toFixed(1)} min\n`);
      done();
    });
  });
}

async function runAll(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const todo = selected.filter((r) => !existsSync(resultFile(r)) && !lockedElsewhere(r));
  const floatReady = () => FLOAT_GIVEN || existsSync(resultFile(runs[0]));
  let failures = 0;
  const next = async (): Promise<void> => {
    for (;;) {
      // Every quantized run starts from (and distils from) the float checkpoint: it must finish first.
      const i = todo.findIndex((r) => r.method === "float" || floatReady());
      if (i < 0) {
        if (todo.length === 0) return;
        await new Promise((w) => setTimeout(w, 30_000)); // the float checkpoint is being trained (here or elsewhere)
        continue;
      }
      if (START_UNTIL !== undefined && Date.now() >= START_UNTIL) {
        process.stderr.write(`[${new Date().toISOString()}] --start-until ${arg("start-until")}: not started: ${todo.map((r) => r.name).join(", ") || "–"}\n`);
        todo.length = 0;
        return;
      }
      const [r] = todo.splice(i, 1);
      await runOne(r).catch((e) => {
        failures++;
        process.stderr.write(`FAILED ${(e as Error).message}\n`);
      });
    }
  };
  await Promise.all(Array.from({ length: JOBS }, next));
  if (failures) process.exitCode = 1;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => (v.length < 2 ? NaN : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));
const pct = (v: number[]) => (v.length === 0 ? "–" : `${(100 * mean(v)).toFixed(2)} ± ${v.length > 1 ? (100 * sd(v)).toFixed(2) : "?"} (n=${v.length})`);

function table(): void {
  const res = runs.map(readResult).filter((x): x is Result => x !== null);
  const float = res.find((r) => r.method === "float");
  console.log(`cnn-s on ${DATA}, fine-tuned from one float checkpoint (${FLOAT_GIVEN ? floatDir.replace(resolve(".") + "/", "") : float ? `${(100 * float.accuracy).toFixed(2)}% after ${FLOAT_EPOCHS} epochs` : "not done"}); test accuracy %, mean ± sd over seeds (sample sd).\n`);
  console.log("| bits | epochs | recipe | NIPQ | LSQ | NIPQ − LSQ | seeds (NIPQ / LSQ) |\n|---|---:|---|---:|---:|---:|---|");
  for (const g of ["w4a4", "w3a3", "w2a2"]) {
    for (const recipe of ["authors", "adam"]) {
      const pick = (m: string) => res.filter((r) => r.group === g && r.recipe === recipe && r.method === m).sort((a, b) => a.seed - b.seed);
      const [n, l] = [pick("nipq"), pick("lsq")];
      if (n.length + l.length === 0) continue;
      const diff = n.length && l.length ? (100 * (mean(n.map((r) => r.accuracy)) - mean(l.map((r) => r.accuracy)))).toFixed(2) : "–";
      const seeds = (v: Result[]) => v.map((r) => (100 * r.accuracy).toFixed(2)).join(", ");
      console.log(`| ${g.toUpperCase()} | ${(n[0] ?? l[0]).epochs} | ${recipe === "authors" ? "SGD + teacher" : "Adam"} | ${pct(n.map((r) => r.accuracy))} | ${pct(l.map((r) => r.accuracy))} | ${diff} | ${seeds(n)} / ${seeds(l)} |`);
    }
  }
  const mixed = res.filter((r) => r.group === "mixed@w3a3").sort((a, b) => a.seed - b.seed);
  const uni = res.filter((r) => r.group === "w3a3" && r.recipe === "authors" && r.method === "nipq").sort((a, b) => a.seed - b.seed);
  if (mixed.length) {
    console.log(`\nMixed precision, --target-bops ${W3A3_GBOPS} (W3A3), SGD + teacher, 5 epochs:\n`);
    console.log("| run | accuracy % | GBOPs (mean) | bits w/a per layer |\n|---|---:|---:|---|");
    console.log(`| NIPQ uniform W3A3 | ${pct(uni.map((r) => r.accuracy))} | ${uni.length ? (mean(uni.map((r) => r.bops)) / 1e9).toFixed(4) : "–"} | 3/8 3/3 3/3 3/3 |`);
    console.log(`| NIPQ mixed | ${pct(mixed.map((r) => r.accuracy))} | ${(mean(mixed.map((r) => r.bops)) / 1e9).toFixed(4)} | ${mixed.map((r) => r.bits.map((b) => `${b.w}/${b.a}`).join(" ")).join("; ")} |`);
  }
}

interface Epoch {
  epoch: number;
  loss: number;
  ce: number;
  kd?: number;
  testAcc: number;
  trace?: { step: number; loss?: number; alpha: Record<string, number> }[];
}

function curves(group: string): void {
  for (const r of runs.filter((x) => x.name.startsWith(group) || x.group === group)) {
    const f = join(OUT, r.name, "train.jsonl");
    if (!existsSync(f)) continue;
    const log = readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Epoch);
    const a = (e: Epoch) => e.trace?.[e.trace.length - 1]?.alpha ?? {};
    const first = log[0].trace?.[0]?.alpha ?? {};
    const ids = Object.keys(first);
    console.log(`\n${r.name}: test % ${log.map((e) => (100 * e.testAcc).toFixed(2)).join(" ")} | loss ${log.map((e) => e.loss.toFixed(3)).join(" ")} | ce ${log.map((e) => e.ce.toFixed(3)).join(" ")}${log[0].kd !== undefined ? ` | kd ${log.map((e) => e.kd!.toFixed(3)).join(" ")}` : ""}`);
    if (ids.length) console.log("  α " + ids.map((id) => `${id} ${first[id].toFixed(3)}→${log.map((e) => (a(e)[id] ?? NaN).toFixed(3)).join("→")}`).join("; "));
  }
}

if (flag("plan")) {
  for (const r of selected) console.log(`${existsSync(resultFile(r)) ? "done" : existsSync(join(OUT, r.name, "train-state.json")) ? "part" : "todo"}  ${r.name.padEnd(28)} ${command(r).slice(3).join(" ").replaceAll(resolve(".") + "/", "")}`);
} else if (flag("run")) {
  await runAll();
  table();
} else if (flag("table")) {
  table();
} else if (arg("curves")) {
  curves(arg("curves")!);
} else {
  console.error("usage: npx tsx bench/train/nipq-vs-lsq.ts --plan | --run [--jobs 2] | --table | --curves GROUP  [--out DIR] [--only SUBSTRING,…]");
  process.exitCode = 2;
}
