// Quantizer ops: forward ranges, the deployed grid, and gradients against finite differences of the
// stated expressions (src/train/quantizers.ts doc comments), computed in float64.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/train/backend.js";
import { EMPIRICAL_BINS, empiricalNoise, evalQuant, hardQuant, nipqNoiseQuant, qmaxOf, qminOf, Quantizer, roundingErrorHistogram, roundSTE, softplusInv } from "../../src/train/quantizers.js";
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

/** x with values placed exactly on the bounds (α, lo) and beyond them, where random floats rarely land. */
function withBounds(xs: number[], alpha: number, signed: boolean): number[] {
  const a = Math.fround(alpha);
  const lo = signed ? -a : 0;
  return [...xs, a, lo, 2 * a + 1, lo - 1, Math.fround(a * 0.999), signed ? Math.fround(-a * 0.999) : Math.fround(a * 1e-3)];
}

describe("NIPQ noise quantizer forward (the authors' noise_quant)", () => {
  it("outputs exactly α at and above α, exactly lo at and below lo, and x + Δ·ε strictly inside", () => {
    fc.assert(
      fc.property(arb, ({ xs: raw, alpha, bits, signed, key }) => {
        const xs = withBounds(raw, alpha, signed);
        const eps = uniformArray(xs.length, key);
        const y = tf.tidy(() => nipqNoiseQuant(tf.tensor1d(xs), tf.scalar(alpha), tf.scalar(bits), tf.tensor1d(eps), signed).dataSync());
        const delta = Math.fround(alpha / qmaxOf(bits, signed));
        const lo = signed ? -alpha : 0;
        for (let i = 0; i < xs.length; i++) {
          const x = Math.fround(xs[i]);
          if (x >= alpha) expect(y[i], `x=${x} α=${alpha}`).toBe(alpha);
          else if (x <= lo) expect(y[i] === lo, `x=${x} lo=${lo}: y=${y[i]}`).toBe(true); // === so that −0 equals +0
          else expect(Math.abs(y[i] - (x + delta * eps[i]))).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(x)));
        }
      }),
      FC,
    );
  });
});

describe("empirical noise (the authors' default)", () => {
  // Unsigned 4-bit, Δ = 0.25, α = 3.75. In-range elements sit at v = x/Δ = k − 0.2, whose rounding error
  // round(v) − v is +0.2 (bin ⌊0.7·256⌋ = 179). Half the tensor is ReLU zeros and a quarter is above α:
  // their "errors" (0) must not enter the histogram.
  const delta = 0.25;
  const alpha = 3.75;
  const xs = Array.from({ length: 4000 }, (_, i) => (i % 4 < 2 ? 0 : i % 4 === 2 ? 5 + (i % 7) : ((i % 14) + 1 - 0.2) * delta));

  it("counts only the rounding errors round(v) − v of elements strictly inside (lo, α)", () => {
    const h = roundingErrorHistogram(xs, alpha, delta, false);
    expect(h.length).toBe(EMPIRICAL_BINS);
    expect(h[179]).toBe(1000);
    expect(h.reduce((s, c) => s + c, 0)).toBe(1000);
    // Signed: −α < x < α; x = ±α and beyond are left out.
    const hs = roundingErrorHistogram([-3.75, -4, -0.3 * delta, 0.3 * delta, 3.75, 9], alpha, delta, true);
    expect(hs[Math.floor((0.3 + 0.5) * EMPIRICAL_BINS)]).toBe(1); // v = −0.3: round(v) − v = +0.3
    expect(hs[Math.floor((-0.3 + 0.5) * EMPIRICAL_BINS)]).toBe(1);
    expect(hs.reduce((s, c) => s + c, 0)).toBe(2);
  });

  it("rounds ties to even: v = 2.5 has error −0.5 (first bin), v = 3.5 error +0.5 (last bin, as torch.histc)", () => {
    const h = roundingErrorHistogram([2.5 * delta, 3.5 * delta], alpha, delta, false);
    expect(h[0]).toBe(1);
    expect(h[EMPIRICAL_BINS - 1]).toBe(1);
  });

  it("samples from that histogram: every draw in the +0.2 bin, none at the clamped elements' 0", () => {
    const e = empiricalNoise(xs, alpha, delta, false, 7);
    expect(e.length).toBe(xs.length);
    const [lo, hi] = [179 / EMPIRICAL_BINS - 0.5, 180 / EMPIRICAL_BINS - 0.5];
    for (const v of e) {
      expect(v).toBeGreaterThanOrEqual(lo);
      expect(v).toBeLessThan(hi + 1e-7);
    }
    // Two bins of equal count: about half the draws each, uniform within each bin.
    const two = empiricalNoise([0.1 * delta, 0.3 * delta, 0.1 * delta, 0.3 * delta], alpha, delta, false, 3).length;
    expect(two).toBe(4);
    const many = empiricalNoise(Array.from({ length: 2000 }, (_, i) => (i % 2 ? 0.1 : 0.3) * delta + delta), alpha, delta, false, 5);
    const near = (c: number) => many.filter((v) => Math.abs(v - c) < 1 / EMPIRICAL_BINS).length;
    expect(near(-0.1) + near(-0.3)).toBe(2000);
    expect(Math.abs(near(-0.1) - 1000)).toBeLessThan(100);
  });

  it("is what Quantizer.apply draws by default: y − x inside the range lies in Δ·(the tensor's one error bin)", () => {
    // No `noise` option: the default. α = softplus(softplus⁻¹(3.75)) in float32, unsigned 4 bits. Inside the
    // range every x sits at rounding error +0.2012 (the centre of bin 179); the rest are ReLU zeros and
    // values above α. Uniform noise would spread y − x over ±Δ/2.
    const q = new Quantizer({ id: "d", kind: "activation", signed: false, method: "nipq", bits: 4, features: 4000 }, "qdefault");
    try {
      expect(q.noise).toBe("empirical");
      q.alphaRaw!.assign(tf.scalar(softplusInv(alpha)));
      const a = q.spec().alpha;
      const d = a / 15;
      const e = 179.5 / EMPIRICAL_BINS - 0.5;
      const x = xs.map((v, i) => (i % 4 < 2 ? 0 : i % 4 === 2 ? a + 1 + (i % 7) : ((i % 14) + 1 - e) * d));
      const y = tf.tidy(() => q.apply(tf.tensor1d(x), "noise", 11).dataSync());
      for (let i = 0; i < x.length; i++) {
        const xi = Math.fround(x[i]);
        if (xi <= 0) expect(y[i]).toBe(0);
        else if (xi >= a) expect(y[i]).toBe(a);
        else {
          const eps = (y[i] - xi) / d;
          expect(eps, `x=${xi}`).toBeGreaterThan(179 / EMPIRICAL_BINS - 0.5 - 1e-4);
          expect(eps, `x=${xi}`).toBeLessThan(180 / EMPIRICAL_BINS - 0.5 + 1e-4);
        }
      }
    } finally {
      q.dispose();
    }
  });

  it("falls back to U(−½, ½) when no element is inside the range", () => {
    const e = empiricalNoise([0, 0, 9, 9], alpha, delta, false, 1);
    expect(Array.from(e)).toEqual(Array.from(uniformArray(4, 1)));
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
  /** L = Σ c·y in float64, y as the authors' noise_quant: α at/above α, lo at/below lo, x + α/(2^k − 1)·ε inside. */
  const loss = (xv: number[], a: number, b: number, eps: number[], c: number[], signed: boolean) => {
    const d = a / (2 ** (signed ? b - 1 : b) - 1);
    const lo = signed ? -a : 0;
    return xv.reduce((s, v, i) => s + c[i] * (v >= a ? a : v <= lo ? lo : v + d * eps[i]), 0);
  };

  it("to α and to the bits match finite differences; to x it is exactly [lo < x < α] (no STE)", () => {
    fc.assert(
      fc.property(arb, fc.float({ min: Math.fround(2.2), max: Math.fround(7.8), noNaN: true }), ({ xs: raw, alpha, signed, key }, bcont) => {
        // Values on and beyond the bounds, then nothing within 1e-2 of a bound, so the finite difference
        // does not cross a kink.
        const a = Math.fround(alpha);
        const lo = signed ? -a : 0;
        const x = withBounds(raw, a, signed)
          .map(Math.fround)
          .map((v) => (v !== a && v !== lo && (Math.abs(v - a) < 1e-2 || Math.abs(v - lo) < 1e-2) ? Math.fround((lo + a) / 2) : v));
        const n = x.length;
        const eps = Array.from(uniformArray(n, key));
        const c = Array.from(uniformArray(n, key + 1, -1, 1));
        const [gx, ga, gb] = tf.tidy(() => {
          const g = tf.grads((xx: tf.Tensor, aa: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(nipqNoiseQuant(xx, aa as tf.Scalar, bb as tf.Scalar, tf.tensor1d(eps), signed), tf.tensor1d(c))),
          )([tf.tensor1d(x), tf.scalar(a), tf.scalar(bcont)]);
          return g.map((t) => Array.from(t.dataSync()));
        });
        const tol = (v: number) => 2e-3 * (1 + Math.abs(v));
        // An x exactly on α (or on −α) is clamped: it stays on the bound as α moves, y = ±α.
        const onBounds = (aa: number) => x.map((v) => (v === a ? aa : signed && v === -a ? -aa : v));
        const fa = (loss(onBounds(a + 1e-6), a + 1e-6, bcont, eps, c, signed) - loss(onBounds(a - 1e-6), a - 1e-6, bcont, eps, c, signed)) / 2e-6;
        const fb = (loss(x, a, bcont + 1e-6, eps, c, signed) - loss(x, a, bcont - 1e-6, eps, c, signed)) / 2e-6;
        expect(Math.abs(ga[0] - fa), `dL/dα ${ga[0]} vs ${fa}`).toBeLessThan(tol(fa));
        expect(Math.abs(gb[0] - fb), `dL/db ${gb[0]} vs ${fb}`).toBeLessThan(tol(fb));
        for (let i = 0; i < n; i++) expect(gx[i] + 0, `x=${x[i]}`).toBe(x[i] > lo && x[i] < a ? Math.fround(c[i]) : 0);
      }),
      { ...FC, numRuns: 25 },
    );
  });

  it("written out: α's gradient is Σ dy over x ≥ α, minus Σ dy over x ≤ −α (signed), plus Σ dy·ε/qmax inside", () => {
    // Signed 3-bit, α = 1 (qmax 3): x = 2 (above), 1 (on α), −1 (on −α), −5 (below), 0.4 (inside, ε = 0.3).
    const [ga, gb] = tf.tidy(() =>
      tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.sum(nipqNoiseQuant(tf.tensor1d([2, 1, -1, -5, 0.4]), aa as tf.Scalar, bb as tf.Scalar, tf.tensor1d([0.1, 0.2, -0.4, 0.5, 0.3]), true)))([
        tf.scalar(1),
        tf.scalar(3),
      ]).map((t) => t.dataSync()[0]),
    );
    expect(ga).toBeCloseTo(1 + 1 - 1 - 1 + 0.3 / 3, 6);
    // ∂Δ/∂b = −Δ·ln2·2^k/(2^k − 1), k = 2, Δ = 1/3: only the inside element's ε = 0.3 counts.
    expect(gb).toBeCloseTo(0.3 * (-(1 / 3) * Math.LN2 * 4) / 3, 6);
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
