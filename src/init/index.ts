// `nipq init`: a random-weight integer program of any architecture, for cost, speed and simulator studies
// without training. The network is built by the trainer's own Net (He-uniform weights from the seed), its
// BN statistics and quantizer ranges are calibrated on one batch of synthetic images, and the QuantGraph it
// exports goes through the same lowering passes as a trained checkpoint (src/lower/).
//
// Calibration: one float forward in training mode sets every BN's moving statistics to the batch moments
// (so each layer's output is normalized, as in a trained network) and every quantizer's α from the tensor
// it quantizes (NIPQ's rms init: 3·RMS, or mean + 3·std for unsigned activations, ./../train/quantizers.ts).
// So the requant multipliers and clamps are those of a plausible trained network, not of raw He weights.
//
// Determinism: the weights and images are pure functions of the seed; the calibrated statistics come from
// tfjs floats, whose last bits may differ between backends, so they are snapped to a 1/16-octave grid
// (α, variance) and a 1/64-σ grid (mean) before lowering. The same seed gives the same .qmodel bytes.

import * as tf from "@tensorflow/tfjs";
import type { QuantGraph, QuantizerSpec } from "../graph/types.js";
import { isComputeNode } from "../graph/types.js";
import { UsageError } from "../errors.js";
import type { Program } from "../ir/types.js";
import { lowerGraph } from "../lower/index.js";
import { type Arch, type ArchOptions, bops, buildArch, INPUT_QUANT_ID, layerBits, totalMacs } from "../train/archs.js";
import { exportGraph } from "../train/export.js";
import { Net } from "../train/model.js";
import { mixKey, mulberry32 } from "../train/rng.js";

/** Everything that determines an init program. */
export interface InitConfig extends ArchOptions {
  arch: string;
  /** Bits of every weight and activation quantizer. */
  bits: { w: number; a: number };
  /** Bits of the first MAC layer's weights and of the last MAC layer's weights and input (default `bits`). */
  firstLast?: { w: number; a: number };
  seed: number;
  /** Synthetic images in the calibration batch (default 8). */
  calibImages?: number;
}

import { INIT_CALIB_IMAGES } from "./defaults.js";

export { INIT_CALIB_IMAGES }; // in ./defaults.ts, which the CLI loads without tfjs

/** Per-quantizer bit overrides for --first-last: the first MAC layer's weights, the last MAC layer's weights and input. */
export function firstLastBits(arch: Arch, fl: { w: number; a: number }): Record<string, number> {
  const macs = arch.nodes.filter((n) => n.wQ !== undefined);
  const first = macs[0];
  const last = macs[macs.length - 1];
  const out: Record<string, number> = { [first.wQ!]: fl.w, [last.wQ!]: fl.w };
  if (last.inQ !== INPUT_QUANT_ID) out[last.inQ!] = fl.a; // the input image is u8 whatever the bits
  return out;
}

/** The synthetic calibration batch: uniform u8 pixels from the seed, as pixel/255 (what training feeds). */
function syntheticBatch(n: number, shape: readonly number[], seed: number): tf.Tensor4D {
  const r = mulberry32(mixKey(seed, 0x1417)); // 5143: the init calibration stream
  const per = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.floor(r() * 256) / 255;
  return tf.tensor4d(x, [n, shape[0], shape[1], shape[2]]);
}

/** v snapped to the grid 2^(k/16): removes backend-dependent last bits of a positive statistic. */
function snapLog(v: number): number {
  return Math.fround(2 ** (Math.round(16 * Math.log2(v)) / 16));
}

/** Rounds the calibrated BN statistics of `net` to backend-independent values (see the file comment). */
function snapStats(net: Net): void {
  for (const [key, mv] of net.stats) {
    if (!key.endsWith("/movingVar")) continue;
    const mm = net.stats.get(key.replace(/movingVar$/, "movingMean"))!;
    const v = Float32Array.from(mv.dataSync(), (x) => snapLog(Math.max(x, 1e-6)));
    const m = Float32Array.from(mm.dataSync(), (x, c) => Math.fround((Math.round((64 * x) / Math.sqrt(v[c])) / 64) * Math.sqrt(v[c])));
    mv.assign(tf.tensor(v, mv.shape));
    mm.assign(tf.tensor(m, mm.shape));
  }
}

/** The QuantGraph's quantizers with α snapped and step = fround(α/qmax), shared by id as before. */
function snapQuantizers(g: QuantGraph): void {
  const done = new Map<string, QuantizerSpec>();
  const snap = (q: QuantizerSpec | null): QuantizerSpec | null => {
    if (!q || !q.learned) return q;
    let s = done.get(q.id);
    if (!s) {
      const alpha = snapLog(q.alpha);
      const qmax = q.signed ? 2 ** (q.bits - 1) - 1 : 2 ** q.bits - 1;
      done.set(q.id, (s = { ...q, alpha, step: Math.fround(alpha / qmax) }));
    }
    return s;
  };
  for (const n of g.nodes) {
    if (isComputeNode(n) || n.op === "globalAvgPool") n.inputQuant = snap(n.inputQuant);
    if (isComputeNode(n)) n.weightQuant = snap(n.weightQuant);
    if (n.op === "add") n.inputQuants = n.inputQuants.map(snap);
  }
}

/**
 * Builds, calibrates and lowers a random-weight network (see the file comment). Needs a tfjs backend
 * selected (src/train/backend.ts); returns the validated integer program.
 */
export function initProgram(c: InitConfig): Program {
  const arch = buildArch(c.arch, c);
  const calib = c.calibImages ?? INIT_CALIB_IMAGES;
  if (!Number.isSafeInteger(calib) || calib < 2) throw new UsageError(`--calib-images: expected an integer ≥ 2 (BN moments need a batch), found ${calib}`);
  const net = new Net(arch, { method: "nipq", bits: c.bits, bitsById: c.firstLast ? firstLastBits(arch, c.firstLast) : undefined, seed: c.seed });
  try {
    tf.tidy(() => {
      const x = syntheticBatch(calib, arch.nodes[0].outShape, c.seed);
      net.forward(x, { training: true, updateStats: true, statsMomentum: 0, mode: "calib", step: 0 });
    });
    snapStats(net);
    const lb = layerBits(arch, (id) => net.bitsOf(id));
    const { graph, weights } = exportGraph(net, {
      arch: c.arch, method: "nipq", dataset: "synthetic", epochsDone: 0, epochsTotal: 0, seed: c.seed, backend: "init", accuracy: null, bops: bops(lb), macs: totalMacs(arch),
    });
    snapQuantizers(graph);
    const program = lowerGraph(graph, weights, `init ${c.arch}`);
    const bits = `W${c.bits.w}A${c.bits.a}${c.firstLast ? `, first/last W${c.firstLast.w}A${c.firstLast.a}` : ""}`;
    return { ...program, name: `${c.arch}-init`, producer: `nipq init (${bits}, seed ${c.seed}, random He-uniform weights, calibrated on ${calib} synthetic images)` };
  } finally {
    net.dispose();
  }
}
