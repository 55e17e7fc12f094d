// The simulator's raw depthwise kernel (assembly/dwconv.ts dwconv_s16_acc) on a range of output pixels, against
// the plain-TS reference (conv2dAcc with groups = C): the fast path (src/sim/chip/fastpath.ts gaussSlabs) takes one
// image's accumulators a slab of pixels at a time, and a slab may start and end mid-row, inside or outside the
// unchecked interior columns of the 3×3 kernel. With a16 = 1 (the layer's accumulator bound within [−2^15, 2^15)),
// the 3×3 kernel sums in wrapping i16 lanes: exact at the bound's ends, and wrong one past it (so the gate matters).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { weightAccBound } from "../../src/ir/accbound.js";
import { windowGeometry, type LayerPadding, type WindowGeometry } from "../../src/ir/types.js";
import { conv2dAcc } from "../../src/kernels/reference/ops.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { i32View } from "../../src/kernels/wasm/arena.js";

interface DwExports {
  dwconv_s16_acc(x: number, n: number, H: number, W: number, C: number, kh: number, kw: number, sh: number, sw: number, pt: number, pl: number, OH: number, OW: number, w: number, Cp: number, bias: number, p0: number, p1: number, y: number, a16: number): void;
}

/** The geometry of n images. */
type Geo = WindowGeometry & { n: number };

const geo = (n: number, H: number, W: number, C: number, k: number, s: number, padding: LayerPadding): Geo => ({ n, ...windowGeometry([H, W, C], [k, k], [s, s], padding) });

/** The reference's accumulators of pixels p0 … p1 − 1 of each image; w in the kernel's layout [tap][Cp]. */
function expected(g: Geo, x: Int16Array, w: Int16Array, Cp: number, bias: Int32Array, p0: number, p1: number): Int32Array {
  const taps = g.kh * g.kw;
  const wRef = Int8Array.from({ length: g.C * taps }, (_, i) => w[(i % taps) * Cp + Math.floor(i / taps)]); // [C][kh][kw][1]
  const all = conv2dAcc(x, g.n, g, g.C, g.C, wRef, bias.subarray(0, g.C));
  const per = g.OH * g.OW * g.C;
  const out = new Int32Array(g.n * (p1 - p0) * g.C);
  for (let b = 0; b < g.n; b++) out.set(all.subarray(b * per + p0 * g.C, b * per + p1 * g.C), b * (p1 - p0) * g.C);
  return out;
}

const geoArb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 1, max: 11 }), W: fc.integer({ min: 1, max: 11 }), C: fc.integer({ min: 1, max: 21 }), k: fc.constantFrom(3, 3, 1, 2, 5), s: fc.integer({ min: 1, max: 2 }), same: fc.boolean(), seed: fc.nat() })
  .map((r) => ({ ...geo(r.n, r.H, r.W, r.C, r.same ? r.k : Math.min(r.k, r.H, r.W), r.s, r.same ? "same" : "valid"), seed: r.seed }));

/** A small deterministic generator for the operands. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe.each(["auto", "scalar"] as const)("dwconv_s16_acc on pixel ranges (%s build)", (flavor) => {
  const engine = new WasmEngine({ flavor, sim: true });
  const k = engine.k as unknown as DwExports;

  /** The kernel's accumulators for pixels [p0, p1) of each image, called once per range of `cuts`. */
  function run(g: Geo, x: Int16Array, w: Int16Array, Cp: number, bias: Int32Array, cuts: number[], a16 = 0): Int32Array {
    const a = engine.arena;
    const mark = a.mark();
    const xp = a.putI16(x, "test", x.length + 8); // ≥ 16 bytes of readable slack after the input
    const wp = a.putI16(w, "test");
    const bp = a.putI32(bias, "test");
    const per = g.OH * g.OW * g.C;
    const out = new Int32Array(g.n * per);
    const y = a.alloc(g.n * per * 4 + 64, "test");
    for (let b = 0; b < g.n; b++)
      for (let i = 0; i + 1 < cuts.length; i++) {
        const [p0, p1] = [cuts[i], cuts[i + 1]];
        const yv = i32View(a, y, (p1 - p0) * g.C + 16);
        yv.fill(0x5eed5eed);
        k.dwconv_s16_acc(xp + b * g.H * g.W * g.C * 2, 1, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, wp, Cp, bp, p0, p1, y, a16);
        // Nothing is written past the range's accumulators.
        expect(Array.from(yv.subarray((p1 - p0) * g.C))).toEqual(new Array(16).fill(0x5eed5eed));
        out.set(yv.subarray(0, (p1 - p0) * g.C), b * per + p0 * g.C);
      }
    a.release(mark);
    return out;
  }

  function operands(g: Geo, seed: number) {
    const r = lcg(seed);
    const Cp = Math.ceil(g.C / 8) * 8;
    const x = Int16Array.from({ length: g.n * g.H * g.W * g.C }, () => Math.floor(r() * 256) - 128);
    const w = new Int16Array(g.kh * g.kw * Cp);
    for (let t = 0; t < g.kh * g.kw; t++) for (let c = 0; c < g.C; c++) w[t * Cp + c] = Math.floor(r() * 255) - 127;
    const bias = Int32Array.from({ length: Cp }, (_, c) => (c < g.C ? Math.floor(r() * 20001) - 10000 : 0));
    return { Cp, x, w, bias };
  }

  it("equals the definition on 200 seeded geometries, over ranges cut at random pixels (mid-row, single pixels, empty)", () => {
    fc.assert(
      fc.property(geoArb, fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 6 }), (g, raw) => {
        const { Cp, x, w, bias } = operands(g, g.seed);
        const nPix = g.OH * g.OW;
        const cuts = [0, ...raw.map((v) => v % (nPix + 1)).sort((a, b) => a - b), nPix];
        const want = expected(g, x, w, Cp, bias, 0, nPix);
        expect(Array.from(run(g, x, w, Cp, bias, cuts))).toEqual(Array.from(want));
      }),
      { seed: 20261130, numRuns: 200 },
    );
  });

  /** Operands whose every accumulator fits i16 (4-bit inputs and weights like mobilenetv2 W4A4's): |acc| ≤ 9·15·7 + 3000. */
  function operands16(g: Geo, seed: number, signed: boolean) {
    const r = lcg(seed);
    const Cp = Math.ceil(g.C / 8) * 8;
    const x = Int16Array.from({ length: g.n * g.H * g.W * g.C }, () => Math.floor(r() * 16) - (signed ? 8 : 0));
    const w = new Int16Array(g.kh * g.kw * Cp);
    for (let t = 0; t < g.kh * g.kw; t++) for (let c = 0; c < g.C; c++) w[t * Cp + c] = Math.floor(r() * 15) - 7;
    const bias = Int32Array.from({ length: Cp }, (_, c) => (c < g.C ? Math.floor(r() * 6001) - 3000 : 0));
    return { Cp, x, w, bias };
  }

  it("i16 taps (a16 = 1): equals the definition on 200 seeded geometries (3×3 and others, any padding, 1…3 images per call), over ranges cut at random pixels", () => {
    fc.assert(
      fc.property(geoArb, fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 6 }), fc.boolean(), (g, raw, signed) => {
        const { Cp, x, w, bias } = operands16(g, g.seed, signed);
        const nPix = g.OH * g.OW;
        const cuts = [0, ...raw.map((v) => v % (nPix + 1)).sort((a, b) => a - b), nPix];
        const want = expected(g, x, w, Cp, bias, 0, nPix);
        expect(Array.from(run(g, x, w, Cp, bias, cuts, 1))).toEqual(Array.from(want));
        // All the images in one call, pixels [p0, p1) of each, packed.
        const [p0, p1] = [cuts[Math.floor(cuts.length / 2) - 1], cuts[Math.floor(cuts.length / 2)]];
        const a = engine.arena;
        const mark = a.mark();
        const y = a.alloc(g.n * (p1 - p0) * g.C * 4 + 16, "test");
        k.dwconv_s16_acc(a.putI16(x, "test", x.length + 8), g.n, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, a.putI16(w, "test"), Cp, a.putI32(bias, "test"), p0, p1, y, 1);
        const got = Array.from(i32View(a, y, g.n * (p1 - p0) * g.C));
        a.release(mark);
        expect(got).toEqual(Array.from(expected(g, x, w, Cp, bias, p0, p1)));
      }),
      { seed: 20261201, numRuns: 200 },
    );
  });

  // The 3×3 borders of the i16 path (dwRaw16Body, dw3x3Row16Raw), as test/kernels/dwconv-paths.test.ts sweeps the
  // requantizing kernels': a window row above or below x and a window column left or right of it are masked, other
  // windows check each tap. Explicit pads reach the masked right column at stride 2 that `same` and `valid` miss.
  it("i16 taps (a16 = 1): 3×3 borders over input sizes 1…9, strides 1 and 2, same/valid/explicit pads, 8, 13 and 32 channels", () => {
    const sizes: [number, number][] = [[5, 40], [1, 1], [1, 5], [2, 2], [2, 9], [3, 3], [5, 1], [4, 7], [7, 7], [8, 6], [9, 10]];
    const pads: LayerPadding[] = ["same", "valid", [1, 1, 1, 1], [2, 2, 2, 2], [0, 1, 2, 0], [2, 0, 1, 2], [1, 2, 0, 1]];
    let cases = 0;
    for (const [H, W] of sizes)
      for (const stride of [1, 2])
        for (const padding of pads)
          for (const C of [8, 13, 32]) {
            const g = geo(2, H, W, C, 3, stride, padding);
            if (g.OH < 1 || g.OW < 1) continue;
            const { Cp, x, w, bias } = operands16(g, H * 1000 + W * 100 + stride * 10 + C, C === 13);
            const nPix = g.OH * g.OW;
            const got = Array.from(run(g, x, w, Cp, bias, [0, Math.floor(nPix / 3), nPix], 1));
            expect(got, `${H}×${W}×${C} stride ${stride} pads ${JSON.stringify(padding)}`).toEqual(Array.from(expected(g, x, w, Cp, bias, 0, nPix)));
            cases++;
          }
    expect(cases).toBeGreaterThan(300);
  });

  it("n images in one call: each image's pixels [p0, p1), packed", () => {
    const g = geo(3, 9, 10, 13, 3, 1, "same");
    const { Cp, x, w, bias } = operands(g, 5);
    const a = engine.arena;
    const mark = a.mark();
    const xp = a.putI16(x, "test", x.length + 8);
    const y = a.alloc(g.n * 90 * g.C * 4 + 16, "test");
    k.dwconv_s16_acc(xp, g.n, g.H, g.W, g.C, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.OH, g.OW, a.putI16(w, "test"), Cp, a.putI32(bias, "test"), 13, 47, y, 0);
    const got = Array.from(i32View(a, y, g.n * 34 * g.C));
    a.release(mark);
    expect(got).toEqual(Array.from(expected(g, x, w, Cp, bias, 13, 47)));
  });

  it("3×3 stride 1 and 2, every slab of 4 pixels of a 12×13 image (rows cut at every column, interior and border)", () => {
    for (const s of [1, 2]) {
      const g = geo(1, 12, 13, 24, 3, s, "same");
      const { Cp, x, w, bias } = operands(g, 9 + s);
      const nPix = g.OH * g.OW;
      const cuts = Array.from({ length: Math.ceil(nPix / 4) + 1 }, (_, i) => Math.min(nPix, 4 * i));
      expect(Array.from(run(g, x, w, Cp, bias, cuts))).toEqual(Array.from(expected(g, x, w, Cp, bias, 0, nPix)));
    }
  });

  /**
   * A layer whose accumulators reach its bound: x in [lo, hi] (signed or not), weights [tap][Cp] at ±wMax ("max"/"min",
   * the same sign for all) or random, bias per channel; image 0's rows 0–3 at the input's top and rows 5–7 at its
   * bottom, so whole windows (with "max"/"min" weights) put accumulators on the bound's ends; the rest random.
   */
  function boundLayer(g: Geo, seed: number, lo: number, hi: number, wMax: number, wk: "max" | "min" | "rand", bias: number | number[]) {
    const r = lcg(seed);
    const Cp = Math.ceil(g.C / 8) * 8;
    const x = Int16Array.from({ length: g.n * g.H * g.W * g.C }, (_, i) => {
      const row = Math.floor(i / (g.W * g.C));
      if (i < g.H * g.W * g.C && row <= 3) return hi;
      if (i < g.H * g.W * g.C && row >= 5 && row <= 7) return lo;
      return lo + Math.floor(r() * (hi - lo + 1));
    });
    const w = new Int16Array(9 * Cp);
    for (let t = 0; t < 9; t++) for (let c = 0; c < g.C; c++) w[t * Cp + c] = wk === "max" ? wMax : wk === "min" ? -wMax : Math.floor(r() * (2 * wMax + 1)) - wMax;
    const b = Int32Array.from({ length: Cp }, (_, c) => (c < g.C ? (typeof bias === "number" ? bias : bias[c % bias.length]) : 0));
    const wRef = Int16Array.from({ length: g.C * 9 }, (_, i) => w[(i % 9) * Cp + Math.floor(i / 9)]);
    const bound = weightAccBound(wRef, b.subarray(0, g.C), { lo, hi });
    return { Cp, x, w, bias: b, bound };
  }

  // The cases of test/kernels/dwconv-paths.test.ts's i16 limit, raw: 9·127·15 = 17,145 from whole windows at x = 15.
  const LIMITS = [
    { name: "bound top at 2^15 − 1 (on), stride 1, 8 channels", C: 8, s: 1, lo: 0, hi: 15, wMax: 127, w: "max" as const, bias: 32767 - 9 * 127 * 15, on: true },
    { name: "bound top at 2^15 − 1 (on), stride 2, 13 channels", C: 13, s: 2, lo: 0, hi: 15, wMax: 127, w: "max" as const, bias: 32767 - 9 * 127 * 15, on: true },
    { name: "bound bottom at −2^15 (on), stride 2, 13 channels", C: 13, s: 2, lo: 0, hi: 15, wMax: 127, w: "min" as const, bias: -(32768 - 9 * 127 * 15), on: true },
    { name: "bound bottom at −2^15 (on), stride 1, 11 channels", C: 11, s: 1, lo: 0, hi: 15, wMax: 127, w: "min" as const, bias: -(32768 - 9 * 127 * 15), on: true },
    // Signed inputs (format 1 has no zero point: −8 … 7 is the widened range of a signed 4-bit input under flips), W4A4 like mobilenetv2's.
    { name: "signed W4A4, random weights and biases (on), stride 1, 21 channels", C: 21, s: 1, lo: -8, hi: 7, wMax: 7, w: "rand" as const, bias: [-300, 5, 17, 0, 299, -1, 2, 3, -4, 100, -100], on: true },
    { name: "signed W4A4, random weights and biases (on), stride 2, 5 channels", C: 5, s: 2, lo: -8, hi: 7, wMax: 7, w: "rand" as const, bias: [30000, -30000, 1, -7, 12], on: true },
    { name: "bound top at 2^15 (off), stride 1, 13 channels", C: 13, s: 1, lo: 0, hi: 15, wMax: 127, w: "max" as const, bias: 32768 - 9 * 127 * 15, on: false },
  ];

  for (const c of LIMITS)
    it(`3×3 i16 taps, ${c.name}: exact over slabs cut mid-row (and every 4 pixels) against the reference`, () => {
      for (const seed of [1, 2]) {
        const g = geo(2, 9, 10, c.C, 3, c.s, "same");
        const { Cp, x, w, bias, bound } = boundLayer(g, seed, c.lo, c.hi, c.wMax, c.w, c.bias);
        // The gate the fast path applies (fastpath.ts LayerNoise.a16): the bound's ends reached, inside [−2^15, 2^15) or not.
        expect(bound.bits <= 16).toBe(c.on);
        const want = expected(g, x, w, Cp, bias, 0, g.OH * g.OW);
        if (c.w !== "rand") expect(want.includes(c.w === "max" ? bound.max : bound.min)).toBe(true);
        const nPix = g.OH * g.OW;
        const a16 = bound.bits <= 16 ? 1 : 0;
        for (const cuts of [[0, 7, 8, Math.floor(0.7 * nPix), nPix], Array.from({ length: Math.ceil(nPix / 4) + 1 }, (_, i) => Math.min(nPix, 4 * i))])
          expect(Array.from(run(g, x, w, Cp, bias, cuts, a16))).toEqual(Array.from(want));
        // Past the bound the i16 sum wraps: forcing a16 there must not pass (the SIMD build; the scalar one has no i16 taps).
        if (!c.on && flavor === "auto") expect(Array.from(run(g, x, w, Cp, bias, [0, nPix], 1))).not.toEqual(Array.from(want));
      }
    });
});
