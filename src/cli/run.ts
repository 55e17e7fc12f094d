// `nipq run FILE.qmodel --data D [--backend reference|wasm] [--kernels auto|relaxed|simd|scalar] [--limit N] [--workers N] [--dump-logits FILE] [--json]`:
// runs the integer program over a dataset's test split and reports accuracy and throughput. Batches are
// spread over worker_threads (src/exec/workers.ts); results are in dataset order and identical for any
// number of workers.

import { Command } from "commander";
import cliProgress from "cli-progress";
import { dataFor } from "../data/index.js";
import { BACKENDS, KERNEL_BUILDS, loadBackend, type BackendName } from "../exec/backends.js";
import { batchRanges, classesOf, inputBytes } from "../exec/runner.js";
import { RUN_JOB_URL, type RunChunk, type RunChunkResult, type RunJobInit } from "../exec/run-job.js";
import { runChunks } from "../exec/workers.js";
import { readQModel } from "../ir/io.js";
import { KernelsNotBuiltError } from "../kernels/wasm/errors.js";
import type { WasmFlavor } from "../kernels/wasm/features.js";
import { checkWritable, writeFileAtomic } from "../fsutil.js";
import { DATA_HELP, RESIZE_HELP, choiceOption, intOption, modelFacts, pathOption, printJson, say, workersOption } from "./common.js";
import { MAX_BATCH, MAX_LIMIT } from "../limits.js";

interface RunOptions {
  data: string;
  backend: BackendName;
  kernels: (typeof KERNEL_BUILDS)[number];
  limit?: number;
  batch: number;
  workers: number;
  dumpLogits?: string;
  resize?: boolean;
  json?: boolean;
}

export function runCommand(): Command {
  return new Command("run")
    .description("run an integer program over a dataset's test split; print accuracy and images/s")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--data <D>", DATA_HELP, pathOption)
    .option("--resize", RESIZE_HELP)
    .option("--backend <name>", `kernels to run on: ${BACKENDS.join(" | ")} (reference: the plain-TS executable spec, slow)`, choiceOption(BACKENDS), "wasm")
    .option("--kernels <build>", `the wasm backend's kernel build: ${KERNEL_BUILDS.join(" | ")} (auto: relaxed SIMD where this engine computes it right as started — Node ≥ 22, Chromium —, else SIMD, else scalar; relaxed on Node 20 turns on --experimental-wasm-relaxed-simd --no-liftoff in this process)`, choiceOption(KERNEL_BUILDS), "auto")
    .option("--limit <N>", "use only the first N test images", intOption("--limit", 1, MAX_LIMIT))
    .option("--batch <N>", "images per batch", intOption("--batch", 1, MAX_BATCH), 64)
    .addOption(workersOption("that share the batches"))
    .option("--dump-logits <FILE>", "write {logits, predictions, labels} as JSON, in dataset order", pathOption)
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nThe test split of `mnist` is 200 images per class, 2,000 in all, classes interleaved (see README).")
    .action(async (file: string, o: RunOptions, cmd: Command) => {
      if (o.dumpLogits) checkWritable(o.dumpLogits, [file]);
      const program = readQModel(file);
      const data = dataFor(o.data, modelFacts(program, file), { limit: o.limit, resize: o.resize });
      let fallback: string | undefined;
      const kernels = await loadBackend(o.backend, o.kernels).catch((e: unknown) => {
        // Not asked for by name and not built: the reference kernels give the same integers, slower.
        if (!(e instanceof KernelsNotBuiltError) || cmd.getOptionValueSource("backend") !== "default") throw e;
        fallback = `${e.file} is missing (run \`npm run build\`), so this runs on the reference kernels: the same integers, slower`;
        process.stderr.write(`nipq: note: ${fallback}\n`);
        o.backend = "reference";
        return loadBackend("reference");
      });
      const per = inputBytes(program);
      const classes = classesOf(program);
      const logits = new Int16Array(data.n * classes);
      const predictions = new Int32Array(data.n);
      const bar = new cliProgress.SingleBar({ format: "run |{bar}| {value}/{total} images | {speed} img/s", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(data.n, 0, { speed: "–" });
      const t0 = performance.now();
      const chunks: RunChunk[] = batchRanges(0, data.n, o.batch).map(({ first, n }) => ({ images: data.images.slice(first * per, (first + n) * per), n }));
      let done = 0;
      await runChunks<RunJobInit, RunChunk, RunChunkResult>({
        module: RUN_JOB_URL,
        // The workers load the build the main thread resolved (its name, e.g. wasm-relaxed, is in the report).
        init: { program, backend: o.backend, batch: Math.min(o.batch, data.n), ...(o.backend === "wasm" ? { wasm: { flavor: kernels.name.slice("wasm-".length) as WasmFlavor } } : {}) },
        workers: Math.min(o.workers, chunks.length),
        chunks,
        transfer: (c) => [c.images.buffer as ArrayBuffer],
        onResult: (i, r) => {
          logits.set(r.logits, i * o.batch * classes);
          predictions.set(r.predictions, i * o.batch);
          done += r.predictions.length;
          bar.update(done, { speed: ((done * 1000) / (performance.now() - t0)).toFixed(0) });
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      bar.stop();
      let correct = 0;
      for (let i = 0; i < data.n; i++) if (predictions[i] === data.labels[i]) correct++;
      if (o.dumpLogits) {
        const rows = Array.from({ length: data.n }, (_, i) => Array.from(logits.subarray(i * classes, (i + 1) * classes)));
        writeFileAtomic(o.dumpLogits, JSON.stringify({ logits: rows, predictions: Array.from(predictions), labels: Array.from(data.labels) }) + "\n");
      }
      const doc = { accuracy: correct / data.n, samples: data.n, correct, backend: kernels.name, ...(fallback ? { backendFallback: fallback } : {}), imagesPerSecond: data.n / seconds, workers: Math.min(o.workers, chunks.length), data: data.name, model: file };
      if (o.json) return printJson(doc);
      say(false, `${file} on ${data.name} (test, ${data.n} images), backend ${kernels.name}, ${doc.workers} worker(s)`);
      say(false, `accuracy ${(100 * doc.accuracy).toFixed(2)}% (${correct}/${data.n}), ${doc.imagesPerSecond.toFixed(1)} images/s`);
      if (o.dumpLogits) say(false, `logits written to ${o.dumpLogits}`);
    });
}
