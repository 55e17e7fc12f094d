// Lowering agreement (issue "Lowering"): a model trained inside the test, lowered to integers, must predict
// like the tfjs model in eval mode (the deployed hard quantizers, BN moving statistics). One file per arch
// (agreement-cnn-s.test.ts, agreement-mbv2-s.test.ts) so that the two longest runs of the suite go to two
// test workers at once (docs/DECISIONS.md, "Test time limits").

import { expect } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { limitDataset, loadDataset } from "../../src/data/index.js";
import { runProgram } from "../../src/exec/interpret.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { lowerCheckpoint } from "../../src/lower/index.js";
import { selectBackend } from "../../src/train/backend.js";
import { predict, train, type TrainConfig } from "../../src/train/trainer.js";

const TEST_N = 1000;
const test = limitDataset(loadDataset("mnist", "test"), TEST_N);
const dir = mkdtempSync(join(tmpdir(), "nipq-agree-"));

/** Trains `cfg` on mnist, lowers the checkpoint, and checks the integer program against the tfjs eval model. */
export async function agreement(cfg: Omit<TrainConfig, "out" | "data" | "testLimit">): Promise<void> {
  await selectBackend("auto");
  const out = join(dir, `${cfg.arch}-${cfg.method}`);
  let tfPred: ArrayLike<number> = [];
  await train({ ...cfg, data: "mnist", testLimit: 100, out }, undefined, undefined, (net) => (tfPred = predict(net, test)));
  const program = lowerCheckpoint(out);
  const r = runProgram(program, referenceKernels, test.images, test.n);
  let agree = 0;
  let tfCorrect = 0;
  let intCorrect = 0;
  for (let i = 0; i < test.n; i++) {
    if (r.predictions[i] === tfPred[i]) agree++;
    if (tfPred[i] === test.labels[i]) tfCorrect++;
    if (r.predictions[i] === test.labels[i]) intCorrect++;
  }
  const line = `${cfg.arch} ${cfg.method}: ${test.n - agree}/${test.n} disagreements; tfjs eval accuracy ${(100 * tfCorrect / test.n).toFixed(1)}%, integer ${(100 * intCorrect / test.n).toFixed(1)}%`;
  console.log(line);
  expect(tfCorrect / test.n, line).toBeGreaterThan(0.5); // a model that learned something, so agreement means something
  expect(agree / test.n, line).toBeGreaterThanOrEqual(0.99);
  expect(Math.abs(intCorrect - tfCorrect) / test.n, line).toBeLessThanOrEqual(0.01);
}
