import { describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildProgram } from "../../src/cli/main.js";
import { loadDataset } from "../../src/data/index.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";
const tmp = () => mkdtempSync(join(tmpdir(), "nipq-cli-"));

describe("nipq inspect", () => {
  it("prints a table with per-layer figures and totals", () => {
    const r = nipq(["inspect", FIXTURE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/conv2\s*│ conv2d\s*│ 14×14×32 │ 14×14×64 │ 4\s*│ 4\s*│ 3,612,672/);
    expect(r.stdout).toMatch(/total .*7,452,416 .*122,851,328 .*46,864/);
    // The 28×28×32 conv1 output (4-bit: 12,544 B) live beside the 14×14×32 pool1 output (3,136 B); --help says it is printed.
    expect(r.stdout).toMatch(/^peak activation bytes: 15,680 \(one inference/m);
    expect(nipq(["inspect", "--help"]).stdout.replace(/\s+/g, " ")).toContain("the peak activation bytes of one inference");
  });

  it("--json has the keys of DESIGN.md §5", () => {
    const r = nipq(["inspect", FIXTURE, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc.layers[1])).toEqual(expect.arrayContaining(["name", "op", "inShape", "outShape", "wBits", "aBits", "macs", "weightBytes"]));
    // conv1: 28·28·32 outputs × 3·3·1 weights = 225,792 MACs; 288 weights × 4 bits = 144 bytes.
    expect(doc.layers[1]).toMatchObject({ name: "conv1", op: "conv2d", inShape: [28, 28, 1], outShape: [28, 28, 32], wBits: 4, aBits: 8, macs: 225792, weightBytes: 144 });
    // totals: MACs 225,792 + 3,612,672 + 3,612,672 + 1,280 = 7,452,416;
    // BOPs 225,792·4·8 + (3,612,672 + 3,612,672 + 1,280)·4·4 = 7,225,344 + 115,625,984 = 122,851,328.
    expect(doc.totals).toMatchObject({ macs: 7452416, bops: 122851328, weightBytes: 46864, peakActivationBytes: 15680 });
  });

  it("--weights adds every integer and attribute", () => {
    const doc = JSON.parse(nipq(["inspect", FIXTURE, "--json", "--weights"]).stdout);
    const c1 = doc.layers[1];
    expect(c1.weights).toHaveLength(288);
    expect(c1.bias).toHaveLength(32);
    expect(c1.m).toHaveLength(32);
    expect(c1.s).toHaveLength(32);
    expect(c1).toMatchObject({ lo: 0, hi: 15, kernel: [3, 3], stride: [1, 1], padding: "same", groups: 1, inputs: [0] });
    expect(Math.max(...c1.weights.map(Math.abs))).toBeLessThanOrEqual(7);
    expect(doc.layers[2]).toMatchObject({ kernel: [2, 2], stride: [2, 2], padding: "valid" });
  });
});

describe("nipq run", () => {
  it("runs the reference backend and reports accuracy and throughput as JSON", () => {
    const r = nipq(["run", FIXTURE, "--data", "mnist", "--backend", "reference", "--limit", "40", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    // The fixture has random weights: 4 of the first 40 digits right, by chance.
    expect(doc).toMatchObject({ samples: 40, backend: "reference", correct: 4, accuracy: 0.1 });
    expect(doc.imagesPerSecond).toBeGreaterThan(0); // a measurement: only its sign is known
  });

  it("--dump-logits writes logits, predictions and labels in dataset order, consistent with argmax", () => {
    const out = join(tmp(), "logits.json");
    const r = nipq(["run", FIXTURE, "--data", "mnist", "--limit", "25", "--batch", "7", "--dump-logits", out, "--json"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(readFileSync(out, "utf8"));
    expect(d.logits).toHaveLength(25);
    expect(d.labels.slice(0, 12)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    d.logits.forEach((row: number[], i: number) => {
      expect(row).toHaveLength(10);
      row.forEach((v) => expect(Number.isInteger(v) && v >= -32767 && v <= 32767).toBe(true));
      expect(d.predictions[i]).toBe(row.indexOf(Math.max(...row)));
    });
    const correct = d.predictions.filter((p: number, i: number) => p === d.labels[i]).length;
    expect(JSON.parse(r.stdout).accuracy).toBe(correct / 25);
    // The batch size does not change a single integer.
    const out2 = join(tmp(), "logits.json");
    expect(nipq(["run", FIXTURE, "--data", "mnist", "--limit", "25", "--batch", "25", "--dump-logits", out2]).code).toBe(0);
    expect(JSON.parse(readFileSync(out2, "utf8"))).toEqual(d);
  });

  it("spreads IDX (gzip, Node Buffer-backed) data over 2 workers with the same integers as 1", () => {
    // Regression: Buffer views share one ArrayBuffer, so transferring a batch to a worker detached the
    // whole dataset and the pool waited forever. The dataset is now copied into its own Uint8Array.
    const d = loadDataset("mnist", "test");
    const n = 150;
    const dir = tmp();
    const idxFile = (dims: number[], data: Uint8Array) => {
      const h = Buffer.alloc(4 + 4 * dims.length);
      h.set([0, 0, 8, dims.length]);
      dims.forEach((v, i) => h.writeUInt32BE(v, 4 + 4 * i));
      return gzipSync(Buffer.concat([h, data]));
    };
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), idxFile([n, 28, 28], d.images.subarray(0, n * 784)));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), idxFile([n], Uint8Array.from(d.labels.subarray(0, n))));
    const dumps = [1, 2].map((w) => {
      const out = join(tmp(), "l.json");
      const r = nipq(["run", FIXTURE, "--data", `idx:${dir}`, "--backend", "wasm", "--batch", "16", "--workers", String(w), "--dump-logits", out, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).workers).toBe(w);
      return JSON.parse(readFileSync(out, "utf8"));
    });
    expect(dumps[1]).toEqual(dumps[0]);
  });

  it("--help explains and exits 0", () => {
    const r = nipq(["run", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--data <D>/);
    expect(r.stdout).toMatch(/--dump-logits/);
    expect(r.stdout).toMatch(/--backend <name> [^]*\(default: "wasm"\)/);
  });
});

describe("--help of every command", () => {
  it("states each option's default once; --workers defaults to the number of cores everywhere", () => {
    for (const c of buildProgram().commands) {
      const cmd = c.name();
      const help = c.helpInformation();
      // One entry per option: its first line starts with "  -", continuation lines are indented further.
      const entries = help.split(/\n(?=  -)/).map((e) => e.replace(/\s+/g, " "));
      for (const e of entries) expect((e.match(/\(default:/g) ?? []).length, `${cmd}: ${e}`).toBeLessThanOrEqual(1);
      if (/--workers/.test(help)) expect(entries.find((e) => e.startsWith(" --workers")), cmd).toMatch(/\(default: the number of cores, \d+ here\)/);
    }
  });
});

describe("bad input: exit 2, one line naming the file and the problem, nothing written", () => {
  it("missing, truncated, wrong-magic model files", () => {
    expectInputError(nipq(["inspect", "/nonexistent/m.qmodel"]), /\/nonexistent\/m\.qmodel: cannot read: no such file or directory/);
    const dir = tmp();
    const bytes = readFileSync(FIXTURE);
    writeFileSync(join(dir, "t.qmodel"), bytes.subarray(0, 3000));
    expectInputError(nipq(["inspect", join(dir, "t.qmodel")]), /t\.qmodel: (headerLength|checksum)/);
    writeFileSync(join(dir, "w.qmodel"), "hello world, not a model");
    expectInputError(nipq(["run", join(dir, "w.qmodel"), "--data", "mnist"]), /w\.qmodel: magic: expected "NQMD"/);
    expectInputError(nipq(["inspect", dir]), /cannot read: is a directory/);
  });

  it("bad datasets and usage", () => {
    expectInputError(nipq(["run", FIXTURE, "--data", "idx:/nonexistent/d"]), /\/nonexistent\/d: expected a directory of IDX files, found nothing/);
    expectInputError(nipq(["run", FIXTURE, "--data", "cifar"]), /--data: expected one of mnist, fashion-mnist, idx:DIR/);
    expectInputError(nipq(["run", FIXTURE, "--data", "fashion-mnist"], { env: { NIPQ_FASHION_MNIST_DIR: "/nonexistent" } }), /dataset-fashion-mnist/);
    expectInputError(nipq(["run", FIXTURE, "--data", "mnist", "--limit", "0"]), /--limit.*expected an integer in \[1, 1000000\], found "0"/);
    expectInputError(nipq(["run", FIXTURE, "--data", "mnist", "--backend", "gpu"]), /--backend.*expected one of reference/);
    expectInputError(nipq(["run", FIXTURE]), /required option '--data <D>' not specified/);
    expectInputError(nipq(["frobnicate"]), /unknown command 'frobnicate'/);
    expectInputError(nipq(["inspect", FIXTURE, "--bogus"]), /unknown option '--bogus'/);
  });

  it("an unwritable --dump-logits path fails up front, and nothing is written", () => {
    const dir = tmp();
    const r = nipq(["run", FIXTURE, "--data", "mnist", "--limit", "3", "--dump-logits", join(dir, "no", "such", "dir", "l.json")]);
    expectInputError(r, /l\.json: cannot write: no such file or directory/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("no stack trace unless --debug", () => {
    const r = nipq(["--debug", "inspect", "/nonexistent/m.qmodel"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at .*fsutil/);
  });
});
