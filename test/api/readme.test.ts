// The README's "Programmatic API" example, run verbatim as a user would: written to an .mjs inside the
// package (so `import … from "nipq-hw"` resolves to this package's dist/ through its "exports") and run
// with node. `npm test` builds dist/ first.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** The first ```js block after the "## Programmatic API" heading. */
export function readmeExample(readme = readFileSync("README.md", "utf8")): string {
  const at = readme.indexOf("## Programmatic API");
  if (at < 0) throw new Error('README.md: no "## Programmatic API" section');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error("README.md: no ```js block in the Programmatic API section");
  return m[1];
}

describe("README programmatic API example", () => {
  it("runs verbatim against the built package", () => {
    if (!existsSync("dist/index.js")) throw new Error("dist/index.js is missing: run `npm run build` (npm test does it first)");
    const code = readmeExample();
    expect(code).toMatch(/from "nipq-hw"/);
    mkdirSync("test-artifacts", { recursive: true });
    const file = join("test-artifacts", "readme-api.mjs");
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, `stderr:\n${r.stderr}`).toBe(0);
    const lines = r.stdout.trim().split("\n");
    // Line 1: the WASM backend's name, its predictions, and whether its logits equal the reference's.
    expect(r.stdout).toMatch(/^wasm-(simd|scalar) Int32Array\(8\)/);
    expect(lines.some((l) => /\] true$/.test(l)), `wasm logits differ from the reference's:\n${r.stdout}`).toBe(true);
    // Last line: the hw-model's name, clean and noisy accuracy, energy per inference.
    expect(lines[lines.length - 1]).toMatch(/^int8-systolic-16x16 [\d.]+ [\d.]+ [\d.]+$/);
  });
});
