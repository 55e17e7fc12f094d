// Shared by the deploy tests: a fresh bundle of the test fixture in a temp dir, and a tiny static file
// server on 127.0.0.1 (random port) that can also play a missing or a corrupt model for the error paths.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { writeBundle, type BundleReport } from "../../src/deploy/bundle.js";
import { packagePath } from "../helpers/debian.js";

export const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

/** Debian's Chromium, driven by playwright-core; the flags of DESIGN.md §7 plus the ones that keep it from calling home. */
export const CHROMIUM = packagePath("chromium");
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Headless Debian chromium on a fresh profile directory: the one launch every browser test makes. */
export function launchChromium(profile: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, ...(viewport ? { viewport } : {}) });
}

/** The teardown every browser test makes: the browser, then the server, then its temp directory (each if it was made). */
export async function closeBrowserTest(ctx?: BrowserContext, server?: { close: () => Promise<void> }, dir?: string): Promise<void> {
  await ctx?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Fails with the fix when the runtime or the kernels are not built (npm test builds them first). */
export function requireBuilt(): void {
  for (const f of ["build/deploy/nipq-runtime.mjs", "build/deploy/index.html", "build/nipq-simd.wasm", "build/nipq-scalar.wasm", "build/nipq-relaxed.wasm"])
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` (npm test does it first)`);
}

/** Exports the fixture into a new temp directory; returns the bundle dir and the report. */
export function exportFixture(samples = 30): { dir: string; report: BundleReport } {
  requireBuilt();
  const dir = join(mkdtempSync(join(tmpdir(), "nipq-bundle-")), "bundle");
  return { dir, report: writeBundle(FIXTURE, dir, { data: "mnist", samples }) };
}

/** The bundled samples.json, decoded. */
export function readSamples(dir: string): { labels: number[]; indices: number[]; pixels: Uint8Array; n: number } {
  const s = JSON.parse(readFileSync(join(dir, "samples.json"), "utf8")) as { labels: number[]; indices: number[]; pixels: string };
  return { labels: s.labels, indices: s.indices, pixels: new Uint8Array(Buffer.from(s.pixels, "base64")), n: s.labels.length };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".qmodel": "application/octet-stream",
};

/**
 * Serves `dir` at `/`; under `/missing/` the same files except model.qmodel (404), under `/corrupt/` the
 * same with one byte of model.qmodel flipped (its CRC then fails). GET only; nothing outside `dir`.
 */
export async function serve(dir: string): Promise<{ url: string; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    requests.push(path);
    const m = /^\/(missing|corrupt)(\/.*)$/.exec(path);
    const variant = m?.[1];
    let rel = normalize((m ? m[2] : path).replace(/^\/+/, "")) || "index.html";
    if (rel.endsWith(sep) || rel === ".") rel = join(rel, "index.html");
    const file = join(dir, rel);
    if (req.method !== "GET" || rel.startsWith("..") || !existsSync(file) || (variant === "missing" && rel === "model.qmodel")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    let body = readFileSync(file);
    if (variant === "corrupt" && rel === "model.qmodel") {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
