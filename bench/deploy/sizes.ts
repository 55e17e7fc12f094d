// What a user ships to run a quantized model in a browser with WebAssembly, measured in one run: the nipq
// bundle's runtime and kernels (build/, as `nipq export` copies them) against the files onnxruntime-web
// and @tensorflow/tfjs-backend-wasm ship for the same job (their installed node_modules/ packages).
// Bytes uncompressed (the budget of issue 7) and gzip -9 (what a server typically sends). Not a test.
//
//   npx tsx bench/deploy/sizes.ts [--json]

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/** An installed package's directory (node_modules/NAME; some packages do not export package.json). */
const pkgDir = (name: string) => join("node_modules", name);
const version = (name: string) => (JSON.parse(readFileSync(join(pkgDir(name), "package.json"), "utf8")) as { version: string }).version;

interface Item {
  what: string;
  file: string;
  kind: "js" | "wasm";
  /** Needed to run on a SIMD engine (true), or an alternative / fallback file (false). */
  core: boolean;
}

interface Stack {
  name: string;
  note: string;
  items: Item[];
}

function stacks(): Stack[] {
  const ort = join(pkgDir("onnxruntime-web"), "dist");
  const tfw = join(pkgDir("@tensorflow/tfjs-backend-wasm"), "dist");
  const tfc = join(pkgDir("@tensorflow/tfjs-core"), "dist");
  const tfv = join(pkgDir("@tensorflow/tfjs-converter"), "dist");
  return [
    {
      name: "nipq-hw edge bundle",
      note: "runtime (codec + WASM engine) and kernels; SIMD build, scalar twin as fallback",
      items: [
        { what: "nipq-runtime.mjs", file: "build/deploy/nipq-runtime.mjs", kind: "js", core: true },
        { what: "nipq-simd.wasm", file: "build/nipq-simd.wasm", kind: "wasm", core: true },
        { what: "nipq-scalar.wasm (fallback)", file: "build/nipq-scalar.wasm", kind: "wasm", core: false },
      ],
    },
    {
      name: `onnxruntime-web ${version("onnxruntime-web")}`,
      note: "WASM-only build (ort.wasm.min.mjs), its Emscripten glue and binary; SIMD required, no scalar fallback",
      items: [
        { what: "ort.wasm.min.mjs", file: join(ort, "ort.wasm.min.mjs"), kind: "js", core: true },
        { what: "ort-wasm-simd-threaded.mjs", file: join(ort, "ort-wasm-simd-threaded.mjs"), kind: "js", core: true },
        { what: "ort-wasm-simd-threaded.wasm", file: join(ort, "ort-wasm-simd-threaded.wasm"), kind: "wasm", core: true },
      ],
    },
    {
      name: `@tensorflow/tfjs-backend-wasm ${version("@tensorflow/tfjs-backend-wasm")}`,
      note: "tfjs-core + the WASM backend + tfjs-converter (to load a model); SIMD binary, plain and threaded alternatives",
      items: [
        { what: "tf-core.min.js", file: join(tfc, "tf-core.min.js"), kind: "js", core: true },
        { what: "tf-backend-wasm.min.js", file: join(tfw, "tf-backend-wasm.min.js"), kind: "js", core: true },
        { what: "tf-converter.min.js", file: join(tfv, "tf-converter.min.js"), kind: "js", core: true },
        { what: "tfjs-backend-wasm-simd.wasm", file: join(tfw, "tfjs-backend-wasm-simd.wasm"), kind: "wasm", core: true },
        { what: "tfjs-backend-wasm.wasm (fallback)", file: join(tfw, "tfjs-backend-wasm.wasm"), kind: "wasm", core: false },
        { what: "tfjs-backend-wasm-threaded-simd.wasm (alt.)", file: join(tfw, "tfjs-backend-wasm-threaded-simd.wasm"), kind: "wasm", core: false },
      ],
    },
  ];
}

const kb = (b: number) => (b / 1024).toFixed(1);

function main(): void {
  const rows: { stack: string; what: string; bytes: number; gzip: number; core: boolean; kind: string }[] = [];
  const totals: { stack: string; note: string; js: number; wasm: number; gzip: number }[] = [];
  for (const s of stacks()) {
    let js = 0, wasm = 0, gz = 0;
    for (const it of s.items) {
      if (!existsSync(it.file)) throw new Error(`${it.file} is missing (run \`npm run build\` for the nipq files)`);
      const bytes = readFileSync(it.file);
      const g = gzipSync(bytes, { level: 9 }).length;
      rows.push({ stack: s.name, what: it.what, bytes: bytes.length, gzip: g, core: it.core, kind: it.kind });
      if (it.core) {
        if (it.kind === "js") js += bytes.length;
        else wasm += bytes.length;
        gz += g;
      }
    }
    totals.push({ stack: s.name, note: s.note, js, wasm, gzip: gz });
  }
  if (process.argv.includes("--json")) {
    process.stdout.write(JSON.stringify({ rows, totals }, null, 2) + "\n");
    return;
  }
  console.log("| stack | file | bytes | KB | gzip -9 KB |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.stack} | ${r.what} | ${r.bytes.toLocaleString("en-US")} | ${kb(r.bytes)} | ${kb(r.gzip)} |`);
  console.log("");
  console.log("| stack (what a SIMD browser downloads) | JS KB | WASM KB | total KB | gzip -9 KB | vs nipq (total) |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const base = totals[0].js + totals[0].wasm;
  for (const t of totals) console.log(`| ${t.stack} | ${kb(t.js)} | ${kb(t.wasm)} | ${kb(t.js + t.wasm)} | ${kb(t.gzip)} | ${((t.js + t.wasm) / base).toFixed(0)}× |`);
}

main();
