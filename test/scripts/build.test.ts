// The incremental build (scripts/build.mjs): a step is fresh when its inputs hash as they did when it last
// succeeded and its outputs exist; an edited kernel rebuilds the WASM builds, an edited source the
// TypeScript and the edge runtime; a step that failed is stale. Checked with --check on a copy of the tree (nothing is
// compiled there but one failing bundle of the edge runtime).

import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(".");
const copy = mkdtempSync(join(tmpdir(), "nipq-build-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

function check(): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(copy, "scripts", "build.mjs"), "--check"], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("incremental build", () => {
  it("skips unchanged steps and rebuilds exactly the ones whose inputs changed", () => {
    for (const f of ["scripts", "assembly", "src", "asconfig.json", "tsconfig.json", "tsconfig.build.json", "package.json"]) cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    expect(check()).toEqual({ code: 1, out: "build: stale: wasm:release, wasm:release-scalar, wasm:release-relaxed, wasm:debug, wasm:sim, wasm:sim-scalar, ts, runtime\n" });
    // The built outputs and their stamps, as `npm test` (pretest) left them here.
    for (const f of ["build", "dist"]) cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    expect(check()).toEqual({ code: 0, out: "build: up to date\n" });
    appendFileSync(join(copy, "assembly", "gemm.ts"), "\n// an edited kernel\n");
    expect(check().out).toBe("build: stale: wasm:release, wasm:release-scalar, wasm:release-relaxed, wasm:debug, wasm:sim, wasm:sim-scalar\n");
    cpSync(join(ROOT, "assembly"), join(copy, "assembly"), { recursive: true });
    expect(check().out).toBe("build: up to date\n"); // content, not mtime, decides
    appendFileSync(join(copy, "src", "cli", "run.ts"), "\n// an edited source\n");
    expect(check().out).toBe("build: stale: ts, runtime\n");
    rmSync(join(copy, "src", "cli", "run.ts"));
    cpSync(join(ROOT, "src"), join(copy, "src"), { recursive: true });
    rmSync(join(copy, "dist", "cli", "main.js"));
    expect(check().out).toBe("build: stale: ts\n"); // a missing output rebuilds its step
  });

  it("a step that fails stays stale after its input is put back (it may have written outputs: tsc emits despite errors)", () => {
    cpSync(join(ROOT, "dist"), join(copy, "dist"), { recursive: true });
    expect(check().out).toBe("build: up to date\n");
    const runtime = join(copy, "src", "deploy", "runtime.ts");
    const good = readFileSync(runtime);
    appendFileSync(runtime, "\nexport const = ;\n"); // a syntax error: the edge runtime's bundler fails
    const r = spawnSync(process.execPath, [join(copy, "scripts", "build.mjs"), "runtime"], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).not.toBe(0);
    writeFileSync(runtime, good);
    expect(check().out).toBe("build: stale: runtime\n");
  });
});
