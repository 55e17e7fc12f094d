import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { addRequant, argmaxRows, avgPoolSum, conv2dAcc, denseAcc, globalSum, maxPool, requantTensor } from "../../src/kernels/reference/ops.js";
import { outDim, samePadding, windowGeometry, type Padding } from "../../src/ir/types.js";

/** A conv case: input [H, W, C], weights [outC][kh][kw][C/groups]. */
interface ConvCase {
  H: number;
  W: number;
  C: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padding: Padding;
  groups: number;
  outC: number;
}

/** conv2dAcc on a case, with the IR's window geometry (what the Prepare step hands every backend). */
function conv(x: ArrayLike<number>, n: number, g: ConvCase, w: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  return conv2dAcc(x, n, windowGeometry([g.H, g.W, g.C], [g.kh, g.kw], [g.sh, g.sw], g.padding), g.groups, g.outC, w, bias);
}

const M_HALF = 2 ** 30; // m = 2^30 with s = 31 is the real multiplier 0.5

describe("reference kernels: hand-worked golden cases", () => {
  it("conv2d, valid padding, stride 1", () => {
    // x (3×3×1) = 1 2 3 / 4 5 6 / 7 8 9; w (2×2) = 1 0 / 0 −1; bias 10.
    // acc(0,0) = 10 + 1·1 − 1·5 = 6; acc(0,1) = 10 + 2 − 6 = 6; acc(1,0) = 10 + 4 − 8 = 6; acc(1,1) = 10 + 5 − 9 = 6.
    const g: ConvCase = { H: 3, W: 3, C: 1, kh: 2, kw: 2, sh: 1, sw: 1, padding: "valid", groups: 1, outC: 1 };
    expect(Array.from(conv([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, g, [1, 0, 0, -1], [10]))).toEqual([6, 6, 6, 6]);
  });

  it("conv2d, same padding, stride 2, two output channels", () => {
    // H = W = 3, k = 3, s = 2: pad_total = max((ceil(3/2) − 1)·2 + 3 − 3, 0) = 2, top/left = 1. Output 2×2.
    // x = 1..9 as above; channel 0: all-ones 3×3 kernel, bias 0; channel 1: centre tap 2, bias −1.
    // out(0,0) window rows −1..1, cols −1..1 → valid x = 1 2 / 4 5 → ch0 = 12, ch1 = 2·x(0,0) − 1 = 1
    // out(0,1) rows −1..1, cols 1..3 → 2 3 / 5 6 = 16; ch1 = 2·x(0,2) − 1 = 5
    // out(1,0) rows 1..3, cols −1..1 → 4 5 / 7 8 = 24; ch1 = 2·x(2,0) − 1 = 13
    // out(1,1) rows 1..3, cols 1..3 → 5 6 / 8 9 = 28; ch1 = 2·x(2,2) − 1 = 17
    const w = [...Array(9).fill(1), 0, 0, 0, 0, 2, 0, 0, 0, 0];
    const g: ConvCase = { H: 3, W: 3, C: 1, kh: 3, kw: 3, sh: 2, sw: 2, padding: "same", groups: 1, outC: 2 };
    expect(Array.from(conv([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, g, w, [0, -1]))).toEqual([12, 1, 16, 5, 24, 13, 28, 17]);
  });

  it("depthwise conv2d (groups = channels)", () => {
    // 2×2×2 input, channel 0 = 1 2 3 4, channel 1 = 10 20 30 40 (interleaved NHWC: 1,10, 2,20, 3,30, 4,40).
    // 2×2 valid kernels: ch0 w = 1 1 1 1 → 10; ch1 w = 1 −1 0 0 → 10 − 20 = −10; bias 0, 5 → 10, −5.
    const g: ConvCase = { H: 2, W: 2, C: 2, kh: 2, kw: 2, sh: 1, sw: 1, padding: "valid", groups: 2, outC: 2 };
    expect(Array.from(conv([1, 10, 2, 20, 3, 30, 4, 40], 1, g, [1, 1, 1, 1, 1, -1, 0, 0], [0, 5]))).toEqual([10, -5]);
  });

  it("dense + requant with ReLU clamp", () => {
    // x = [3, −2]; w = [[1, 2], [−4, 1]]; bias = [1, 0] → acc = [1 + 3 − 4, −12 − 2] = [0, −14]; second sample x = [5, 5] → [16, −15]
    const acc = denseAcc([3, -2, 5, 5], 2, 2, 2, [1, 2, -4, 1], [1, 0]);
    expect(Array.from(acc)).toEqual([0, -14, 16, -15]);
    // requant ×0.5 (m = 2^30, s = 31): 0 → 0; −14 → −7 → clamp lo 0; 16 → 8; −15 → floor(−7.5 + 0.5) = −7 → 0
    expect(Array.from(requantTensor(acc, 2, [M_HALF, M_HALF], [31, 31], 0, 15))).toEqual([0, 0, 8, 0]);
    // Same, signed range [−7, 7]: [0, −7, 7 (8 clamped), −7]
    expect(Array.from(requantTensor(acc, 2, [M_HALF, M_HALF], [31, 31], -7, 7))).toEqual([0, -7, 7, -7]);
  });

  it("max pool, same padding ignores padded taps", () => {
    // 3×3×1 input −5..3 row-major, k = 2, s = 2, same: pad_total = (2 − 1)·2 + 2 − 3 = 1, top/left 0 → 2×2 output
    // windows: rows 0..1 cols 0..1 → max(−5, −4, −2, −1) = −1; rows 0..1 col 2 → max(−3, 0) = 0;
    //          row 2 cols 0..1 → max(1, 2) = 2; row 2 col 2 → 3. Padding never wins although the input is negative.
    expect(Array.from(maxPool([-5, -4, -3, -2, -1, 0, 1, 2, 3], 1, windowGeometry([3, 3, 1], [2, 2], [2, 2], "same")))).toEqual([-1, 0, 2, 3]);
  });

  it("average pool and global average pool: sums, then requant", () => {
    // 2×2×1 = 1 2 3 5 → 2×2 window sum = 11; × 1/4 (m = 2^30, s = 32) = 2.75 → floor(2.75 + 0.5) = 3
    const acc = avgPoolSum([1, 2, 3, 5], 1, windowGeometry([2, 2, 1], [2, 2], [2, 2], "valid"));
    expect(Array.from(acc)).toEqual([11]);
    expect(Array.from(requantTensor(acc, 1, [M_HALF], [32], 0, 15))).toEqual([3]);
    // global: 2×1×2 input, ch0 = 4, 6 → 10; ch1 = 1, 2 → 3; × 1/2 → 5, floor(1.5 + 0.5) = 2
    const g = globalSum([4, 1, 6, 2], 1, 2, 1, 2);
    expect(Array.from(g)).toEqual([10, 3]);
    expect(Array.from(requantTensor(g, 2, [M_HALF], [31], 0, 15))).toEqual([5, 2]);
  });

  it("residual add with one shared shift", () => {
    // y = floor((a·ma + b·mb + 2^(s−1)) / 2^s), ma = 3·2^29 (0.75 at s = 31), mb = 2^30 (0.5):
    // a = 4, b = 2: 3 + 1 = 4 → 4;  a = 1, b = 1: 0.75 + 0.5 = 1.25 → 1;  a = −2, b = 1: −1.5 + 0.5 = −1 → −1;
    // a = 2, b = 1: 1.5 + 0.5 = 2 → 2;  a = 7, b = 7: 8.75 → 9 → clamp 7
    const ma = 3 * 2 ** 29;
    expect(Array.from(addRequant([4, 1, -2, 2, 7], [2, 1, 1, 1, 7], ma, M_HALF, 31, -7, 7))).toEqual([4, 1, -1, 2, 7]);
    // a tie: a = 1, b = 0 with ma = 2^30 → 0.5 → 1 (toward +∞); a = −1 → −0.5 → 0
    expect(Array.from(addRequant([1, -1], [0, 0], M_HALF, M_HALF, 31, -7, 7))).toEqual([1, 0]);
  });

  it("argmax takes the lowest index on ties", () => {
    expect(Array.from(argmaxRows([1, 5, 5, 0, -3, -3, -3, -3], 2, 4))).toEqual([1, 0]);
  });
});

/** Explicit im2col: patches [n·OH·OW][kh·kw·C] (zeros where the window leaves the input). */
function im2col(x: number[], n: number, g: ConvCase): { cols: number[]; rows: number; K: number } {
  const OH = outDim(g.H, g.kh, g.sh, g.padding);
  const OW = outDim(g.W, g.kw, g.sw, g.padding);
  const pt = g.padding === "same" ? samePadding(g.H, g.kh, g.sh).before : 0;
  const pl = g.padding === "same" ? samePadding(g.W, g.kw, g.sw).before : 0;
  const K = g.kh * g.kw * g.C;
  const cols: number[] = [];
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++)
            for (let c = 0; c < g.C; c++) {
              const iy = oy * g.sh + ky - pt;
              const ix = ox * g.sw + kx - pl;
              cols.push(iy < 0 || iy >= g.H || ix < 0 || ix >= g.W ? 0 : x[((b * g.H + iy) * g.W + ix) * g.C + c]);
            }
  return { cols, rows: n * OH * OW, K };
}

const geometry = fc
  .record({
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    C: fc.integer({ min: 1, max: 5 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    padding: fc.constantFrom("same" as const, "valid" as const),
    outC: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 2 }),
  })
  .filter((g) => g.padding === "same" || (g.H >= g.kh && g.W >= g.kw));

describe("reference kernels: properties (fast-check, fixed seeds)", () => {
  it("conv2d equals dense over an explicit im2col", () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (g0, seed) => {
        const g: ConvCase = { ...g0, groups: 1 };
        let r = seed;
        const rnd = (lo: number, hi: number) => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0), lo + (r % (hi - lo + 1)));
        const x = Array.from({ length: g0.n * g.H * g.W * g.C }, () => rnd(0, 255));
        const w = Array.from({ length: g.outC * g.kh * g.kw * g.C }, () => rnd(-127, 127));
        const bias = Array.from({ length: g.outC }, () => rnd(-1000, 1000));
        const { cols, rows, K } = im2col(x, g0.n, g);
        expect(Array.from(conv(x, g0.n, g, w, bias))).toEqual(Array.from(denseAcc(cols, rows, K, g.outC, w, bias)));
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  it("depthwise conv equals one single-channel conv per channel", () => {
    fc.assert(
      fc.property(geometry, (g0) => {
        const C = g0.C;
        const x = Array.from({ length: g0.n * g0.H * g0.W * C }, (_, i) => ((i * 37) % 15) - 7);
        const w = Array.from({ length: C * g0.kh * g0.kw }, (_, i) => ((i * 11) % 7) - 3);
        const bias = Array.from({ length: C }, (_, i) => i - 1);
        const dw = conv(x, g0.n, { ...g0, groups: C, outC: C }, w, bias);
        for (let c = 0; c < C; c++) {
          const xc = x.filter((_, i) => i % C === c);
          const wc = w.slice(c * g0.kh * g0.kw, (c + 1) * g0.kh * g0.kw);
          const one = conv(xc, g0.n, { ...g0, C: 1, groups: 1, outC: 1 }, wc, [bias[c]]);
          expect(Array.from(dw).filter((_, i) => i % C === c)).toEqual(Array.from(one));
        }
      }),
      { seed: 8, numRuns: 200 },
    );
  });

  it("same padding matches the formula for odd and even sizes and strides", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }), (H, k, s) => {
        const p = samePadding(H, k, s);
        // pad_total = max((ceil(H/s) − 1)·s + k − H, 0), top = floor(pad_total/2), bottom = the rest
        expect(p.total).toBe(Math.max((Math.ceil(H / s) - 1) * s + k - H, 0));
        expect(p.before).toBe(Math.floor(p.total / 2));
        expect(p.before + p.after).toBe(p.total);
        expect(outDim(H, k, s, "same")).toBe(Math.ceil(H / s));
        // The last window ends inside the padded input: (out − 1)·s + k ≤ H + total.
        expect((Math.ceil(H / s) - 1) * s + k).toBeLessThanOrEqual(H + p.total);
      }),
      { seed: 9, numRuns: 2000 },
    );
  });

  it("same-padded conv equals valid conv on an explicitly zero-padded input", () => {
    fc.assert(
      fc.property(geometry, (g0) => {
        const g: ConvCase = { ...g0, padding: "same", groups: 1 };
        const ph = samePadding(g.H, g.kh, g.sh);
        const pw = samePadding(g.W, g.kw, g.sw);
        const x = Array.from({ length: g0.n * g.H * g.W * g.C }, (_, i) => (i * 7919) % 256);
        const w = Array.from({ length: g.outC * g.kh * g.kw * g.C }, (_, i) => ((i * 31) % 15) - 7);
        const bias = Array.from({ length: g.outC }, () => 0);
        const HP = g.H + ph.total;
        const WP = g.W + pw.total;
        const xp = new Array(g0.n * HP * WP * g.C).fill(0);
        for (let b = 0; b < g0.n; b++)
          for (let y = 0; y < g.H; y++)
            for (let xx = 0; xx < g.W; xx++)
              for (let c = 0; c < g.C; c++) xp[((b * HP + y + ph.before) * WP + xx + pw.before) * g.C + c] = x[((b * g.H + y) * g.W + xx) * g.C + c];
        const same = conv(x, g0.n, g, w, bias);
        const valid = conv(xp, g0.n, { ...g, H: HP, W: WP, padding: "valid" }, w, bias);
        expect(Array.from(same)).toEqual(Array.from(valid));
      }),
      { seed: 10, numRuns: 300 },
    );
  });
});
