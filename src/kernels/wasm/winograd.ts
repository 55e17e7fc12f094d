// The host side of the Winograd F(2×2, 3×3) convolution (assembly/winograd.ts, whose file comment has the
// exactness argument): which layers may take it — the proof, from the layer's weights and input range — and
// the weight transform U = (2G) g (2G)ᵀ, once per layer at prepare. Node's WasmEngine only: the edge runtime
// (KernelEngine) keeps the im2col GEMM, so none of this is in its bundle (docs/DECISIONS.md "Runtime budget").

import { macRange, weightAccBound } from "../../ir/accbound.js";
import type { Conv2DLayer, TensorSpec } from "../../ir/types.js";

/** Largest |x − z_x| for which V = Bᵀ (d − z_x) B (4 terms) fits i16. */
const MAX_INPUT = 8191;
/**
 * Fewest input channels for which Winograd is taken. The transforms cost O(C + N) per tile against the GEMMs'
 * O(C·N): measured per layer (bench/kernels/layers.ts resnet20 8, docs/RESULTS.md), it was slower at C = 3
 * (2×) and C = 16 (13%), faster at C = 32 (16%) and C = 64 (30%).
 */
export const WINOGRAD_MIN_CHANNELS = 32;

/**
 * Why layer `l` (OpData `op`, input `x`) does not run as Winograd F(2×2, 3×3), or undefined when it does:
 *  - a 3×3 kernel, stride 1, groups 1 (dense channels), at least WINOGRAD_MIN_CHANNELS input channels (speed);
 * and, for exactness:
 *  - |x − z_x| ≤ 8191 over the input's range, so every V fits i16 (8-bit activations: ≤ 1020);
 *  - the weights fit i16 after the transform: |U| ≤ 9·max|w| (int8 weights: ≤ 1152, always);
 *  - the sum S = Σ w·(x − z_x), without the bias, within [−2^29, 2^29 − 1] for every input in range
 *    (weightAccBound with zero biases: at most 30 signed bits), so 4·S fits i32 and Y >> 2 recovers it.
 * The GEMM's i32 products and sums only need to be exact modulo 2^32 (dot_i16x8_s and i32 adds are).
 */
export function winogradRefusal(l: Conv2DLayer, x: TensorSpec): string | undefined {
  const [kh, kw] = l.kernel;
  const C = x.shape[2];
  if (kh !== 3 || kw !== 3 || l.stride[0] !== 1 || l.stride[1] !== 1) return "not a 3×3 stride-1 kernel";
  if (l.groups !== 1) return "grouped";
  if (C < WINOGRAD_MIN_CHANNELS) return `${C} input channels, fewer than ${WINOGRAD_MIN_CHANNELS}`;
  const r = macRange(x);
  if (Math.max(-r.lo, r.hi) > MAX_INPUT) return `inputs x − z_x up to ${Math.max(-r.lo, r.hi)} (V would not fit i16)`;
  const sum = weightAccBound(l.weights, new Float64Array(l.out.shape[2]), r);
  if (sum.bits > 30) return `the sum without bias needs ${sum.bits} bits (4·S must fit i32)`;
  return undefined;
}

/**
 * The transformed weights, U_ξ[n][c] for ξ = 4i + j at u[(ξ·N + n)·C + c]: U = (2G) g (2G)ᵀ of the 3×3 filter
 * g[ky][kx] = w[((n·3 + ky)·3 + kx)·C + c] (layout [outC][kh][kw][inC]), with 2G = [2 0 0; 1 1 1; 1 −1 1; 0 0 2]
 * (Lavin & Gray's G with its ½ entries doubled). Exact integers; returns them with their largest magnitude.
 */
export function winogradWeights(w: ArrayLike<number>, N: number, C: number): { u: Int16Array; max: number } {
  const u = new Int16Array(16 * N * C);
  const t = new Int32Array(12); // (2G) g: 4 rows × 3 columns
  let max = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const g = (ky: number, kx: number) => w[((n * 3 + ky) * 3 + kx) * C + c];
      for (let kx = 0; kx < 3; kx++) {
        const g0 = g(0, kx), g1 = g(1, kx), g2 = g(2, kx);
        t[kx] = 2 * g0;
        t[3 + kx] = g0 + g1 + g2;
        t[6 + kx] = g0 - g1 + g2;
        t[9 + kx] = 2 * g2;
      }
      for (let i = 0; i < 4; i++) {
        const a = t[3 * i], b = t[3 * i + 1], d = t[3 * i + 2];
        const row = [2 * a, a + b + d, a - b + d, 2 * d];
        for (let j = 0; j < 4; j++) {
          u[((4 * i + j) * N + n) * C + c] = row[j];
          max = Math.max(max, Math.abs(row[j]));
        }
      }
    }
  return { u, max };
}
