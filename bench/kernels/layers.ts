// Where a network's time goes, per layer and per kernel, on the WASM SIMD build: a `nipq init` program
// (seed 1, cached as bench/kernels/scale.ts's) run by the whole-program runner (bench/kernels/model.ts
// nipqRunner), each layer's engine.exec timed, and inside it each im2col_s16 call, so that a convolution's
// GEMM time (and GMAC/s) is its time less its im2col's. Prints one row per layer (op, GEMM shape M×Kp×N,
// ms, share, GMAC/s of the layer and of its GEMM part) and the totals per kind of work; each figure is the
// best over `--reps` windows of 5 runs. Times are this process's CPU time (process.cpuUsage, as
// bench/kernels/ab.ts): on the shared machine the time other processes hold the core drops out (caches and
// a shared hyperthread still do not). Quote them with the load (printed before and after).
//
// 3×3 stride-1 convolutions run as Winograd F(2×2, 3×3) where the proof admits them (src/kernels/wasm/winograd.ts;
// shape "winograd 16×T×C×N": 16 GEMMs of T tiles); `--no-winograd` keeps the im2col GEMM for every layer.
//
//   npx tsx bench/kernels/layers.ts resnet20|mobilenetv2|resnet18 8|4 [--batch N] [--reps R] [--build DIR] [--im2col-chunk BYTES] [--no-winograd] [--winograd-chunk BYTES] [--json]

import { table } from "table";
import { layerMacs } from "../../src/ir/stats.js";
import type { KernelExports } from "../../src/kernels/wasm/features.js";
import { cpuMs, machine, netProgram } from "./common.js";
import { nipqRunner } from "./model.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const [arch, bitsArg] = process.argv.slice(2);
if (!["resnet20", "mobilenetv2", "resnet18"].includes(arch) || !["8", "4"].includes(bitsArg)) {
  console.error("usage: npx tsx bench/kernels/layers.ts resnet20|mobilenetv2|resnet18 8|4 [--batch N] [--reps R] [--build DIR] [--im2col-chunk BYTES] [--no-winograd] [--winograd-chunk BYTES] [--json]");
  process.exit(2);
}
const bits = Number(bitsArg);
const json = process.argv.includes("--json");
const p = await netProgram(arch, bits);
const n = Number(arg("--batch") ?? (arch === "resnet20" ? 8 : 1));
const reps = Number(arg("--reps") ?? 5);
const chunk = arg("--im2col-chunk");
if (!json) console.log(machine());

const r = nipqRunner(p, n, "simd", { buildDir: arg("--build"), im2colChunkBytes: chunk ? Number(chunk) : undefined, winograd: !process.argv.includes("--no-winograd"), winogradChunkBytes: arg("--winograd-chunk") ? Number(arg("--winograd-chunk")) : undefined });
const e = r.engine;
const L = p.layers.length;
let cur = 0;
let layerT = new Float64Array(L);
let colT = new Float64Array(L);
const exec = e.exec;
e.exec = function (l, ...rest) {
  cur = p.layers.indexOf(l);
  const t = cpuMs();
  exec.call(this, l, ...rest);
  layerT[cur] += cpuMs() - t;
};
const k = e.k;
const im2col = k.im2col_s16;
(e as { k: KernelExports }).k = {
  ...k,
  im2col_s16: (...a: Parameters<KernelExports["im2col_s16"]>) => {
    const t = cpuMs();
    im2col(...a);
    colT[cur] += cpuMs() - t;
  },
};
r.call();
const best = new Float64Array(L).fill(Infinity);
const bestCol = new Float64Array(L).fill(Infinity);
const bestTotal = { ms: Infinity };
for (let rep = 0; rep < reps; rep++) {
  layerT = new Float64Array(L);
  colT = new Float64Array(L);
  const runs = 5;
  const t0 = cpuMs();
  for (let i = 0; i < runs; i++) r.call();
  const total = (cpuMs() - t0) / runs;
  // Slot 0: the input conversion and the runner's own work (the run's time outside every exec).
  layerT[0] = total * runs - layerT.reduce((a, b) => a + b, 0);
  bestTotal.ms = Math.min(bestTotal.ms, total);
  for (let i = 0; i < L; i++) {
    best[i] = Math.min(best[i], layerT[i] / runs);
    bestCol[i] = Math.min(bestCol[i], colT[i] / runs);
  }
}

const shapes = p.layers.map((l, i) => {
  if (i === 0 || (l.op !== "conv2d" && l.op !== "dense")) return "";
  const prep = e.prepare(l, p.layers[l.inputs[0]].out);
  if (prep.kind === "dense") return `${n}×${prep.gemm.host.Kp}×${prep.gemm.host.N}`;
  if (prep.kind === "depthwise") return `depthwise ${prep.geo.kh}×${prep.geo.kw}/${prep.geo.sh}`;
  if (prep.kind === "winograd") return `winograd 16×${n * Math.ceil(prep.geo.OH / 2) * Math.ceil(prep.geo.OW / 2)}×${prep.Kp}×${prep.outC} c${prep.container}`;
  if (prep.kind !== "conv-gemm") return "";
  const g = prep.geo;
  return `${n * g.OH * g.OW}×${prep.gemms[0].host.Kp}×${prep.gemms[0].host.N}${prep.groups > 1 ? ` ×${prep.groups}` : ""}${prep.direct ? " direct" : ""}`;
});
const total = best.reduce((a, b) => a + b, 0);
const rows = p.layers
  .map((l, i) => {
    const macs = i === 0 ? 0 : layerMacs(p, i) * n;
    const col = bestCol[i];
    return {
      layer: i === 0 ? "input→i16 + runner" : l.name,
      op: i === 0 ? "input" : l.op,
      shape: shapes[i],
      ms: best[i],
      share: best[i] / total,
      gmacs: macs ? macs / best[i] / 1e6 : 0,
      im2colMs: col,
      gemmGmacs: macs ? macs / (best[i] - col) / 1e6 : 0,
    };
  })
  .filter((row) => row.op !== "flatten");

// Totals per kind of work.
const kinds = new Map<string, number>();
const add = (kind: string, v: number) => kinds.set(kind, (kinds.get(kind) ?? 0) + v);
for (const row of rows) {
  if (row.op === "conv2d" && row.shape.startsWith("depthwise")) add("depthwise", row.ms);
  else if (row.op === "conv2d" && row.shape.startsWith("winograd")) add("Winograd convs", row.ms);
  else if (row.op === "conv2d") {
    add("conv GEMM", row.ms - row.im2colMs);
    if (row.im2colMs) add("im2col", row.im2colMs);
  } else add(row.op === "input" ? "input→i16 + runner" : row.op, row.ms);
}
const macsTotal = p.layers.reduce((a, _, i) => a + (i ? layerMacs(p, i) : 0), 0) * n;

if (json) {
  console.log(JSON.stringify({ machine: machine(), arch, bits, batch: n, bestRunMs: bestTotal.ms, sumOfBestLayersMs: total, rows, kinds: Object.fromEntries(kinds) }, null, 2));
} else {
  const f = (v: number, d = 2) => (v ? v.toFixed(d) : "");
  console.log(table([["layer", "op", "GEMM M×Kp×N", "ms", "share", "GMAC/s", "im2col ms", "GEMM GMAC/s"], ...rows.map((row) => [row.layer, row.op, row.shape, f(row.ms, 3), `${(100 * row.share).toFixed(1)}%`, f(row.gmacs), f(row.im2colMs, 3), f(row.gemmGmacs)])]));
  console.log(`${arch} W${bits}A${bits} batch ${n}: best run ${bestTotal.ms.toFixed(2)} ms (${(macsTotal / bestTotal.ms / 1e6).toFixed(2)} GMAC/s); sum of the layers' best ${total.toFixed(2)} ms`);
  console.log([...kinds].sort((a, b) => b[1] - a[1]).map(([kind, v]) => `${kind} ${v.toFixed(2)} ms (${((100 * v) / total).toFixed(1)}%)`).join(", "));
  console.log(machine());
}
