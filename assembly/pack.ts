// Weight layouts the kernels read, laid out once per layer at prepare (src/kernels/wasm/engine.ts) from the
// layer's int8 weights W[n][k] (row-major [N][K]) that the host copied into linear memory: here
// rather than in TypeScript so that the edge runtime does not carry the loops (docs/DECISIONS.md "Runtime
// budget"), and Node runs the same code. Zero rows and columns pad N and K; nothing here is per inference.

/**
 * The baseline GEMM's 8c2 panels (./gemm.ts): panel j, k-pair p, half h (channels 0–3 / 4–7) is weight
 * vector q of the panel, whose lane 2c + t holds W[8j + 4h + c][2p + t]; vectors stored in container `c`
 * (16: each as 8 i16; 8 / 4 / 2: 16 / c vectors per 16-byte block, vector q % (16 / c) in the c-bit field
 * at bit c·(q % (16 / c)) of each i16 lane). Kp is K padded for the container (even; 4 | Kp for c = 4,
 * 8 | Kp for c = 2); `out` gets Np·Kp·c / 8 bytes, Np = N rounded up to 8.
 */
export function pack_8c2(w: usize, N: i32, K: i32, Kp: i32, c: i32, out: usize): void {
  pack8c2<i8>(w, N, K, Kp, c, out);
}

/**
 * pack_8c2 from i16 weights W[n][k] (each must fit the container's c bits): the Winograd convolution's
 * transformed weights (./winograd.ts), up to 9·128 in magnitude for 8-bit weights.
 */
export function pack_8c2_s16(w: usize, N: i32, K: i32, Kp: i32, c: i32, out: usize): void {
  pack8c2<i16>(w, N, K, Kp, c, out);
}

// @ts-ignore: decorator
@inline function pack8c2<T>(w: usize, N: i32, K: i32, Kp: i32, c: i32, out: usize): void {
  const Np = (N + 7) & ~7;
  const V = 16 / c;
  const mask = (1 << c) - 1;
  memory.fill(out, 0, <usize>(Np >> 3) * <usize>Kp * <usize>c);
  let q = 0;
  for (let j = 0; j < Np; j += 8)
    for (let p = 0; p < Kp; p += 2)
      for (let h = 0; h < 8; h += 4) {
        const word = out + ((<usize>(q / V) << 4));
        const shift = c * (q % V);
        for (let l = 0; l < 8; l++) {
          const n = j + h + (l >> 1);
          const k = p + (l & 1);
          const v: i32 = n < N && k < K ? <i32>load<T>(w + ((<usize>n * <usize>K + <usize>k) << alignof<T>())) : 0;
          const a = word + (<usize>l << 1);
          store<u16>(a, <u16>(<i32>load<u16>(a) | ((v & mask) << shift)));
        }
        q++;
      }
}

/**
 * The relaxed GEMM's 8c4 i8 panels (./gemm-relaxed.ts): panel j, k-quad q, byte 4c + t of its 32 bytes is
 * W[8j + c][4q + t]. Kp is K rounded up to 4; `out` gets Np·Kp bytes.
 */
export function pack_8c4(w: usize, N: i32, K: i32, Kp: i32, out: usize): void {
  const Np = (N + 7) & ~7;
  let o = out;
  for (let j = 0; j < Np; j += 8)
    for (let q = 0; q < Kp; q += 4)
      for (let c = 0; c < 8; c++)
        for (let t = 0; t < 4; t++) {
          const n = j + c;
          const k = q + t;
          store<i8>(o++, n < N && k < K ? load<i8>(w + <usize>n * <usize>K + <usize>k) : 0);
        }
}
