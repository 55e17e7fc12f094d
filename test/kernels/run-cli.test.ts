// `nipq run --backend wasm --workers N` end to end (in-process CLI, TypeScript sources): the dumped logits
// are identical for 1 and 2 workers and to the reference backend, and the JSON names the backend. Without
// a WASM build, the default backend falls back to the reference kernels and says so. `--kernels` picks the
// build; the relaxed one (on Node 20 by setting V8 flags in this process) dumps the same logits.

import { describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "../../src/cli/main.js";
import { expectInputError, nipq } from "../helpers/cli.js";
import { requireRelaxed } from "../../src/kernels/wasm/loader.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    const code = await runCli(["node", "nipq", ...args]);
    return { code, out: chunks.join("") };
  } finally {
    process.stdout.write = write;
  }
}

describe("nipq run --backend wasm --workers", () => {
  it("1 worker, 2 workers and the reference dump identical logits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-run-"));
    const dumps: string[] = [];
    for (const [backend, workers] of [["wasm", "1"], ["wasm", "2"], ["reference", "1"]]) {
      const file = join(dir, `${backend}-${workers}.json`);
      const r = await run(["run", FIXTURE, "--data", "mnist", "--limit", "96", "--batch", "16", "--backend", backend, "--workers", workers, "--json", "--dump-logits", file]);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.out) as { backend: string; samples: number; workers: number };
      expect(doc.samples).toBe(96);
      expect(doc.workers).toBe(Number(workers));
      expect(doc.backend).toMatch(backend === "wasm" ? /^wasm-(relaxed|simd|scalar)$/ : /^reference$/);
      dumps.push(readFileSync(file, "utf8"));
    }
    expect(dumps[1]).toBe(dumps[0]);
    expect(dumps[2]).toBe(dumps[0]);
  });
});

describe("nipq run's default backend", () => {
  it("is wasm; without the WASM build it runs on the reference kernels with a one-line note, and --backend wasm is an error", () => {
    const built = nipq(["run", FIXTURE, "--data", "mnist", "--limit", "8", "--json"]);
    expect(built.code, built.stderr).toBe(0);
    expect(JSON.parse(built.stdout).backend).toMatch(/^wasm-(relaxed|simd|scalar)$/);
    // The package without build/: bin/ and dist/ only.
    const pkg = mkdtempSync(join(tmpdir(), "nipq-unbuilt-"));
    for (const f of ["bin", "dist", "package.json", "test/fixtures"]) cpSync(f, join(pkg, f), { recursive: true });
    symlinkSync(resolve("node_modules"), join(pkg, "node_modules"));
    const bin = join(pkg, "bin/nipq.mjs"); // the copy's own binary, which finds no build/ beside it
    const r = nipq(["run", FIXTURE, "--data", "mnist", "--limit", "8", "--json"], { cwd: pkg, bin });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^nipq: note: \S+nipq-simd\.wasm is missing \(run `npm run build`\), so this runs on the reference kernels: the same integers, slower\n$/);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ backend: "reference", samples: 8, backendFallback: expect.stringContaining("is missing") });
    expect(doc.accuracy).toBe(JSON.parse(built.stdout).accuracy);
    expectInputError(nipq(["run", FIXTURE, "--data", "mnist", "--limit", "8", "--backend", "wasm"], { cwd: pkg, bin }), /wasm kernels not built: \S+nipq-simd\.wasm is missing/);
  });
});

let noRelaxed: string | undefined;
try {
  requireRelaxed();
} catch (e) {
  noRelaxed = (e as Error).message;
}

describe("nipq run --kernels", () => {
  it("simd and scalar name their build; an unknown build is a usage error", async () => {
    for (const k of ["simd", "scalar"]) {
      const r = await run(["run", FIXTURE, "--data", "mnist", "--limit", "8", "--kernels", k, "--json"]);
      expect(JSON.parse(r.out).backend).toBe(`wasm-${k}`);
    }
    expect((await run(["run", FIXTURE, "--data", "mnist", "--kernels", "avx"])).code).toBe(2);
  });

  it.skipIf(!!noRelaxed)(`relaxed, 1 and 2 workers, dumps the logits of simd and says wasm-relaxed${noRelaxed ? ` (skipped: ${noRelaxed})` : ""}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-run-"));
    const dumps: string[] = [];
    for (const [k, workers] of [["simd", "1"], ["relaxed", "1"], ["relaxed", "2"]]) {
      const file = join(dir, `${k}-${workers}.json`);
      const r = await run(["run", FIXTURE, "--data", "mnist", "--limit", "96", "--batch", "16", "--kernels", k, "--workers", workers, "--json", "--dump-logits", file]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ backend: `wasm-${k}`, samples: 96, workers: Number(workers) });
      dumps.push(readFileSync(file, "utf8"));
    }
    expect(dumps[1]).toBe(dumps[0]);
    expect(dumps[2]).toBe(dumps[0]);
  });
});
