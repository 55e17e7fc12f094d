// The edge at full speed (issue 18): images/s of cnn-s W4A4 (the test fixture) and mobilenetv2 ×1.0 W4A4
// (224×224×3, 1000 classes, a `nipq init` program cached as bench/kernels/scale.ts caches it) at batch 1 and
// 64, through the exported bundle's runtime — scalar, SIMD, relaxed SIMD, and a pool of 2 workers — and
// through onnxruntime-web int8 (the `nipq export-onnx` graph) and tfjs-backend-wasm fp32, each 1 thread,
// first in Node, then in one headless Chromium page (Debian's /usr/bin/chromium via playwright-core) served
// from 127.0.0.1 with the peers from node_modules. The same code measures both (bench/deploy/suite.ts);
// ratios are against onnxruntime-web in the same environment and run. Not a test: nothing asserts a time.
//
//   npm run bench:browser [-- --json] [-- --quick] [-- --only cnn-s|mobilenetv2] [-- --no-node]

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { table } from "table";
import { writeBundle } from "../../src/deploy/bundle.js";
import { readQModel } from "../../src/ir/io.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";
import { exportOnnx } from "../../src/onnx/export.js";
import { CHROMIUM, CHROMIUM_FLAGS, serve } from "../../test/deploy/helpers.js";
import { cachedInit, machine, ortWeb, tfWasm } from "../kernels/common.js";
import { ROWS, runCase, type Case, type CaseResult } from "./suite.js";

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = args.includes("--quick");
const json = args.includes("--json");
const WORKERS = 2;

interface Model {
  name: string;
  file: string;
  batches: number[];
}

async function models(): Promise<Model[]> {
  const all = [
    { name: "cnn-s W4A4", key: "cnn-s", file: async () => "test/fixtures/cnn-s-w4a4-random.qmodel" },
    {
      name: "mobilenetv2 W4A4",
      key: "mobilenetv2",
      file: () => cachedInit("mobilenetv2-224x224x3-1000-w4a4", { arch: "mobilenetv2", bits: { w: 4, a: 4 }, input: [224, 224, 3], classes: 1000, seed: 1 }),
    },
  ];
  const only = arg("--only");
  const out: Model[] = [];
  for (const m of all.filter((m) => !only || m.key === only)) out.push({ name: m.name, file: await m.file(), batches: [1, 64] });
  return out;
}

/** The bench page's directory: a bundle (runtime, kernels), the models and their ONNX graphs, the peers' files, the page. */
async function pageDir(ms: Model[]): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), "nipq-bench-browser-")), "site");
  writeBundle(ms[0].file, dir, { data: "mnist", samples: 0 });
  ms.forEach((m, i) => {
    copyFileSync(m.file, join(dir, `m${i}.qmodel`));
    writeFileSync(join(dir, `m${i}.onnx`), exportOnnx(readQModel(m.file)).bytes);
  });
  symlinkSync(dirname(require.resolve("onnxruntime-web")).replace(/dist.*$/, "dist"), join(dir, "ort"));
  symlinkSync(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist"), join(dir, "tfjs"));
  symlinkSync(join(dirname(require.resolve("@tensorflow/tfjs/package.json")), "dist", "tf.min.js"), join(dir, "tf.min.js"));
  const page = await build({ entryPoints: [join(HERE, "page.ts")], bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent" });
  writeFileSync(join(dir, "bench.js"), page.outputFiles[0].text);
  writeFileSync(join(dir, "bench.html"), `<!doctype html><meta charset="utf-8"><title>nipq bench</title><script src="tf.min.js"></script><script src="tfjs/tf-backend-wasm.min.js"></script><script type="module" src="bench.js"></script>`);
  return dir;
}

function cases(ms: Model[]): (Omit<Case, "qmodel" | "onnx"> & { index: number })[] {
  return ms.flatMap((m, index) => m.batches.map((batch) => ({ index, model: m.name, batch, workers: WORKERS, minSeconds: quick ? 0.1 : 0.3, reps: quick ? 2 : 4 })));
}

/** Runs one case, saying on stderr what runs (mobilenetv2 at batch 64 takes minutes on the scalar build). */
async function progress<T>(where: string, c: { model: string; batch: number }, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  process.stderr.write(`bench:browser: ${where}, ${c.model}, batch ${c.batch} …`);
  const r = await f();
  process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return r;
}

function render(title: string, rs: CaseResult[]): string {
  const f = (v: number | string, ort: number | string) => (typeof v === "string" ? v : `${v >= 100 ? v.toFixed(0) : v.toPrecision(3)} (${typeof ort === "number" ? (v / ort).toFixed(2) : "?"}×)`);
  const head = ["images/s (× onnxruntime-web)", ...rs.map((r) => `${r.model}, batch ${r.batch}`)];
  const rows = ROWS.map((row) => [row.replace("workers", `${WORKERS} workers`), ...rs.map((r) => f(r.imagesPerSecond[row], r.imagesPerSecond["onnxruntime-web"]))]);
  const checks = ["checks", ...rs.map((r) => `nipq rows ${r.nipqRowsAgree ? "identical" : "DIFFER"}; ort argmax = nipq's on ${(100 * r.ortAgrees).toFixed(0)}%`)];
  return `${title}\n${table([head, ...rows, checks])}`;
}

async function main(): Promise<void> {
  const ms = await models();
  const dir = await pageDir(ms);
  const server = await serve(dir);
  const out: { node?: CaseResult[]; chromium?: CaseResult[]; chromiumVersion?: string; machine: string } = { machine: machine() };
  const log = (s: string) => json || console.log(s);
  try {
    log(out.machine);
    if (!args.includes("--no-node")) {
      // Node 20 computes relaxed SIMD right only with the flags `nipq run --kernels relaxed` sets (docs/DECISIONS.md);
      // set them here too so the relaxed rows run in Node where they can (the runtime's probe still decides).
      try {
        requireRelaxed();
      } catch (e) {
        log(`Node: relaxed SIMD rows n/a: ${(e as Error).message}`);
      }
      const rt = (await import(pathToFileURL(join(dir, "nipq-runtime.mjs")).href)) as typeof import("../../src/deploy/runtime.js");
      const env = { rt, ort: await ortWeb(), tf: await tfWasm() };
      out.node = [];
      for (const c of cases(ms)) out.node.push(await progress("Node", c, () => runCase(env, { ...c, qmodel: readFileSync(join(dir, `m${c.index}.qmodel`)), onnx: readFileSync(join(dir, `m${c.index}.onnx`)) })));
      log(render(`Node ${process.version} (onnxruntime-web and tfjs-backend-wasm in Node, 1 thread; the pool: worker_threads)`, out.node));
    }
    const version = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    out.chromiumVersion = version;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${server.url}/bench.html`);
      await page.waitForFunction(() => "benchCase" in window, undefined, { timeout: 30_000 });
      out.chromium = [];
      for (const c of cases(ms)) {
        const pc = { ...c, qmodelUrl: `m${c.index}.qmodel`, onnxUrl: `m${c.index}.onnx` };
        out.chromium.push(await progress("Chromium", c, () => page.evaluate((x) => (window as unknown as { benchCase: (c: unknown) => Promise<CaseResult> }).benchCase(x), pc)));
      }
      if (errors.length) throw new Error(`the bench page failed: ${errors[0]}`);
    } finally {
      await browser.close();
    }
    log(render(`${version}, headless, one page (no COOP/COEP: onnxruntime-web and tfjs-wasm 1 thread; the pool: module Web Workers)`, out.chromium));
    log(machine());
    if (json) console.log(JSON.stringify(out, null, 2));
  } finally {
    await server.close();
    rmSync(dirname(dir), { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`bench:browser: ${e.message}`);
  process.exit(1);
});
