// createPool of the shipped runtime (nipq-runtime.mjs from an exported bundle): workers that each load their
// own copy of the model give the logits of one thread (loadModel) at batch 1, batches smaller than the pool,
// odd batches and batch 64, also with runs in flight together — in Node (worker_threads) and in headless
// Chromium (module Web Workers, on the demo page itself, under its Content-Security-Policy and without
// COOP/COEP, so without SharedArrayBuffer). Bad worker counts are one-line errors; a worker that cannot load
// the model rejects createPool; close() rejects what is still pending, and later runs.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeWithPackage } from "../helpers/debian.js";
import { launchChromium, exportFixture, serve, closeBrowserTest } from "./helpers.js";

type Runtime = typeof import("../../src/deploy/runtime.js");

/** n pseudo-random 28×28 images (a third of the pixels 0). */
function pixels(n: number): Uint8Array {
  let s = 99;
  return Uint8Array.from({ length: n * 784 }, (_, i) => (i % 3 === 0 ? 0 : ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24)));
}

const BATCHES = [1, 2, 3, 5, 64];

/** A module that compiles but cannot be instantiated with the runtime's imports (it imports env.foo). */
const UNLINKABLE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 11, 1, 3, 101, 110, 118, 3, 102, 111, 111, 0, 0]);

describe("createPool in Node (worker_threads)", () => {
  let dir: string;
  let rt: Runtime;
  let model: URL;
  beforeAll(async () => {
    dir = exportFixture(0).dir;
    rt = (await import(pathToFileURL(join(dir, "nipq-runtime.mjs")).href)) as Runtime;
    model = pathToFileURL(join(dir, "model.qmodel"));
  });

  it("3 workers give one thread's logits at batch 1, 2, 3, 5 and 64, SIMD and scalar, also with runs in flight together", async () => {
    const x = pixels(64);
    for (const flavor of ["simd", "scalar"] as const) {
      const one = await rt.loadModel(model, { flavor });
      const pool = await rt.createPool(model, { workers: 3, flavor, maxBatch: 8 });
      try {
        expect([pool.workers, pool.flavor, pool.inputSize, pool.classes, pool.inputShape]).toEqual([3, flavor, 784, 10, [28, 28, 1]]);
        const runs = BATCHES.map((n) => x.subarray(0, n * 784));
        const together = await Promise.all(runs.map((r) => pool.run(r)));
        for (const [k, n] of BATCHES.entries()) {
          const want = one.predict(runs[k]);
          const got = await pool.run(runs[k]);
          expect(got.n, `${flavor} batch ${n}`).toBe(n);
          expect(Array.from(got.logits), `${flavor} batch ${n}`).toEqual(Array.from(want.logits));
          expect(Array.from(got.predictions), `${flavor} batch ${n}`).toEqual(Array.from(want.predictions));
          expect(Array.from(together[k].logits), `${flavor} batch ${n}, in flight with the others`).toEqual(Array.from(want.logits));
        }
        expect(new Set(one.predict(x).logits).size, "the logits vary").toBeGreaterThan(50);
        expect((await pool.run(new Uint8Array(0))).logits).toHaveLength(0);
      } finally {
        await pool.close();
      }
    }
  });

  it("bad worker counts, a bad batch and a model that does not load: one-line errors, nothing left running", async () => {
    for (const [workers, found] of [[0, "0"], [65, "65"], [1.5, "1.5"], ["2", '"2"'], [undefined, "nothing"]] as const)
      await expect(rt.createPool(model, { workers } as never)).rejects.toThrow(new RegExp(`^workers: expected an integer in \\[1, 64\\], found ${found}$`));
    await expect(rt.createPool(join(dir, "nope.qmodel"), { workers: 2 })).rejects.toThrow(/nope\.qmodel: cannot read: no such file or directory$/);
    // Compiles here, fails to link in each worker: createPool rejects with the worker's message.
    await expect(rt.createPool(model, { workers: 2, flavor: "simd", wasm: { simd: UNLINKABLE } })).rejects.toThrow(/env.*foo/);
    const pool = await rt.createPool(model, { workers: 2 });
    await expect(pool.run(new Uint8Array(100))).rejects.toThrow(/^images: expected a Uint8Array of a multiple of 784 bytes .*found Uint8Array of 100 elements$/);
    await expect(pool.run(new Float32Array(784) as never)).rejects.toBeInstanceOf(rt.NipqInputError);
    // Runs still pending when the pool closes reject; so does any later run.
    const pending = pool.run(pixels(64)).catch((e: Error) => e);
    await pool.close();
    expect(await pending).toEqual(new Error("pool: closed"));
    await expect(pool.run(pixels(1))).rejects.toThrow(/^pool: closed$/);
  });
});

describeWithPackage("chromium", "createPool in headless Chromium (module Web Workers)", () => {
  let ctx: BrowserContext;
  let server: Awaited<ReturnType<typeof serve>>;
  let profile: string;
  beforeAll(async () => {
    server = await serve(exportFixture(0).dir);
    profile = mkdtempSync(join(tmpdir(), "nipq-chromium-profile-"));
    ctx = await launchChromium(profile);
  });
  afterAll(() => closeBrowserTest(ctx, server, profile));

  it("on the demo page, under its CSP, without SharedArrayBuffer: 2 workers give one thread's logits at batch 1, 3 and 64", async () => {
    const page = await ctx.newPage();
    const violations: string[] = [];
    page.on("console", (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
    await page.goto(server.url + "/");
    await page.waitForFunction(() => document.body.dataset.status === "ready", undefined, { timeout: 30_000 });
    // A string, not a function: vitest would rewrite a function's import() for Node.
    const r = (await page.evaluate(`(async () => {
      const rt = await import(new URL("./nipq-runtime.mjs", location.href).href);
      const x = new Uint8Array(64 * 784);
      for (let i = 0, s = 99; i < x.length; i++) x[i] = i % 3 === 0 ? 0 : (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
      const one = await rt.loadModel(new URL("./model.qmodel", location.href));
      const pool = await rt.createPool(new URL("./model.qmodel", location.href), { workers: 2 });
      const out = [];
      for (const n of [1, 3, 64]) {
        const a = one.predict(x.subarray(0, n * 784)), b = await pool.run(x.subarray(0, n * 784));
        out.push({ n, same: a.logits.length === n * 10 && a.logits.every((v, i) => v === b.logits[i]) && a.predictions.every((v, i) => v === b.predictions[i]), distinct: new Set(b.logits).size });
      }
      const bad = await rt.createPool(new URL("./model.qmodel", location.href), { workers: 0 }).catch((e) => e.message);
      await pool.close();
      const closed = await pool.run(x.subarray(0, 784)).catch((e) => e.message);
      return { out, bad, closed, sab: typeof SharedArrayBuffer, isolated: crossOriginIsolated, flavor: pool.flavor };
    })()`)) as { out: { n: number; same: boolean; distinct: number }[]; bad: string; closed: string; sab: string; isolated: boolean; flavor: string };
    expect(r.isolated, "no COOP/COEP: the page is not cross-origin isolated").toBe(false);
    expect(r.sab).toBe("undefined");
    // Chromium computes relaxed SIMD right (its probe passes), so "auto" picks the relaxed build in the workers too.
    expect(r.flavor).toBe("relaxed");
    for (const o of r.out) expect(o.same, `batch ${o.n}`).toBe(true);
    expect(r.out[2].distinct, "the logits vary").toBeGreaterThan(50);
    expect(r.bad).toBe("workers: expected an integer in [1, 64], found 0");
    expect(r.closed).toBe("pool: closed");
    expect(violations).toEqual([]);
  });
});
