// Bit packing of weights (DESIGN.md §3): exactly b bits per value, two's complement when signed,
// LSB-first — value i occupies bits [i·b, (i+1)·b) of the byte stream. Size = ceil(n·b/8) bytes.
// Pure functions with no Node dependency: the edge runtime reuses them.

/** Bytes needed to pack n values of b bits. */
export function packedBytes(n: number, bits: number): number {
  return Math.ceil((n * bits) / 8);
}

/**
 * Packs integers into b-bit fields. Values must already lie in the b-bit range (the caller validates);
 * unused high bits of the last byte are 0.
 */
export function packBits(values: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(packedBytes(values.length, bits));
  const mask = (1 << bits) - 1;
  let bit = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] & mask; // two's complement in b bits
    const byte = bit >> 3;
    const off = bit & 7;
    out[byte] |= (v << off) & 0xff;
    if (off + bits > 8) out[byte + 1] |= v >> (8 - off);
    bit += bits;
  }
  return out;
}

/** Unpacks n b-bit fields; sign-extends when `signed`. Reads only ceil(n·b/8) bytes of `bytes`. */
export function unpackBits(bytes: Uint8Array, n: number, bits: number, signed: boolean, out?: Int8Array | Int32Array): Int32Array | Int8Array {
  const res = out ?? new Int32Array(n);
  const mask = (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  let bit = 0;
  for (let i = 0; i < n; i++) {
    const byte = bit >> 3;
    const off = bit & 7;
    let v = bytes[byte] >> off;
    if (off + bits > 8) v |= bytes[byte + 1] << (8 - off);
    v &= mask;
    res[i] = signed && v & signBit ? v - (1 << bits) : v;
    bit += bits;
  }
  return res;
}
