// The relaxed-SIMD build in headless Chromium (relaxed SIMD on by default there): the bundle's runtime picks
// it by itself ("auto": the probe passes), and the core of the kernel suite runs on it through whole
// programs — the seeded random programs of test/backends/ (every op; format 1 and format 2: zero points,
// full-range tensors, 7-bit and narrower unsigned activations feeding the relaxed GEMM, the rest falling
// back) and the cnn-s W4A4 fixture — each giving the reference kernels' int16 logits bit for bit.

import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runProgram } from "../../src/exec/interpret.js";
import { encodeQModel } from "../../src/ir/qmodel.js";
import type { Program } from "../../src/ir/types.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { relaxedBlock } from "../../src/kernels/wasm/prepare.js";
import { readQModel } from "../../src/ir/io.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import { describeWithPackage } from "../helpers/debian.js";
import { launchChromium, FIXTURE, requireBuilt, serve, closeBrowserTest } from "./helpers.js";

/** Random programs per format: the op suite's core (test/backends/programs.test.ts runs 150 in Node). */
const PROGRAMS = 40;

interface Case {
  file: string;
  n: number;
  images: Uint8Array;
  logits: number[];
}

describeWithPackage("chromium", "relaxed-SIMD kernels in headless Chromium", () => {
  let ctx: BrowserContext;
  let server: Awaited<ReturnType<typeof serve>>;
  let tmp: string;
  const cases: Case[] = [];
  let relaxedGemms = 0;

  beforeAll(async () => {
    requireBuilt();
    tmp = mkdtempSync(join(tmpdir(), "nipq-relaxed-browser-"));
    const dir = join(tmp, "site");
    mkdirSync(dir);
    for (const f of ["nipq-relaxed.wasm", "nipq-simd.wasm", "nipq-scalar.wasm"]) copyFileSync(join("build", f), join(dir, f));
    copyFileSync("build/deploy/nipq-runtime.mjs", join(dir, "nipq-runtime.mjs"));
    const add = (name: string, p: Program, n: number, seed: number) => {
      const images = randomImages(p, n, seed);
      writeFileSync(join(dir, name), encodeQModel(p));
      cases.push({ file: name, n, images, logits: Array.from(runProgram(p, referenceKernels, images, n).logits) });
      p.layers.forEach((l) => {
        if ((l.op === "conv2d" && !(l.groups > 1 && l.groups === p.layers[l.inputs[0]].out.shape[2])) || l.op === "dense")
          if (relaxedBlock(p.layers[l.inputs[0]].out, l.weights) > 0) relaxedGemms++;
      });
    };
    for (const format2 of [false, true]) for (let seed = 1; seed <= PROGRAMS; seed++) add(`p${format2 ? 2 : 1}-${seed}.qmodel`, randomProgram(seed, { format2 }), 1 + (seed % 5), seed);
    add("cnn-s.qmodel", readQModel(FIXTURE), 9, 1);
    server = await serve(dir);
    ctx = await launchChromium(join(tmp, "profile"));
  }, 120_000);

  afterAll(() => closeBrowserTest(ctx, server, tmp));

  it("auto picks the relaxed build; random programs (formats 1 and 2) and cnn-s W4A4 give the reference logits", async () => {
    expect(relaxedGemms, "GEMM layers the relaxed kernel runs").toBeGreaterThan(40);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url + "/nipq-runtime.mjs");
    const payload = cases.map((c) => ({ file: c.file, n: c.n, images: Buffer.from(c.images).toString("base64") }));
    // A string, not a function: vitest would rewrite a function's import() for Node.
    const got = (await page.evaluate(`(async () => {
      const rt = await import(new URL("/nipq-runtime.mjs", location.href).href);
      const out = [];
      for (const c of ${JSON.stringify(payload)}) {
        const m = await rt.loadModel(new URL("/" + c.file, location.href));
        const px = Uint8Array.from(atob(c.images), (ch) => ch.charCodeAt(0));
        out.push({ flavor: m.flavor, logits: Array.from(m.predict(px, c.n).logits) });
      }
      return out;
    })()`)) as { flavor: string; logits: number[] }[];
    expect(got.length).toBe(cases.length);
    got.forEach((g, i) => {
      expect(g.flavor, cases[i].file).toBe("relaxed");
      expect(g.logits, `${cases[i].file} logits`).toEqual(cases[i].logits);
    });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
