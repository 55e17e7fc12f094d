// Entry point of the nipq-hw WebAssembly kernels. One file per kernel family; this one only re-exports.
// The same sources build twice: SIMD (`release`) and scalar (`release-scalar`); kernels branch on the
// compile-time constant ASC_FEATURE_SIMD so each SIMD kernel keeps its scalar twin beside it.
export { requant_i32_perchannel } from "./requant";

/** 1 when this build uses WASM SIMD, 0 for the scalar build. */
export function simd_enabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
