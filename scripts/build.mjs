#!/usr/bin/env node
// `npm run build`: the six WASM builds (asconfig.json targets), the TypeScript (dist/) and the edge runtime
// (build/deploy/), each skipped when its inputs are unchanged since it last succeeded. The freshness check
// hashes the inputs' contents (not mtimes: a fresh clone or a checkout touches every file), so a second
// `npm start` costs a fraction of a second of build, while an edited kernel or source file rebuilds what
// depends on it. The steps are independent and run side by side, one per core.
//
//   node scripts/build.mjs [wasm] [ts] [runtime] [--force]      (no step named: all of them)
//   node scripts/build.mjs --check        lists the steps that would rebuild; exit 1 when there are any
//
// Plain Node (no tsx): it must run before anything is compiled. Stamps: build/.stamps.json.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const STAMPS = join(ROOT, "build", ".stamps.json");
const ASCONFIG = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8"));

/**
 * binaryen's --converge loop re-optimizes until the binary stops shrinking; when the last round grows it, it
 * says "Last converge was suboptimal." and keeps it. Nothing to act on (the simulator builds still come out
 * 23–24 B smaller than after a single round; docs/DECISIONS.md), so the line is not passed on.
 */
const ASC_NOISE = /^Last converge was suboptimal\.\r?\n/gm;

/** A package's version (part of a step's inputs: a new compiler rebuilds). */
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")).version;

/** Runs a program; resolves with its output (stdout and stderr), rejects (after echoing it) when it fails. */
function run(what, cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", (code) => {
      out = out.replace(ASC_NOISE, "");
      if (code === 0) return resolve(out);
      process.stderr.write(out);
      reject(new Error(`${what} failed (exit ${code})`));
    });
  });
}

const node = process.execPath;
const bin = (pkg, file) => join(ROOT, "node_modules", pkg, file);

/** The steps: inputs (files or directories, hashed by content), outputs (all must exist), the command. */
const STEPS = [
  ...Object.entries(ASCONFIG.targets).map(([target, t]) => ({
    name: `wasm:${target}`,
    group: "wasm",
    // release builds are the edge kernels (assembly/index.ts; the relaxed-SIMD one adds its GEMM on top,
    // assembly/relaxed.ts); the others, the simulator's (assembly/sim.ts).
    inputs: ["assembly", "asconfig.json"],
    versions: ["assemblyscript"],
    outputs: [t.outFile, t.textFile].filter(Boolean),
    run: () => run(`asc --target ${target}`, node, [bin("assemblyscript", "bin/asc.js"), target === "release-relaxed" ? "assembly/relaxed.ts" : target.startsWith("release") ? "assembly/index.ts" : "assembly/sim.ts", "--target", target]),
  })),
  {
    name: "ts",
    group: "ts",
    inputs: ["src", "tsconfig.json", "tsconfig.build.json", "package.json"],
    versions: ["typescript"],
    outputs: ["dist/cli/main.js", "dist/index.js", "dist/index.d.ts"],
    run: () => run("tsc", node, [bin("typescript", "bin/tsc"), "-p", "tsconfig.build.json"]),
  },
  {
    name: "runtime",
    group: "runtime",
    inputs: ["src", "package.json"],
    versions: ["esbuild", "uglify-js", "tsx"],
    outputs: ["build/deploy/nipq-runtime.mjs", "build/deploy/index.html"],
    run: () => run("edge runtime", node, [bin("tsx", "dist/cli.mjs"), "src/deploy/build.ts"]),
  },
];

function files(path) {
  const abs = join(ROOT, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs, { recursive: true })
    .map((f) => join(path, f))
    .filter((f) => statSync(join(ROOT, f)).isFile())
    .sort();
}

/** sha256 over the step's definition, its tools' versions and every input file's path and bytes. */
function inputHash(step) {
  const h = createHash("sha256");
  h.update(JSON.stringify({ name: step.name, outputs: step.outputs, run: step.run.toString(), versions: step.versions.map((p) => `${p}@${version(p)}`) }));
  for (const f of step.inputs.flatMap(files)) h.update(`\0${f}\0`).update(readFileSync(join(ROOT, f)));
  return h.digest("hex");
}

function readStamps() {
  try {
    return JSON.parse(readFileSync(STAMPS, "utf8"));
  } catch {
    return {};
  }
}

function writeStamps(stamps) {
  mkdirSync(dirname(STAMPS), { recursive: true });
  writeFileSync(STAMPS + ".tmp", JSON.stringify(stamps, null, 2) + "\n");
  renameSync(STAMPS + ".tmp", STAMPS);
}

async function main() {
  const args = process.argv.slice(2);
  const force = args.includes("--force");
  const check = args.includes("--check");
  const groups = args.filter((a) => !a.startsWith("--"));
  for (const g of groups) if (!STEPS.some((s) => s.group === g)) throw new Error(`unknown step ${JSON.stringify(g)}: expected wasm, ts or runtime`);
  const chosen = STEPS.filter((s) => groups.length === 0 || groups.includes(s.group));
  const t0 = performance.now();
  const stamps = readStamps();
  const hashes = new Map(chosen.map((s) => [s.name, inputHash(s)]));
  const stale = chosen.filter((s) => force || stamps[s.name] !== hashes.get(s.name) || !s.outputs.every((o) => existsSync(join(ROOT, o))));
  if (check) {
    console.log(stale.length ? `build: stale: ${stale.map((s) => s.name).join(", ")}` : "build: up to date");
    process.exitCode = stale.length ? 1 : 0;
    return;
  }
  if (stale.length === 0) {
    console.log(`build: up to date (${chosen.map((s) => s.name).join(", ")}; checked in ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
    return;
  }
  // The steps are independent: up to one per core at a time, longest (tsc) first.
  const pending = [...stale].sort((a, b) => (b.name === "ts") - (a.name === "ts"));
  const worker = async () => {
    for (let s = pending.shift(); s; s = pending.shift()) {
      const t = performance.now();
      // The stamp goes before the step runs: a step that fails or is killed may already have written some of its
      // outputs (tsc emits despite type errors), and an input put back to its stamped content must not then
      // count as up to date.
      delete stamps[s.name];
      writeStamps(stamps);
      const out = (await s.run()).trim();
      stamps[s.name] = hashes.get(s.name);
      writeStamps(stamps);
      console.log(`build: ${s.name} (${((performance.now() - t) / 1000).toFixed(1)} s)${out ? `: ${out}` : ""}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), stale.length) }, worker));
  console.log(`build: ${stale.length} of ${chosen.length} steps rebuilt in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(`build: ${e.message}`);
  process.exit(1);
});
