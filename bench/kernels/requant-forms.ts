// Which requant form each GEMM of a network runs on the WASM SIMD build (assembly/requant.ts requant_fit): per
// layer, its GEMM shape, proven accumulator range, output zero point and clamp, the range of its shifts s, and how
// many 8-channel groups take the f64 requant (ps = −2), the fitted one (−1), the shared shift raised to FIXED_S = 44,
// another shared shift, or the scalar i64 requant (0). A `nipq init` program (seed 1, cached as
// bench/kernels/scale.ts's), prepared by one run. Not a timing: the coverage that docs/RESULTS.md "Session 30" quotes.
//
//   npx tsx bench/kernels/requant-forms.ts mobilenetv2|resnet20|resnet18 8|4 [--build DIR]

import { i32View } from "../../src/kernels/wasm/arena.js";
import type { GemmDev, PreparedLayer } from "../../src/kernels/wasm/engine.js";
import { netProgram } from "./common.js";
import { nipqRunner } from "./model.js";

const [arch, bitsArg] = process.argv.slice(2);
if (!["resnet20", "mobilenetv2", "resnet18"].includes(arch) || !["8", "4"].includes(bitsArg)) {
  console.error("usage: npx tsx bench/kernels/requant-forms.ts mobilenetv2|resnet20|resnet18 8|4 [--build DIR]");
  process.exit(2);
}
const bits = Number(bitsArg);
const b = process.argv.indexOf("--build");
const p = await netProgram(arch, bits);
const r = nipqRunner(p, 1, "simd", { buildDir: b > 0 ? process.argv[b + 1] : undefined });
r.call();
const form = (S: number) => (S === -2 ? "f64" : S === -1 ? "fit" : S === 44 ? "S44" : S > 0 ? "shared" : "scalar");
const total: Record<string, number> = {};
for (const l of p.layers) {
  const pl = (r.engine as unknown as { prepared: Map<unknown, PreparedLayer> }).prepared.get(l); // the engine's cache (protected)
  if (!pl || (pl.kind !== "conv-gemm" && pl.kind !== "dense")) continue;
  const gemms: GemmDev[] = pl.kind === "conv-gemm" ? pl.gemms : [pl.gemm];
  for (const g of gemms) {
    const count: Record<string, number> = {};
    for (const S of i32View(r.engine.arena, g.ps, g.host.Np / 8)) {
      count[form(S)] = (count[form(S)] ?? 0) + 1;
      total[form(S)] = (total[form(S)] ?? 0) + 1;
    }
    const s = [...g.host.s];
    console.log(`${l.name.padEnd(12)} K ${g.host.K} N ${g.host.N}  acc [${pl.acc.min}, ${pl.acc.max}]  zy ${pl.zy}  clamp [${pl.clamp.lo}, ${pl.clamp.hi}]  s ${Math.min(...s)}…${Math.max(...s)}  ${JSON.stringify(count)}`);
  }
}
console.log(`groups per form: ${JSON.stringify(total)}`);
