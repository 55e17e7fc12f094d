// The exported page against a hostile model, in real headless Chromium: a layer named with HTML and an
// event handler is shown as text, never parsed or run; and the page's Content-Security-Policy blocks
// inline handlers even if markup did get in, while the page itself still loads, runs WASM and classifies.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeBundle } from "../../src/deploy/bundle.js";
import { decodeQModel, encodeQModel } from "../../src/ir/qmodel.js";
import { readQModel } from "../../src/ir/io.js";
import { describeWithPackage } from "../helpers/debian.js";
import { launchChromium, FIXTURE, requireBuilt, serve, closeBrowserTest } from "./helpers.js";

const EVIL = `<img src=x onerror="window.__pwned=1">`;

describeWithPackage("chromium", "the exported page and a hostile model", () => {
  let ctx: BrowserContext | undefined;
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  let tmp: string;

  beforeAll(async () => {
    requireBuilt();
    tmp = mkdtempSync(join(tmpdir(), "nipq-page-sec-"));
    const p = readQModel(FIXTURE);
    p.layers[1].name = EVIL;
    p.name = `<script>window.__pwned=2</script>`;
    const model = join(tmp, "evil.qmodel");
    writeFileSync(model, encodeQModel(p));
    expect(decodeQModel(encodeQModel(p)).layers[1].name).toBe(EVIL); // the format allows any name: the page must cope
    writeBundle(model, join(tmp, "b"), { data: "mnist", samples: 10 });
    server = await serve(join(tmp, "b"));
    ctx = await launchChromium(join(tmp, "profile"));
  });

  afterAll(() => closeBrowserTest(ctx, server, tmp));

  it("shows the layer and model names as text and runs none of them", async () => {
    const page = await ctx!.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server!.url + "/");
    await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.status ?? ""));
    expect(await page.evaluate(() => document.body.dataset.status)).toBe("ready");
    expect(await page.locator("#layers tbody tr").first().locator("td").first().textContent()).toBe(EVIL);
    expect(await page.locator("#layers img").count()).toBe(0);
    expect(await page.textContent("#model-name")).toContain("<script>window.__pwned=2</script>");
    // A prediction renders the scores table from DOM nodes too (its bars sized through the CSSOM).
    await page.click('.sample[data-index="0"]');
    await page.waitForFunction(() => (window as unknown as { nipqDemo: { runs: number } }).nipqDemo.runs >= 1);
    expect(await page.locator("#scores tbody tr").count()).toBe(10);
    expect(await page.locator("#scores .bar").first().evaluate((e) => (e as HTMLElement).style.width)).toMatch(/px$/);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("has a strict CSP: markup that got in anyway cannot run an inline handler", async () => {
    const page = await ctx!.newPage();
    await page.goto(server!.url + "/");
    await page.waitForFunction(() => document.body.dataset.status === "ready");
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', "content");
    expect(csp).toMatch(/^default-src 'none'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+' 'wasm-unsafe-eval'; style-src 'sha256-[A-Za-z0-9+/=]+';/);
    // Insert what an unescaped innerHTML would have produced. Done when the browser reports the refused
    // handler, or (a broken policy) when the image's error event finds that the handler ran: it is
    // registered first, so it runs before our listener.
    const seen = await page.evaluate(
      () =>
        new Promise<{ ran: unknown; directive: string | null }>((resolve) => {
          const ran = () => (window as unknown as { __csp?: number }).__csp;
          document.addEventListener("securitypolicyviolation", (e) => e.effectiveDirective.startsWith("script-src") && resolve({ ran: ran(), directive: e.effectiveDirective }));
          const d = document.createElement("div");
          d.innerHTML = `<img src="x" onerror="window.__csp=1">`;
          d.querySelector("img")!.addEventListener("error", () => ran() !== undefined && resolve({ ran: ran(), directive: null }));
          document.body.append(d);
        }),
    );
    expect(seen.ran).toBeUndefined();
    expect(seen.directive).toMatch(/^script-src/);
    expect(await page.evaluate(() => (window as unknown as { __csp?: number }).__csp)).toBeUndefined();
    await page.close();
  });
});
