// Per-layer static figures of an integer program: shapes, bits, MACs, BOPs, packed weight bytes and the
// accumulator bits the proof needs. `nipq inspect` prints them; the simulator's cost model starts from them.

import { accumulatorBound } from "./accbound.js";
import { packedBytes } from "./pack.js";
import { isWeightLayer, sizeOf, type Program } from "./types.js";

export interface LayerStats {
  name: string;
  op: string;
  inShape: number[];
  outShape: number[];
  /** Weight bits (null for layers without weights). */
  wBits: number | null;
  /** Bits of the layer's (first) input activation. */
  aBits: number | null;
  /** Multiply-accumulates per sample (weight layers only). */
  macs: number;
  /** Bit operations per sample: MACs · wBits · aBits. */
  bops: number;
  /** Packed weight bytes, ceil(n·wBits/8). */
  weightBytes: number;
  /** int32 bias bytes. */
  biasBytes: number;
  /** Signed bits the accumulator needs for every input in range (null when the layer has none). */
  accBits: number | null;
}

/** MACs of one sample through a weight layer: output elements × weights per output. */
export function layerMacs(p: Program, i: number): number {
  const l = p.layers[i];
  if (!isWeightLayer(l)) return 0;
  return sizeOf(l.out.shape) * (l.weights.length / l.bias.length);
}

/** Figures for every layer of a (valid) program. */
export function programStats(p: Program): { layers: LayerStats[]; totals: { macs: number; bops: number; weightBytes: number; biasBytes: number } } {
  const layers = p.layers.map((l, i): LayerStats => {
    const x = i > 0 ? p.layers[l.inputs[0]].out : null;
    const macs = layerMacs(p, i);
    const wBits = isWeightLayer(l) ? l.wBits : null;
    const aBits = x ? x.bits : null;
    const acc = x ? accumulatorBound(l, x) : null;
    return {
      name: l.name,
      op: l.op,
      inShape: x ? x.shape : [],
      outShape: l.out.shape,
      wBits,
      aBits,
      macs,
      bops: wBits && aBits ? macs * wBits * aBits : 0,
      weightBytes: isWeightLayer(l) ? packedBytes(l.weights.length, l.wBits) : 0,
      biasBytes: isWeightLayer(l) ? l.bias.length * 4 : 0,
      accBits: acc ? acc.bits : null,
    };
  });
  const sum = (k: "macs" | "bops" | "weightBytes" | "biasBytes") => layers.reduce((a, l) => a + l[k], 0);
  return { layers, totals: { macs: sum("macs"), bops: sum("bops"), weightBytes: sum("weightBytes"), biasBytes: sum("biasBytes") } };
}
