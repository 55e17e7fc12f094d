// The paper figures of the ImageNet and CIFAR architectures, read from `nipq inspect` of `nipq init` programs
// (or programStats, the function inspect prints): ResNet-18 at 224×224×3 with 1000 classes has 1.81–1.82 G
// MACs and HAWQ-V3's BOPs (Yao et al., ICML 2021, Table 1: 116 G at W8A8; 34 G at W4A4 with the first and
// last layer at 8 bits), MobileNetV2 1.0 at 224 ~300 M MACs and 3.4 M weights (Sandler et al. 2018, Table 4),
// ResNet-20 0.27 M weights (He et al. 2016, Table 6) and ~41 M MACs (the figure).
//
// HAWQ-V3 counts BOPs as MACs × b_w × b_a per conv/linear layer, the projection shortcuts included: its ILP
// notebook (github.com/Zhen-Dong/HAWQ, ILP.ipynb) lists per-layer MACs (115,605,504 for a 3×3 64→64 conv at
// 56×56; 6,422,528 for the 1×1/2 128←64 projection) and scales them by (b/32)² against 32-bit. The table's
// "first and last layer at 8 bit" is the stem conv (8-bit image × 8-bit weights) and the fc (8-bit input ×
// 8-bit weights), which is what `--first-last 8/8` sets. Our count: 1,814,073,344 MACs; 116.10 G BOPs at
// W8A8 (= 64 × MACs); 34.71 G at W4A4 + first/last 8/8 (2.1% above the table's rounded 34 G).
//
// Memory: `inspect` and the simulator's cost (what `simulate` reports) give the packed weight bytes and the
// peak activation arena of one inference; the WASM runner's arena is sized for its micro-batch whatever the
// batch, so batch 64 takes no more activation memory than batch 2.

import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initProgram } from "../../src/init/index.js";
import { programStats } from "../../src/ir/stats.js";
import { readQModel } from "../../src/ir/io.js";
import { sizeOf } from "../../src/ir/types.js";
import { MICRO_BATCH, WasmProgram } from "../../src/exec/wasm-program.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { programCost } from "../../src/sim/hw/cost.js";
import { loadHwModel } from "../../src/sim/hw/hwmodel.js";
import { selectBackend } from "../../src/train/backend.js";
import { nipq } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "nipq-init-figures-"));

/** `nipq init … --json` then `nipq inspect --json` of the file: the inspect document. */
function initAndInspect(file: string, args: string[]): { totals: { macs: number; bops: number; weightBytes: number; peakActivationBytes: number }; layers: { name: string; wBits: number | null; aBits: number | null; macs: number }[] } {
  const r = nipq(["init", ...args, "--seed", "1", "--out", join(dir, file), "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const ins = nipq(["inspect", join(dir, file), "--json"]);
  expect(ins.code).toBe(0);
  return JSON.parse(ins.stdout);
}

const within = (v: number, ref: number, rel: number) => Math.abs(v - ref) <= rel * ref;

/** The W8A8 ResNet-18 and its inspect document, made once for the tests that read it (each may run alone). */
let r18: ReturnType<typeof initAndInspect> | undefined;
const r18w8a8 = () => (r18 ??= initAndInspect("r18-w8a8.qmodel", ["--arch", "resnet18", "--bits", "8/8"]));

describe("ResNet-18 at 224×224×3, 1000 classes (nipq init → nipq inspect)", () => {
  it("W8A8: 1.81–1.82 G MACs, HAWQ-V3's 116 G BOPs within 3%, 11.68 M weight bytes, the hand-counted peak arena", () => {
    const doc = r18w8a8();
    const t = doc.totals;
    expect(t.macs).toBeGreaterThanOrEqual(1.81e9);
    expect(t.macs).toBeLessThanOrEqual(1.82e9);
    expect(t.macs).toBe(1_814_073_344); // docs/RESULTS.md, "Real network sizes"
    expect(within(t.bops, 116e9, 0.03), `${t.bops} BOPs`).toBe(true);
    expect(t.bops).toBe(64 * t.macs);
    // Every MAC layer counts, projections included (HAWQ-V3's list): 17 convs + 3 projections + fc.
    expect(doc.layers.filter((l) => l.macs > 0).length).toBe(21);
    expect(t.weightBytes).toBe(11_678_912); // 8-bit weights: one byte per weight, He et al.'s 11.7 M
    // Peak: the 112×112×64 stem output live with the 56×56×64 max-pool output (u8): 802,816 + 200,704.
    expect(t.peakActivationBytes).toBe(112 * 112 * 64 + 56 * 56 * 64);
  });

  it("W4A4 with first and last layer at 8 bits: HAWQ-V3's 34 G BOPs within 3%", () => {
    const doc = initAndInspect("r18-w4a4.qmodel", ["--arch", "resnet18", "--bits", "4/4", "--first-last", "8/8"]);
    expect(within(doc.totals.bops, 34e9, 0.03), `${doc.totals.bops} BOPs`).toBe(true);
    expect(doc.totals).toMatchObject({ macs: 1_814_073_344, bops: 34_714_419_200, weightBytes: 6_100_160, peakActivationBytes: 551_936 }); // docs/RESULTS.md
    const bits = Object.fromEntries(doc.layers.filter((l) => l.macs > 0).map((l) => [l.name, `${l.wBits}/${l.aBits}`]));
    expect(bits.conv1).toBe("8/8"); // the image is u8 whatever --bits says
    expect(bits.fc).toBe("8/8");
    expect(bits.s1b1_conv1).toBe("4/4");
    expect(bits.s4b2_conv2).toBe("4/4");
  });

  it("the simulator reports inspect's weight bytes and peak arena; the WASM arena does not grow with the batch", () => {
    r18w8a8();
    const program = readQModel(join(dir, "r18-w8a8.qmodel"));
    const st = programStats(program);
    const cost = programCost(program, loadHwModel("int8-systolic-16x16").hw);
    expect(cost.memory.weightBytes).toBe(st.totals.weightBytes);
    expect(cost.memory.peakActivationBytes).toBe(112 * 112 * 64 + 56 * 56 * 64);
    const arena = (maxBatch: number) => new WasmProgram(new WasmEngine(), program, maxBatch);
    const a2 = arena(MICRO_BATCH);
    const a64 = arena(64);
    expect(a64.arenaBytes).toBe(a2.arenaBytes);
    // i16 elements for the micro-batch: twice the u8 peak per image, per image of the micro-batch, plus kernel slack.
    expect(a64.arenaBytes).toBeLessThan(MICRO_BATCH * 2 * cost.memory.peakActivationBytes * 1.05);
    // And it runs: 3 images (two micro-batches) through the whole network on the WASM kernels.
    const images = new Uint8Array(3 * sizeOf(program.layers[0].out.shape)).map((_, i) => (i * 2654435761) >>> 24);
    const r = a64.run(images, 3);
    expect(r.logits.length).toBe(3 * 1000);
    expect(new Set(r.logits).size).toBeGreaterThan(100); // real logits, not a constant
  });
});

describe("MobileNetV2 and ResNet-20 (initProgram → programStats, what inspect prints)", () => {
  it("MobileNetV2 1.0 at 224×224×3: ~300 M MACs and 3.4 M weights (Sandler et al.)", async () => {
    await selectBackend("auto");
    const st = programStats(initProgram({ arch: "mobilenetv2", bits: { w: 8, a: 8 }, seed: 1 }));
    expect(st.totals.macs).toBeGreaterThanOrEqual(295e6);
    expect(st.totals.macs).toBeLessThanOrEqual(305e6);
    expect(st.totals.weightBytes).toBeGreaterThanOrEqual(3.4e6); // 8-bit: bytes = weights (no biases, BN)
    expect(st.totals.weightBytes).toBeLessThan(3.5e6);
    expect([st.totals.macs, st.totals.weightBytes]).toEqual([300_774_272, 3_469_760]); // docs/RESULTS.md
  });

  it("ResNet-20 at 32×32×3: ~41 M MACs and 0.27 M weights (He et al.)", async () => {
    await selectBackend("auto");
    const st = programStats(initProgram({ arch: "resnet20", bits: { w: 8, a: 8 }, seed: 1 }));
    expect(st.totals.macs).toBeGreaterThanOrEqual(40e6);
    expect(st.totals.macs).toBeLessThanOrEqual(42e6);
    expect(within(st.totals.weightBytes, 0.27e6, 0.02), `${st.totals.weightBytes} weights`).toBe(true);
    expect([st.totals.macs, st.totals.weightBytes]).toEqual([40_813_184, 270_896]); // docs/RESULTS.md
  });
});
