// The edge bundle writer behind `nipq export`: one directory a static web server (or Node) can use as is.
//
//   nipq-runtime.mjs   the zero-dependency runtime (build/deploy/, from src/deploy/runtime.ts)
//   nipq-simd.wasm     the kernels, SIMD build; picked when WebAssembly.validate accepts a SIMD probe
//   nipq-scalar.wasm   the same kernels without SIMD (the scalar twins)
//   nipq-relaxed.wasm  the SIMD kernels plus the relaxed-SIMD GEMM; picked where a probe sees the engine
//                      compute relaxed SIMD right (src/kernels/wasm/relaxed.ts)
//   model.qmodel       the model, byte for byte as given
//   samples.json       the first N test images of a dataset (base64 u8 pixels) with their labels
//   index.html         the demo page (src/deploy/page/)
//   bundle.json        the manifest: what each file is, its size, the class names
//
// Written atomically as one directory swap (writeOutputDir, src/fsutil.ts): there is never a half-written
// bundle, and an existing --out is replaced only when it is empty or a previous bundle (its bundle.json
// says so and it holds nothing else); docs/SECURITY.md.

import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataFor } from "../data/index.js";
import { NipqInputError } from "../errors.js";
import { prepareOutputDir, readFileChecked, writeOutputDir, type OutputDirKind } from "../fsutil.js";
import { decodeQModel } from "../ir/qmodel.js";
import { programStats } from "../ir/stats.js";
import type { Program } from "../ir/types.js";
import { KernelsNotBuiltError } from "../kernels/wasm/errors.js";

/** The package's build/ directory (this file is src/deploy/ or dist/deploy/). */
export const BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "build");

/**
 * Size budgets of what a user ships, uncompressed, in bytes (issue 7): runtime JS ≤ 30 KB (34 KB from
 * .qmodel format 2 until issue 18 made room, then 32 KB; docs/DECISIONS.md "Runtime budget"), each .wasm
 * ≤ 100 KB.
 */
export const BUDGETS = { runtimeBytes: 30 * 1024, wasmBytes: 100 * 1024 } as const;

/** Fixed file names inside a bundle. */
export const BUNDLE_FILES = {
  runtime: "nipq-runtime.mjs",
  simd: "nipq-simd.wasm",
  scalar: "nipq-scalar.wasm",
  relaxed: "nipq-relaxed.wasm",
  model: "model.qmodel",
  samples: "samples.json",
  page: "index.html",
  manifest: "bundle.json",
} as const;

/** Class names by dataset; any other dataset's classes are their indices. */
const CLASS_NAMES: Record<string, string[]> = {
  "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
};

export interface ExportOptions {
  /** images:DIR: scale the images to the model's input (see src/data/images.ts). */
  resize?: boolean;
  /** Dataset whose first test images are bundled (default "mnist"). */
  data?: string;
  /** How many test images to bundle (default 30: three per class in the interleaved mnist split). */
  samples?: number;
  /** Where the built runtime, page and kernels are (default: the package's build/). */
  buildDir?: string;
}

/** What `nipq export` wrote: the `--json` document. */
export interface BundleReport {
  out: string;
  model: { file: string; name: string; bytes: number; layers: number; weightBytes: number; bits: { layer: string; w: number | null; a: number | null }[] };
  files: { name: string; bytes: number }[];
  totalBytes: number;
  samples: { dataset: string; n: number };
  budgets: { runtimeBytes: number; wasmBytes: number; runtime: number; simd: number; scalar: number; relaxed: number; ok: boolean };
}

/** The manifest (bundle.json) the page reads. */
export interface Manifest {
  format: "nipq-bundle";
  version: 1;
  producer: string;
  model: string;
  source: string;
  name: string;
  runtime: string;
  wasm: { simd: string; scalar: string; relaxed: string };
  samples: string;
  dataset: string;
  classes: string[];
  files: Record<string, number>;
}

function readAsset(path: string, isWasm: boolean): Uint8Array {
  if (!existsSync(path)) {
    if (isWasm) throw new KernelsNotBuiltError(path);
    throw new NipqInputError(`edge runtime not built: ${path} is missing; run \`npm run build\``);
  }
  return readFileChecked(path);
}

/** What an export bundle directory holds; an existing --out is replaced only when it is one (src/fsutil.ts). */
export const BUNDLE_DIR: OutputDirKind = {
  what: "bundle",
  files: Object.values(BUNDLE_FILES),
  isPrevious: (dir) => {
    try {
      return (JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as { format?: unknown }).format === "nipq-bundle";
    } catch {
      return false;
    }
  },
};

function producer(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(BUILD_DIR, "..", "package.json"), "utf8")) as { version: string };
    return `nipq export ${pkg.version}`;
  } catch {
    return "nipq export";
  }
}

/** The bundled test images: the dataset's first n test images, checked against the model's input. */
function samplesJson(program: Program, file: string, data: string, n: number, resize?: boolean): { json: string; n: number; dataset: string } {
  const [H, W, C] = program.layers[0].out.shape;
  if (n === 0) return { json: JSON.stringify({ format: "nipq-samples", dataset: data, split: "test", width: W, height: H, channels: C, indices: [], labels: [], pixels: "" }), n: 0, dataset: data };
  const d = dataFor(data, { input: [H, W, C], classes: program.layers[program.layers.length - 1].out.shape[0], name: file }, { limit: n, resize });
  const k = Math.min(n, d.n);
  const size = d.width * d.height * d.channels;
  return {
    json: JSON.stringify({
      format: "nipq-samples",
      dataset: d.name,
      split: "test",
      width: d.width,
      height: d.height,
      channels: d.channels,
      indices: Array.from({ length: k }, (_, i) => i),
      labels: Array.from(d.labels.subarray(0, k)),
      pixels: Buffer.from(d.images.subarray(0, k * size)).toString("base64"),
    }),
    n: k,
    dataset: d.name,
  };
}

/**
 * Writes the bundle for a model (a .qmodel path, or its bytes and a name) into `out` atomically and
 * returns the report. Bad input (missing or corrupt model, unknown dataset, unwritable or occupied --out, runtime not built) throws NipqInputError
 * before anything is left on disk.
 */
export function writeBundle(model: string | { bytes: Uint8Array; file: string }, out: string, o: ExportOptions = {}): BundleReport {
  prepareOutputDir(out, BUNDLE_DIR);
  const modelFile = typeof model === "string" ? model : model.file;
  const modelBytes = typeof model === "string" ? readFileChecked(model) : model.bytes;
  const program = decodeQModel(modelBytes, modelFile);
  const dir = o.buildDir ?? BUILD_DIR;
  const runtime = readAsset(join(dir, "deploy", BUNDLE_FILES.runtime), false);
  const page = readAsset(join(dir, "deploy", BUNDLE_FILES.page), false);
  const simd = readAsset(join(dir, BUNDLE_FILES.simd), true);
  const scalar = readAsset(join(dir, BUNDLE_FILES.scalar), true);
  const relaxed = readAsset(join(dir, BUNDLE_FILES.relaxed), true);
  const data = o.data ?? "mnist";
  const samples = samplesJson(program, modelFile, data, o.samples ?? 30, o.resize);
  const classes = program.layers[program.layers.length - 1].out.shape[0];
  const names = CLASS_NAMES[samples.dataset] ?? Array.from({ length: classes }, (_, i) => String(i));
  const contents: [string, Uint8Array | string][] = [
    [BUNDLE_FILES.runtime, runtime],
    [BUNDLE_FILES.simd, simd],
    [BUNDLE_FILES.scalar, scalar],
    [BUNDLE_FILES.relaxed, relaxed],
    [BUNDLE_FILES.model, modelBytes],
    [BUNDLE_FILES.samples, samples.json + "\n"],
    [BUNDLE_FILES.page, page],
  ];
  const files = contents.map(([name, c]) => ({ name, bytes: typeof c === "string" ? Buffer.byteLength(c) : c.length }));
  const manifest: Manifest = {
    format: "nipq-bundle",
    version: 1,
    producer: producer(),
    model: BUNDLE_FILES.model,
    source: basename(modelFile),
    name: program.name,
    runtime: BUNDLE_FILES.runtime,
    wasm: { simd: BUNDLE_FILES.simd, scalar: BUNDLE_FILES.scalar, relaxed: BUNDLE_FILES.relaxed },
    samples: BUNDLE_FILES.samples,
    dataset: samples.dataset,
    classes: Array.from({ length: classes }, (_, c) => names[c] ?? String(c)),
    files: Object.fromEntries(files.map((f) => [f.name, f.bytes])),
  };
  const manifestText = JSON.stringify(manifest, null, 2) + "\n";
  contents.push([BUNDLE_FILES.manifest, manifestText]);
  files.push({ name: BUNDLE_FILES.manifest, bytes: Buffer.byteLength(manifestText) });

  writeOutputDir(out, contents, BUNDLE_DIR);

  const st = programStats(program);
  const size = (n: string) => files.find((f) => f.name === n)!.bytes;
  const budgets = { ...BUDGETS, runtime: size(BUNDLE_FILES.runtime), simd: size(BUNDLE_FILES.simd), scalar: size(BUNDLE_FILES.scalar), relaxed: size(BUNDLE_FILES.relaxed), ok: false };
  budgets.ok = budgets.runtime <= BUDGETS.runtimeBytes && [budgets.simd, budgets.scalar, budgets.relaxed].every((b) => b <= BUDGETS.wasmBytes);
  return {
    out,
    model: {
      file: modelFile,
      name: program.name,
      bytes: modelBytes.length,
      layers: program.layers.length,
      weightBytes: st.totals.weightBytes,
      bits: st.layers.filter((l) => l.wBits !== null).map((l) => ({ layer: l.name, w: l.wBits, a: l.aBits })),
    },
    files,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    samples: { dataset: samples.dataset, n: samples.n },
    budgets,
  };
}
