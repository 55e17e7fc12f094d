import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QModelFormatError, NipqInputError } from "../../src/errors.js";
import { crc32 } from "../../src/ir/crc32.js";
import { decodeQModel, encodeQModel } from "../../src/ir/qmodel.js";
import { readQModel, writeQModel } from "../../src/ir/io.js";
import { validateProgram } from "../../src/ir/validate.js";
import { mulberry32 } from "../../src/rng.js";
import type { Conv2DLayer, DenseLayer, Program } from "../../src/ir/types.js";

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

/** A seeded integer generator for the fuzzer: uniform in [0, n). */
function rng(seed: number): (n: number) => number {
  const r = mulberry32(seed);
  return (n: number) => Math.floor(r() * n);
}

/** Names of inherited members: a table indexed with one must find nothing. */
const PROTO_KEYS = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__defineGetter__", "prototype"];

describe(".qmodel against hostile headers: prototype keys, huge indices, deep nesting, a BOM", () => {
  it("an op, a padding or a section kind named after an inherited member is a format error (not a TypeError)", () => {
    for (const k of PROTO_KEYS) {
      const op = formatError(editHeader((h) => (h.layers[2].op = k)));
      expect([op.field, op.message]).toEqual(["layers[2].op", `x.qmodel: layers[2].op: expected one of input, flatten, conv2d, dense, maxpool, avgpool, gap, add, found ${JSON.stringify(k)}`]);
      expect(formatError(editHeader((h) => (h.layers[1].padding = k))).field).toBe("layers[1].padding");
      expect(formatError(editHeader((h) => (h.sections[0].kind = k))).field).toBe("sections[0].kind");
    }
  });

  it("a key named after an inherited member is an unknown field wherever it appears", () => {
    const { header, rest } = splitFile(bytes);
    const text = JSON.stringify(header);
    for (const k of PROTO_KEYS) {
      for (const [where, field] of [
        ['{"format":', "header." + k],
        ['{"name":"conv1"', "layers[1]." + k],
        ['"out":{"shape":[28,28,32]', "layers[1].out." + k],
        ['{"layer":1,"kind":"weights"', "sections[0]." + k],
      ]) {
        const at = text.indexOf(where);
        expect(at, where).toBeGreaterThanOrEqual(0);
        const open = text.indexOf("{", at);
        const edited = text.slice(0, open + 1) + `${JSON.stringify(k)}:{"x":1},` + text.slice(open + 1);
        const e = formatError(rebuild(null, rest, edited));
        expect(e.field, `${k} in ${where}`).toBe(field);
        expect(e.message).toMatch(/no such field \(allowed: /);
      }
    }
    // As a layer's name it is just a name: the program loads and round-trips.
    const named = editHeader((h) => PROTO_KEYS.slice(0, 7).forEach((k, i) => (h.layers[i].name = k)));
    expect(decodeQModel(named).layers.map((l) => l.name).slice(0, 7)).toEqual(PROTO_KEYS.slice(0, 7));
    expect(Array.from(encodeQModel(decodeQModel(named)))).toEqual(Array.from(named));
  });

  it("huge or malformed indices, dims and counts fail on the field, at once", () => {
    const cases: [string, (h: Record<string, any>) => void][] = [
      ["layers[3].inputs[0]", (h) => (h.layers[3].inputs = [2 ** 31])],
      ["layers[3].inputs[0]", (h) => (h.layers[3].inputs = [1e308])],
      ["layers[3].inputs[0]", (h) => (h.layers[3].inputs = [-1])],
      ["layers[3].inputs[0]", (h) => (h.layers[3].inputs = [1.5])],
      ["layers[0].out.shape[0]", (h) => (h.layers[0].out.shape = [2 ** 20 + 1, 28, 1])],
      ["layers[0].out.shape", (h) => (h.layers[0].out.shape = [2 ** 20, 2 ** 20, 1])],
      ["layers[1].groups", (h) => (h.layers[1].groups = 2 ** 31)],
      ["layers[1].kernel[0]", (h) => (h.layers[1].kernel = [1e9, 3])],
      ["sections[1].layer", (h) => (h.sections[1].layer = 1e308)],
      ["sections[0].bytes", (h) => (h.sections[0].bytes = 2 ** 53)],
      ["layers", (h) => (h.layers = Array.from({ length: 100_001 }, () => 0))],
    ];
    for (const [field, edit] of cases) {
      const t0 = performance.now();
      const e = formatError(editHeader(edit));
      expect(e.field, field).toBe(field);
      expect(performance.now() - t0, field).toBeLessThan(1000);
    }
    // A header length past the file, and past 64 MiB.
    const big = bytes.slice();
    new DataView(big.buffer).setUint32(8, 0xffffffff, true);
    expect(formatError(fixCrc(big)).message).toMatch(/headerLength: expected at most \d+ bytes, found 4294967295/);
  });

  it("a field of the wrong type fails on that field, wherever the reader leaves the check to validateProgram", () => {
    // The reader checks only what becomes a typed array (m, s, wScale) and the field names; every other
    // field goes to the validator as found. 2^32 + 2^30 would wrap to a valid multiplier in an Int32Array.
    const cases: [string, (h: Record<string, any>) => void, RegExp][] = [
      ["layers[1].m[0]", (h) => (h.layers[1].m[0] = 2 ** 32 + 2 ** 30), /found 5368709120/],
      ["layers[1].s", (h) => (h.layers[1].s = { 0: 1 }), /expected an array/],
      ["layers[1].wScale[2]", (h) => (h.layers[1].wScale[2] = "0.5"), /expected a number, found "0.5"/],
      ["layers[1].out", (h) => (h.layers[1].out = null), /expected an object, found null/],
      ["layers[1].out.signed", (h) => (h.layers[1].out.signed = 0), /true or false, found 0/],
      ["layers[1].name", (h) => (h.layers[1].name = 5), /found 5/],
      ["layers[1].inputs", (h) => (h.layers[1].inputs = { 0: 0 }), /1 input index/],
      ["layers[1].kernel", (h) => (h.layers[1].kernel = "3x3"), /\[kh, kw\], found "3x3"/],
      ["layers[1].stride[1]", (h) => (h.layers[1].stride = [1, "1"]), /found "1"/],
      ["layers[1].padding", (h) => (h.layers[1].padding = [0, 0, 0]), /\[top, left, bottom, right\]/],
      ["layers[1].groups", (h) => delete h.layers[1].groups, /found nothing/],
      ["layers[1].wFullRange", (h) => (h.layers[1].wFullRange = 1), /true or false, found 1/],
      ["layers[1].lo", (h) => (h.layers[1].lo = "0"), /found "0"/],
      ["layers[2].kernel[0]", (h) => (h.layers[2].kernel = [[2], 2]), /an array of length 1/],
    ];
    for (const [field, edit, msg] of cases) {
      const e = formatError(editHeader(edit));
      expect(e.field, field).toBe(field);
      expect(e.message, field).toMatch(msg);
    }
  });

  it("nesting deeper than 8 is rejected by a scan before JSON.parse, whatever the header's size", () => {
    const { header, rest } = splitFile(bytes);
    const text = JSON.stringify(header);
    const nest = (d: number) => text.replace('"producer":', `"extra":${"[".repeat(d)}${"]".repeat(d)},"producer":`);
    expect(formatError(rebuild(null, rest, nest(7))).message).toMatch(/header\.extra: expected no such field/); // parsed (depth 8 is allowed), then refused as a key
    const deep = formatError(rebuild(null, rest, nest(8)));
    expect([deep.field, deep.message]).toEqual(["header", expect.stringMatching(/^x\.qmodel: header: expected JSON nested at most 8 deep, found deeper nesting at byte \d+$/)]);
    // 8 MB of "[": one scan, no parse (this cost 3.3 GB for 64 MiB before the bound).
    const t0 = performance.now();
    expect(formatError(rebuild(null, new Uint8Array(0), "[".repeat(8 << 20))).field).toBe("header");
    expect(performance.now() - t0).toBeLessThan(1000);
    // Brackets inside strings, escaped quotes included, are not nesting.
    const named = editHeader((h) => (h.name = '[[[[[[[[[[\\"{{{{{{{{{{'));
    expect(decodeQModel(named).name).toBe('[[[[[[[[[[\\"{{{{{{{{{{');
  });

  it("a byte-order mark before the header is rejected (FORMAT.md: no BOM)", () => {
    const { header, rest } = splitFile(bytes);
    const e = formatError(rebuild(null, rest, "\ufeff" + JSON.stringify(header)));
    expect([e.field, e.message]).toEqual(["header", "x.qmodel: header: expected UTF-8 JSON without a byte-order mark, found EF BB BF (a BOM)"]);
  });

  it("the output layer must be 1-D: a last layer of shape [28, 28, 10] is not [classes]", () => {
    const p = decodeQModel(bytes);
    const conv = p.layers[1] as Conv2DLayer;
    const last: Conv2DLayer = { ...conv, name: "logits", out: { shape: [28, 28, 10], bits: 16, signed: true, scale: 0.01 }, weights: conv.weights.subarray(0, 90), bias: conv.bias.subarray(0, 10), wScale: conv.wScale.subarray(0, 10), rq: { m: conv.rq.m.subarray(0, 10), s: conv.rq.s.subarray(0, 10), lo: -32767, hi: 32767 } };
    const bad: Program = { ...p, layers: [p.layers[0], last] };
    expect(() => validateProgram(bad, "o.qmodel")).toThrow("o.qmodel: layers[1].out.shape: expected [classes] (the logits are 1-D), found [28, 28, 10]");
  });
});

describe(".qmodel fuzz: 2,400 seeded mutations and truncations of the fixture", () => {
  it("each either loads to a valid program or throws QModelFormatError", () => {
    const r = rng(424242);
    const { header, rest } = splitFile(bytes);
    const headerText = JSON.stringify(header);
    const kinds = ["truncate", "flip", "flip+crc", "sections+crc", "number+crc", "splice+crc", "protokey+crc", "nest+crc"] as const;
    const keyTokens = [...headerText.matchAll(/"([A-Za-z]+)"(?=:)|"(input|conv2d|dense|maxpool|gap|same|valid|weights|bias)"/g)];
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
          const repl = ["0", "-1", "1", "2", "7", "8", "9", "16", "17", "63", "65536", "1073741823", "2147483648", "1e308", "-0.5", "0.5", "99999999999", "4294967296", "9007199254740993", "-1e308", "1048577"][r(21)];
          b = rebuild(null, rest, headerText.slice(0, m.index) + repl + headerText.slice(m.index! + m[0].length));
          break;
        }
        case "protokey+crc": {
          // A key or an enum string of the header becomes an inherited member's name.
          const m = keyTokens[r(keyTokens.length)];
          const proto = PROTO_KEYS[r(PROTO_KEYS.length)];
          b = rebuild(null, rest, headerText.slice(0, m.index) + JSON.stringify(proto) + headerText.slice(m.index! + m[0].length));
          break;
        }
        case "nest+crc": {
          // A value of the header wrapped in 1..12 arrays (the format needs depth 5; the reader allows 8).
          const nums = [...headerText.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
          const m = nums[r(nums.length)];
          const d = 1 + r(12);
          b = rebuild(null, rest, headerText.slice(0, m.index) + "[".repeat(d) + m[0] + "]".repeat(d) + headerText.slice(m.index! + m[0].length));
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
