// Quantizer ops: forward ranges, the deployed grid, and gradients against finite differences of the
// stated expressions (src/train/quantizers.ts doc comments), computed in float64.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/train/backend.js";
import { evalQuant, hardQuant, nipqNoiseQuant, qmaxOf, qminOf, Quantizer, roundSTE, sampleNoise } from "../../src/train/quantizers.js";
import { uniformArray } from "../../src/train/rng.js";

const FC = { seed: 20230601, numRuns: 40 };

beforeAll(async () => {
  await selectBackend("cpu");
});

/** Round half to even, as tf.round. */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const arb = fc.record({
  xs: fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 64 }),
  alpha: fc.float({ min: Math.fround(0.05), max: 3, noNaN: true }),
  bits: fc.integer({ min: 2, max: 8 }),
  signed: fc.boolean(),
  key: fc.integer({ min: 0, max: 2 ** 31 }),
});

describe("NIPQ noise quantizer forward", () => {
  it("clamps to the range and adds noise within ±Δ/2", () => {
    fc.assert(
      fc.property(arb, ({ xs, alpha, bits, signed, key }) => {
        const eps = uniformArray(xs.length, key);
        const y = tf.tidy(() => nipqNoiseQuant(tf.tensor1d(xs), tf.scalar(alpha), tf.scalar(bits), tf.tensor1d(eps), signed).dataSync());
        const delta = alpha / qmaxOf(bits, signed);
        const lo = signed ? -alpha : 0;
        for (let i = 0; i < xs.length; i++) {
          const xc = Math.min(Math.max(xs[i], lo), alpha);
          expect(Math.abs(y[i] - xc)).toBeLessThanOrEqual(delta / 2 + 1e-5 * (1 + alpha));
          expect(y[i]).toBeGreaterThanOrEqual(lo - delta / 2 - 1e-5);
          expect(y[i]).toBeLessThanOrEqual(alpha + delta / 2 + 1e-5);
        }
      }),
      FC,
    );
  });

  it("empirical noise lies in [−½, ½] and follows the rounding-error histogram", () => {
    const x = tf.tensor1d(Array.from({ length: 4000 }, (_, i) => (i % 40) * 0.25 + 0.05)); // errors cluster at +0.2 (x/Δ = k + 0.2)
    const e = tf.tidy(() => sampleNoise(x, tf.scalar(0.25), "empirical", 7).dataSync());
    let near = 0;
    for (const v of e) {
      expect(v).toBeGreaterThanOrEqual(-0.5);
      expect(v).toBeLessThanOrEqual(0.5);
      if (Math.abs(v - 0.2) < 1 / 256 + 1e-6) near++;
    }
    expect(near / e.length).toBeGreaterThan(0.99);
  });
});

describe("evaluation quantizer", () => {
  it("outputs exactly step·roundHalfEven(clamp(fround(x/step))) on the integer grid", () => {
    fc.assert(
      fc.property(arb, ({ xs, alpha, bits, signed }) => {
        const qmax = qmaxOf(bits, signed);
        const qmin = qminOf(bits, signed);
        const step = Math.fround(alpha / qmax);
        const y = tf.tidy(() => evalQuant(tf.tensor1d(xs), step, qmin, qmax).dataSync());
        for (let i = 0; i < xs.length; i++) {
          const q = roundEven(Math.min(Math.max(Math.fround(Math.fround(xs[i]) / step), qmin), qmax));
          expect(y[i] === Math.fround(q * step)).toBe(true); // === so that −0 equals +0
          expect(q).toBeGreaterThanOrEqual(qmin);
          expect(q).toBeLessThanOrEqual(qmax);
        }
      }),
      FC,
    );
  });

  it("rounds ties to even", () => {
    const y = tf.tidy(() => evalQuant(tf.tensor1d([0.5, 1.5, 2.5, -0.5, -1.5]), 1, -7, 7).dataSync());
    expect(Array.from(y).map((v) => v + 0)).toEqual([0, 2, 2, 0, -2]);
  });
});

/** Central finite difference of a float64 scalar function. */
function fd(f: (t: number) => number, t: number, h: number): number {
  return (f(t + h) - f(t - h)) / (2 * h);
}

describe("NIPQ noise quantizer gradients", () => {
  it("match finite differences of L = Σ c·(clamp(x, lo, α) + α/(2^k − 1)·ε) in x, α and b", () => {
    fc.assert(
      fc.property(arb, fc.float({ min: Math.fround(2.2), max: Math.fround(7.8), noNaN: true }), ({ xs, alpha, signed, key }, bcont) => {
        const n = xs.length;
        const eps = Array.from(uniformArray(n, key));
        const c = Array.from(uniformArray(n, key + 1, -1, 1));
        // Keep x away from the clamp kinks so the finite difference is well defined.
        const lo = signed ? -alpha : 0;
        const x = xs.map((v) => (Math.abs(v - alpha) < 1e-2 || Math.abs(v - lo) < 1e-2 ? (lo + alpha) / 2 : v));
        const L = (xv: number[], a: number, b: number) => {
          const k = signed ? b - 1 : b;
          const d = a / (2 ** k - 1);
          const l = signed ? -a : 0;
          return xv.reduce((s, v, i) => s + c[i] * (Math.min(Math.max(v, l), a) + d * eps[i]), 0);
        };
        const [gx, ga, gb] = tf.tidy(() => {
          const xt = tf.tensor1d(x);
          const at = tf.scalar(alpha);
          const bt = tf.scalar(bcont);
          const g = tf.grads((xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(nipqNoiseQuant(xx, aa as tf.Scalar, bb as tf.Scalar, tf.tensor1d(eps), signed), tf.tensor1d(c))),
          )([xt, at, bt]);
          return g.map((t) => Array.from(t.dataSync()));
        });
        const tol = (v: number) => 2e-3 * (1 + Math.abs(v));
        const fa = fd((a) => L(x, a, bcont), alpha, 1e-6);
        const fb = fd((b) => L(x, alpha, b), bcont, 1e-6);
        expect(Math.abs(ga[0] - fa)).toBeLessThan(tol(fa));
        expect(Math.abs(gb[0] - fb)).toBeLessThan(tol(fb));
        for (let i = 0; i < n; i++) {
          const fx = fd((t) => L(x.map((v, j) => (j === i ? t : v)), alpha, bcont), x[i], 1e-6);
          expect(Math.abs(gx[i] - fx)).toBeLessThan(tol(fx));
        }
      }),
      { ...FC, numRuns: 25 },
    );
  });
});

describe("hard quantizer (LSQ / NIPQ final phase)", () => {
  it("passes x's gradient straight through inside the range and gives LSQ's step gradient", () => {
    const xs = [-3, -0.74, -0.1, 0, 0.26, 0.5, 1.3, 9];
    const step = 0.2;
    const [qmin, qmax] = [-7, 7];
    const [gx, gs] = tf.tidy(() =>
      tf.grads((x: tf.Tensor, s: tf.Tensor) => tf.sum(hardQuant(x, s, qmin, qmax)))([tf.tensor1d(xs), tf.scalar(step)]).map((t) => Array.from(t.dataSync())),
    );
    let expectS = 0;
    xs.forEach((x, i) => {
      const v = Math.fround(x / step);
      const inside = v >= qmin && v <= qmax;
      expect(gx[i]).toBe(inside ? 1 : 0);
      expectS += inside ? roundEven(v) - v : v < qmin ? qmin : qmax;
    });
    expect(gs[0]).toBeCloseTo(expectS, 4);
  });

  it("roundSTE rounds forward and is the identity backward", () => {
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(roundSTE(x), 3)))(tf.tensor1d([0.2, 1.7])).dataSync());
    expect(Array.from(g)).toEqual([3, 3]);
  });
});

describe("Quantizer", () => {
  it("learned bits stay in [bMin, bMax], and spec() reproduces the eval output", () => {
    const q = new Quantizer({ id: "t", kind: "activation", signed: false, method: "nipq", bits: "learned", bitsInit: 5, features: 10 }, "qtest");
    try {
      const x = tf.tensor1d([0, 0.3, 0.9, 1.7, 2.5]);
      q.calibrate(x);
      const s = q.spec();
      expect(s.bits).toBe(5);
      expect(s.step).toBe(Math.fround(s.alpha / 31));
      const y = tf.tidy(() => q.apply(x, "eval", 0).dataSync());
      const expectY = [0, 0.3, 0.9, 1.7, 2.5].map((v) => Math.fround(roundEven(Math.min(Math.max(Math.fround(Math.fround(v) / s.step), 0), 31)) * s.step));
      expect(Array.from(y)).toEqual(expectY);
      const noisy = tf.tidy(() => q.apply(x, "noise", 3).dataSync());
      expect(noisy.length).toBe(5);
    } finally {
      q.dispose();
    }
  });

  it("NIPQ α at calibration: 3·RMS by default, 2·mean|x|·√Qp with alphaInit lsq (written out for x = ±1, ±3)", () => {
    const x = tf.tensor1d([-3, -1, 1, 3]); // mean 0, RMS √5, mean|x| = 2
    for (const [bits, alphaInit, want] of [[2, "rms", 3 * Math.sqrt(5)], [2, "lsq", 2 * 2 * Math.sqrt(1)], [3, "lsq", 2 * 2 * Math.sqrt(3)], [4, "lsq", 2 * 2 * Math.sqrt(7)]] as const) {
      const q = new Quantizer({ id: "w", kind: "weight", signed: true, method: "nipq", bits, alphaInit, features: 4 }, `qinit${bits}${alphaInit}`);
      try {
        q.calibrate(x);
        expect(q.spec().alpha).toBeCloseTo(Math.fround(want), 4); // α passes through softplus(softplus⁻¹(α)) in float32
      } finally {
        q.dispose();
      }
    }
    x.dispose();
  });
});
