// Builds the edge runtime and the demo page into build/deploy/ (`npm run build:runtime`, part of `npm run
// build`): esbuild bundles src/deploy/runtime.ts — the same codec and WASM engine `nipq run` uses — into one
// minified ES module, nipq-runtime.mjs, and src/deploy/page/app.ts into index.html. `nipq export` copies
// both into a bundle. Output is deterministic: the same sources give the same bytes.
//
// The runtime may import no package and no Node API. The one Node-only file the engine reaches,
// src/kernels/wasm/loader.ts (it reads build/*.wasm for `nipq run`), gets stubs for its node: imports:
// the runtime passes the kernels it compiled itself (EngineOptions.kernels), so they are never called.
// Any other node: or package import fails the build with a message naming the importer.

import { build, type Plugin } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package root (this file is src/deploy/ or dist/deploy/). */
export const ROOT = join(HERE, "..", "..");
const SRC = join(ROOT, "src", "deploy");
/** Where the built runtime and page go. */
export const DEPLOY_BUILD_DIR = join(ROOT, "build", "deploy");

/** Names loader.ts imports from node: modules; each stub throws if ever called. */
const LOADER_NODE_IMPORTS = ["existsSync", "readFileSync", "dirname", "join", "fileURLToPath"];
const LOADER = join("kernels", "wasm", "loader.ts");

/** Keeps the runtime free of packages and Node APIs (see the header). */
const edgeOnly: Plugin = {
  name: "nipq-edge-only",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => {
      const who = relative(ROOT, a.importer);
      if (a.path.startsWith("node:") && a.importer.endsWith(sep + LOADER)) return { path: a.path, namespace: "node-stub" };
      return { errors: [{ text: `the edge runtime must not import packages or Node APIs: ${who} imports ${a.path}` }] };
    });
    b.onLoad({ filter: /.*/, namespace: "node-stub" }, (a) => ({
      loader: "js",
      contents:
        `const unavailable = () => { throw new Error(${JSON.stringify(`${a.path} is not available in the edge runtime`)}); };\n` +
        `export { ${LOADER_NODE_IMPORTS.map((n) => `unavailable as ${n}`).join(", ")} };\n`,
    }));
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

/** Bundles the runtime; returns its text (one ES module, no imports). */
export async function buildRuntimeText(): Promise<string> {
  const r = await build({
    entryPoints: [join(SRC, "runtime.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    minify: true,
    legalComments: "none",
    banner: { js: `// nipq-runtime.mjs: the nipq-hw ${version()} edge runtime (zero dependencies; MIT). Source: src/deploy/runtime.ts` },
    plugins: [edgeOnly],
    write: false,
    logLevel: "silent",
  });
  return r.outputFiles[0].text;
}

/** Bundles the demo page into the HTML template (one inline module importing ./nipq-runtime.mjs). */
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
  if (!template.includes("/*APP*/")) throw new Error("src/deploy/page/index.html: the /*APP*/ placeholder is missing");
  return template.replace("/*APP*/", () => js.trimEnd());
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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildDeploy().then(
    ({ runtime, page }) => console.log(`edge runtime: ${relative(ROOT, runtime)} (${readFileSync(runtime).length} B), demo page: ${relative(ROOT, page)} (${readFileSync(page).length} B)`),
    (e: Error) => {
      console.error(`build:runtime: ${e.message}`);
      process.exit(1);
    },
  );
}
