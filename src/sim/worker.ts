// A simulator worker thread (see ./pool.ts): decodes the program, then runs the trials it is sent.

import { parentPort, workerData } from "node:worker_threads";
import { decodeQModel } from "../ir/qmodel.js";
import type { WorkerInit } from "./pool.js";
import { runTrial } from "./simulate.js";

const init = workerData as WorkerInit;
const program = decodeQModel(init.qmodel, "<worker>");
const data = { n: init.n, images: init.images, labels: init.labels };
parentPort!.on("message", (m: { i: number; trial: number }) => {
  const acc = runTrial(program, init.hw, data, init.seed, m.trial, init.batch);
  parentPort!.postMessage({ i: m.i, trial: m.trial, acc });
});
