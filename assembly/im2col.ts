// im2col for conv2d: one sample's input patches as GEMM rows, in the weights' [kh][kw][C/groups] order.
// Taps outside the input (zero padding; the zero point is 0, DESIGN.md §3) become 0, and each row is
// zero-filled from K = kh·kw·cpg up to its stride ldo (the GEMM's even Kp).

/**
 * x: i16 [H][W][C] (one sample); out: i16 [OH·OW][ldo]. Channels c0..c0+cpg−1 (one group).
 * pt/pl: top/left padding; sh/sw: strides.
 */
export function im2col_s16(x: usize, H: i32, W: i32, C: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  pt: i32, pl: i32, OH: i32, OW: i32, c0: i32, cpg: i32, out: usize, ldo: i32): void {
  const K = kh * kw * cpg;
  const tail = <usize>(ldo - K) << 1;
  const rowBytes = <usize>cpg << 1;
  const whole = cpg == C; // groups = 1: the kw taps of one kernel row are contiguous in x
  let o = out;
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      const ix0 = ox * sw - pl;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky - pt;
        if (iy < 0 || iy >= H) {
          memory.fill(o, 0, rowBytes * kw);
          o += rowBytes * kw;
          continue;
        }
        const base = x + ((<usize>(iy * W) * C + c0) << 1);
        if (whole && ix0 >= 0 && ix0 + kw <= W) {
          memory.copy(o, base + (<usize>(ix0 * C) << 1), rowBytes * kw);
          o += rowBytes * kw;
          continue;
        }
        for (let kx = 0; kx < kw; kx++) {
          const ix = ix0 + kx;
          if (ix < 0 || ix >= W) memory.fill(o, 0, rowBytes);
          else if (cpg == 1) store<i16>(o, load<i16>(base + (<usize>(ix * C) << 1)));
          else memory.copy(o, base + (<usize>(ix * C) << 1), rowBytes);
          o += rowBytes;
        }
      }
      if (tail) {
        memory.fill(o, 0, tail);
        o += tail;
      }
    }
  }
}
