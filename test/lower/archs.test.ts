// `nipq lower` on a checkpoint of every arch × method `nipq train` offers: nipq and lsq lower to a valid
// integer program that predicts like the tfjs eval model; float is refused with its one clear line.
// Tiny runs (one epoch of 32 digits, two steps): the point is each checkpoint's structure (mlp's flatten
// right after the input, cnn-s's max pools, mbv2-s's depthwise convs and residual adds, resnet20's ReLU after
// the add and its stride-2 1×1 projections), not accuracy. resnet18 and mobilenetv2 (ImageNet-size: 11.7 M and
// 3.5 M weights) are left out of this training loop for its run time (mobilenetv2 runs once, at width 0.35);
// their structure is lowered by `nipq init` in test/init/init.test.ts, through the same passes.
// The integer program runs on the WASM kernels (bit-exact with the reference, test/backends) to stay cheap.

import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { limitDataset, loadDataset } from "../../src/data/index.js";
import { runProgram } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { ARCHS } from "../../src/train/archs.js";
import { selectBackend } from "../../src/train/backend.js";
import { predict, train } from "../../src/train/trainer.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const test = limitDataset(loadDataset("mnist", "test"), 64);
const dir = mkdtempSync(join(tmpdir(), "nipq-lower-archs-"));

/** Trains a tiny checkpoint and returns its directory and the tfjs eval model's predictions on `test`. */
async function tiny(arch: string, method: "nipq" | "lsq" | "float", width?: number): Promise<{ out: string; tfPred: ArrayLike<number> }> {
  await selectBackend("auto");
  const out = join(dir, `${arch}-${method}`);
  let tfPred: ArrayLike<number> = [];
  const bits = method === "float" ? undefined : { w: 4, a: 4 };
  await train({ arch, data: "mnist", method, bits, epochs: 1, batch: 16, limit: 32, testLimit: 16, seed: 7, out, width }, undefined, undefined, (net) => (tfPred = predict(net, test)));
  return { out, tfPred };
}

/** Lowers a tiny checkpoint with `nipq lower` and checks the integer program predicts like the tfjs eval model. */
async function lowersAndAgrees(arch: string, method: "nipq" | "lsq", width?: number): Promise<void> {
  const { out, tfPred } = await tiny(arch, method, width);
  const file = join(dir, `${arch}-${method}.qmodel`);
  const r = nipq(["lower", out, "--out", file, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const program = readQModel(file);
  const run = runProgram(program, loadWasmKernels(), test.images, test.n);
  let agree = 0;
  for (let i = 0; i < test.n; i++) if (run.predictions[i] === tfPred[i]) agree++;
  // Hardly trained logits sit close together, so a rounding step may flip an argmax now and then; a
  // wrong scale anywhere (the mlp's flatten read the input at the checkpoint's float32 step) flips most.
  expect(agree / test.n, `${arch} ${method}: ${test.n - agree}/${test.n} predictions differ`).toBeGreaterThanOrEqual(0.95);
}

describe("nipq lower on every arch and method", () => {
  const TRAINED = ["mlp", "cnn-s", "mbv2-s", "resnet20"];
  it("covers every arch `nipq train` offers (the ImageNet-size ones through `nipq init`)", () => {
    expect([...ARCHS].sort()).toEqual([...TRAINED, "mobilenetv2", "resnet18"].sort());
  });

  // The full-depth MobileNetV2 at width 0.35 (52 MAC layers, 17 blocks) at 28×28×1: NIPQ only, for run time.
  it("mobilenetv2 ×0.35 nipq: lowers, and the integer program predicts like the tfjs eval model", () => lowersAndAgrees("mobilenetv2", "nipq", 0.35));

  for (const arch of TRAINED) {
    for (const method of ["nipq", "lsq"] as const) {
      it(`${arch} ${method}: lowers, and the integer program predicts like the tfjs eval model`, () => lowersAndAgrees(arch, method));
    }
    it(`${arch} float: refused with one line naming the layer and what to do`, async () => {
      const { out } = await tiny(arch, "float");
      const file = join(dir, `${arch}-float.qmodel`);
      expectInputError(nipq(["lower", out, "--out", file]), /: layer \w+ \(nodes\[\d+\]\): has no (input|weight) quantizer: a float checkpoint cannot be lowered \(train with --method nipq or lsq\)$/);
      expect(existsSync(file)).toBe(false);
    });
  }
});
