// The analog crossbar's column currents for the simulator (src/sim/chip/analogmac.ts): the multiply-accumulate
// part of analogAcc (src/sim/chip/kernels.ts), the one loop of an analog-chip simulation that grows with the
// layer's MACs. Every product and sum is its own IEEE double operation in the plain-TS loop's order (per
// output: the non-zero inputs in ascending k, y ← y + w·x; WASM has no fused multiply-add), so the
// results are the same bits. The noise, the ADC and the digital scaling stay in TypeScript.

/**
 * For one patch of group g: yt[kt·opg + oo] = Σ_j w[(g·K + idx_j)·opg + oo] · x_j over the non-zero inputs
 * j of K-tile kt (idx_j in [kt·kTile, (kt+1)·kTile)), starting from +0, for kt < kTiles and oo < opg.
 * w: f64 [groups·K][opg] (AnalogPrep.wnT); x: f64 [nnz], the DAC-normalized inputs; idx: i32 [nnz],
 * ascending; yt: f64 [kTiles·opg].
 */
export function analog_mac_f64(w: usize, K: i32, opg: i32, g: i32, x: usize, idx: usize, nnz: i32, kTile: i32, kTiles: i32, yt: usize): void {
  memory.fill(yt, 0, <usize>(kTiles * opg) << 3);
  let j = 0;
  for (let kt = 0; kt < kTiles; kt++) {
    const k1 = min((kt + 1) * kTile, K);
    const y = yt + (<usize>(kt * opg) << 3);
    for (; j < nnz; j++) {
      const k = load<i32>(idx + (<usize>j << 2));
      if (k >= k1) break;
      const v = load<f64>(x + (<usize>j << 3));
      const row = w + (<usize>((g * K + k) * opg) << 3);
      let oo = 0;
      if (ASC_FEATURE_SIMD) {
        const vv = f64x2.splat(v);
        for (; oo + 4 <= opg; oo += 4) {
          const p = y + (<usize>oo << 3);
          const q = row + (<usize>oo << 3);
          v128.store(p, f64x2.add(v128.load(p), f64x2.mul(v128.load(q), vv)));
          v128.store(p, f64x2.add(v128.load(p, 16), f64x2.mul(v128.load(q, 16), vv)), 16);
        }
      }
      for (; oo < opg; oo++) {
        const p = y + (<usize>oo << 3);
        store<f64>(p, load<f64>(p) + load<f64>(row + (<usize>oo << 3)) * v);
      }
    }
  }
}
