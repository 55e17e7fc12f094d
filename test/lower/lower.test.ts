import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { graphFiles, writeDirAtomic } from "../../src/graph/checkpoint.js";
import { loadDataset } from "../../src/data/index.js";
import { interpretLayers } from "../../src/exec/interpret.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { lowerGraph, LoweringError, PASSES } from "../../src/lower/index.js";
import { INPUT_PIXELS, quantizeValue, roundHalfEven, sameQuantization } from "../../src/graph/quantize.js";
import { tensorRange, type Conv2DLayer } from "../../src/ir/types.js";
import { readQModel } from "../../src/ir/io.js";
import { signedBitsOracle } from "../helpers/bits.js";
import { evalGraph, syntheticGraph } from "./synthetic.js";
import { expectInputError, nipq } from "../helpers/cli.js";

const data = loadDataset("mnist", "test");
const image = (i: number) => data.images.subarray(i * 784, (i + 1) * 784);
const calib = Array.from({ length: 20 }, (_, i) => image(i));

describe("lowering passes", () => {
  it("is a flat list of named passes, each with a one-line description", () => {
    expect(PASSES.map((p) => p.name)).toEqual(["check-finite", "assign-tensor-quant", "tensor-specs", "quantize-weights", "fold-bn", "choose-logit-scale", "quantize-bias", "dyadic-multipliers", "activation-clamps", "emit-program", "prove-accumulators"]);
    for (const p of PASSES) expect(p.what).not.toContain("\n");
  });

  it("rounds like tf.round (ties to even) and quantizes like training's eval quantizer", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, -3.5].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, -4]);
    // step 0.25, 4-bit signed: 0.375/0.25 = 1.5 → 2; 0.125/0.25 = 0.5 → 0; 5/0.25 = 20 → clamp 7
    expect(quantizeValue(0.375, 0.25, -7, 7)).toBe(2);
    expect(quantizeValue(0.125, 0.25, -7, 7)).toBe(0);
    expect(quantizeValue(5, 0.25, -7, 7)).toBe(7);
  });

  it("has one rule for quantizer equality: same bits, signedness and float32 step", () => {
    const f32 = { bits: 8, signed: false, step: Math.fround(1 / 255) }; // what a checkpoint stores
    expect(f32.step).not.toBe(INPUT_PIXELS.step);
    expect(sameQuantization(f32, INPUT_PIXELS)).toBe(true);
    const nextUp = new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(f32.step).buffer)[0] + 1]).buffer)[0];
    expect(sameQuantization({ ...f32, step: nextUp }, INPUT_PIXELS)).toBe(false); // one float32 ulp apart
    expect(sameQuantization({ ...f32, bits: 7 }, INPUT_PIXELS)).toBe(false);
    expect(sameQuantization({ ...f32, signed: true }, INPUT_PIXELS)).toBe(false);
  });
});

describe("lowering a synthetic trained network (every op; BN with a negative γ; ReLU6; residual add)", () => {
  const { graph, weights } = syntheticGraph(5, calib);
  const program = lowerGraph(graph, weights, "synthetic");

  it("keeps the integer weights exactly the ones training quantized, negating a channel with γ/σ < 0", () => {
    const conv1 = program.layers[1] as Conv2DLayer;
    const dv = new DataView(weights.buffer);
    const n = graph.nodes[1] as Extract<(typeof graph.nodes)[number], { op: "conv2d" }>;
    const step = n.weightQuant!.step;
    for (let o = 0; o < 8; o++)
      for (let k = 0; k < 9; k++) {
        const w = dv.getFloat32(n.weights.offset + 4 * (k * 8 + o), true); // tfjs [kh][kw][1][8]
        const q = quantizeValue(w, step, -7, 7);
        expect(conv1.weights[o * 9 + k]).toBe((o === 0 ? -q : q) + 0); // channel 0 has γ < 0 (+ 0 turns −0 into 0)
      }
    expect(conv1.rq.lo).toBe(0); // ReLU
    expect((program.layers[3] as Conv2DLayer).groups).toBe(8); // depthwise → groups = channels
    expect(program.layers[8].out).toMatchObject({ bits: 16, signed: true });
  });

  it("agrees with the float64 eval model (deployed bias): ≥ 99% of predictions, ≤ 0.01% of intermediate integers differ", () => {
    let agree = 0;
    let off = 0;
    let total = 0;
    const N = 200;
    const acts = interpretLayers(program, referenceKernels, data.images.subarray(0, N * 784), N, true);
    for (let b = 0; b < N; b++) {
      const f = evalGraph(graph, weights, image(b), { deployedBias: true });
      // every quantized tensor: integer vs round(float / step) of the float model
      program.layers.forEach((l, i) => {
        if (i === 0 || i === program.layers.length - 1) return;
        const size = f[i].length;
        const ints = acts[i].data.subarray(b * size, (b + 1) * size);
        const { bits, signed, scale } = l.out;
        const qmax = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
        f[i].forEach((v, k) => {
          const want = quantizeValue(v, scale, signed ? -qmax : 0, qmax);
          // With the deployed (rounded) bias both sides compute the same real numbers up to float32 inputs and
          // 31-bit dyadic multipliers, so only values within ~1e-9 of a rounding boundary may differ (none here).
          total++;
          if (ints[k] !== want) off++;
        });
      });
      const logits = f[f.length - 1];
      const fp = logits.indexOf(Math.max(...logits));
      const il = acts[acts.length - 1].data.subarray(b * 10, (b + 1) * 10);
      const ip = Array.from(il).indexOf(Math.max(...il));
      if (fp === ip) agree++;
    }
    console.log(`synthetic lowering: ${agree}/${N} predictions agree, ${off}/${total} intermediate integers differ`);
    expect(agree / N).toBeGreaterThanOrEqual(0.99);
    expect(off / total).toBeLessThanOrEqual(1e-4);
  });
});

describe("a dead channel (γ = 0)", () => {
  it("outputs the constant round(β/s_y) through the bias, with zero weights", () => {
    const { graph, weights } = syntheticGraph(5, calib);
    const w = weights.slice();
    const dv = new DataView(w.buffer);
    const conv1 = graph.nodes[1] as Extract<(typeof graph.nodes)[number], { op: "conv2d" }>;
    dv.setFloat32(conv1.bn!.gamma.offset + 4 * 2, 0, true); // channel 2: γ = 0 → y = β
    dv.setFloat32(conv1.bn!.beta.offset + 4 * 2, 0.5, true);
    const p = lowerGraph(graph, w, "dead");
    const l = p.layers[1] as Conv2DLayer;
    expect(Array.from(l.weights.subarray(2 * 9, 3 * 9)).every((v) => v === 0)).toBe(true);
    const want = Math.min(l.rq.hi, Math.max(l.rq.lo, Math.round(Math.fround(0.5) / l.out.scale)));
    expect(want).toBeGreaterThan(0);
    const acts = interpretLayers(p, referenceKernels, data.images.subarray(0, 3 * 784), 3, true);
    const ch2 = Array.from(acts[1].data).filter((_, i) => i % 8 === 2);
    expect(new Set(ch2)).toEqual(new Set([want]));
  });
});

describe("bad checkpoints: one line naming the layer, nothing written", () => {
  const { graph, weights } = syntheticGraph(6, calib.slice(0, 4));
  const mk = (g: unknown, w: Uint8Array): string => {
    const dir = join(mkdtempSync(join(tmpdir(), "nipq-lower-")), "ckpt");
    writeDirAtomic(dir, graphFiles(g as typeof graph, w));
    return dir;
  };

  it("NaN and Inf weights", () => {
    const w = weights.slice();
    const n = graph.nodes[4] as { weights: { offset: number } };
    new DataView(w.buffer).setFloat32(n.weights.offset + 8, NaN, true);
    expect(() => lowerGraph(graph, w, "ck")).toThrow(/ck: layer project \(nodes\[4\]\): weights\[2\]: expected a finite number, found NaN/);
    new DataView(w.buffer).setFloat32(n.weights.offset + 8, Infinity, true);
    const out = join(mkdtempSync(join(tmpdir(), "nipq-out-")), "m.qmodel");
    expectInputError(nipq(["lower", mk(graph, w), "--out", out]), /layer project \(nodes\[4\]\): weights\[2\]: expected a finite number, found Infinity/);
    expect(existsSync(out)).toBe(false);
  });

  it("a float checkpoint (no quantizers)", () => {
    const g = structuredClone(graph);
    (g.nodes[4] as { inputQuant: unknown }).inputQuant = null;
    expect(() => lowerGraph(g, weights, "ck")).toThrow(LoweringError);
    expect(() => lowerGraph(g, weights, "ck")).toThrow(/layer project \(nodes\[4\]\): has no input quantizer: a float checkpoint cannot be lowered/);
  });

  it("missing, incomplete and corrupt checkpoint directories; wrong weights length", () => {
    const out = join(mkdtempSync(join(tmpdir(), "nipq-out-")), "m.qmodel");
    expectInputError(nipq(["lower", "/nonexistent/ckpt", "--out", out]), /\/nonexistent\/ckpt\/graph\.json/);
    const dir = mk(graph, weights);
    writeFileSync(join(dir, "weights.bin"), weights.subarray(0, weights.length - 4));
    expectInputError(nipq(["lower", dir, "--out", out]), /graph\.json: weightsBytes: expected \d+ \(the size of weights\.bin\)/);
    writeFileSync(join(dir, "graph.json"), "{ not json");
    expectInputError(nipq(["lower", dir, "--out", out]), /graph\.json.*JSON/);
    const inc = mk(graph, weights);
    writeFileSync(join(inc, "graph.json"), JSON.stringify({ ...graph, nodes: graph.nodes.slice(0, 1) }));
    expectInputError(nipq(["lower", inc, "--out", out]), /nodes/);
    expect(readdirSync(join(out, ".."))).toEqual([]);
  });

  it("writes a valid .qmodel and reports it as JSON", () => {
    const out = join(mkdtempSync(join(tmpdir(), "nipq-out-")), "m.qmodel");
    const r = nipq(["lower", mk(graph, weights), "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.out).toBe(out);
    expect(doc.layers.map((l: { name: string }) => l.name)).toEqual(graph.nodes.map((n) => n.name));
    const ins = JSON.parse(nipq(["inspect", out, "--json"]).stdout);
    expect(ins.layers.map((l: { accBits: number | null }) => l.accBits)).toEqual([null, 14, null, 10, 9, null, null, 11, 10]);
    // The same widths from the lowered integers, without src/ir/accbound.ts: per channel the extreme
    // accumulators bias + Σ (w > 0 ? w·hi : w·lo) and bias + Σ (w > 0 ? w·lo : w·hi); pools window × range.
    const p = readQModel(out);
    const widths = p.layers.map((l) => {
      if (l.op !== "conv2d" && l.op !== "dense" && l.op !== "gap") return null;
      const x = p.layers[l.inputs[0]].out;
      const { lo, hi } = tensorRange(x);
      if (l.op === "gap") return signedBitsOracle(Math.min(0, x.shape[0] * x.shape[1] * lo), x.shape[0] * x.shape[1] * hi);
      const per = l.weights.length / l.bias.length;
      let min = 0;
      let max = 0;
      for (let o = 0; o < l.bias.length; o++) {
        let a = l.bias[o];
        let b = l.bias[o];
        for (const w of l.weights.subarray(o * per, (o + 1) * per)) {
          a += w > 0 ? w * lo : w * hi;
          b += w > 0 ? w * hi : w * lo;
        }
        min = Math.min(min, a);
        max = Math.max(max, b);
      }
      return signedBitsOracle(min, max);
    });
    expect(widths).toEqual([null, 14, null, 10, 9, null, null, 11, 10]);
  });
});
