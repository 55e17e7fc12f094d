// Size budgets of what a user ships (issue 7), uncompressed: runtime JS ≤ 30 KB (30,720 B; 34 KB with format 2,
// then 32 KB, until issue 18 made room; docs/DECISIONS.md "Runtime budget"), each .wasm ≤ 100 KB (102,400 B).
// Sizes are deterministic: the runtime bundled twice from the sources is the same bytes, and the same bytes
// as build/deploy/ (what `nipq export` copies). docs/RESULTS.md "Edge bundle" has the numbers and the
// peers'; bench/deploy/sizes.ts prints them.

import { readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUDGETS } from "../../src/deploy/bundle.js";
import { buildRuntimeText } from "../../src/deploy/build.js";
import { requireBuilt } from "./helpers.js";

describe("edge bundle size budgets", () => {
  it("the runtime bundles deterministically, to what build/deploy/ holds", async () => {
    requireBuilt();
    const [a, b] = await Promise.all([buildRuntimeText(), buildRuntimeText()]);
    expect(a).toBe(b);
    expect(readFileSync("build/deploy/nipq-runtime.mjs", "utf8"), "build/deploy/nipq-runtime.mjs is stale: run `npm run build:runtime`").toBe(a);
  });

  it("runtime JS ≤ 30 KB, each .wasm ≤ 100 KB", async () => {
    const runtime = Buffer.byteLength(await buildRuntimeText());
    const simd = statSync("build/nipq-simd.wasm").size;
    const scalar = statSync("build/nipq-scalar.wasm").size;
    const relaxed = statSync("build/nipq-relaxed.wasm").size;
    console.log(`edge bundle sizes: runtime ${runtime} B (budget ${BUDGETS.runtimeBytes}), nipq-simd.wasm ${simd} B, nipq-scalar.wasm ${scalar} B, nipq-relaxed.wasm ${relaxed} B (budget ${BUDGETS.wasmBytes} each)`);
    expect(BUDGETS).toEqual({ runtimeBytes: 30 * 1024, wasmBytes: 100 * 1024 });
    expect(runtime).toBeLessThanOrEqual(BUDGETS.runtimeBytes);
    expect(simd).toBeLessThanOrEqual(BUDGETS.wasmBytes);
    expect(scalar).toBeLessThanOrEqual(BUDGETS.wasmBytes);
    expect(relaxed).toBeLessThanOrEqual(BUDGETS.wasmBytes);
  });
});
