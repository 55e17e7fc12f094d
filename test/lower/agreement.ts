// Lowering agreement (issue "Lowering"): a model trained inside the test, lowered to integers, must predict
// like the tfjs model in eval mode (the deployed hard quantizers, BN moving statistics). mbv2-s runs in
// agreement-mbv2-s.test.ts, a file of its own so that the suite's longest run starts first on one test worker;
// cnn-s is checked on test/train/train.test.ts's 155-step run, which trained the same model (docs/DECISIONS.md,
// "Test workers").

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
/** The images the two models are compared on: the first 1,000 of the mnist test split. */
export const AGREEMENT_IMAGES = limitDataset(loadDataset("mnist", "test"), TEST_N);
const dir = mkdtempSync(join(tmpdir(), "nipq-agree-"));

/**
 * Lowers the checkpoint in `out` to integers and checks its predictions on AGREEMENT_IMAGES against `tfPred`,
 * the tfjs eval model's predictions on them (`predict` in train()'s onFinish).
 */
export function expectAgreement(label: string, out: string, tfPred: ArrayLike<number>): void {
  const test = AGREEMENT_IMAGES;
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
  const line = `${label}: ${test.n - agree}/${test.n} disagreements; tfjs eval accuracy ${(100 * tfCorrect / test.n).toFixed(1)}%, integer ${(100 * intCorrect / test.n).toFixed(1)}%`;
  console.log(line);
  expect(tfCorrect / test.n, line).toBeGreaterThan(0.5); // a model that learned something, so agreement means something
  expect(agree / test.n, line).toBeGreaterThanOrEqual(0.99);
  expect(Math.abs(intCorrect - tfCorrect) / test.n, line).toBeLessThanOrEqual(0.01);
}

/** Trains `cfg` on mnist, lowers the checkpoint, and checks the integer program against the tfjs eval model. */
export async function agreement(cfg: Omit<TrainConfig, "out" | "data" | "testLimit">): Promise<void> {
  await selectBackend("auto");
  const out = join(dir, `${cfg.arch}-${cfg.method}`);
  let tfPred: ArrayLike<number> = [];
  await train({ ...cfg, data: "mnist", testLimit: 100, out }, undefined, undefined, (net) => (tfPred = predict(net, AGREEMENT_IMAGES)));
  expectAgreement(`${cfg.arch} ${cfg.method}`, out, tfPred);
}
