// Entry point of the simulator's WebAssembly kernels (build/nipq-sim-{simd,scalar}.wasm, loaded with
// EngineOptions.sim): every kernel of the edge build (./index) plus the sim-only ones — the GEMM and
// depthwise kernels without the fused requant (raw accumulators for the noise), the output Gaussian
// noise fused with the chip's requant, saturating accumulation per K-tile, the chip's requant with its
// rounding mode, the analog crossbar's column currents, and the deterministic exp/log (exported for their
// bit-equality test).
export * from "./index";
export { gemm_s16_8c2_acc } from "./gemm";
export { dwconv_s16_acc } from "./dwconv";
export { gauss_prepare, gauss_requant_s16, gemm_s16_sat_ktile, requant_rows_mode } from "./simnoise";
export { det_exp, det_log } from "./detmath";
export { analog_mac_f64 } from "./analog";
