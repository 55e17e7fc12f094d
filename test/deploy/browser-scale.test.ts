// The edge bundle at ImageNet size (issue 16): `nipq export` of a `nipq init` mobilenetv2 ×1.0, W4A4,
// 224×224×3, 1000 classes, loaded by the bundle's runtime (nipq-runtime.mjs) in headless Chromium, gives the
// same int16 logits on two synthetic images as Node's WASM kernels (which equal the reference kernels bit for
// bit, test/init/init.test.ts), with the build the page picks by itself ("auto": the relaxed-SIMD build in
// Chromium, test/deploy/browser-relaxed.test.ts; here it runs the relaxed GEMM on the 17 project convs and the
// fc, whose inputs are unsigned 4-bit), the SIMD and the scalar build.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeBundle } from "../../src/deploy/bundle.js";
import { runProgram } from "../../src/exec/interpret.js";
import { initProgram } from "../../src/init/index.js";
import { writeQModel } from "../../src/ir/io.js";
import type { Program } from "../../src/ir/types.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { relaxedBlock } from "../../src/kernels/wasm/prepare.js";
import { selectBackend } from "../../src/train/backend.js";
import { randomImages } from "../backends/random-program.js";
import { describeWithPackage } from "../helpers/debian.js";
import { launchChromium, requireBuilt, serve, closeBrowserTest } from "./helpers.js";

describeWithPackage("chromium", "mobilenetv2 W4A4 224×224×3 bundle in headless Chromium", () => {
  let ctx: BrowserContext;
  let server: Awaited<ReturnType<typeof serve>>;
  let tmp: string;
  let program: Program;

  beforeAll(async () => {
    requireBuilt();
    await selectBackend("auto");
    program = initProgram({ arch: "mobilenetv2", bits: { w: 4, a: 4 }, seed: 1 });
    tmp = mkdtempSync(join(tmpdir(), "nipq-mbv2-bundle-"));
    const file = join(tmp, "mobilenetv2-w4a4.qmodel");
    writeQModel(file, program);
    writeBundle(file, join(tmp, "bundle"), { data: "mnist", samples: 0 });
    server = await serve(join(tmp, "bundle"));
    ctx = await launchChromium(join(tmp, "profile"));
  }, 120_000);

  afterAll(() => closeBrowserTest(ctx, server, tmp));

  it("the page's logits equal Node's: auto (relaxed), SIMD and scalar", async () => {
    expect(program.layers[0].out.shape).toEqual([224, 224, 3]);
    const n = 2;
    const images = randomImages(program, n, 3);
    const node = Array.from(runProgram(program, loadWasmKernels(), images, n).logits);
    expect(node.length).toBe(n * 1000);
    expect(new Set(node).size, "logits vary").toBeGreaterThan(50);
    const dw = (l: Program["layers"][number]) => l.op === "conv2d" && l.groups > 1 && l.groups === program.layers[l.inputs[0]].out.shape[2];
    const relaxed = program.layers.filter((l) => (l.op === "conv2d" || l.op === "dense") && !dw(l) && relaxedBlock(program.layers[l.inputs[0]].out, l.weights) > 0);
    expect(relaxed.length, "GEMM layers the relaxed kernel runs").toBe(18);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(server.url + "/bundle.json");
    for (const flavor of ["auto", "simd", "scalar"]) {
      // A string, not a function: vitest would rewrite a function's import() for Node.
      const got = (await page.evaluate(`(async () => {
        const rt = await import(new URL("/nipq-runtime.mjs", location.href).href);
        const m = await rt.loadModel(new URL("/model.qmodel", location.href), { flavor: ${JSON.stringify(flavor)} });
        const px = Uint8Array.from(atob(${JSON.stringify(Buffer.from(images).toString("base64"))}), (c) => c.charCodeAt(0));
        const r = m.predict(px, ${n});
        return { flavor: m.flavor, logits: Array.from(r.logits) };
      })()`)) as { flavor: string; logits: number[] };
      expect(got.flavor).toBe(flavor === "auto" ? "relaxed" : flavor);
      expect(got.logits, `${flavor} logits`).toEqual(node);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
