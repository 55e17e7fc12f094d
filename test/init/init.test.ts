// `nipq init`: the CLI contract (help, one JSON document, one-line errors with exit 2 and nothing written),
// byte-identical files for one seed, and its programs end to end: the ResNet (residual adds with ReLU,
// stride-2 1×1 projections, a 7×7/2 stem and a same-padded 3×3/2 max pool) and MobileNetV2 (depthwise convs,
// linear bottlenecks) graphs give the same int16 logits on the reference kernels, the WASM kernels and the
// clean simulated chip, bit for bit; `nipq run` and `nipq simulate` take a resnet20 made for the digits.
// Inputs stay small (32×32, 64×64): the reference kernels are the slow executable spec.

import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initProgram } from "../../src/init/index.js";
import { interpretLayers, runProgram } from "../../src/exec/interpret.js";
import { validateProgram } from "../../src/ir/validate.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { simKernels } from "../../src/sim/chip/kernels.js";
import { loadHwModel } from "../../src/sim/hw/hwmodel.js";
import { selectBackend } from "../../src/train/backend.js";
import { randomImages } from "../backends/random-program.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "nipq-init-"));

describe("nipq init: the CLI contract", () => {
  it("--help names every option and the arch defaults", () => {
    const r = nipq(["init", "--help"]);
    expect(r.code).toBe(0);
    for (const o of ["--arch", "--bits", "--first-last", "--input", "--classes", "--width", "--seed", "--out", "--json"]) expect(r.stdout).toContain(o);
    expect(r.stdout).toContain("resnet18 224×224×3, 1000 classes");
    const help = r.stdout.replace(/\s+/g, " ");
    expect(help).toContain("(mobilenetv2 only; default 1)");
    expect(help).toContain("one number sets both");
  });

  it("--bits 4 is --bits 4/4, as --help says", () => {
    const one = nipq(["init", "--arch", "mlp", "--bits", "4", "--seed", "2", "--out", join(dir, "bits-one.qmodel")]);
    const two = nipq(["init", "--arch", "mlp", "--bits", "4/4", "--seed", "2", "--out", join(dir, "bits-two.qmodel")]);
    expect([one.code, two.code]).toEqual([0, 0]);
    expect(readFileSync(join(dir, "bits-one.qmodel")).equals(readFileSync(join(dir, "bits-two.qmodel")))).toBe(true);
  });

  it("one seed gives the same bytes; another seed other weights; --json is one document", () => {
    const run = (seed: string, file: string) => nipq(["init", "--arch", "resnet20", "--bits", "4/4", "--seed", seed, "--out", join(dir, file), "--json"]);
    const a = run("3", "a.qmodel");
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    const doc = JSON.parse(a.stdout);
    expect(doc).toMatchObject({ name: "resnet20-init", arch: "resnet20", input: [32, 32, 3], classes: 10, bits: { w: 4, a: 4 }, seed: 3, layers: 33 });
    expect(doc.totals).toMatchObject({ macs: 40_813_184, bops: 40_813_184 * 4 * 4 + 442_368 * 4 * (8 - 4) }); // conv1 (442,368 MACs) reads the u8 image: 4·8
    expect(run("3", "b.qmodel").code).toBe(0);
    expect(run("4", "c.qmodel").code).toBe(0);
    const bytes = (f: string) => readFileSync(join(dir, f));
    expect(bytes("a.qmodel").equals(bytes("b.qmodel"))).toBe(true);
    expect(bytes("a.qmodel").equals(bytes("c.qmodel"))).toBe(false);
  });

  it("bad arguments: one line, exit 2, nothing written", () => {
    const out = join(dir, "bad.qmodel");
    const bad = (args: string[], re: RegExp) => {
      expectInputError(nipq(["init", ...args, "--out", out]), re);
      expect(existsSync(out)).toBe(false);
    };
    bad(["--arch", "vgg16", "--bits", "4/4"], /--arch .*expected one of mlp, cnn-s, mbv2-s, resnet20, resnet18, mobilenetv2, found "vgg16"/);
    bad(["--arch", "resnet20", "--bits", "9/4"], /--bits .*W expected an integer in 2\.\.8, found 9/);
    bad(["--arch", "resnet20", "--bits", "4/4", "--width", "0.5"], /--width: only mobilenetv2 has a width multiplier, found 0\.5 for resnet20/);
    bad(["--arch", "resnet20", "--bits", "4/4", "--input", "32,32"], /--input .*expected H,W,C with three positive integers/);
    bad(["--arch", "mlp", "--bits", "4/4", "--classes", "1"], /--classes .*expected an integer in \[2,/);
    // Shapes beyond the integer program's limits are refused before the float network allocates anything.
    bad(["--arch", "mlp", "--bits", "4/4", "--classes", "1000000"], /too large for mlp: layer fc3 would have output 1000000 and 128000000 weights, expected at most 67108864 \(2\^26\) elements per tensor/);
    bad(["--arch", "resnet18", "--bits", "4/4", "--input", "4096,4096,3"], /too large for resnet18: layer conv1 would have output 2048×2048×64/);
    bad(["--arch", "mlp", "--bits", "4/4", "--input", "67108864,1,1"], /too large for mlp: layer input .*1048576 per dimension/);
    expectInputError(nipq(["init", "--arch", "resnet20", "--bits", "4/4", "--out", join(dir, "no-such-dir", "x.qmodel")]), /no-such-dir/);
  });
});

/** Logits of `program` on the reference kernels, the WASM kernels and the clean simulated int8 array (32-bit accumulators). */
function threeWays(program: ReturnType<typeof initProgram>, n: number, seed: number): Int32Array[] {
  validateProgram(program, program.name);
  const images = randomImages(program, n, seed);
  const ref = Int32Array.from(runProgram(program, referenceKernels, images, n).logits);
  const wasm = Int32Array.from(runProgram(program, loadWasmKernels(), images, n).logits);
  const chip = buildChip(program, loadHwModel("int8-systolic-16x16").hw, 0, null);
  const sim = Int32Array.from(interpretLayers(program, simKernels(chip), images, n).slice(-1)[0].data);
  return [ref, wasm, sim];
}

describe("init programs end to end: reference = WASM = clean simulator, bit for bit", () => {
  const cases: [string, Parameters<typeof initProgram>[0]][] = [
    ["resnet20 W4A4, 32×32×3", { arch: "resnet20", bits: { w: 4, a: 4 }, seed: 5 }],
    ["resnet20 W8A8 with first/last 8/8 over W3A5 elsewhere", { arch: "resnet20", bits: { w: 3, a: 5 }, firstLast: { w: 8, a: 8 }, seed: 6 }],
    ["resnet18 W4A4, 32×32×3, 100 classes", { arch: "resnet18", bits: { w: 4, a: 4 }, input: [32, 32, 3], classes: 100, seed: 7 }],
    ["mobilenetv2 ×0.35 W8A8, 64×64×3", { arch: "mobilenetv2", bits: { w: 8, a: 8 }, width: 0.35, input: [64, 64, 3], classes: 10, seed: 8 }],
  ];
  for (const [what, cfg] of cases) {
    it(what, async () => {
      await selectBackend("auto");
      const program = initProgram(cfg);
      const [ref, wasm, sim] = threeWays(program, 3, 11);
      expect(new Set(ref).size, "logits vary (the ranges are calibrated, not saturated)").toBeGreaterThan(5);
      expect(wasm).toEqual(ref);
      expect(sim).toEqual(ref);
    });
  }
});

describe("nipq run and nipq simulate on a resnet20 init program made for the digits (28×28×1)", () => {
  it("run: the same logits on the reference and WASM backends; simulate: costs, memory and accuracy", () => {
    const file = join(dir, "r20-digits.qmodel");
    expect(nipq(["init", "--arch", "resnet20", "--bits", "4/4", "--input", "28,28,1", "--seed", "2", "--out", file]).code).toBe(0);
    const logits = (backend: string) => {
      const dump = join(dir, `logits-${backend}.json`);
      const r = nipq(["run", file, "--data", "mnist", "--limit", "6", "--backend", backend, "--workers", "1", "--dump-logits", dump, "--json"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return JSON.parse(readFileSync(dump, "utf8")).logits;
    };
    expect(logits("wasm")).toEqual(logits("reference"));
    const s = nipq(["simulate", file, "--hw", "int8-systolic-16x16", "--data", "mnist", "--limit", "6", "--trials", "2", "--workers", "1", "--json"]);
    expect(s.code).toBe(0);
    const doc = JSON.parse(s.stdout);
    expect(doc.memory.weightBytes).toBe(135_304); // 270,608 4-bit weights (the 28×28×1 stem has 144, not 432)
    expect(doc.memory.peakActivationBytes).toBe(18_816); // the liveness plan's peak, as `init --json` and inspect print it
    expect(doc.macs).toBe(31_021_952);
    expect(doc.layers.length).toBe(33); // one row per layer of the program (as the 32×32×3 resnet20 above)
    expect(doc.accuracy.noisy.trials).toBe(2);
  });
});
