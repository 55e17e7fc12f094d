// `nipq export` as a user runs it (bin/nipq.mjs → dist/): the bundle's files, the --json document, the
// model copied byte for byte, replacing a previous bundle; and the exit-2 contract with nothing written
// for a missing or corrupt model, an occupied or unwritable --out, and a bad dataset.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expectInputError, nipq } from "../helpers/cli.js";
import { FIXTURE, requireBuilt } from "./helpers.js";

const FILES = ["bundle.json", "index.html", "model.qmodel", "nipq-relaxed.wasm", "nipq-runtime.mjs", "nipq-scalar.wasm", "nipq-simd.wasm", "samples.json"];

describe("nipq export", () => {
  let tmp: string;
  beforeAll(() => {
    requireBuilt();
    tmp = mkdtempSync(join(tmpdir(), "nipq-export-"));
  });

  it("writes the bundle and one JSON document; re-export replaces a previous bundle", () => {
    const out = join(tmp, "b");
    for (let round = 0; round < 2; round++) {
      const r = nipq(["export", FIXTURE, "--out", out, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.out).toBe(out);
      expect(doc.model).toMatchObject({ name: "cnn-s-w4a4-random", layers: 8, weightBytes: 46864, bytes: readFileSync(FIXTURE).length });
      // cnn-s W4A4 (scripts/make-fixture.ts): the first conv reads the 8-bit image.
      expect(doc.model.bits).toEqual([{ layer: "conv1", w: 4, a: 8 }, { layer: "conv2", w: 4, a: 4 }, { layer: "conv3", w: 4, a: 4 }, { layer: "dense", w: 4, a: 4 }]);
      expect(doc.samples).toEqual({ dataset: "mnist", n: 30 });
      expect(doc.budgets.ok).toBe(true);
      expect(doc.files.map((f: { name: string }) => f.name).sort()).toEqual(FILES);
      expect(readdirSync(out).sort()).toEqual(FILES);
      expect(readdirSync(tmp)).toEqual(["b"]); // no temp dir left beside it
    }
    expect(Buffer.compare(readFileSync(join(out, "model.qmodel")), readFileSync(FIXTURE))).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "bundle.json"), "utf8"));
    expect(manifest).toMatchObject({ format: "nipq-bundle", model: "model.qmodel", source: "cnn-s-w4a4-random.qmodel", classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] });
    for (const f of FILES.filter((f) => f !== "bundle.json")) expect(manifest.files[f]).toBe(readFileSync(join(out, f)).length);
    const samples = JSON.parse(readFileSync(join(out, "samples.json"), "utf8"));
    expect(samples.labels).toHaveLength(30);
    expect(Buffer.from(samples.pixels, "base64").length).toBe(30 * 784);
  });

  it("prints the files, the budgets and how to serve it", () => {
    const r = nipq(["export", FIXTURE, "--out", join(tmp, "human"), "--samples", "20"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nipq-runtime\.mjs\s+[\d,]+ B/);
    expect(r.stdout).toMatch(/budgets: runtime [\d.]+ KB of 30\.0 KB/);
    expect(r.stdout).toMatch(/20 mnist test images bundled/);
  });

  it("a missing model: exit 2, one line, nothing written", () => {
    const out = join(tmp, "missing");
    expectInputError(nipq(["export", join(tmp, "nope.qmodel"), "--out", out]), /nope\.qmodel: cannot read: no such file or directory/);
    expect(existsSync(out)).toBe(false);
  });

  it("a corrupt model: exit 2, one line naming the file, nothing written", () => {
    const bad = join(tmp, "bad.qmodel");
    const bytes = readFileSync(FIXTURE);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(bad, bytes);
    const parent = join(tmp, "corrupt-parent");
    expectInputError(nipq(["export", bad, "--out", join(parent, "b")]), /bad\.qmodel: checksum: expected CRC-32/);
    expect(existsSync(parent)).toBe(false);
  });

  it("an --out under a regular file: exit 2, nothing written", () => {
    const file = join(tmp, "a-file");
    writeFileSync(file, "x");
    expectInputError(nipq(["export", FIXTURE, "--out", join(file, "b")]), /cannot write the bundle: a parent is not a directory/);
    expect(readFileSync(file, "utf8")).toBe("x");
    expect(readdirSync(tmp).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("an --out that holds other files is left alone: exit 2", () => {
    const out = join(tmp, "occupied");
    mkdirSync(out);
    writeFileSync(join(out, "notes.txt"), "mine");
    expectInputError(nipq(["export", FIXTURE, "--out", out]), /occupied: cannot write the bundle: the directory exists and is not a nipq bundle/);
    expect(readdirSync(out)).toEqual(["notes.txt"]);
  });

  it("a bad dataset or --samples: exit 2, nothing written", () => {
    const out = join(tmp, "baddata");
    expectInputError(nipq(["export", FIXTURE, "--out", out, "--data", "idx:/nonexistent"]), /nonexistent/);
    expectInputError(nipq(["export", FIXTURE, "--out", out, "--samples", "-1"]), /--samples/);
    expect(existsSync(out)).toBe(false);
  });
});
