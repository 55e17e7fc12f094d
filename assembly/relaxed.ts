// Entry point of the relaxed-SIMD kernels (build/nipq-relaxed.wasm): every kernel of the SIMD edge build
// (./index) plus the u7 × i8 GEMM built on relaxed_dot_i8x16_i7x16 (./gemm-relaxed.ts), the i16 → u8
// narrowing that feeds it and the layout of its weight panels (./pack.ts). Loaded only after the engine has
// been seen computing the instruction right (src/kernels/wasm/relaxed.ts); layers the relaxed GEMM cannot
// run exactly use ./gemm.ts here too.
export * from "./index";
export { gemm_u7_8c4_requant, narrow_s16_u8 } from "./gemm-relaxed";
export { pack_8c4 } from "./pack";
