// Entry point of the nipq-hw WebAssembly kernels that the edge runtime ships (build/nipq-{simd,scalar}.wasm).
// One file per kernel family; this one only re-exports. The simulator's build adds its own kernels on top
// (assembly/sim.ts → build/nipq-sim-{simd,scalar}.wasm), so the edge .wasm does not carry them.
// The same sources build twice: SIMD (`release`) and scalar (`release-scalar`); kernels branch on the
// compile-time constant ASC_FEATURE_SIMD so each SIMD kernel keeps its scalar twin beside it.
// Memory: the kernels allocate nothing. The host (src/kernels/wasm/arena.ts) owns linear memory from
// heap_base() up and passes pointers; every kernel takes only scalars and pointers.
export { requant_gemm_forms, requant_f64_params, requant_fit, requant_i32_params, requant_i32_perchannel, requant_params } from "./requant";
export { gemm_s16_8c2_requant } from "./gemm";
export { im2col_s16 } from "./im2col";
export { dwconv_s16_requant } from "./dwconv";
export { maxpool_s16, avgpool_s16_requant, gap_s16_requant } from "./pool";
export { add_s16_requant } from "./add";
export { u8_to_s16 } from "./convert";
export { dot_i16x8_peak } from "./peak";
export { pack_8c2, pack_8c2_s16 } from "./pack";
export { winograd_f2x3_s16_requant } from "./winograd";

/** 1 when this build uses WASM SIMD, 0 for the scalar build. */
export function simd_enabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}

/** First free byte of linear memory: the host's arena starts here (16-byte aligned). */
export function heap_base(): usize {
  return (__heap_base + 15) & ~15;
}
