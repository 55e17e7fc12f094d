// Builds the edge runtime and the demo page into build/deploy/ (`npm run build:runtime`, part of `npm run
// build`): esbuild bundles src/deploy/runtime.ts — the same codec and WASM engine `nipq run` uses — into one
// minified ES module, nipq-runtime.mjs, and src/deploy/page/app.ts into index.html. `nipq export` copies
// both into a bundle. Output is deterministic: the same sources give the same bytes.
//
// The runtime may import no package and no Node API. The one Node-only module the engine's file reaches,
// src/kernels/wasm/loader.ts (it reads build/*.wasm and NIPQ_WASM_MEMORY_MB for `nipq run`), is replaced
// by a stub whose functions throw: only Node's WasmEngine calls them, and the runtime uses the KernelEngine
// it extends (with the kernels the runtime compiled itself), so the bundle drops both. Any node: or package
// import fails the build with a message naming the importer.

import { build, type Plugin } from "esbuild";
import { minify } from "uglify-js";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package root (this file is src/deploy/ or dist/deploy/). */
export const ROOT = join(HERE, "..", "..");
const SRC = join(ROOT, "src", "deploy");
/** Where the built runtime and page go. */
export const DEPLOY_BUILD_DIR = join(ROOT, "build", "deploy");

/** Keeps the runtime free of packages and Node APIs (see the header). */
export const edgeOnly: Plugin = {
  name: "nipq-edge-only",
  setup(b) {
    b.onResolve({ filter: /^\.\/loader\.js$/ }, (a) => (a.importer.endsWith(join("kernels", "wasm", "engine.ts")) ? { path: "loader", namespace: "edge-stub" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "edge-stub" }, () => ({ loader: "js", contents: `export const instantiateKernels = () => { throw new Error("the edge runtime compiles its own kernels"); }, configuredLimit = instantiateKernels;\n` }));
    b.onResolve({ filter: /^[^./]/ }, (a) => ({ errors: [{ text: `the edge runtime must not import packages or Node APIs: ${relative(ROOT, a.importer)} imports ${a.path}` }] }));
  },
};

/** The page imports ../runtime.js for its types; in the bundle that is the shipped ./nipq-runtime.mjs. */
const pageImportsRuntime: Plugin = {
  name: "nipq-page-runtime",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/runtime\.js$/ }, () => ({ path: "./nipq-runtime.mjs", external: true }));
    b.onResolve({ filter: /^[^./]/ }, (a) => ({ errors: [{ text: `the demo page must not import packages: ${a.path}` }] }));
  },
};

function version(): string {
  return (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Property names the runtime only uses inside itself, shortened in the bundle (esbuild mangleProps): the
 * engine's and arena's members, the prepared-layer and memory-plan records, the window geometry, the
 * validator's checker. None is part of the runtime's API, a .qmodel header field, a WASM export, a worker
 * message or a built-in's method (those must never be listed: the bundle would break where they cross).
 * test/deploy runs the bundle and checks NipqModel's own keys.
 */
const INTERNAL_PROPS = /^(arena|prepared|weightBytes|paramBytes|tileBytes|tile|accScratch|pinned|policy|baseMark|gemmDev|forgetPrepared|prepare|gemm|growTile|alloc|ensure|mark|release|putI32|putI16|put|putParams|typed|host|gemms|simdRq|clamp|cpg|opg|outC|inN|outN|view|depthwise|direct|geo|acc|container|panels|relaxedT|relaxedForm|micro|staging|offsets|arenaBytes|runMicro|engine|peakBytes|owner|sizes|live|method|supported|correct|fused|detail|before|after|total|fail|positive|int|obj|arr|str|ints|wide|narrow|what|base|limit|top|im2colChunk|rqBits|Kp|Np|Cp|pw|ps|zx|zy|kh|kw|sh|sw|pt|pl|OH|OW|i16)$/;

/**
 * Built-ins the runtime names often, each read once into a module variable that UglifyJS then names with one
 * letter (`Math.min(` is 9 bytes, its alias 2): esbuild's `define` points every use at the alias, which
 * RUNTIME_PRELUDE declares at the top of the module. Only functions that ignore `this` (Math.min,
 * Array.isArray, Number.isInteger) and whole globals (constructors and namespaces, used as `new X`,
 * `X.from`, `X.all`, `instanceof X`, `X(v)`): the same values as the globals, read when the module loads.
 * The list is what measured smallest (a global used once or twice saves little or nothing).
 */
const ALIASED = ["Math.min", "Math.max", "Math.floor", "Math.ceil", "Math.abs", "Math.imul", "Array.isArray", "Number.isInteger", "Object", "String", "Error", "ArrayBuffer", "Int32Array", "Int16Array", "Int8Array", "Uint8Array", "WebAssembly", "Promise"];
const alias = (g: string) => `$${g.split(".").pop()}`;
const RUNTIME_PRELUDE = `var ${ALIASED.map((g) => `${alias(g)} = ${g}`).join(", ")};\n`;

/** Bundles the runtime with esbuild (one ES module, no imports); `metafile` adds esbuild's per-input accounting. */
function bundleRuntime(metafile = false) {
  return build({
    entryPoints: [join(SRC, "runtime.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    mangleProps: INTERNAL_PROPS,
    define: Object.fromEntries(ALIASED.map((g) => [g, alias(g)])),
    // Fields assigned in constructors, not also declared on the class (no class here relies on define semantics).
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    plugins: [edgeOnly],
    write: false,
    metafile,
    logLevel: "silent",
  });
}

/**
 * Bundles the runtime; returns its text (one ES module, no imports). esbuild bundles and minifies; UglifyJS
 * then compresses what esbuild leaves (3 passes: single-use functions and variables inlined, `let`/`const`
 * turned into `var` where that changes nothing, variables merged, unused arguments dropped), 1.4 KB less
 * (docs/DECISIONS.md "Runtime budget"), on esbuild's output with the built-ins' aliases (ALIASED) declared in
 * front. Both are deterministic.
 */
export async function buildRuntimeText(): Promise<string> {
  const bundled = (await bundleRuntime()).outputFiles[0].text;
  const r = minify(RUNTIME_PRELUDE + bundled, { module: true, toplevel: true, compress: { passes: 3 }, mangle: { toplevel: true }, output: { preamble: `// nipq-hw ${version()} edge runtime (no dependencies; MIT), from src/deploy/runtime.ts` } });
  if (r.error) throw r.error;
  return r.code + "\n";
}

/**
 * Where the runtime's bytes are: esbuild's output size and the bytes of it each source file accounts for
 * (esbuild metafile, largest first), before UglifyJS.
 */
export async function runtimeBreakdown(): Promise<{ esbuildBytes: number; inputs: [string, number][] }> {
  const out = Object.values((await bundleRuntime(true)).metafile!.outputs)[0];
  const inputs = Object.entries(out.inputs).map(([f, v]): [string, number] => [f, v.bytesInOutput]);
  return { esbuildBytes: out.bytes, inputs: inputs.sort((a, b) => b[1] - a[1]) };
}

/**
 * The page's Content-Security-Policy (docs/SECURITY.md): nothing but the bundle's own files. Scripts: its
 * one inline module (by hash) and ./nipq-runtime.mjs; WebAssembly compilation; fetch of bundle.json, the
 * model, samples.json and the kernels from the same origin; workers (createPool's) from the same origin; the
 * one inline <style> (by hash). No other script, style, image, frame, form target or base URL, so injected
 * markup can neither run nor load anything.
 */
export function pageCsp(script: string, style: string): string {
  const sha = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`;
  return [
    "default-src 'none'",
    `script-src 'self' ${sha(script)} 'wasm-unsafe-eval'`,
    `style-src ${sha(style)}`,
    "connect-src 'self'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Bundles the demo page into the HTML template (one inline module importing ./nipq-runtime.mjs) with its CSP. */
export async function buildPageText(): Promise<string> {
  const r = await build({
    entryPoints: [join(SRC, "page", "app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    plugins: [pageImportsRuntime],
    write: false,
    logLevel: "silent",
  });
  const js = r.outputFiles[0].text.replace(/<\/script/gi, "<\\/script");
  const template = readFileSync(join(SRC, "page", "index.html"), "utf8");
  for (const p of ["/*APP*/", "/*CSP*/"]) if (!template.includes(p)) throw new Error(`src/deploy/page/index.html: the ${p} placeholder is missing`);
  const script = js.trimEnd();
  const style = /<style>([\s\S]*?)<\/style>/.exec(template)?.[1];
  if (style === undefined) throw new Error("src/deploy/page/index.html: the <style> element is missing");
  return template.replace("/*APP*/", () => script).replace("/*CSP*/", () => pageCsp(script, style));
}

/** Writes build/deploy/nipq-runtime.mjs and build/deploy/index.html; returns their paths. */
export async function buildDeploy(outDir = DEPLOY_BUILD_DIR): Promise<{ runtime: string; page: string }> {
  const [runtimeText, pageText] = await Promise.all([buildRuntimeText(), buildPageText()]);
  mkdirSync(outDir, { recursive: true });
  const runtime = join(outDir, "nipq-runtime.mjs");
  const page = join(outDir, "index.html");
  writeFileSync(runtime, runtimeText);
  writeFileSync(page, pageText);
  return { runtime, page };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === "--sizes") {
  // `npx tsx src/deploy/build.ts --sizes`: where the runtime's bytes are (docs/DECISIONS.md "Runtime budget").
  void Promise.all([runtimeBreakdown(), buildRuntimeText()]).then(([{ esbuildBytes, inputs }, text]) => {
    for (const [f, b] of inputs) console.log(`${String(b).padStart(6)}  ${f}`);
    console.log(`${String(esbuildBytes).padStart(6)}  esbuild's output (with the exports)\n${String(Buffer.byteLength(text)).padStart(6)}  nipq-runtime.mjs (after UglifyJS)`);
  });
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildDeploy().then(
    ({ runtime, page }) => console.log(`edge runtime: ${relative(ROOT, runtime)} (${readFileSync(runtime).length} B), demo page: ${relative(ROOT, page)} (${readFileSync(page).length} B)`),
    (e: Error) => {
      console.error(`build:runtime: ${e.message}`);
      process.exit(1);
    },
  );
}
