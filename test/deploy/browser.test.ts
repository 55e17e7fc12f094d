// The bundle in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): the page
// served from 127.0.0.1 classifies every bundled test image (30 ≥ 20) and one digit drawn with mouse
// events; the int16 logits and predictions equal the reference kernels' on the very pixels the page fed
// the model (read back from the page). A missing and a corrupt model show a visible error. Screenshots go
// to test-artifacts/ (gitignored).

import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { mnistPreprocess } from "../../src/deploy/digits.js";
import { runProgram } from "../../src/exec/interpret.js";
import { readQModel } from "../../src/ir/io.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { describeWithPackage } from "../helpers/debian.js";
import { launchChromium, exportFixture, FIXTURE, readSamples, serve, closeBrowserTest } from "./helpers.js";

const ARTIFACTS = "test-artifacts";

interface DemoResult {
  source: string;
  prediction: number;
  logits: number[];
  latencyMs: number;
}
interface DemoView {
  status: string;
  error: string | null;
  flavor: string | null;
  runs: number;
  lastInput: number[] | null;
  lastResult: DemoResult | null;
}

const view = (page: Page) =>
  page.evaluate(() => {
    const d = (window as unknown as { nipqDemo: DemoView }).nipqDemo;
    return { status: d.status, error: d.error, flavor: d.flavor, runs: d.runs, lastInput: d.lastInput, lastResult: d.lastResult } as DemoView;
  });

/** Waits for the page to finish loading (ready or error) and returns the state. */
async function loaded(page: Page): Promise<DemoView> {
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.status ?? ""), undefined, { timeout: 30_000 });
  return view(page);
}

/** Waits until the page has run `runs` predictions; returns the state. */
async function afterRun(page: Page, runs: number): Promise<DemoView> {
  await page.waitForFunction((r) => (window as unknown as { nipqDemo: DemoView }).nipqDemo.runs >= r, runs, { timeout: 10_000 });
  return view(page);
}

/** First mismatch of two int arrays, as a readable line (or null). */
function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, what: string): string | null {
  if (a.length !== b.length) return `${what}: length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `${what}[${i}]: page ${a[i]}, reference ${b[i]}`;
  return null;
}

describeWithPackage("chromium", "edge bundle in headless Chromium", () => {
  let ctx: BrowserContext;
  let server: Awaited<ReturnType<typeof serve>>;
  let dir: string;
  let profile: string;
  const program = readQModel(FIXTURE);
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = exportFixture(30).dir;
    server = await serve(dir);
    profile = mkdtempSync(join(tmpdir(), "nipq-chromium-profile-"));
    ctx = await launchChromium(profile, { width: 1100, height: 900 });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(() => closeBrowserTest(ctx, server, profile));

  async function open(path: string): Promise<Page> {
    const page = await ctx.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${path}: ${e.message}`));
    await page.goto(server.url + path);
    return page;
  }

  it("classifies the 30 bundled test images with the reference's exact logits (relaxed SIMD, SIMD and scalar builds)", async () => {
    const samples = readSamples(dir);
    expect(samples.n).toBeGreaterThanOrEqual(20);
    const ref = runProgram(program, referenceKernels, samples.pixels, samples.n);
    for (const flavor of ["relaxed", "simd", "scalar"]) {
      const page = await open(`/?flavor=${flavor}`);
      const s = await loaded(page);
      expect(s.error).toBeNull();
      expect(s.flavor).toBe(flavor);
      for (let i = 0; i < samples.n; i++) {
        await page.click(`.sample[data-index="${i}"]`);
        const v = await afterRun(page, i + 1);
        // The pixels the page fed the model are the bundled image, byte for byte …
        expect(firstMismatch(v.lastInput!, samples.pixels.subarray(i * 784, (i + 1) * 784), `sample ${i} pixels`)).toBeNull();
        // … and its integers are the reference's.
        expect(firstMismatch(v.lastResult!.logits, ref.logits.subarray(i * 10, (i + 1) * 10), `sample ${i} (${flavor}) logits`)).toBeNull();
        expect(v.lastResult!.prediction).toBe(ref.predictions[i]);
      }
      await page.click("#run-all");
      await expect.poll(() => page.textContent("#run-all-result")).toMatch(/\d+\/30 correct/);
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it("classifies a digit drawn with the mouse like the reference does on the pixels the page fed it", async () => {
    const page = await open("/");
    expect((await loaded(page)).status).toBe("ready");
    const box = (await page.locator("#pad").boundingBox())!;
    // A "7": a top bar, then a diagonal down to the left, one stroke with the button held.
    const pts: [number, number][] = [
      [0.28, 0.22], [0.5, 0.22], [0.72, 0.22], [0.66, 0.38], [0.58, 0.55], [0.5, 0.72], [0.45, 0.84],
    ];
    await page.mouse.move(box.x + pts[0][0] * box.width, box.y + pts[0][1] * box.height);
    await page.mouse.down();
    for (const [x, y] of pts.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 6 });
    await page.mouse.up();
    const v = await afterRun(page, 1);
    expect(v.lastResult!.source).toBe("drawing");
    const fed = Uint8Array.from(v.lastInput!);
    expect(fed.length).toBe(784);
    // MNIST-like: ink inside a 20×20 box, centre of mass near (14, 14).
    let m = 0, mx = 0, my = 0;
    fed.forEach((p, i) => ((m += p), (mx += p * ((i % 28) + 0.5)), (my += p * (Math.floor(i / 28) + 0.5))));
    expect(m).toBeGreaterThan(0);
    expect(Math.abs(mx / m - 14)).toBeLessThanOrEqual(1);
    expect(Math.abs(my / m - 14)).toBeLessThanOrEqual(1);
    // The page's preprocessing of its own canvas is the same function as in Node, giving the same bytes.
    const ink = await page.evaluate(() => {
      const c = document.getElementById("pad") as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      return Array.from({ length: c.width * c.height }, (_, i) => d[4 * i]);
    });
    expect(firstMismatch(fed, mnistPreprocess(ink, 280, 280), "drawing pixels")).toBeNull();
    const ref = runProgram(program, referenceKernels, fed, 1);
    expect(firstMismatch(v.lastResult!.logits, ref.logits, "drawing logits")).toBeNull();
    expect(v.lastResult!.prediction).toBe(ref.predictions[0]);
    await expect.poll(() => page.textContent("#prediction")).toBe(String(ref.predictions[0]));
    await page.screenshot({ path: join(ARTIFACTS, "deploy-browser.png"), fullPage: true });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it("shows a visible error for a missing model and for a corrupt one", async () => {
    for (const [path, pattern] of [
      ["/missing/", /model\.qmodel: cannot fetch: HTTP 404/],
      ["/corrupt/", /model\.qmodel: .*crc/i],
    ] as const) {
      const page = await open(path);
      const s = await loaded(page);
      expect(s.status).toBe("error");
      expect(s.error).toMatch(pattern);
      const box = page.locator("#error");
      expect(await box.isVisible()).toBe(true);
      expect(await box.textContent()).toMatch(pattern);
      if (path === "/corrupt/") await page.screenshot({ path: join(ARTIFACTS, "deploy-browser-error.png") });
      await page.close();
    }
  });

  it("lays out at 1,100 px with no card overflowing (the model's per-layer table did)", async () => {
    const page = await open("/");
    expect((await loaded(page)).status).toBe("ready");
    expect(page.viewportSize()?.width).toBe(1100);
    await page.click(".sample"); // fills the scores table too
    await afterRun(page, 1);
    const overflowing = await page.evaluate(() =>
      Array.from(document.querySelectorAll("main > section")).filter((s) => s.scrollWidth > s.clientWidth).map((s) => `${s.querySelector("h2")?.textContent}: ${s.scrollWidth} > ${s.clientWidth} px`),
    );
    await page.screenshot({ path: join(ARTIFACTS, "layout-1100.png"), fullPage: true });
    expect(overflowing).toEqual([]);
  });

  it("made no request beyond the bundle's own files", () => {
    const files = new Set(["/", "/index.html", "/bundle.json", "/model.qmodel", "/samples.json", "/nipq-runtime.mjs", "/nipq-simd.wasm", "/nipq-scalar.wasm", "/nipq-relaxed.wasm", "/favicon.ico"]);
    const other = server.requests.map((p) => p.replace(/^\/(missing|corrupt)\//, "/")).filter((p) => !files.has(p));
    expect(other).toEqual([]);
  });
});
