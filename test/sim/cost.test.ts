// The cost model on one small conv layer, every figure computed by hand (arithmetic in the comments).
// Layer: input 4×4×2 (8-bit) → conv 3×3 valid, 6 filters, 4-bit weights → 2×2×6 (4-bit out).
//   output pixels = 2·2 = 4, K = 3·3·2 = 18, filters = 6, MACs = 4·6·18 = 432. Array 4×4 (R = C = 4).

import { describe, expect, it } from "vitest";
import type { Conv2DLayer, InputLayer, Program } from "../../src/ir/types.js";
import { foldCycles, programCost, scaleSimMapping } from "../../src/sim/hw/cost.js";
import { loadHwModel, withSet, type HwModel } from "../../src/sim/hw/hwmodel.js";

const input: InputLayer = { op: "input", name: "input", inputs: [], out: { shape: [4, 4, 2], bits: 8, signed: false, scale: 1 / 255 } };
const conv: Conv2DLayer = {
  op: "conv2d", name: "conv", inputs: [0], out: { shape: [2, 2, 6], bits: 4, signed: false, scale: 0.1 }, kernel: [3, 3], stride: [1, 1], padding: "valid", groups: 1,
  wBits: 4, weights: new Int8Array(6 * 18).fill(1), wScale: new Float64Array(6).fill(0.1), bias: new Int32Array(6), rq: { m: new Int32Array(6).fill(2 ** 30), s: new Int32Array(6).fill(40), lo: 0, hi: 15 },
};
const program: Program = { name: "one-conv", producer: "test", layers: [input, conv] };

function digital(dataflow: string, scaling = "fixed"): HwModel {
  let hw = loadHwModel("int8-systolic-16x16").hw;
  for (const [k, v] of [["compute.rows", 4], ["compute.cols", 4], ["compute.dataflow", dataflow], ["precision.scaling", scaling]] as const) hw = withSet(hw, k.split("."), v);
  return hw;
}

describe("cost model, hand-computed", () => {
  it("SCALE-Sim mapping and folds per dataflow", () => {
    // os: Sr = 4 pixels, Sc = 6 filters, T = K = 18 → ceil(4/4)·ceil(6/4) = 2 folds × (2·4 + 4 + 18 − 2 = 28) = 56
    expect(scaleSimMapping("os", 4, 6, 18)).toEqual({ Sr: 4, Sc: 6, T: 18 });
    expect(programCost(program, digital("os")).layers[1]).toMatchObject({ folds: 2, computeCycles: 56 });
    // ws: Sr = K = 18, Sc = 6, T = 4 → ceil(18/4)·ceil(6/4) = 5·2 = 10 folds × (8 + 4 + 4 − 2 = 14) = 140
    expect(programCost(program, digital("ws")).layers[1]).toMatchObject({ folds: 10, computeCycles: 140 });
    // is: Sr = K = 18, Sc = 4 pixels, T = 6 → 5·1 = 5 folds × (8 + 4 + 6 − 2 = 16) = 80
    expect(programCost(program, digital("is")).layers[1]).toMatchObject({ folds: 5, computeCycles: 80 });
  });

  it("bit scaling: fused (BitFusion) and bit-serial", () => {
    // fused, 4-bit weights, 8-bit inputs: f = (8/4)·(8/8) = 2 → os T' = ceil(18/2) = 9 → 2·(8 + 4 + 9 − 2) = 38
    expect(programCost(program, digital("os", "fused")).layers[1].computeCycles).toBe(38);
    // bit-serial, 8-bit inputs: T' = 18·8 = 144 → 2·(8 + 4 + 144 − 2) = 308
    expect(programCost(program, digital("os", "bitserial")).layers[1].computeCycles).toBe(308);
    // fused 4×4 bits: f = 2·2 = 4 → T' = ceil(18/4) = 5 → 2·(8+4+5−2) = 30
    expect(foldCycles(4, 4, { Sr: 4, Sc: 6, T: 18 }, "fused", 8, 4, 4).cycles).toBe(30);
  });

  it("BOPs, Baskin BOPs, bytes, energy (os, fixed int8 PEs)", () => {
    const c = programCost(program, digital("os"));
    const l = c.layers[1];
    expect(l.macs).toBe(432);
    expect(l.bops).toBe(432 * 4 * 8); // 13,824
    // Baskin: MACs·(bw·ba + bw + ba + log2 K) = 432·(32 + 4 + 8 + log2 18) = 432·48.16992… = 20,809.4
    expect(l.bopsBaskin).toBeCloseTo(432 * (44 + Math.log2(18)), 6);
    expect(l.weightBytes).toBe(54); // 108 weights · 4 bits / 8
    // MAC energy: fixed 8-bit PEs: 0.2 pJ·(8·8/64) + 0.1 pJ·(32/32) = 0.3 pJ; × 432 = 129.6 pJ
    expect(l.energyPj.mac).toBeCloseTo(129.6, 9);
    // SRAM (os): ifmap 4·18·8/8 = 72 B × 2 column folds = 144; filters 18·6·4/8 = 54 B × 1 row fold = 54;
    // partial sums 4·6·4 B = 96 × 1; output 24·4/8 = 12 → 306 B × 2.5 pJ/B = 765 pJ
    expect(l.sramBytes).toBe(306);
    expect(l.energyPj.sram).toBeCloseTo(765, 9);
    // weights (54 B + 24 B bias) fit the 256 KiB weight SRAM: resident; DRAM only carries the logits out, 12 B
    expect(l.dramBytes).toBe(12);
    // 12 B at 12.8 GB/s and 500 MHz = 25.6 B/cycle → 1 cycle; compute-bound
    expect(l).toMatchObject({ dramCycles: 1, cycles: 56, bound: "compute" });
    // the input image arrives from DRAM: 4·4·2 bytes
    expect(c.layers[0].dramBytes).toBe(32);
    // peak activations: the input (32 B) and the conv output (12 B) live together
    expect(c.memory.peakActivationBytes).toBe(44);
  });

  it("DRAM-bandwidth bound", () => {
    // No weight SRAM and 0.0256 GB/s at 500 MHz = 0.0512 B/cycle; the conv moves 54 + 24 (weights, bias) + 12 (out) = 90 B
    // → ceil(90 / 0.0512) = 1758 cycles > 56 compute cycles.
    let hw = withSet(digital("os"), ["memory", "weightSramKiB"], 0);
    hw = withSet(hw, ["memory", "dramGBps"], 0.0256);
    expect(programCost(program, hw).layers[1]).toMatchObject({ dramBytes: 90, dramCycles: 1758, cycles: 1758, bound: "dram" });
  });

  it("analog crossbar: tiles, MVM time, ADC/DAC conversions", () => {
    const hw = loadHwModel("analog-pcm-crossbar").hw;
    const l = programCost(program, hw).layers[1];
    // K = 18 ≤ 256 rows, 6 ≤ 256 columns: one tile, 1 fold; 4 pixels × 133 ns at 1000 MHz = 532 cycles
    expect(l).toMatchObject({ folds: 1, computeCycles: 532 });
    // DAC: 4 pixels · 18 rows · 1 column tile = 72 × 0.2 pJ = 14.4; ADC: 4 · 6 columns · 1 K-tile = 24 × 1.28 pJ = 30.72
    expect(l.energyPj.adcDac).toBeCloseTo(45.12, 9);
    // devices: 432 MACs × 0.02 pJ = 8.64, plus 24 digital 32-bit adds × 0.1 pJ = 2.4
    expect(l.energyPj.mac).toBeCloseTo(11.04, 9);
  });

  it("unsupported precision names the layer and the bits", () => {
    const hw = loadHwModel("lowbit-npu").hw;
    const p3: Program = { ...program, layers: [input, { ...conv, wBits: 3 }] };
    expect(() => programCost(p3, hw)).toThrow(
      'lowbit-npu: a layer uses a width it does not support: layer 1 "conv" (3-bit weights) (precision.weightBits: 2, 4, 8; precision.activationBits: 2, 4, 8; --set precision.promote=true runs them on the next wider width)',
    );
    const promoted = programCost(p3, withSet(hw, ["precision", "promote"], true)).layers[1];
    expect(promoted).toMatchObject({ wBits: 3, runWBits: 4 });
  });
});
