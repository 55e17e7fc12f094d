// .qmodel format version 2 (docs/FORMAT.md): programs that use zero points, full-range tensors and weights,
// an input lookup table or explicit pads are written as version 2 and read back exactly; every other
// program is still version 1, byte for byte; a version-1 file that holds a format-2 field is rejected; the
// new fields are validated; and every executor runs it: the WASM kernels and the edge runtime bit for bit
// (test/backends, test/deploy/runtime.test.ts), the simulator on all its paths.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { QModelFormatError } from "../../src/errors.js";
import { crc32 } from "../../src/ir/crc32.js";
import { format2Uses, formatVersion } from "../../src/ir/features.js";
import { decodeQModel, encodeQModel } from "../../src/ir/qmodel.js";
import { validateProgram } from "../../src/ir/validate.js";
import type { Conv2DLayer, InputLayer, Program } from "../../src/ir/types.js";
import { compileProgram } from "../../src/exec/runner.js";
import { loadWasmKernels } from "../../src/kernels/wasm/backend.js";
import { buildChip } from "../../src/sim/chip/chip.js";
import { simKernels } from "../../src/sim/chip/kernels.js";
import { runChip, wasmEquivalent, withChipWeights } from "../../src/sim/chip/run.js";
import { loadHwModel } from "../../src/sim/hw/hwmodel.js";
import { randomImages, randomProgram } from "../backends/random-program.js";
import { runProgram } from "../../src/exec/interpret.js";
import { referenceKernels } from "../../src/kernels/reference/backend.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";

function fixCrc(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b, 0, b.length - 4), true);
  return b;
}

function formatError(b: Uint8Array | (() => void)): QModelFormatError {
  try {
    if (typeof b === "function") b();
    else decodeQModel(b, "x.qmodel");
  } catch (e) {
    if (e instanceof QModelFormatError) return e;
    throw e;
  }
  throw new Error("no error");
}

/** The program as the reader returns it: zero points of 0 and fullRange false are not stored (defaults). */
function withoutDefaults(p: Program): Program {
  const q = structuredClone(p);
  for (const l of q.layers) {
    if (l.out.zero === 0) delete l.out.zero;
    if (l.out.fullRange === false) delete l.out.fullRange;
  }
  return q;
}

/** A random format-2 program that uses at least `n` format-2 features, with an input table. */
function f2Program(seed: number): Program {
  for (let s = seed; ; s++) {
    const p = randomProgram(s, { format2: true });
    if ((p.layers[0] as InputLayer).lut && format2Uses(p).length >= 3) return p;
  }
}

describe(".qmodel format version 2", () => {
  it("format-2 programs are written as version 2 and read back field for field", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const p = randomProgram(seed, { format2: true });
      const bytes = encodeQModel(p);
      expect(bytes[4], p.name).toBe(formatVersion(p));
      const q = decodeQModel(bytes, p.name);
      expect(q).toEqual(withoutDefaults(p));
      expect(encodeQModel(q)).toEqual(bytes);
    }
    expect(formatVersion(f2Program(1))).toBe(2);
  });

  it("a program without format-2 features is version 1, byte for byte as before (the shipped fixture)", () => {
    const bytes = new Uint8Array(readFileSync(FIXTURE));
    const p = decodeQModel(bytes, FIXTURE);
    expect(format2Uses(p)).toEqual([]);
    expect(encodeQModel(p)).toEqual(bytes);
    // Zero points of 0 and fullRange false are the defaults: still version 1, keys not written.
    p.layers[1].out = { ...p.layers[1].out, zero: 0, fullRange: false };
    (p.layers[1] as Conv2DLayer).wFullRange = false;
    expect(encodeQModel(p)).toEqual(bytes);
  });

  it("a version-1 file holding a format-2 field is rejected, naming the field", () => {
    const p = f2Program(3);
    const bytes = encodeQModel(p);
    bytes[4] = 1;
    const first = format2Uses(p)[0];
    const e = formatError(fixCrc(bytes));
    expect(e.field).toBe(first.field);
    // Named as the reader names fields (format2Uses builds the path; the message must point at a real field).
    for (const u of format2Uses(p)) expect(u.field).toMatch(/^layers\[\d+\]\.(out\.zero|out\.fullRange|lut|wFullRange|padding)$/);
    expect(e.message).toMatch(/it needs format version 2/);
  });

  it("the input table is its own section, one byte per entry, two's complement when signed", () => {
    const p = f2Program(5);
    const lut = (p.layers[0] as InputLayer).lut!;
    const bytes = encodeQModel(p);
    const L = new DataView(bytes.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + L)));
    expect(header.sections[0]).toEqual({ layer: 0, kind: "lut", bytes: lut.length });
    expect(Array.from(bytes.subarray(12 + L, 12 + L + lut.length))).toEqual(Array.from(lut, (v) => v & 0xff));
    // A table of the wrong size is caught by the section table.
    header.sections[0].bytes = lut.length - 1;
    const h = new TextEncoder().encode(JSON.stringify(header));
    const rest = bytes.subarray(12 + L, bytes.length - 4);
    const out = new Uint8Array(12 + h.length + rest.length + 4);
    out.set(bytes.subarray(0, 8));
    new DataView(out.buffer).setUint32(8, h.length, true);
    out.set(h, 12);
    out.set(rest, 12 + h.length);
    expect(formatError(fixCrc(out)).field).toBe("sections[0].bytes");
  });

  it("validates the format-2 fields", () => {
    const base = () => structuredClone(f2Program(7));
    const cases: [string, (p: Program) => void, RegExp][] = [
      ["layers[1].out.zero", (p) => (p.layers[1].out.zero = p.layers[1].out.signed ? 2 ** (p.layers[1].out.bits - 1) : 2 ** p.layers[1].out.bits), /expected an integer in/],
      ["layers[1].out.fullRange", (p) => (p.layers[1].out = { ...p.layers[1].out, signed: false, zero: 0, fullRange: true }), /only a signed tensor can be full range/],
      ["layers[0].lut", (p) => ((p.layers[0] as InputLayer).lut = new Int16Array(5)), /entries \(256 per input channel\)/],
      ["layers[0].lut[3]", (p) => ((p.layers[0] as InputLayer).lut![3] = 300), /the input tensor's range/],
      [`layers[${p2Last()}].out.zero`, (p) => (p.layers[p.layers.length - 1].out.zero = 1), /the logits have no zero point/],
    ];
    for (const [field, edit, msg] of cases) {
      const p = base();
      edit(p);
      const e = formatError(() => validateProgram(p, "x.qmodel"));
      expect(e.field, field).toBe(field);
      expect(e.message, field).toMatch(msg);
    }
    // Input without a table: u8 pixels only.
    const q = base();
    delete (q.layers[0] as InputLayer).lut;
    q.layers[0].out = { ...q.layers[0].out, bits: 8, signed: false, zero: 3, fullRange: false };
    expect(formatError(() => validateProgram(q, "x.qmodel")).message).toMatch(/layers\[0\]\.out\.zero: expected 0 \(u8 pixels; other input tensors need a lookup table\)/);
  });

  it("explicit pads must each be below the window (every window keeps a real tap)", () => {
    const p = structuredClone(f2Program(9));
    const i = p.layers.findIndex((l) => l.op === "conv2d");
    const c = p.layers[i] as Conv2DLayer;
    c.padding = [c.kernel[0], 0, 0, 0];
    expect(formatError(() => validateProgram(p, "x.qmodel")).message).toMatch(new RegExp(`layers\\[${i}\\]\\.padding\\[0\\]: expected an integer in \\[0, ${c.kernel[0] - 1}\\]`));
  });

  it("full-range weights may hold −2^(b−1); narrow ones may not", () => {
    const p = structuredClone(f2Program(11));
    const i = p.layers.findIndex((l) => l.op === "conv2d");
    const c = p.layers[i] as Conv2DLayer;
    c.wFullRange = true;
    c.weights[0] = -(2 ** (c.wBits - 1));
    expect(() => validateProgram(p)).not.toThrow();
    c.wFullRange = false;
    expect(formatError(() => validateProgram(p, "x.qmodel")).message).toMatch(new RegExp(`layers\\[${i}\\]\\.weights\\[0\\]: expected an integer in \\[${-(2 ** (c.wBits - 1) - 1)}, ${2 ** (c.wBits - 1) - 1}\\] \\(${c.wBits}-bit narrow signed\\)`));
  });
});

function p2Last(): number {
  return f2Program(7).layers.length - 1;
}

describe("every executor runs format-2 programs: the WASM runner and the simulator's paths give the reference's integers", () => {
  const programs = [13, 21, 34].map(f2Program);

  it("the WASM whole-program runner (API, nipq run, edge runtime)", () => {
    for (const p of programs) {
      const images = randomImages(p, 3, 13);
      const ref = runProgram(p, referenceKernels, images, 3);
      expect(Array.from(compileProgram(p, loadWasmKernels({ flavor: "scalar" }), 4).run(images, 3).logits), p.name).toEqual(Array.from(ref.logits));
    }
  });

  it("the simulator: a clean chip predicts as the reference; a chip with weight noise gives the same logits on the plain-TS sim kernels as the WASM runner on its stored weights", () => {
    const clean = loadHwModel("int8-systolic-16x16").hw;
    const noisy = loadHwModel("int8-systolic-16x16", ["noise.weightGaussian.sigma=0.6"]).hw;
    for (const p of programs) {
      const n = 12;
      const images = randomImages(p, n, 5);
      const ref = runProgram(p, referenceKernels, images, n);
      expect(Array.from(runChip(p, buildChip(p, clean, 0, null), { n, images, labels: new Uint8Array(n) }, 5).predictions), p.name).toEqual(Array.from(ref.predictions));
      const chip = buildChip(p, noisy, 7, 1);
      expect(wasmEquivalent(chip)).toBe(true);
      const ts = runProgram(p, simKernels(chip), images, n).logits;
      const wasm = compileProgram(withChipWeights(p, chip), loadWasmKernels({ flavor: "scalar" }), n).run(images, n).logits;
      expect(Array.from(wasm), p.name).toEqual(Array.from(ts));
      expect(Array.from(ts)).not.toEqual(Array.from(ref.logits)); // the noise reached the logits
    }
  });
});
