// Fills the onnxruntime-node expectations of the QDQ and QOperator fixtures (test/fixtures/onnx/*.expected.json):
// accuracy on the whole test split, the prediction of every test image, the logits of the first logitsN. For the
// QONNX fixtures (whose expectations make_fixtures.py computed with its numpy reference) it runs the graph with
// each Quant expanded into standard ops and reports how far onnxruntime agrees; it writes nothing for them.
//
//   npx tsx scripts/onnx-fixtures/expected.ts        (after make_fixtures.py; see test/fixtures/onnx/README.md)

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { writeFileAtomic } from "../../src/fsutil.js";
import { argmax, decodeModel, expandQuant, f32List, formatJson, listFixtures, loadOrt, ORT_SETTINGS, runOrt, testImages } from "./fixtures.js";

const ortMod = await loadOrt();
if (typeof ortMod === "string") {
  console.error(`expected.ts: ${ortMod}`);
  process.exit(1);
}
const ortVersion = (createRequire(import.meta.url)("onnxruntime-node/package.json") as { version: string }).version;

for (const f of listFixtures()) {
  const e = f.expected;
  if (!e) throw new Error(`${f.expectedPath}: missing (run make_fixtures.py first)`);
  const img = testImages(e);
  const bytes = readFileSync(f.onnxPath);
  if (e.format === "qonnx") {
    const logits = await runOrt(ortMod, expandQuant(decodeModel(bytes)), e, img);
    const same = logits.filter((l, i) => argmax(l) === e.predictions![i]).length;
    let maxDiff = 0;
    for (let i = 0; i < e.logitsN; i++) for (let k = 0; k < logits[i].length; k++) maxDiff = Math.max(maxDiff, Math.abs(logits[i][k] - e.logits![i][k]));
    console.log(`${f.name}: onnxruntime (Quant expanded) agrees with the numpy reference on ${same}/${img.n} predictions; max |logit diff| ${maxDiff.toExponential(2)} on the first ${e.logitsN}`);
    continue;
  }
  const logits = await runOrt(ortMod, bytes, e, img);
  const predictions = logits.map(argmax);
  const correct = predictions.filter((p, i) => p === img.labels[i]).length;
  e.reference = { by: `onnxruntime-node ${ortVersion}, ${ORT_SETTINGS}` };
  e.accuracy = { correct, n: img.n, value: Math.round((correct / img.n) * 1e4) / 1e4 };
  e.predictions = predictions;
  e.logits = logits.slice(0, e.logitsN).map(f32List);
  writeFileAtomic(f.expectedPath, formatJson(e) + "\n");
  console.log(`${f.name}: accuracy ${e.accuracy.value} (${correct}/${img.n}; trained model ${e.trainedAccuracy.value} by ${e.trainedAccuracy.by})`);
}
