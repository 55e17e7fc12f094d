// Two's-complement widths computed independently of src/ir/accbound.ts (its tests' oracle).

/** Bits of a non-negative integer (0 → 0), by repeated halving. */
export function bitLength(x: number): number {
  let n = 0;
  for (let v = BigInt(x); v > 0n; v >>= 1n) n++;
  return n;
}

/** Two's-complement bits holding [min, max] (min ≤ 0 ≤ max): a sign bit + the magnitude bits of max and of −min − 1. */
export function signedBitsOracle(min: number, max: number): number {
  return 1 + Math.max(bitLength(Math.max(max, 0)), bitLength(Math.max(-min - 1, 0)));
}
