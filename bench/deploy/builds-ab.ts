// Kernel builds A/B on one model, in headless Chromium and (with --node) in this Node, for kernel work on a
// loaded machine: each build (bench/deploy/builds.ts; default this tree's build/nipq-simd.wasm and
// build/nipq-relaxed.wasm, or variants built elsewhere, NAME=FILE.wasm:flavor, the relaxed build optionally
// with its form forced, relaxed/i16 or relaxed/i32) runs the model in rounds of
// one window per build, the order rotated each round. Each window is timed by CPU time (in Node this
// process's; in Chromium the page's renderer main thread's, Linux /proc/…/schedstat, which lags by up to a
// scheduler tick), so the time other processes held the core drops out (caches and a shared hyperthread
// still do not). Prints
// per build the median over the rounds of its speed ÷ the first build's in the same round, the best
// images/s by CPU time and by wall time, and where its time goes per layer (in Node by the thread's CPU
// time; in Chromium by the page's coarse wall clock, so those are rough on a loaded machine).
//
//   npx tsx bench/deploy/builds-ab.ts [--model FILE.qmodel] [--batch N] [--node] [--no-chromium]
//       [--rounds R] [--window SECONDS] [--js-flags FLAGS (Chromium's V8)] [NAME=FILE.wasm:simd|relaxed[/i16|/i32]|scalar ...]

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { table } from "table";
import { edgeOnly } from "../../src/deploy/build.js";
import type { WasmFlavor } from "../../src/kernels/wasm/features.js";
import type { RelaxedForm } from "../../src/kernels/wasm/prepare.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";
import { CHROMIUM, CHROMIUM_FLAGS, FIXTURE, serve } from "../../test/deploy/helpers.js";
import { cpuMs, machine } from "../kernels/common.js";
import { openBuilds } from "./builds.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const model = arg("--model") ?? FIXTURE;
const batch = Number(arg("--batch") ?? 64);
const windowS = Number(arg("--window") ?? 0.15);
const rounds = Number(arg("--rounds") ?? 15);

interface Spec {
  name: string;
  file: string;
  flavor: WasmFlavor;
  relaxedForm?: RelaxedForm;
}

const given = args.filter((a) => /^[^-][^=]*=/.test(a)).map((a): Spec => {
  const m = /^([^=]+)=(.+):(simd|relaxed|scalar)(?:\/(i16|i32))?$/.exec(a);
  if (!m) throw new Error(`builds-ab: ${a}: expected NAME=FILE.wasm:simd|relaxed[/i16|/i32]|scalar`);
  return { name: m[1], file: m[2], flavor: m[3] as WasmFlavor, relaxedForm: m[4] as RelaxedForm | undefined };
});
const specs: Spec[] = given.length ? given : [{ name: "simd", file: "build/nipq-simd.wasm", flavor: "simd" }, { name: "relaxed", file: "build/nipq-relaxed.wasm", flavor: "relaxed" }];

/** Nanoseconds a thread has run (first field of its schedstat). */
const runNs = (path: string) => Number(readFileSync(path, "utf8").split(" ")[0]);

/** Where the builds run: window(b) runs build b for one window and returns [runs, CPU s, wall s]. */
interface Driver {
  same: boolean;
  layers: string[];
  /** What the per-layer profile is timed by. */
  profileClock: string;
  window(b: number): Promise<[number, number, number]>;
  profile(b: number): Promise<number[]>;
}

async function measure(title: string, d: Driver): Promise<void> {
  const cpu = specs.map(() => [] as number[]);
  const wall = specs.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (let i = 0; i < specs.length; i++) {
      const b = (i + r) % specs.length;
      const [k, c, w] = await d.window(b);
      cpu[b].push(c / k);
      wall[b].push(w / k);
    }
  const median = (v: number[]) => v.slice().sort((a, b) => a - b)[v.length >> 1];
  const perLayer: number[][] = [];
  for (let b = 0; b < specs.length; b++) perLayer.push(await d.profile(b));
  const head = ["", ...specs.map((s) => s.name)];
  const rows = [
    ["median round ratio × first (CPU time)", ...cpu.map((v) => `${median(v.map((t, r) => cpu[0][r] / t)).toFixed(2)}×`)],
    ["best images/s, CPU time", ...cpu.map((v) => (batch / Math.min(...v)).toFixed(0))],
    ["best images/s, wall time", ...wall.map((v) => (batch / Math.min(...v)).toFixed(0))],
    ...d.layers.map((l, i) => [`${l} ms (${d.profileClock})`, ...perLayer.map((ms) => `${ms[i].toFixed(2)} (${((100 * ms[i]) / ms.reduce((a, v) => a + v, 0)).toFixed(0)}%)`)]),
  ];
  console.log(`${title}, batch ${batch}, ${rounds} rounds of ${windowS} s windows; logits ${d.same ? "identical" : "DIFFER"}\n${table([head, ...rows])}`);
}

async function inNode(): Promise<void> {
  if (specs.some((s) => s.flavor === "relaxed")) requireRelaxed();
  const bs = await openBuilds(specs.map((s) => ({ ...s, bytes: readFileSync(s.file) })), readFileSync(model), batch);
  await measure(`Node ${process.version}`, {
    same: bs.same,
    layers: bs.layers,
    profileClock: "CPU",
    async window(b) {
      const c0 = cpuMs();
      const w0 = performance.now();
      const k = bs.run(b, windowS);
      return [k, (cpuMs() - c0) / 1000, (performance.now() - w0) / 1000];
    },
    profile: async (b) => bs.profile(b, cpuMs),
  });
}

/** The main threads of the renderer processes of the browser started with this profile directory (the page's JS and WASM run on one of them). */
function rendererThreads(profile: string): string[] {
  const cmd = (p: number | string) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8");
    } catch {
      return "";
    }
  };
  const browserPid = Number(readdirSync("/proc").find((p) => /^\d+$/.test(p) && cmd(p).includes(profile) && !cmd(p).includes("--type=")));
  const kids = (pid: number): number[] =>
    readdirSync(`/proc/${pid}/task`).flatMap((t) => {
      try {
        return readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    });
  const all: number[] = [];
  const walk = (pid: number) => kids(pid).forEach((k) => (all.push(k), walk(k)));
  walk(browserPid);
  return all.filter((p) => cmd(p).includes("--type=renderer")).map((p) => `/proc/${p}/task/${p}/schedstat`);
}

async function inChromium(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nipq-builds-ab-"));
  const version = execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    specs.forEach((s, i) => copyFileSync(s.file, join(dir, `b${i}.wasm`)));
    copyFileSync(model, join(dir, "model.qmodel"));
    const page = await build({ entryPoints: [join(HERE, "builds.ts")], bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent", plugins: [edgeOnly] });
    writeFileSync(join(dir, "builds.mjs"), page.outputFiles[0].text);
    writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>builds</title>`);
    const server = await serve(dir);
    const jsFlags = arg("--js-flags");
    const profile = join(dir, "profile");
    const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, ...(jsFlags ? [`--js-flags=${jsFlags}`] : [])] });
    try {
      const p = await browser.newPage();
      await p.goto(`${server.url}/index.html`);
      const plan = { specs: specs.map((s, i) => ({ ...s, url: `b${i}.wasm` })), batch };
      // Strings, not functions: tsx would rewrite a function's import() for Node.
      const opened = (await p.evaluate(`(async (plan) => {
        const m = await import(new URL("/builds.mjs", location.href).href);
        const bytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
        const builds = [];
        for (const s of plan.specs) builds.push({ ...s, bytes: await bytes(s.url) });
        globalThis.bench = await m.openBuilds(builds, await bytes("model.qmodel"), plan.batch);
        return { same: bench.same, layers: bench.layers };
      })(${JSON.stringify(plan)})`)) as { same: boolean; layers: string[] };
      const threads = rendererThreads(profile);
      if (!threads.length) throw new Error("builds-ab: no renderer process of this browser found in /proc");
      const cpuNs = () => threads.reduce((a, t) => a + runNs(t), 0);
      await measure(`${version}${jsFlags ? ` (--js-flags=${jsFlags})` : ""}`, {
        ...opened,
        profileClock: "wall",
        async window(b) {
          const c0 = cpuNs();
          const w0 = performance.now();
          const k = (await p.evaluate(`bench.run(${b}, ${windowS})`)) as number;
          return [k, (cpuNs() - c0) / 1e9, (performance.now() - w0) / 1000];
        },
        profile: async (b) => (await p.evaluate(`bench.profile(${b})`)) as number[],
      });
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(machine());
if (args.includes("--node")) await inNode();
if (!args.includes("--no-chromium")) await inChromium();
console.log(machine());
