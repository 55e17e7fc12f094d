// The GEMMs' f64 requant (assembly/requant.ts f64Channel, requantClamp8F64At; session 30): requant_fit gives an
// 8-channel group f = m·2^−s per channel (ps = −2; f of channels 0–3 in the pw slots, 4–7 in the s slots) when, for
// the layer's accumulator range [amin, amax], zero point zy and clamp [lo, hi], every channel passes the proof written
// at f64Channel: the form is monotone over the whole range (B·m/2^s + 2 + |zy| < 2^31), and exact — |a|·m < 2^51 and no
// exact tie — only where the output is not saturated, [a1, a2] = [τ(lo + 1) − 1, τ(hi)] cut to the range. Tested:
//  - the rule at its limits, channel by channel through requant_fit itself: |a|·m just below and at or above 2^51 at
//    a1 and at a2 (cut by amax or by the threshold), ties inside [a1, a2], at its ends and just outside, a1/a2 on
//    level boundaries, zy ≠ 0, lo/hi at ±2^15, multipliers > 1, the monotone bound; the decision against a BigInt
//    statement of the rule, and every admitted channel's f, computed as the kernel computes it (JS doubles: no fused
//    multiply-add), against the reference requant over the whole range (or, past 2^22 values, at its ends, around
//    a1 and a2 and at random points);
//  - the kernels: dense layers whose accumulators sweep a contiguous window around each channel's a1 and a2 (weights
//    127 and 1, every (x0, x1)), and random dense layers at K from 16 to 600, on the SIMD, SIMD container-16 and
//    relaxed builds, against the reference kernels.

import { describe, expect, it } from "vitest";
import { referenceKernels } from "../../src/kernels/reference/backend.js";
import { requantBig, requantClamp } from "../../src/kernels/reference/requant.js";
import { WasmEngine } from "../../src/kernels/wasm/engine.js";
import { WasmKernels } from "../../src/kernels/wasm/backend.js";
import { i32View } from "../../src/kernels/wasm/arena.js";
import type { DenseLayer, TensorSpec } from "../../src/ir/types.js";
import { expectExact } from "../backends/check.js";
import { Rng } from "../backends/rand.js";

/** assembly/requant.ts MAGIC = 1.5·2^52 and PS_F64. */
const MAGIC = 6755399441055744;
const PS_F64 = -2;

interface Channel { m: number; s: number; zy: number; lo: number; hi: number; amin: number; amax: number; why: string }

/** τ(L): the smallest a in [amin, amax + 1] with requant(a, m, s) + zy ≥ L, in BigInt (a ≥ ((L − zy)·2^s − 2^(s−1)) / m, rounded up). */
function tau(c: Channel, L: number): bigint {
  const num = BigInt(L - c.zy) * (1n << BigInt(c.s)) - (1n << BigInt(c.s - 1));
  const M = BigInt(c.m);
  let t = num / M;
  if (t * M < num) t++;
  const lo = BigInt(c.amin);
  const hi = BigInt(c.amax) + 1n;
  return t < lo ? lo : t > hi ? hi : t;
}

const big = (a: bigint, b: bigint) => (a > b ? a : b);
const small = (a: bigint, b: bigint) => (a < b ? a : b);
const absB = (a: bigint) => (a < 0n ? -a : a);

/** The unsaturated interval [a1, a2] of f64Channel's proof. */
function interval(c: Channel): [bigint, bigint] {
  return [big(BigInt(c.amin), tau(c, c.lo + 1) - 1n), small(BigInt(c.amax), tau(c, c.hi))];
}

/** The rule of f64Channel, stated in BigInt: true when the f64 requant is admitted for the channel. */
function admits(c: Channel): boolean {
  if (c.m <= 0 || c.s < 1 || c.s > 62 || c.lo > c.hi || c.amin > c.amax) return false;
  const M = BigInt(c.m);
  const B = big(BigInt(-c.amin), BigInt(c.amax));
  if ((B * M >> BigInt(c.s)) + 2n + BigInt(Math.abs(c.zy)) >= 1n << 31n) return false;
  const [a1, a2] = interval(c);
  if (a1 > a2) return true;
  if (big(absB(a1), absB(a2)) * M >= 1n << 51n) return false;
  // A tie: a·m ≡ 2^(s−1) (mod 2^s), i.e. a an odd multiple of 2^k, k = s − 1 − v2(m).
  let v = 0;
  while (((c.m >> v) & 1) === 0) v++;
  const k = c.s - 1 - v;
  if (k < 0) return true;
  const step = 1n << BigInt(k);
  let u = a1 >= 0n ? (a1 + step - 1n) / step : -((-a1) / step); // ⌈a1 / 2^k⌉
  if ((u & 1n) === 0n) u++;
  return u * step > a2;
}

/** The f64 form as requantClamp8F64At computes it: fl(fl(a·f) + (MAGIC + zy)), its low 32 bits, the i16 narrowing, the clamp. */
function f64Form(a: number, f: number, zy: number, lo: number, hi: number): number {
  const d = a * f + (MAGIC + zy);
  if (!(d >= 2 ** 52 && d < 2 ** 53)) throw new Error(`f64 form: a = ${a}, f = ${f}: the sum ${d} leaves [2^52, 2^53)`);
  const v = (d - 2 ** 52) | 0; // the low 32 bits of the bit pattern: (2^51 + V) mod 2^32 as i32
  return Math.min(hi, Math.max(lo, Math.max(-32768, Math.min(32767, v))));
}

/** requant_fit, the f64 form alone, on one channel (N = 1, padded to 8): its ps and f. */
function fitOne(e: WasmEngine, c: Channel): { ps: number; f: number } {
  const Np = 8;
  const p = e.arena.alloc(16 * Np + Np / 2, "params");
  const v = i32View(e.arena, p, 3 * Np);
  v.fill(0);
  v[Np] = c.m;
  v[2 * Np] = c.s;
  e.k.requant_params(p, 1, Np, 32);
  e.k.requant_gemm_forms!(2); // the f64 form only: the fitted one would take the few-level clamps first
  e.k.requant_fit!(p, 1, Np, c.amin, c.amax, c.zy, c.lo, c.hi, 32);
  e.k.requant_gemm_forms!(3);
  return { ps: i32View(e.arena, p + 16 * Np, 1)[0], f: new Float64Array(e.k.memory.buffer, p + 12 * Np, 1)[0] };
}

/** Every a of [amin, amax] when at most 2^22 of them; else the ends, around a1 and a2, and random points. */
function* points(c: Channel, rng: Rng): Generator<number> {
  if (c.amax - c.amin <= 2 ** 22) {
    for (let a = c.amin; a <= c.amax; a++) yield a;
    return;
  }
  const [a1, a2] = interval(c);
  for (const centre of [c.amin, c.amax, Number(a1), Number(a2)])
    for (let a = Math.max(c.amin, centre - 65536); a <= Math.min(c.amax, centre + 65536); a++) yield a;
  for (let i = 0; i < 65536; i++) yield rng.int(c.amin, c.amax);
}

/** Constructed channels at the limits of the rule (see the file comment); `admit`: the decision expected. */
function constructed(): (Channel & { admit: boolean })[] {
  const out: (Channel & { admit: boolean })[] = [];
  const add = (c: Channel, admit: boolean) => out.push({ ...c, admit });
  // |a|·m against 2^51 where the range cuts [a1, a2]: outputs never saturate above amax (τ(255) ≈ 2^23 > amax).
  for (const m of [2 ** 30 + 12345, 2 ** 31 - 1, 1518500251]) {
    const A = Math.floor((2 ** 51 - 1) / m);
    add({ m, s: 45, zy: 0, lo: 0, hi: 255, amin: -1000, amax: A, why: `a2 = amax, amax·m just below 2^51 (m ${m})` }, true);
    add({ m, s: 45, zy: 0, lo: 0, hi: 255, amin: -1000, amax: A + 1, why: `a2 = amax, amax·m just above 2^51 (m ${m})` }, false);
    add({ m, s: 45, zy: 0, lo: -127, hi: 127, amin: -A, amax: 1000, why: `a1 = amin, |amin|·m just below 2^51 (m ${m})` }, true);
    add({ m, s: 45, zy: 0, lo: -127, hi: 127, amin: -A - 1, amax: 1000, why: `a1 = amin, |amin|·m just above 2^51 (m ${m})` }, false);
  }
  // |a2|·m at the threshold τ(hi): (hi − zy − ½)·2^s ≤ a2·m < (hi − zy − ½)·2^s + m, against 2^51 = 512·2^42.
  for (const [zy, admit] of [[-256, true], [-257, true], [-258, false]] as const)
    add({ m: 2 ** 30 + 77777, s: 42, zy, lo: 0, hi: 255, amin: -(2 ** 22), amax: 2 ** 22, why: `a2 = τ(hi), hi − zy = ${255 - zy}` }, admit);
  // At 2^51 exactly (m a power of two, so a2 = 2^21 is also a tie): refused.
  add({ m: 2 ** 30, s: 52, zy: 0, lo: 0, hi: 1, amin: -(2 ** 22), amax: 2 ** 22, why: "a2·m = 2^51 exactly" }, false);
  // Ties (m = 2^30: odd multiples of 512 at s = 40; m = 3·2^28: of 2048): inside [a1, a2], at its end, just outside.
  add({ m: 2 ** 30, s: 40, zy: 0, lo: 0, hi: 1, amin: -5000, amax: 5000, why: "a tie at a2 = τ(1) = 512" }, false);
  add({ m: 2 ** 30, s: 40, zy: 0, lo: 0, hi: 0, amin: -5000, amax: 5000, why: "lo = hi: a constant output" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 0, hi: 1, amin: -9000, amax: 9000, why: "[a1, a2] = [682, 683], ties at ±2048 (where half-even differs) outside" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 0, hi: 2, amin: -9000, amax: 9000, why: "a tie at a2 = τ(2) = 2048" }, false);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 0, hi: 3, amin: -9000, amax: 9000, why: "a tie at 2048 inside [682, 3414]" }, false);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 2, hi: 3, amin: -9000, amax: 9000, why: "[a1, a2] = [3413, 3414] between the ties 2048 and 6144" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: 3, lo: 0, hi: 4, amin: -9000, amax: 9000, why: "zy = 3: a tie at −2048 inside [−3414, 683]" }, false);
  add({ m: 3 * 2 ** 28, s: 40, zy: 3, lo: 3, hi: 4, amin: -9000, amax: 9000, why: "zy = 3: [682, 683]" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: -3, lo: -5, hi: -4, amin: -9000, amax: 2047, why: "zy = −3: a tie at a2 = τ(−4) = −2048" }, false);
  add({ m: 3 * 2 ** 28, s: 40, zy: -3, lo: -5, hi: 120, amin: -2047, amax: 2047, why: "zy = −3: [a1, a2] = the range, the ties ±2048 just past its ends" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: -3, lo: 1, hi: 120, amin: -9000, amax: 2047, why: "a1 > a2: every a of the range saturates at lo" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 0, hi: 255, amin: 0, amax: 2047, why: "ties only past amax" }, true);
  add({ m: 3 * 2 ** 28, s: 40, zy: 0, lo: 0, hi: 255, amin: 0, amax: 2048, why: "the tie 2048 = amax" }, false);
  // Level boundaries exactly on a1 / a2 (m divides the numerator: τ is exact) with an odd m.
  add({ m: 2 ** 31 - 1, s: 31, zy: 0, lo: 0, hi: 255, amin: -1000, amax: 1000, why: "f just below 1: a step per a" }, true);
  add({ m: 1431655765, s: 32, zy: 7, lo: -127, hi: 127, amin: -3000, amax: 3000, why: "f ≈ 1/3, zy = 7" }, true);
  // lo/hi at the i16 bounds; multipliers > 1; the monotone bound.
  add({ m: 1518500251, s: 45, zy: 0, lo: -32768, hi: 32767, amin: -(2 ** 20), amax: 2 ** 20, why: "16-bit outputs, unsaturated everywhere, |a|·m < 2^51" }, true);
  add({ m: 1518500251, s: 45, zy: 0, lo: -32768, hi: 32767, amin: -(2 ** 22), amax: 2 ** 22, why: "16-bit outputs, |a|·m ≥ 2^51 at the range's ends" }, false);
  add({ m: 2 ** 30 + 3, s: 20, zy: 5, lo: -127, hi: 127, amin: -5000, amax: 5000, why: "f ≈ 2^10 > 1: steps of 1024 levels" }, true);
  add({ m: 2 ** 31 - 1, s: 1, zy: 0, lo: -127, hi: 127, amin: -(2 ** 20), amax: 2 ** 20, why: "f ≈ 2^30: B·f ≥ 2^31, not monotone in i32" }, false);
  add({ m: 2 ** 31 - 1, s: 31, zy: 30000, lo: -32768, hi: 32767, amin: -(2 ** 31 - 30003), amax: 5, why: "B·f + 2 + |zy| just below 2^31" }, true);
  add({ m: 2 ** 31 - 1, s: 31, zy: 30000, lo: -32768, hi: 32767, amin: -(2 ** 31 - 30001), amax: 5, why: "B·f + 2 + |zy| at 2^31" }, false);
  return out;
}

describe("the GEMMs' f64 requant (requant_fit, f64Channel): the rule at its limits, and each admitted channel exact over its range", () => {
  const e = new WasmEngine({ flavor: "simd" });
  it("constructed channels: the decision expected and the BigInt rule's; admitted ones equal the reference requant", () => {
    const rng = new Rng(30030);
    for (const c of constructed()) {
      const { ps, f } = fitOne(e, c);
      expect(admits(c), `${c.why}: the BigInt rule`).toBe(c.admit);
      expect(ps === PS_F64, `${c.why}: requant_fit's decision (ps ${ps})`).toBe(c.admit);
      if (!c.admit) continue;
      expect(f).toBe(c.m * 2 ** -c.s);
      for (const a of points(c, rng)) {
        const want = requantClamp(a, c.m, c.s, c.lo - c.zy, c.hi - c.zy) + c.zy;
        const got = f64Form(a, f, c.zy, c.lo, c.hi);
        if (got !== want) throw new Error(`${c.why}: a = ${a}: f64 form ${got}, reference ${want} (m ${c.m}, s ${c.s}, zy ${c.zy}, [${c.lo}, ${c.hi}])`);
      }
    }
  });

  it("random channels (s 28…46, zero points, 4-, 8- and 16-bit clamps, ranges to ±2^17): requant_fit decides as the rule, admitted ones exact", () => {
    const rng = new Rng(30031);
    const clamps = [[0, 255], [-127, 127], [-128, 127], [0, 15], [-7, 7], [-32768, 32767]];
    let admitted = 0;
    for (let i = 0; i < 200; i++) {
      const [lo, hi] = clamps[i % clamps.length];
      const span = 2 ** rng.int(8, 17);
      const amin = -rng.int(0, span);
      const c: Channel = { m: rng.int(2 ** 30, 2 ** 31 - 1) & (i % 5 === 0 ? ~((1 << rng.int(1, 20)) - 1) : -1) || 2 ** 30, s: rng.int(28, 46), zy: i % 3 === 0 ? 0 : rng.int(-20, 20), lo, hi, amin, amax: amin + rng.int(0, 2 * span), why: `random ${i}` };
      const { ps, f } = fitOne(e, c);
      expect(ps === PS_F64, `${c.why}: ${JSON.stringify(c)}`).toBe(admits(c));
      if (ps !== PS_F64) continue;
      admitted++;
      for (const a of points(c, rng)) {
        const want = requantClamp(a, c.m, c.s, c.lo - c.zy, c.hi - c.zy) + c.zy;
        const got = f64Form(a, f, c.zy, c.lo, c.hi);
        if (got !== want) throw new Error(`${c.why} ${JSON.stringify(c)}: a = ${a}: f64 form ${got}, reference ${want}`);
      }
    }
    expect(admitted).toBeGreaterThan(100);
    expect(admitted).toBeLessThan(200);
  });

  it("the BigInt reference and the rule's τ agree (requantBig at τ − 1 and τ)", () => {
    for (const c of constructed().filter((c) => c.amax - c.amin < 2 ** 23))
      for (const L of [c.lo + 1, c.hi]) {
        const t = tau(c, L);
        if (t > BigInt(c.amin)) expect(requantBig(t - 1n, BigInt(c.m), BigInt(c.s)) + BigInt(c.zy) < BigInt(L), c.why).toBe(true);
        if (t <= BigInt(c.amax)) expect(requantBig(t, BigInt(c.m), BigInt(c.s)) + BigInt(c.zy) >= BigInt(L), c.why).toBe(true);
      }
  });
});

const ENGINES: [string, () => WasmEngine][] = [
  ["simd", () => new WasmEngine({ flavor: "simd" })],
  ["simd, container 16", () => new WasmEngine({ flavor: "simd", policy: { wide: 16, narrow: 16 } })],
  ["relaxed", () => new WasmEngine({ flavor: "relaxed" })],
];

describe("GEMMs on the f64 requant equal the reference kernels", () => {
  for (const [name, make] of ENGINES) {
    it(`${name}: accumulators sweeping each channel's a1 and a2 (weights 127 and 1, every (x0, x1)), 8-bit outputs with zero points`, () => {
      const e = make();
      const k = new WasmKernels(e);
      const rng = new Rng(30032);
      const N = 20; // two whole panels and a partial one
      // x0 in 0…Q − 1, x1 in 0…126: acc = bias + 127·x0 + x1 covers bias + [0, 127·Q − 1] once each. The relaxed
      // build's GEMM takes 7-bit activations only (prepare.ts relaxedBlock): Q = 128 there.
      const relaxed = name === "relaxed";
      const Q = relaxed ? 128 : 256;
      const M = Q * 127;
      const data = new Int32Array(2 * M);
      for (let q = 0; q < Q; q++) for (let r = 0; r < 127; r++) data.set([q, r], 2 * (127 * q + r));
      for (const out of [{ bits: 8, signed: false, zero: 0, lo: 0, hi: 255 }, { bits: 8, signed: true, zero: -5, lo: -127, hi: 127 }, { bits: 4, signed: false, zero: 3, lo: 0, hi: 15 }]) {
        const m = Int32Array.from({ length: N }, (_, c) => (c === 7 ? 3 * 2 ** 28 : rng.int(2 ** 30, 2 ** 31 - 1) | 1));
        const s = Int32Array.from({ length: N }, () => rng.int(28, 34));
        // bias: the window [bias, bias + 32511] starts ~2000 below a1 (the last a saturating at lo).
        const bias = Int32Array.from({ length: N }, (_, c) => {
          const t = tau({ m: m[c], s: s[c], zy: out.zero, lo: out.lo, hi: out.hi, amin: -(2 ** 30), amax: 2 ** 30, why: "" }, out.lo + 1);
          return Number(t) - 2000 - rng.int(0, 500);
        });
        const layer: DenseLayer = {
          op: "dense", name: `f64-sweep-${out.signed ? "s" : "u"}${out.bits}-z${out.zero}`, inputs: [0], out: { shape: [N], bits: out.bits, signed: out.signed, scale: 1, zero: out.zero },
          wBits: 8, weights: Int8Array.from({ length: N * 2 }, (_, i) => (i % 2 === 0 ? 127 : 1)), wScale: new Float64Array(N).fill(1),
          bias, rq: { m, s, lo: out.lo, hi: out.hi },
        };
        const xSpec: TensorSpec = { shape: [2], bits: relaxed ? 7 : 8, signed: false, scale: 1 };
        e.k.requant_gemm_forms!(3);
        const p = e.prepare(layer, xSpec);
        if (p.kind !== "dense") throw new Error("not prepared as dense");
        expect((p.gemm.host.relaxedT ?? 0) > 0, "the relaxed GEMM runs on the relaxed build").toBe(relaxed);
        const ps = Array.from(i32View(e.arena, p.gemm.ps, 3));
        expect(ps.filter((S) => S === PS_F64).length, `${layer.name}: groups on the f64 requant (${ps})`).toBeGreaterThan(0);
        const x = { n: M, spec: xSpec, data };
        expectExact(`${name} ${layer.name}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
      }
    });

    it(`${name}: random dense layers, K = 16, 27, 32, 48, 96, 144, 600; N = 8, 20, 96; M = 5, 27, 61; W8 and W4; 8-bit outputs, zero points`, () => {
      const e = make();
      const k = new WasmKernels(e);
      const rng = new Rng(30033);
      let f64Groups = 0;
      for (const wBits of [8, 4])
        for (const K of [16, 27, 32, 48, 96, 144, 600])
          for (const N of [8, 20, 96])
            for (const [signed, zy] of [[false, 0], [true, -3], [false, 9]] as const) {
              const wmax = 2 ** (wBits - 1) - 1;
              const A = K * wmax * 255;
              const lo = signed ? -127 : 0;
              const hi = signed ? 127 : 255;
              const s0 = 30 + Math.ceil(Math.log2(A / 255)) - 4; // typical sums across the levels
              const layer: DenseLayer = {
                op: "dense", name: `f64-k${K}-n${N}-w${wBits}-${signed ? "s" : "u"}8-z${zy}`, inputs: [0], out: { shape: [N], bits: 8, signed, scale: 1, zero: zy },
                wBits, weights: Int8Array.from({ length: N * K }, () => rng.int(-wmax, wmax)), wScale: new Float64Array(N).fill(1),
                bias: Int32Array.from({ length: N }, () => rng.int(-A >> 4, A >> 4)),
                rq: { m: Int32Array.from({ length: N }, () => rng.int(2 ** 30, 2 ** 31 - 1)), s: Int32Array.from({ length: N }, (_, c) => s0 + (c % 3)), lo, hi },
              };
              const xBits = name === "relaxed" ? 7 : 8; // the relaxed GEMM's activations: 7 bits
              const xSpec: TensorSpec = { shape: [K], bits: xBits, signed: false, scale: 1, zero: K % 3 === 0 ? 4 : 0 };
              e.k.requant_gemm_forms!(3);
              const p = e.prepare(layer, xSpec);
              if (p.kind !== "dense") throw new Error("not prepared as dense");
              f64Groups += Array.from(i32View(e.arena, p.gemm.ps, p.gemm.host.Np / 8)).filter((S) => S === PS_F64).length;
              for (const M of [5, 27, 61]) {
                const x = { n: M, spec: xSpec, data: Int32Array.from({ length: M * K }, () => rng.int(0, 2 ** xBits - 1)) };
                expectExact(`${name} ${layer.name} M=${M}`, referenceKernels.dense(layer, x), k.dense(layer, x), [M, N]);
              }
            }
      expect(f64Groups).toBeGreaterThan(100);
    });
  }
});
