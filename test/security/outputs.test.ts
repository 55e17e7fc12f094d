// What nipq promises about the files it writes and deletes (docs/SECURITY.md), as a user meets it: the real
// binary, run inside a temporary directory that holds a sentinel file. An empty path is a usage error for
// every path argument; no command removes a directory it did not make; an output directory is replaced
// only when it holds a previous output of the same command; a directory swap killed between its renames
// loses nothing, and what a killed run left behind is recognised and cleaned by the next one.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { beforeAll, describe, expect, it } from "vitest";
import { pathOption } from "../../src/cli/common.js";
import { buildProgram } from "../../src/cli/main.js";
import { expectInputError, nipq } from "../helpers/cli.js";
import { requireBuilt } from "../deploy/helpers.js";

const FIXTURE = resolve("test/fixtures/cnn-s-w4a4-random.qmodel");
const BUNDLE = ["bundle.json", "index.html", "model.qmodel", "nipq-relaxed.wasm", "nipq-runtime.mjs", "nipq-scalar.wasm", "nipq-simd.wasm", "samples.json"];

/** A fresh directory holding one file, `keep`, whose content must survive everything. */
function sentinelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nipq-sentinel-"));
  writeFileSync(join(dir, "keep"), "precious");
  return dir;
}

function expectIntact(dir: string, entries = ["keep"]): void {
  expect(readdirSync(dir).sort()).toEqual(entries.sort());
  expect(readFileSync(join(dir, "keep"), "utf8")).toBe("precious");
}

/** The id of a process that has exited (what a kill -9 leaves in a temporary file's name). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  expect(r.status).toBe(0);
  return r.pid!;
}

describe("path arguments: empty or blank is a usage error, never the current directory", () => {
  it("export --out '' in a directory holding a file: exit 2, the file and the directory untouched", () => {
    requireBuilt();
    const dir = sentinelDir();
    for (const out of ["", "   "]) {
      expectInputError(nipq(["export", FIXTURE, "--out", out], { cwd: dir }), /option '--out <dir>' argument '.*' is invalid\. expected a path, found "\s*"/);
      expectIntact(dir);
    }
  });

  it("every path option and argument of every command rejects '' before doing anything", () => {
    const dir = sentinelDir();
    const cases: string[][] = [
      ["run", FIXTURE, "--data", "mnist", "--limit", "2", "--dump-logits", ""],
      ["run", "", "--data", "mnist"],
      ["run", FIXTURE, "--data", ""],
      ["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "2", "--out", ""],
      ["simulate", FIXTURE, "--hw", "", "--data", "mnist"],
      ["sweep", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--vary", "noise.weightGaussian.sigma=0:1:2", "--out", " "],
      ["inspect", ""],
      ["lower", "", "--out", "m.qmodel"],
      ["lower", dir, "--out", ""],
      ["export", "", "--out", "b"],
      ["export-onnx", "", "--out", "m.onnx"],
      ["export-onnx", FIXTURE, "--out", " "],
      ["train", "--arch", "mlp", "--data", "mnist", "--method", "float", "--out", ""],
      ["train", "--arch", "mlp", "--data", "mnist", "--method", "float", "--out", "ck", "--init", ""],
      ["demo", "--out", ""],
      ["demo", "--model", ""],
    ];
    for (const args of cases) {
      expectInputError(nipq(args, { cwd: dir }), /expected a path, found "\s*"/);
      expectIntact(dir);
    }
  });

  it("the table of commands: every FILE, DIR, HW and D option and argument parses with pathOption", () => {
    const isPath = (placeholder: string) => /^<(file|dir|hw|d)>$|^\[(file|dir)\]$/i.test(placeholder);
    let checked = 0;
    for (const cmd of buildProgram().commands as Command[]) {
      for (const o of cmd.options) {
        const placeholder = o.flags.split(" ")[1] ?? "";
        if (!isPath(placeholder)) continue;
        expect(o.parseArg, `${cmd.name()} ${o.flags}`).toBe(pathOption);
        checked++;
      }
      for (const a of cmd.registeredArguments) {
        if (!isPath(`<${a.name()}>`)) continue;
        expect(a.parseArg, `${cmd.name()} <${a.name()}>`).toBe(pathOption);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });
});

describe("a file output that is a directory is refused before any work", () => {
  it("export-onnx, init and lower: one line naming the path, exit 2, the directory untouched", () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-out-dir-"));
    mkdirSync(join(dir, "d"));
    writeFileSync(join(dir, "d", "keep.txt"), "keep");
    expectInputError(nipq(["export-onnx", FIXTURE, "--out", "."], { cwd: dir }), /^nipq: \.: cannot write: is a directory$/);
    expectInputError(nipq(["export-onnx", FIXTURE, "--out", "d"], { cwd: dir }), /^nipq: d: cannot write: is a directory$/);
    expectInputError(nipq(["init", "--arch", "mlp", "--bits", "4/4", "--out", "d"], { cwd: dir }), /^nipq: d: cannot write: is a directory$/);
    expectInputError(nipq(["run", FIXTURE, "--data", "mnist", "--limit", "1", "--dump-logits", "d"], { cwd: dir }), /^nipq: d: cannot write: is a directory$/);
    expect(readdirSync(dir).sort()).toEqual(["d"]);
    expect(readdirSync(join(dir, "d"))).toEqual(["keep.txt"]);
  });
});

describe("a file output that is the command's input is refused before any work", () => {
  it("export-onnx, run --dump-logits, import and lower: one line naming both paths, exit 2, the input byte for byte as it was (also through a symlink and another spelling of the path)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-out-input-"));
    const model = readFileSync(FIXTURE);
    writeFileSync(join(dir, "m.qmodel"), model);
    symlinkSync("m.qmodel", join(dir, "link.qmodel"));
    writeFileSync(join(dir, "x.onnx"), "not parsed: the check comes first");
    mkdirSync(join(dir, "ck"));
    writeFileSync(join(dir, "ck", "graph.json"), "{}");
    writeFileSync(join(dir, "ck", "weights.bin"), "w");
    const refused = (args: string[], out: string, input: string) =>
      expectInputError(nipq(args, { cwd: dir }), new RegExp(`^nipq: ${out.replace(/\./g, "\\.")}: cannot write: it is the input ${input.replace(/\./g, "\\.")}; choose another output path$`));
    refused(["export-onnx", "m.qmodel", "--out", "m.qmodel"], "m.qmodel", "m.qmodel");
    refused(["export-onnx", "m.qmodel", "--out", "./../" + basename(dir) + "/m.qmodel"], "./../" + basename(dir) + "/m.qmodel", "m.qmodel");
    refused(["export-onnx", "link.qmodel", "--out", "m.qmodel"], "m.qmodel", "link.qmodel");
    refused(["run", "m.qmodel", "--data", "mnist", "--limit", "1", "--dump-logits", "m.qmodel"], "m.qmodel", "m.qmodel");
    refused(["import", "x.onnx", "--out", "x.onnx"], "x.onnx", "x.onnx");
    refused(["lower", "ck", "--out", "ck/graph.json"], "ck/graph.json", "ck/graph.json");
    refused(["lower", "ck", "--out", "ck/weights.bin"], "ck/weights.bin", "ck/weights.bin");
    expect(readdirSync(dir).sort()).toEqual(["ck", "link.qmodel", "m.qmodel", "x.onnx"]);
    expect(readFileSync(join(dir, "m.qmodel")).equals(model)).toBe(true);
    expect(readFileSync(join(dir, "x.onnx"), "utf8")).toBe("not parsed: the check comes first");
    expect(readFileSync(join(dir, "ck", "graph.json"), "utf8")).toBe("{}");
    expect(readFileSync(join(dir, "ck", "weights.bin"), "utf8")).toBe("w");
    expect(readdirSync(join(dir, "ck")).sort()).toEqual(["graph.json", "weights.bin"]);
    // Writing onto the symlink replaces the link, not the model it points to: allowed.
    expect(nipq(["export-onnx", "m.qmodel", "--out", "link.qmodel"], { cwd: dir }).code).toBe(0);
    expect(readFileSync(join(dir, "m.qmodel")).equals(model)).toBe(true);
  });
});

describe("export never removes what it did not make", () => {
  let dir: string;
  beforeAll(() => {
    requireBuilt();
    dir = sentinelDir();
  });

  it("refuses '.', '/', the parent of the current directory, an existing file and a directory that is not a bundle", () => {
    const sub = join(dir, "sub");
    mkdirSync(sub);
    expectInputError(nipq(["export", FIXTURE, "--out", "."], { cwd: dir }), /^nipq: \.: cannot write the bundle: it is the current directory or holds it/);
    expectInputError(nipq(["export", FIXTURE, "--out", "/"], { cwd: dir }), /^nipq: \/: cannot write the bundle: it is the current directory or holds it/);
    expectInputError(nipq(["export", FIXTURE, "--out", ".."], { cwd: sub }), /cannot write the bundle: it is the current directory or holds it/);
    expectInputError(nipq(["export", FIXTURE, "--out", "keep"], { cwd: dir }), /keep: cannot write the bundle: exists and is not a directory/);
    writeFileSync(join(sub, "notes.txt"), "mine");
    expectInputError(nipq(["export", FIXTURE, "--out", "sub"], { cwd: dir }), /sub: cannot write the bundle: the directory exists and is not a nipq bundle \(it holds notes\.txt\)/);
    expect(readFileSync(join(sub, "notes.txt"), "utf8")).toBe("mine");
    expectIntact(dir, ["keep", "sub"]);
  });

  it("replaces a previous bundle, but not one a user added a file to", () => {
    const r = nipq(["export", FIXTURE, "--out", "b", "--samples", "5"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, "b")).sort()).toEqual(BUNDLE);
    expect(nipq(["export", FIXTURE, "--out", "b", "--samples", "6"], { cwd: dir }).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "b", "samples.json"), "utf8")).labels).toHaveLength(6);
    writeFileSync(join(dir, "b", "README.txt"), "my notes");
    expectInputError(nipq(["export", FIXTURE, "--out", "b"], { cwd: dir }), /b: cannot write the bundle: the directory exists and is not a nipq bundle \(it holds README\.txt\)/);
    expect(readFileSync(join(dir, "b", "README.txt"), "utf8")).toBe("my notes");
    // A bundle.json that is not ours: not a bundle either.
    const fake = join(dir, "fake");
    mkdirSync(fake);
    writeFileSync(join(fake, "bundle.json"), JSON.stringify({ format: "something-else" }));
    expectInputError(nipq(["export", FIXTURE, "--out", "fake"], { cwd: dir }), /fake: cannot write the bundle: the directory exists and is not a nipq bundle/);
    expect(readdirSync(fake)).toEqual(["bundle.json"]);
    // An empty directory is filled (rename(2) replaces only an empty directory).
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(nipq(["export", FIXTURE, "--out", "empty", "--samples", "0"], { cwd: dir }).code).toBe(0);
    expect(readdirSync(empty).sort()).toEqual(BUNDLE);
    expect(readFileSync(join(dir, "keep"), "utf8")).toBe("precious");
  });

  it("a kill between the two renames loses nothing: the next run puts the previous bundle back, then cleans up", () => {
    const work = sentinelDir();
    expect(nipq(["export", FIXTURE, "--out", "b", "--samples", "3"], { cwd: work }).code).toBe(0);
    const previous = readFileSync(join(work, "b", "bundle.json"), "utf8");
    // The state a kill -9 after `rename(b → backup)` leaves: no b, the previous bundle under its backup name,
    // the new bundle (possibly half-written) under its temporary name; the process is gone.
    const pid = deadPid();
    cpSync(join(work, "b"), join(work, `.b.nipq-${pid}-k1ll3d.old`), { recursive: true });
    cpSync(join(work, "b"), join(work, `.b.nipq-${pid}-k1ll3d.tmp`), { recursive: true });
    readdirSync(join(work, "b")).forEach((f) => f !== "bundle.json" && writeFileSync(join(work, `.b.nipq-${pid}-k1ll3d.tmp`, f), ""));
    spawnSync("rm", ["-r", join(work, "b")]);
    expect(existsSync(join(work, "b"))).toBe(false);
    // The next export (here one that then fails on a corrupt model) restores b before anything else.
    const bad = join(work, "bad.qmodel");
    const bytes = readFileSync(FIXTURE);
    bytes[100] ^= 1;
    writeFileSync(bad, bytes);
    expectInputError(nipq(["export", bad, "--out", "b"], { cwd: work }), /bad\.qmodel: checksum/);
    expect(readFileSync(join(work, "b", "bundle.json"), "utf8")).toBe(previous);
    expect(readdirSync(work).sort()).toEqual(["b", "bad.qmodel", "keep"]);
    // Killed after the second rename: the new b is in place, the backup is stale: removed by the next run.
    cpSync(join(work, "b"), join(work, `.b.nipq-${pid}-l4t3r.old`), { recursive: true });
    expect(nipq(["export", FIXTURE, "--out", "b", "--samples", "4"], { cwd: work }).code).toBe(0);
    expect(readdirSync(work).sort()).toEqual(["b", "bad.qmodel", "keep"]);
    expect(JSON.parse(readFileSync(join(work, "b", "samples.json"), "utf8")).labels).toHaveLength(4);
  });

  it("leaves alone what a running process is writing, and a stale entry that holds foreign files", () => {
    const work = sentinelDir();
    const live = join(work, `.b.nipq-${process.pid}-busy0.tmp`); // this test's own pid: running
    mkdirSync(live);
    writeFileSync(join(live, "bundle.json"), "{}");
    const foreign = join(work, `.b.nipq-${deadPid()}-f0r3ign.tmp`);
    mkdirSync(foreign);
    writeFileSync(join(foreign, "thesis.tex"), "years of work");
    expect(nipq(["export", FIXTURE, "--out", "b", "--samples", "0"], { cwd: work }).code).toBe(0);
    expect(readdirSync(live)).toEqual(["bundle.json"]);
    expect(readFileSync(join(foreign, "thesis.tex"), "utf8")).toBe("years of work");
  });
});

describe("file outputs and reports", () => {
  it("a stale temporary file of a killed run is removed by the next write of the same file", () => {
    const dir = sentinelDir();
    const stale = `.l.json.nipq-${deadPid()}-dead0.tmp`;
    writeFileSync(join(dir, stale), "half a dump");
    const r = nipq(["run", FIXTURE, "--data", "mnist", "--limit", "3", "--dump-logits", "l.json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expectIntact(dir, ["keep", "l.json"]);
  });

  it("simulate --out writes report.json and report.html as one directory, and replaces only a previous report", () => {
    const dir = sentinelDir();
    const sim = (out: string) => nipq(["simulate", FIXTURE, "--hw", "lowbit-npu", "--data", "mnist", "--limit", "4", "--trials", "1", "--out", out], { cwd: dir });
    expect(sim("rep").code).toBe(0);
    expect(readdirSync(join(dir, "rep")).sort()).toEqual(["report.html", "report.json"]);
    expect(sim("rep").code).toBe(0); // a previous report: replaced
    expectInputError(sim("."), /cannot write the simulate report: it is the current directory/);
    mkdirSync(join(dir, "mine"));
    writeFileSync(join(dir, "mine", "data.csv"), "1,2");
    expectInputError(sim("mine"), /mine: cannot write the simulate report: the directory exists and is not a nipq simulate report \(it holds data\.csv\)/);
    expect(readdirSync(join(dir, "mine"))).toEqual(["data.csv"]);
    expectIntact(dir, ["keep", "mine", "rep"]);
  });
});
