import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QModelFormatError, NipqInputError } from "../../src/errors.js";
import { crc32 } from "../../src/ir/crc32.js";
import { decodeQModel, encodeQModel } from "../../src/ir/qmodel.js";
import { readQModel, writeQModel } from "../../src/ir/io.js";
import { validateProgram } from "../../src/ir/validate.js";
import type { DenseLayer, Program } from "../../src/ir/types.js";

const FIXTURE = "test/fixtures/cnn-s-w4a4-random.qmodel";
const bytes = new Uint8Array(readFileSync(FIXTURE));

/** Header JSON of a .qmodel and the rest of the file. */
function splitFile(b: Uint8Array): { header: Record<string, any>; rest: Uint8Array } {
  const L = new DataView(b.buffer, b.byteOffset).getUint32(8, true);
  return { header: JSON.parse(new TextDecoder().decode(b.subarray(12, 12 + L))), rest: b.subarray(12 + L, b.length - 4) };
}

/** Rebuilds a file from a (possibly edited) header and sections, with a correct checksum. */
function rebuild(header: unknown, rest: Uint8Array, headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(12 + h.length + rest.length + 4);
  out.set(bytes.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, h.length, true);
  out.set(h, 12);
  out.set(rest, 12 + h.length);
  return fixCrc(out);
}

function fixCrc(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, crc32(b, 0, b.length - 4), true);
  return b;
}

function editHeader(fn: (h: Record<string, any>) => void): Uint8Array {
  const { header, rest } = splitFile(bytes);
  fn(header);
  return rebuild(header, rest);
}

function formatError(b: Uint8Array): QModelFormatError {
  try {
    decodeQModel(b, "x.qmodel");
  } catch (e) {
    if (e instanceof QModelFormatError) return e;
    throw e;
  }
  throw new Error("decoded without error");
}

describe(".qmodel format", () => {
  it("crc32 has the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("round-trips the fixture byte for byte", () => {
    const p = decodeQModel(bytes, FIXTURE);
    expect(p.layers.map((l) => l.op)).toEqual(["input", "conv2d", "maxpool", "conv2d", "maxpool", "conv2d", "gap", "dense"]);
    expect(Array.from(encodeQModel(p))).toEqual(Array.from(bytes));
  });

  it("errors name the file, the field, what was expected and what was found", () => {
    const wrong = bytes.slice();
    wrong[0] = 0x50;
    expect(formatError(wrong).message).toBe('x.qmodel: magic: expected "NQMD" (4E 51 4D 44), a .qmodel file, found bytes 50 51 4D 44');
    const v3 = bytes.slice();
    v3[4] = 3;
    expect(formatError(fixCrc(v3)).message).toBe("x.qmodel: version: expected 1 or 2, found 3");
    const flipped = bytes.slice();
    flipped[5000] ^= 1;
    expect(formatError(flipped).field).toBe("checksum");
    expect(formatError(bytes.subarray(0, 10)).message).toMatch(/x\.qmodel: file: expected at least 16 bytes, found 10 bytes \(truncated\)/);
    const trailing = new Uint8Array(bytes.length + 3);
    trailing.set(bytes.subarray(0, bytes.length - 4));
    expect(formatError(fixCrc(trailing)).message).toMatch(/trailing garbage|sections/);
  });

  it("validates every field of the header", () => {
    const cases: [string, (h: Record<string, any>) => void, RegExp][] = [
      ["layers[1].m[0]", (h) => (h.layers[1].m[0] = 5), /expected an integer in \[1073741824, 2147483647\], found 5/],
      ["layers[1].s[3]", (h) => (h.layers[1].s[3] = 63), /found 63/],
      ["layers[1].s[0]", (h) => (h.layers[1].s[0] = 0), /found 0/],
      ["layers[3].wBits", (h) => (h.layers[3].wBits = 9), /found 9/],
      ["layers[2].out.shape", (h) => (h.layers[2].out.shape = [14, 14, 31]), /expected \[14, 14, 32\]/],
      ["layers[1].out.bits", (h) => (h.layers[1].out.bits = 1), /found 1/],
      ["layers[7].out.bits", (h) => (h.layers[7].out.bits = 8), /16/],
      ["layers[1].hi", (h) => (h.layers[1].hi = 16), /found 16/],
      ["layers[3].inputs[0]", (h) => (h.layers[3].inputs = [5]), /earlier layer/],
      ["layers[1].padding", (h) => (h.layers[1].padding = "full"), /"same", "valid" or \[top, left, bottom, right\]/],
      ["layers[1].extra", (h) => (h.layers[1].extra = 1), /no such field/],
      ["layers[6].accBits", (h) => (h.layers[6].accBits = 32), /derived from the weights/],
      ["sections[0].bytes", (h) => (h.sections[0].bytes = 10), /144/],
      ["layers[4].out.scale", (h) => (h.layers[4].out.scale = 1), /same as the input/],
      ["layers[0].op", (h) => (h.layers[0].op = "flatten"), /expected "input" \(layer 0 is the input\), found "flatten"/],
    ];
    for (const [field, edit, msg] of cases) {
      const e = formatError(editHeader(edit));
      expect(e.field, field).toBe(field);
      expect(e.message, field).toMatch(msg);
    }
  });

  it("rejects a program whose accumulator could leave int32, naming the layer", () => {
    const p = decodeQModel(bytes);
    // dense with 8-bit weights 127 over 70,000 inputs of 8 bits unsigned: 127·255·70000 = 2,266,950,000 > 2^31 − 1.
    const inN = 70000;
    const big: Program = {
      name: "overflow",
      producer: "test",
      layers: [
        { op: "input", name: "in", inputs: [], out: { shape: [1, 1, inN], bits: 8, signed: false, scale: 1 / 255 } },
        { op: "flatten", name: "flat", inputs: [0], out: { shape: [inN], bits: 8, signed: false, scale: 1 / 255 } },
        { ...(p.layers[7] as DenseLayer), inputs: [1], weights: new Int8Array(10 * inN).fill(127), wBits: 8 },
      ],
    };
    expect(() => validateProgram(big, "big.qmodel")).toThrow(/big\.qmodel: layers\[2\]: expected accumulators that provably fit int32, found \|acc\| up to 22669500\d\d/);
    expect(() => encodeQModel(big)).toThrow(QModelFormatError);
  });

  it("writes atomically: a failed write leaves nothing, a good one replaces the file whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "nipq-qm-"));
    const p = decodeQModel(bytes);
    expect(() => writeQModel(join(dir, "missing", "m.qmodel"), p)).toThrow(NipqInputError);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(join(dir, "m.qmodel"), "old");
    writeQModel(join(dir, "m.qmodel"), p);
    expect(readdirSync(dir)).toEqual(["m.qmodel"]);
    expect(readQModel(join(dir, "m.qmodel")).layers.length).toBe(8);
    // An invalid program is rejected before anything is written.
    const bad = { ...p, layers: p.layers.slice(0, 3) };
    expect(() => writeQModel(join(dir, "bad.qmodel"), bad)).toThrow(QModelFormatError);
    expect(existsSync(join(dir, "bad.qmodel"))).toBe(false);
  });
});

/** A small seeded generator (mulberry32) for the fuzzer. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe(".qmodel fuzz: 2,400 seeded mutations and truncations of the fixture", () => {
  it("each either loads to a valid program or throws QModelFormatError", () => {
    const r = rng(424242);
    const { header, rest } = splitFile(bytes);
    const headerText = JSON.stringify(header);
    const kinds = ["truncate", "flip", "flip+crc", "sections+crc", "number+crc", "splice+crc"] as const;
    const tally: Record<string, { ok: number; err: number }> = {};
    for (let i = 0; i < 2400; i++) {
      const kind = kinds[i % kinds.length];
      let b: Uint8Array;
      switch (kind) {
        case "truncate":
          b = bytes.subarray(0, r(bytes.length));
          break;
        case "flip": {
          b = bytes.slice();
          for (let k = 1 + r(8); k > 0; k--) b[r(b.length)] ^= 1 << r(8);
          break;
        }
        case "flip+crc": {
          b = bytes.slice();
          for (let k = 1 + r(4); k > 0; k--) b[r(b.length - 4)] ^= 1 << r(8);
          fixCrc(b);
          break;
        }
        case "sections+crc": {
          const s = rest.slice();
          for (let k = 1 + r(16); k > 0; k--) s[r(s.length)] = r(256);
          b = rebuild(header, s);
          break;
        }
        case "number+crc": {
          // Replace one numeric token of the header with another number (edge values included).
          const nums = [...headerText.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
          const m = nums[r(nums.length)];
          const repl = ["0", "-1", "1", "2", "7", "8", "9", "16", "17", "63", "65536", "1073741823", "2147483648", "1e308", "-0.5", "0.5", "99999999999"][r(17)];
          b = rebuild(null, rest, headerText.slice(0, m.index) + repl + headerText.slice(m.index! + m[0].length));
          break;
        }
        case "splice+crc": {
          // Insert or delete a few bytes anywhere before the checksum.
          const at = r(bytes.length - 4);
          const body = bytes.subarray(0, bytes.length - 4);
          const mid = r(2) ? new Uint8Array(1 + r(5)).map(() => r(256)) : new Uint8Array(0);
          const cut = mid.length ? 0 : 1 + r(5);
          const joined = new Uint8Array([...body.subarray(0, at), ...mid, ...body.subarray(at + cut), 0, 0, 0, 0]);
          b = fixCrc(joined);
          break;
        }
      }
      let ok = false;
      try {
        const p = decodeQModel(b, "fuzz.qmodel");
        validateProgram(p, "fuzz.qmodel");
        ok = true;
      } catch (e) {
        if (!(e instanceof QModelFormatError)) throw new Error(`mutation ${i} (${kind}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        expect(e.message.startsWith("fuzz.qmodel: ")).toBe(true);
        expect(e.message).not.toContain("\n");
      }
      (tally[kind] ??= { ok: 0, err: 0 })[ok ? "ok" : "err"]++;
    }
    console.log(`fuzz tally ${JSON.stringify(tally)}`);
    // The mutations must exercise the validator, not only the checksum: some re-checksummed files load, some fail.
    expect(tally["number+crc"].err).toBeGreaterThan(50);
    expect(tally["sections+crc"].ok + tally["number+crc"].ok).toBeGreaterThan(0);
  });
});
