// The analog crossbar's multiply-accumulate on WASM (assembly/analog.ts analog_mac_f64) for the plain-TS
// sim kernels (./kernels.ts analogAcc): the one loop of an analog-chip simulation that grows with the
// layer's MACs. The kernel does each product and sum as its own IEEE double operation in the TS loop's
// order, so the integers are the same with or without it (test/sim/analogmac.test.ts). Sim-only: needs the
// simulator's build (WasmEngine({ sim: true })).

import type { WasmEngine } from "../../kernels/wasm/engine.js";
import { putBytes } from "../../kernels/wasm/arena.js";
import type { AnalogPrep } from "./chip.js";

interface AnalogExports {
  analog_mac_f64(w: number, K: number, opg: number, g: number, x: number, idx: number, nnz: number, kTile: number, kTiles: number, yt: number): void;
}

/** Column currents of every K-tile of one patch: yt[kt·opg + oo], as analogAcc's loop computes them. */
export interface AnalogMac {
  tiles(p: AnalogPrep, g: number, xn: Float64Array, nzIdx: Int32Array, nnz: number, kTile: number, yt: Float64Array): void;
}

export class WasmAnalogMac implements AnalogMac {
  private readonly k: AnalogExports;
  /** Per layer (AnalogPrep of this chip instance): its wnT in linear memory, uploaded on first use. */
  private readonly weights = new WeakMap<AnalogPrep, number>();
  private xPtr = 0;
  private idxPtr = 0;
  private ytPtr = 0;
  private cap = 0;
  private ytCap = 0;
  private mem: ArrayBuffer | null = null;
  private xv = new Float64Array(0);
  private iv = new Int32Array(0);
  private yv = new Float64Array(0);

  constructor(private readonly engine: WasmEngine) {
    const k = engine.k as unknown as Partial<AnalogExports>;
    if (typeof k.analog_mac_f64 !== "function") throw new Error("WasmAnalogMac needs the simulator's kernels: new WasmEngine({ sim: true }) (build/nipq-sim-*.wasm)");
    this.k = k as AnalogExports;
    engine.pinned = true;
  }

  tiles(p: AnalogPrep, g: number, xn: Float64Array, nzIdx: Int32Array, nnz: number, kTile: number, yt: Float64Array): void {
    const a = this.engine.arena;
    let w = this.weights.get(p);
    if (w === undefined) {
      w = putBytes(a, new Uint8Array(p.wnT.buffer, p.wnT.byteOffset, p.wnT.byteLength), "the crossbar conductances");
      this.weights.set(p, w);
    }
    const { K, opg } = p.gemm;
    const outN = p.kTiles * opg;
    if (nnz > this.cap || outN > this.ytCap) {
      this.cap = Math.max(this.cap, nnz, 64);
      this.ytCap = Math.max(this.ytCap, outN);
      this.xPtr = a.alloc(this.cap * 8, "the crossbar inputs");
      this.idxPtr = a.alloc(this.cap * 4, "the crossbar input indices");
      this.ytPtr = a.alloc(this.ytCap * 8, "the crossbar tile outputs");
      this.mem = null;
    }
    const buf = a.bytes().buffer as ArrayBuffer;
    if (this.mem !== buf) {
      // (Re)take the views: linear memory grew (allocations above) or they were never taken.
      this.mem = buf;
      this.xv = new Float64Array(buf, this.xPtr, this.cap);
      this.iv = new Int32Array(buf, this.idxPtr, this.cap);
      this.yv = new Float64Array(buf, this.ytPtr, this.ytCap);
    }
    const { xv, iv } = this;
    for (let j = 0; j < nnz; j++) {
      const k = nzIdx[j];
      iv[j] = k;
      xv[j] = xn[k];
    }
    this.k.analog_mac_f64(w, K, opg, g, this.xPtr, this.idxPtr, nnz, kTile, p.kTiles, this.ytPtr);
    yt.set(this.yv.subarray(0, outN));
  }
}
