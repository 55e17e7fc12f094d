// Exact comparison of a backend's integers with the reference's. On the first mismatch: index (with its
// coordinates), reference value, accumulator, kernel value and shape — everything needed to reproduce it.

/** Throws on the first index where `got` differs from `ref`. `shape` is per sample ([H, W, C] or [N]). */
export function expectExact(what: string, ref: ArrayLike<number>, got: ArrayLike<number>, shape: readonly number[], acc?: ArrayLike<number>): void {
  if (got.length !== ref.length) throw new Error(`${what}: kernel returned ${got.length} values, reference ${ref.length}; shape [${shape.join(", ")}]`);
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] === got[i]) continue;
    const coords: number[] = [];
    let r = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      coords.unshift(r % shape[d]);
      r = Math.floor(r / shape[d]);
    }
    coords.unshift(r); // sample
    throw new Error(
      `${what}: mismatch at index ${i} (sample, ${shape.length === 3 ? "y, x, c" : "i"} = ${coords.join(", ")}): ` +
        `reference ${ref[i]}, accumulator ${acc ? acc[i] : "–"}, kernel ${got[i]}; shape [${shape.join(", ")}]`,
    );
  }
}
