// DESIGN.md §3 (with "Imported models") written as literally as possible, in BigInt, as the oracle of the
// reference kernels: every padded input is materialized (filled with the zero point, i.e. the real 0, or left
// out for max pool), every sum is a BigInt, every requant is floor((a·m + 2^(s−1)) / 2^s) by BigInt division.
// It shares no code with src/kernels/reference/ beyond the IR types and requantBig (itself tested against
// the definition on its own, test/reference/requant.test.ts).

import { requantBig } from "../../src/kernels/reference/requant.js";
import { sizeOf, tensorRange, type Layer, type LayerPadding, type Program, type TensorSpec } from "../../src/ir/types.js";

/** A batch of integer tensors: n samples of spec.shape, NHWC, as BigInt. */
export interface DefTensor {
  n: number;
  spec: TensorSpec;
  v: bigint[];
}

const z = (t: TensorSpec) => BigInt(t.zero ?? 0);

/** Pads [top, left, bottom, right], from the TensorFlow formula for `same` (DESIGN.md §3). */
export function defPads(H: number, W: number, k: [number, number], st: [number, number], p: LayerPadding): number[] {
  if (Array.isArray(p)) return [...p];
  if (p === "valid") return [0, 0, 0, 0];
  const tot = (n: number, kk: number, s: number) => Math.max((Math.ceil(n / s) - 1) * s + kk - n, 0);
  const th = tot(H, k[0], st[0]);
  const tw = tot(W, k[1], st[1]);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

/** x with `pads` rows/columns of `fill` around each sample (null: no value, for max pool). */
function padded(x: DefTensor, pads: number[], fill: bigint | null): { H: number; W: number; C: number; at: (b: number, y: number, xx: number, c: number) => bigint | null } {
  const [H, W, C] = x.spec.shape;
  const [t, l, bt, r] = pads;
  return {
    H: H + t + bt,
    W: W + l + r,
    C,
    at: (b, y, xx, c) => {
      const iy = y - t, ix = xx - l;
      return iy < 0 || iy >= H || ix < 0 || ix >= W ? fill : x.v[((b * H + iy) * W + ix) * C + c];
    },
  };
}

function clampRq(acc: bigint, m: number, s: number, zy: bigint, lo: number, hi: number): bigint {
  const r = requantBig(acc, BigInt(m), BigInt(s)) + zy;
  return r < BigInt(lo) ? BigInt(lo) : r > BigInt(hi) ? BigInt(hi) : r;
}

/** One layer by the definition. */
export function defLayer(l: Layer, xs: DefTensor[]): DefTensor {
  const x = xs[0];
  const n = x.n;
  const out: bigint[] = [];
  switch (l.op) {
    case "input":
      throw new Error("input");
    case "conv2d": {
      const [, , C] = x.spec.shape;
      const pads = defPads(x.spec.shape[0], x.spec.shape[1], l.kernel, l.stride, l.padding);
      const zx = z(x.spec);
      const p = padded(x, pads, zx);
      const [OH, OW, OC] = l.out.shape;
      const cpg = C / l.groups, opg = OC / l.groups;
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let o = 0; o < OC; o++) {
              let acc = BigInt(l.bias[o]);
              const g = Math.floor(o / opg);
              for (let ky = 0; ky < l.kernel[0]; ky++)
                for (let kx = 0; kx < l.kernel[1]; kx++)
                  for (let ci = 0; ci < cpg; ci++) {
                    const w = BigInt(l.weights[((o * l.kernel[0] + ky) * l.kernel[1] + kx) * cpg + ci]);
                    acc += w * (p.at(b, oy * l.stride[0] + ky, ox * l.stride[1] + kx, g * cpg + ci)! - zx);
                  }
              out.push(clampRq(acc, l.rq.m[o], l.rq.s[o], z(l.out), l.rq.lo, l.rq.hi));
            }
      break;
    }
    case "dense": {
      const inN = x.spec.shape[0], O = l.out.shape[0];
      const zx = z(x.spec);
      for (let b = 0; b < n; b++)
        for (let o = 0; o < O; o++) {
          let acc = BigInt(l.bias[o]);
          for (let i = 0; i < inN; i++) acc += BigInt(l.weights[o * inN + i]) * (x.v[b * inN + i] - zx);
          out.push(clampRq(acc, l.rq.m[o], l.rq.s[o], z(l.out), l.rq.lo, l.rq.hi));
        }
      break;
    }
    case "maxpool":
    case "avgpool": {
      const pads = defPads(x.spec.shape[0], x.spec.shape[1], l.kernel, l.stride, l.padding);
      const zx = z(x.spec);
      const p = padded(x, pads, l.op === "maxpool" ? null : zx);
      const [OH, OW, C] = l.out.shape;
      for (let b = 0; b < n; b++)
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let c = 0; c < C; c++) {
              const taps: bigint[] = [];
              for (let ky = 0; ky < l.kernel[0]; ky++)
                for (let kx = 0; kx < l.kernel[1]; kx++) {
                  const v = p.at(b, oy * l.stride[0] + ky, ox * l.stride[1] + kx, c);
                  if (v !== null) taps.push(v);
                }
              if (l.op === "maxpool") out.push(taps.reduce((a, v) => (v > a ? v : a)));
              else out.push(clampRq(taps.reduce((a, v) => a + v - zx, 0n), l.rq.m[0], l.rq.s[0], z(l.out), l.rq.lo, l.rq.hi));
            }
      break;
    }
    case "gap": {
      const [H, W, C] = x.spec.shape;
      const zx = z(x.spec);
      for (let b = 0; b < n; b++)
        for (let c = 0; c < C; c++) {
          let acc = 0n;
          for (let i = 0; i < H * W; i++) acc += x.v[(b * H * W + i) * C + c] - zx;
          out.push(clampRq(acc, l.rq.m[0], l.rq.s[0], z(l.out), l.rq.lo, l.rq.hi));
        }
      break;
    }
    case "add": {
      const y = xs[1];
      const za = z(x.spec), zb = z(y.spec);
      const d = 1n << BigInt(l.s);
      for (let i = 0; i < x.v.length; i++) {
        const num = (x.v[i] - za) * BigInt(l.ma) + (y.v[i] - zb) * BigInt(l.mb) + (d >> 1n);
        let q = num / d;
        if (num % d !== 0n && num < 0n) q -= 1n; // floor
        q += z(l.out);
        out.push(q < BigInt(l.lo) ? BigInt(l.lo) : q > BigInt(l.hi) ? BigInt(l.hi) : q);
      }
      break;
    }
    case "flatten":
      out.push(...x.v);
      break;
  }
  return { n, spec: l.out, v: out };
}

/** Every layer's output for n u8 images, by the definition. */
export function defRun(p: Program, images: Uint8Array, n: number): DefTensor[] {
  const input = p.layers[0];
  if (input.op !== "input") throw new Error("layer 0");
  const C = input.out.shape[2];
  const r = tensorRange(input.out);
  const v = Array.from(images, (px, i) => {
    const q = input.lut ? input.lut[(i % C) * 256 + px] : px;
    if (q < r.lo || q > r.hi) throw new Error(`input value ${q} outside [${r.lo}, ${r.hi}]`);
    return BigInt(q);
  });
  if (v.length !== n * sizeOf(input.out.shape)) throw new Error("images");
  const acts: DefTensor[] = [{ n, spec: input.out, v }];
  for (let i = 1; i < p.layers.length; i++) acts.push(defLayer(p.layers[i], p.layers[i].inputs.map((j) => acts[j])));
  return acts;
}
