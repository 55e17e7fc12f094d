// The cost model: BOPs, memory, cycles, DRAM bound and energy of a program on a hardware model, per layer
// and in total. Starts from the static figures of src/ir/stats.ts. Every rule is stated in
// docs/HW_MODELS.md with a worked example; the per-dataflow cycle counts follow SCALE-Sim's analytical
// model (Samajdar et al., "A Systematic Methodology for Characterizing Scalability of DNN Accelerators
// using SCALE-Sim", ISPASS 2020, §III): a workload of spatial extent Sr × Sc and temporal extent T on an
// R × C array takes ceil(Sr/R)·ceil(Sc/C) folds of (2R + C + T − 2) cycles, with
//   os: Sr = output pixels, Sc = filters, T = K;  ws: Sr = K, Sc = filters, T = output pixels;
//   is: Sr = K, Sc = output pixels, T = filters       (K = kh·kw·inC/groups, the reduction length).

import { packedActivationBytes, peakActivationBytes } from "../../exec/memplan.js";
import { programStats } from "../../ir/stats.js";
import { isWeightLayer, sizeOf, type Program } from "../../ir/types.js";
import { gemmOf } from "../../kernels/prepare.js";
import type { Dataflow, HwModel } from "./hwmodel.js";
import { checkPrecision, resolveChip } from "./resolve.js";

/** Energy of one inference, pJ, by where it is spent. */
export interface EnergyBreakdown {
  mac: number;
  sram: number;
  dram: number;
  adcDac: number;
}

export interface LayerCost {
  name: string;
  op: string;
  /** Weight and input-activation bits of the program, and the widths the chip runs them at. */
  wBits: number | null;
  aBits: number | null;
  runWBits: number | null;
  runABits: number | null;
  macs: number;
  /** MACs · b_w · b_a. */
  bops: number;
  /** Baskin et al. (UNIQ, ACM TOCS 2021) BOPs with accumulator terms: MACs·(b_w·b_a + b_w + b_a + log2 K). */
  bopsBaskin: number;
  weightBytes: number;
  /** SCALE-Sim folds and compute cycles (weight layers), or vector-unit cycles (others). */
  folds: number;
  computeCycles: number;
  /** Cycles to move this layer's DRAM traffic at memory.dramGBps. */
  dramCycles: number;
  dramBytes: number;
  sramBytes: number;
  /** max(compute, dram): the layer is DRAM-bound when dramCycles is larger. */
  cycles: number;
  bound: "compute" | "dram";
  energyPj: EnergyBreakdown;
}

export interface ProgramCost {
  hw: string;
  layers: LayerCost[];
  bops: number;
  bopsBaskin: number;
  macs: number;
  memory: { weightBytes: number; biasBytes: number; peakActivationBytes: number };
  cycles: number;
  latencyMs: number;
  energyPj: EnergyBreakdown;
  energyMicroJ: number;
}

/** SCALE-Sim spatial/temporal extents of a GEMM (per group) for a dataflow. */
export function scaleSimMapping(dataflow: Dataflow, ofmapPixels: number, filters: number, K: number): { Sr: number; Sc: number; T: number } {
  switch (dataflow) {
    case "os":
      return { Sr: ofmapPixels, Sc: filters, T: K };
    case "ws":
      return { Sr: K, Sc: filters, T: ofmapPixels };
    case "is":
      return { Sr: K, Sc: ofmapPixels, T: filters };
  }
}

/**
 * Compute cycles of one GEMM on an R × C array: folds = ceil(Sr/R)·ceil(Sc/C), each 2R + C + T' − 2 cycles,
 * where T' is the temporal extent after the bit-scaling rule: fixed T' = T; fused (BitFusion) T' = ceil(T/f)
 * with f = floor(n/b_w)·floor(n/b_a) MACs per PE per cycle for native width n; bit-serial T' = T·b_a.
 */
export function foldCycles(R: number, C: number, m: { Sr: number; Sc: number; T: number }, scaling: HwModel["precision"]["scaling"], nativeBits: number, bw: number, ba: number): { folds: number; cycles: number; foldsR: number; foldsC: number } {
  const foldsR = Math.ceil(m.Sr / R);
  const foldsC = Math.ceil(m.Sc / C);
  let T = m.T;
  if (scaling === "fused") T = Math.ceil(T / (Math.max(1, Math.floor(nativeBits / bw)) * Math.max(1, Math.floor(nativeBits / ba))));
  else if (scaling === "bitserial") T = T * ba;
  const folds = foldsR * foldsC;
  return { folds, foldsR, foldsC, cycles: folds * (2 * R + C + T - 2) };
}

/**
 * Energy of one MAC, pJ. Multiplier energy scales with the product of the operand widths and adder energy
 * linearly with the accumulator width, from Horowitz (ISSCC 2014, 45 nm): 8-bit mult 0.2 pJ → 32-bit 3.1 pJ
 * (≈ ×16 = (32/8)²), 8-bit add 0.03 pJ → 32-bit 0.1 pJ (≈ linear). Widths are the ones the hardware
 * switches: fixed-precision PEs always run at the native width; bit-serial PEs do b_a adds per MAC.
 */
export function macEnergyPj(hw: HwModel, bw: number, ba: number): number {
  const e = hw.energy;
  const add = e.add32Pj * (hw.accumulator.bits / 32);
  const n = hw.precision.nativeBits;
  switch (hw.precision.scaling) {
    case "fixed":
      return e.mult8Pj * ((n * n) / 64) + add;
    case "fused":
      return e.mult8Pj * ((bw * ba) / 64) + add;
    case "bitserial":
      return e.mult8Pj * ((bw * ba) / 64) + ba * add;
    case "analog":
      return e.analogMacPj ?? 0;
  }
}

/** The cost of one inference (batch 1) of `program` on `hw`. */
export function programCost(program: Program, hw: HwModel): ProgramCost {
  const run = checkPrecision(program, hw);
  const { kTile } = resolveChip(hw);
  const stats = programStats(program);
  const e = hw.energy;
  const clockHz = hw.clockMHz * 1e6;
  const bytesPerCycle = (hw.memory.dramGBps * 1e9) / clockHz;
  const weightsResident = hw.compute.kind === "analog" || stats.totals.weightBytes + stats.totals.biasBytes <= hw.memory.weightSramKiB * 1024;
  const actSram = hw.memory.activationSramKiB * 1024;
  const layers: LayerCost[] = [];
  program.layers.forEach((l, i) => {
    const st = stats.layers[i];
    const x = i > 0 ? program.layers[l.inputs[0]].out : null;
    const inBytes = l.inputs.reduce((a, j) => a + packedActivationBytes(program.layers[j].out), 0);
    const outBytes = packedActivationBytes(l.out);
    const energy: EnergyBreakdown = { mac: 0, sram: 0, dram: 0, adcDac: 0 };
    let computeCycles = 0;
    let folds = 0;
    let sramBytes = 0;
    let dramBytes = 0;
    const rw = run.get(i);
    let bopsBaskin = 0;
    if (l.op === "input") {
      dramBytes = outBytes; // the image arrives from DRAM
    } else if (l.op === "flatten") {
      // a view: no work
    } else if (isWeightLayer(l) && x) {
      const { groups, K, opg } = gemmOf(l);
      const ofmap = l.op === "conv2d" ? l.out.shape[0] * l.out.shape[1] : 1;
      const bw = rw!.w;
      const ba = rw!.a;
      bopsBaskin = st.macs * (l.wBits * x.bits + l.wBits + x.bits + Math.log2(K));
      const accBytes = hw.accumulator.bits / 8;
      if (hw.compute.kind === "digital") {
        const m = scaleSimMapping(hw.compute.dataflow, ofmap, opg, K);
        const f = foldCycles(hw.compute.rows, hw.compute.cols, m, hw.precision.scaling, hw.precision.nativeBits, bw, ba);
        folds = f.folds * groups;
        computeCycles = f.cycles * groups;
        // SRAM traffic of the im2col operand matrices (ifmap ofmap×K, filter K×filters), per dataflow:
        // the operand that is not stationary is re-streamed once per fold of the other spatial dimension.
        const ifmap = (ofmap * K * x.bits) / 8;
        const filt = (K * opg * l.wBits) / 8;
        const psum = ofmap * opg * accBytes;
        const df = hw.compute.dataflow;
        const ifReads = df === "is" ? 1 : f.foldsC;
        const fReads = df === "ws" ? 1 : df === "os" ? f.foldsR : f.foldsC;
        const psumWrites = df === "os" ? 1 : f.foldsR;
        sramBytes = groups * (ifmap * ifReads + filt * fReads + psum * psumWrites) + outBytes;
        energy.mac = st.macs * macEnergyPj(hw, bw, ba);
      } else {
        const c = hw.compute;
        const kTiles = Math.ceil(K / kTile); // the crossbar rows a K-tile maps onto (resolveChip)
        const nTiles = Math.ceil(opg / c.tileCols);
        const tilesNeeded = groups * kTiles * nTiles;
        // Every tile runs one MVM per output pixel; tiles beyond the chip's count are time-multiplexed.
        folds = Math.ceil(tilesNeeded / c.tiles);
        computeCycles = Math.ceil(ofmap * folds * c.mvmNs * 1e-9 * clockHz);
        const dac = groups * ofmap * K * nTiles;
        const adc = groups * ofmap * opg * kTiles;
        sramBytes = groups * ((ofmap * K * nTiles * x.bits) / 8) + outBytes;
        energy.mac = st.macs * (e.analogMacPj ?? 0) + adc * e.add32Pj * (hw.accumulator.bits / 32);
        energy.adcDac = dac * (e.dacPjPerConversion ?? 0) + adc * (e.adcPjPerConversion ?? 0);
      }
      if (!weightsResident) dramBytes += st.weightBytes + st.biasBytes;
    } else {
      // Pools, global average pool, add: the vector unit, one element per lane (array columns) per cycle.
      const lanes = hw.compute.kind === "digital" ? hw.compute.cols : hw.compute.tileCols;
      const inElems = l.inputs.reduce((a, j) => a + sizeOf(program.layers[j].out.shape), 0);
      computeCycles = Math.ceil(inElems / lanes);
      sramBytes = inBytes + outBytes;
      energy.mac = inElems * e.add32Pj * (hw.accumulator.bits / 32);
    }
    if (i > 0 && l.op !== "flatten" && inBytes + outBytes > actSram) dramBytes += inBytes + outBytes; // spill
    if (i === program.layers.length - 1) dramBytes += outBytes; // logits leave the chip
    const dramCycles = Math.ceil(dramBytes / bytesPerCycle);
    energy.sram = sramBytes * e.sramPjPerByte;
    energy.dram = dramBytes * e.dramPjPerByte;
    layers.push({
      name: l.name,
      op: l.op,
      wBits: st.wBits,
      aBits: st.aBits,
      runWBits: rw?.w ?? null,
      runABits: rw?.a ?? null,
      macs: st.macs,
      bops: st.bops,
      bopsBaskin,
      weightBytes: st.weightBytes,
      folds,
      computeCycles,
      dramCycles,
      dramBytes,
      sramBytes,
      cycles: Math.max(computeCycles, dramCycles),
      bound: dramCycles > computeCycles ? "dram" : "compute",
      energyPj: energy,
    });
  });
  const sum = (f: (l: LayerCost) => number) => layers.reduce((a, l) => a + f(l), 0);
  const energyPj: EnergyBreakdown = { mac: sum((l) => l.energyPj.mac), sram: sum((l) => l.energyPj.sram), dram: sum((l) => l.energyPj.dram), adcDac: sum((l) => l.energyPj.adcDac) };
  const cycles = sum((l) => l.cycles);
  return {
    hw: hw.name,
    layers,
    bops: stats.totals.bops,
    bopsBaskin: sum((l) => l.bopsBaskin),
    macs: stats.totals.macs,
    memory: { weightBytes: stats.totals.weightBytes, biasBytes: stats.totals.biasBytes, peakActivationBytes: peakActivationBytes(program) },
    cycles,
    latencyMs: (cycles / clockHz) * 1e3,
    energyPj,
    energyMicroJ: (energyPj.mac + energyPj.sram + energyPj.dram + energyPj.adcDac) * 1e-6,
  };
}
