// `nipq run --backend wasm --workers N` end to end (in-process CLI, TypeScript sources): the dumped logits
// are identical for 1 and 2 workers and to the reference backend, and the JSON names the backend.

import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/main.js";

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
      expect(doc.backend).toMatch(backend === "wasm" ? /^wasm-(simd|scalar)$/ : /^reference$/);
      dumps.push(readFileSync(file, "utf8"));
    }
    expect(dumps[1]).toBe(dumps[0]);
    expect(dumps[2]).toBe(dumps[0]);
  });
});
