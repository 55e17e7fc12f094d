// Conversions at the edges of the engine: u8 images in, i16 activations inside.

/** y[i] = x[i] for u8 x → i16 y, count elements. */
export function u8_to_s16(x: usize, count: i32, y: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= count; i += 16) {
      const v = v128.load(x + <usize>i);
      v128.store(y + (<usize>i << 1), i16x8.extend_low_i8x16_u(v));
      v128.store(y + (<usize>i << 1), i16x8.extend_high_i8x16_u(v), 16);
    }
  }
  for (; i < count; i++) store<i16>(y + (<usize>i << 1), i16(load<u8>(x + <usize>i)));
}
