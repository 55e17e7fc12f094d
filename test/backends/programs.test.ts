// Whole random programs (./random-program.ts) through every backend: identical logits to the reference,
// and identical intermediate tensors (so a mismatch names its layer). The WASM backends also run each
// program through their whole-program runner (activations in one liveness-planned arena). Backends that run
// .qmodel format 2 (registry.ts) also run format-2 programs: zero points at the ends of their ranges, full-range
// tensors and weights, input tables, explicit pads.

import { beforeAll, describe, expect, it } from "vitest";
import type { LayerKernels } from "../../src/kernels/backend.js";
import { interpretLayers, runProgram } from "../../src/exec/interpret.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { compileProgram } from "../../src/exec/runner.js";
import { format2Uses } from "../../src/ir/features.js";
import { BACKENDS_UNDER_TEST } from "./registry.js";
import { expectExact } from "./check.js";
import { randomImages, randomProgram } from "./random-program.js";

const PROGRAMS = 150;

for (const b of BACKENDS_UNDER_TEST) {
  const why = b.skip?.();
  describe.skipIf(!!why)(`random programs on backend ${b.name}${why ? ` (skipped: ${why})` : ""}`, () => {
    let k: LayerKernels;
    beforeAll(async () => {
      k = await b.load();
    });
    for (const format2 of b.format2 ? [false, true] : [false])
      it(`${PROGRAMS} random ${format2 ? "format-2 " : ""}programs: every layer and the logits identical to the reference`, () => {
        const ops = new Set<string>();
        const f2 = new Set<string>();
        for (let seed = 1; seed <= PROGRAMS; seed++) {
          const p = randomProgram(seed, { format2 });
          p.layers.forEach((l) => ops.add(l.op === "conv2d" && l.groups > 1 && l.groups === p.layers[l.inputs[0]].out.shape[2] ? "depthwise" : l.op));
          format2Uses(p).forEach((u) => f2.add(u.field.replace(/^layers\[\d+\]\./, "").replace(/\[\d+\]/g, "")));
          const n = 1 + (seed % 5);
          const images = randomImages(p, n, seed);
          const ref = interpretLayers(p, referenceKernels, images, n, true);
          const got = interpretLayers(p, k, images, n, true);
          ref.forEach((r, i) => expectExact(`program ${p.name}, layer ${i} (${p.layers[i].op} ${p.layers[i].name})`, r.data, got[i].data, r.spec.shape));
          if (k instanceof WasmKernels) {
            const whole = compileProgram(p, k, 5).run(images, n);
            expectExact(`program ${p.name}, whole-program runner`, runProgram(p, referenceKernels, images, n).logits, whole.logits, [whole.classes]);
          }
        }
        // The generator reaches every op (guards against a generator that silently stops covering one), and
        // in format 2 every format-2 field.
        expect([...ops].sort()).toEqual(["add", "avgpool", "conv2d", "dense", "depthwise", "flatten", "gap", "input", "maxpool"]);
        expect([...f2].sort()).toEqual(format2 ? ["lut", "out.fullRange", "out.zero", "padding", "wFullRange"] : []);
      });
  });
}
