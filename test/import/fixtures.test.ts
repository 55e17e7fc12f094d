// The ONNX import fixtures (test/fixtures/onnx/) as they stand before the importer exists: every file decodes
// with onnx-proto, uses exactly the ops its README row lists (opset ≤ 15, what onnx-proto 8 encodes), its
// expectations are complete and consistent with the dataset, and onnxruntime-node reproduces them: directly for
// QDQ/QOperator, with each QONNX Quant expanded into standard ops for QONNX (an independent check of the numpy
// reference in make_fixtures.py).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { argmax, decodeModel, expandQuant, FIXTURE_DIR, listFixtures, loadOrt, opsets, opTypes, outputStep, runOrt, testImages } from "../../scripts/onnx-fixtures/fixtures.js";

const { onnx } = onnxProto;

const fixtures = listFixtures();
const readme = readFileSync(join(FIXTURE_DIR, "README.md"), "utf8");

/** The README's op table (section "Ops per file"): rows `| \`file.onnx\` | \`Op\` \`domain:Op\` … |`. */
const opSection = readme.split(/^## /m).find((s) => s.startsWith("Ops per file")) ?? "";
const readmeOps = new Map(
  opSection
    .split("\n")
    .map((line) => /^\| `([\w.-]+\.onnx)` \| ([^|]+) \|/.exec(line))
    .filter((r): r is RegExpExecArray => r !== null)
    .map((r) => [r[1], [...r[2].matchAll(/`([^`]+)`/g)].map((m) => m[1])]),
);

const ort = await loadOrt();
const ortSkip = typeof ort === "string" ? ort : undefined;
if (ortSkip) console.warn(`fixtures.test.ts: skipping the onnxruntime checks: ${ortSkip}`);

/** Share of images whose predictions agree; on the machine that wrote the expectations it is 1. */
const MIN_AGREEMENT = 0.99;

describe("ONNX import fixtures", () => {
  it("every .onnx has expectations and one README row, and every README row has a file", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(9);
    expect([...readmeOps.keys()].sort()).toEqual(fixtures.map((f) => `${f.name}.onnx`));
    for (const f of fixtures) {
      expect(f.expected, f.expectedPath).toBeDefined();
      expect(f.expected.model).toBe(`${f.name}.onnx`);
    }
    expect(new Set(fixtures.map((f) => f.expected.format))).toEqual(new Set(["qdq", "qoperator", "qonnx"]));
  });

  for (const f of fixtures) {
    describe(f.name, () => {
      const bytes = readFileSync(f.onnxPath);
      const e = f.expected;

      it("decodes with onnx-proto, opset ≤ 15, ops exactly as the README lists them", () => {
        const model = decodeModel(bytes);
        const sets = opsets(model);
        expect(sets.get("")).toBeGreaterThanOrEqual(13);
        expect(sets.get("")).toBeLessThanOrEqual(15);
        expect(opTypes(model).sort()).toEqual([...(readmeOps.get(`${f.name}.onnx`) ?? [])].sort());
        const initializers = new Set(model.graph!.initializer!.map((t) => t.name));
        const input = model.graph!.input!.find((i) => !initializers.has(i.name))!;
        expect(input.name).toBe(e.input.name);
        const dims = input.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
        expect(dims).toEqual(e.input.shape);
      });

      it("expectations are complete and agree with the dataset's labels", () => {
        const img = testImages(e);
        expect(e.predictions).toHaveLength(img.n);
        expect(e.logits).toHaveLength(e.logitsN);
        for (const row of e.logits!) expect(row).toHaveLength(10);
        const correct = e.predictions!.filter((p, i) => p === img.labels[i]).length;
        expect(e.accuracy).toEqual({ correct, n: img.n, value: Math.round((correct / img.n) * 1e4) / 1e4 });
        for (let i = 0; i < e.logitsN; i++) expect(argmax(e.logits![i])).toBe(e.predictions![i]);
        expect(e.accuracy!.value).toBeGreaterThan(0.8);
      });

      it.skipIf(ortSkip !== undefined)("onnxruntime-node reproduces the expected predictions and logits", async () => {
        if (typeof ort === "string") return;
        const img = testImages(e);
        const model = decodeModel(bytes);
        const logits = await runOrt(ort, e.format === "qonnx" ? expandQuant(model) : bytes, e, img);
        const mismatches = logits.map((l, i) => [i, argmax(l), e.predictions![i]]).filter(([, got, want]) => got !== want);
        expect(mismatches.length, `images whose prediction differs [index, onnxruntime, expected]: ${JSON.stringify(mismatches.slice(0, 10))}`).toBeLessThanOrEqual(img.n * (1 - MIN_AGREEMENT));
        // QDQ/QOperator logits are dequantized integers: within two steps of the output scale. QONNX logits are
        // float (Gemm after the last Quant): within 1e-3 relative.
        const step = e.format === "qonnx" ? 0 : outputStep(model);
        let far = 0;
        for (let i = 0; i < e.logitsN; i++) {
          const tol = e.format === "qonnx" ? 1e-3 * (1 + Math.max(...e.logits![i].map(Math.abs))) : 2 * step + 1e-6;
          if (e.logits![i].some((v, k) => Math.abs(v - logits[i][k]) > tol)) far++;
        }
        expect(far, "images with a logit outside the tolerance").toBeLessThanOrEqual(e.logitsN * (1 - MIN_AGREEMENT));
      });
    });
  }
});

/** QONNX Quant by the spec, float32 at every step: x/scale + zeropt, clamp, round half to even, − zeropt, · scale. */
function quantSpec(x: number, scale: number, zeropt: number, lo: number, hi: number): number {
  const f = Math.fround;
  const y = Math.min(hi, Math.max(lo, f(f(x / scale) + zeropt)));
  const r = Math.round(y);
  const even = r - y === 0.5 && r % 2 !== 0 ? r - 1 : r; // Math.round sends ties up; ties go to even
  return f(f(even - zeropt) * scale);
}

describe("the Quant expansion the QONNX check runs through onnxruntime", () => {
  // Exact ties (k + ½ at a power-of-two scale) and values past both ends, for every bit width, sign and narrowness.
  it.skipIf(ortSkip !== undefined)("follows the QONNX spec at ties and at the range ends, 2..8 bits", async () => {
    if (typeof ort === "string") return;
    const scale = 0.25;
    for (let bits = 2; bits <= 8; bits++)
      for (const signed of [0, 1])
        for (const narrow of [0, 1]) {
          const lo = signed ? -(2 ** (bits - 1)) + narrow : 0;
          const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1 - narrow;
          const zeropt = signed ? 0 : 2;
          const xs = Float32Array.from({ length: hi - lo + 7 }, (_, i) => (lo - 3 + i - zeropt + 0.5) * scale);
          const f32 = (name: string, v: number) => onnx.TensorProto.create({ name, dataType: 1, dims: [], floatData: [v] });
          const model = onnx.ModelProto.create({
            irVersion: 7,
            opsetImport: [{ domain: "", version: 13 }, { domain: "qonnx.custom_op.general", version: 1 }],
            graph: {
              name: "quant",
              node: [{ opType: "Quant", domain: "qonnx.custom_op.general", input: ["x", "s", "z", "b"], output: ["y"],
                       attribute: [{ name: "signed", type: 2, i: signed }, { name: "narrow", type: 2, i: narrow }, { name: "rounding_mode", type: 3, s: new TextEncoder().encode("ROUND") }] }],
              initializer: [f32("s", scale), f32("z", zeropt), f32("b", bits)],
              input: [{ name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: xs.length }] } } } }],
              output: [{ name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: xs.length }] } } } }],
            },
          });
          const session = await ort.InferenceSession.create(expandQuant(model));
          const y = (await session.run({ x: new ort.Tensor("float32", xs, [xs.length]) })).y.data as Float32Array;
          await session.release();
          const want = Array.from(xs, (x) => quantSpec(x, scale, zeropt, lo, hi));
          expect(Array.from(y), `bits ${bits} signed ${signed} narrow ${narrow}`).toEqual(want);
          expect(Math.min(...want)).toBe((lo - zeropt) * scale);
          expect(Math.max(...want)).toBe((hi - zeropt) * scale);
        }
  });
});

