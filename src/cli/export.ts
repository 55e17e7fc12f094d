// `nipq export FILE.qmodel --out DIR [--data D] [--samples N] [--json]`: writes the edge bundle (runtime
// .mjs, SIMD, scalar and relaxed-SIMD .wasm, the model, test images, index.html) atomically. See src/deploy/bundle.ts
// and docs/DEPLOY.md.

import { Command } from "commander";
import { BUDGETS, writeBundle } from "../deploy/bundle.js";
import { DATA_HELP, RESIZE_HELP, fmtInt, intOption, pathOption, printJson, say } from "./common.js";
import { MAX_SAMPLES } from "../limits.js";

interface ExportCliOptions {
  out: string;
  data: string;
  samples: number;
  resize?: boolean;
  json?: boolean;
}

export function exportCommand(): Command {
  return new Command("export")
    .description("write a self-contained edge bundle: zero-dependency runtime, SIMD + scalar + relaxed-SIMD WASM kernels, the model, a demo page")
    .argument("<file>", "a .qmodel file", pathOption)
    .requiredOption("--out <dir>", "the bundle directory to write (atomically; an existing one is replaced only if it is a bundle)", pathOption)
    .option("--data <D>", `the test images the demo page bundles; ${DATA_HELP}`, pathOption, "mnist")
    .option("--resize", RESIZE_HELP)
    .option("--samples <N>", "how many test images to bundle", intOption("--samples", 0, MAX_SAMPLES), 30)
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nServe the directory with any static file server (ES modules do not load from file://), e.g.\n  python3 -m http.server --directory DIR 8000   then open http://127.0.0.1:8000/\nIn Node: import { loadModel } from \"./DIR/nipq-runtime.mjs\" (see docs/DEPLOY.md).")
    .action((file: string, o: ExportCliOptions) => {
      const r = writeBundle(file, o.out, { data: o.data, samples: o.samples, resize: o.resize });
      if (o.json) return printJson(r);
      const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
      say(false, `${file} (${r.model.name}) → ${o.out}/`);
      for (const f of r.files) say(false, `  ${f.name.padEnd(18)} ${fmtInt(f.bytes).padStart(9)} B`);
      say(false, `  ${"total".padEnd(18)} ${fmtInt(r.totalBytes).padStart(9)} B`);
      const b = r.budgets;
      say(false, `budgets: runtime ${kb(b.runtime)} of ${kb(BUDGETS.runtimeBytes)}, kernels ${kb(b.simd)} SIMD / ${kb(b.scalar)} scalar / ${kb(b.relaxed)} relaxed SIMD of ${kb(BUDGETS.wasmBytes)} each${b.ok ? "" : " — OVER BUDGET"}`);
      say(false, `${r.samples.n} ${r.samples.dataset} test images bundled. Serve it: python3 -m http.server --directory ${o.out} 8000, then open http://127.0.0.1:8000/`);
    });
}
