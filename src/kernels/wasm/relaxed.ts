// Relaxed SIMD probe (DESIGN.md §6): the relaxed-SIMD kernels (build/nipq-relaxed.wasm, assembly/gemm-relaxed.ts)
// run only after this engine has been seen computing their two instructions right,
// `i32x4.relaxed_dot_i8x16_i7x16_add_s` and `i16x8.relaxed_dot_i8x16_i7x16_s`. Node 20 needs
// --experimental-wasm-relaxed-simd, and its baseline tier (Liftoff) was seen miscomputing the first, so the
// probe checks actual results against the exact definitions both on first calls (baseline tier) and after
// enough calls for the optimizing tier. Without a passing probe the baseline SIMD kernels run.

import { mulberry32 } from "../../rng.js";

/**
 * A hand-assembled module (no build step, so it can never be out of date):
 *   (module (memory (export "mem") 1)
 *     (func (export "dot") (param $a i32) (param $b i32) (param $c i32) (param $out i32)
 *       (v128.store (local.get $out)
 *         (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load (local.get $a)) (v128.load (local.get $b)) (v128.load (local.get $c)))))
 *     (func (export "d16") (param $a i32) (param $b i32) (param $out i32)
 *       (v128.store (local.get $out) (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load (local.get $a)) (v128.load (local.get $b))))))
 * Opcodes 0xfd 0x113 (LEB128 0x93 0x02) and 0xfd 0x112 (0x92 0x02) are those instructions in the
 * relaxed-SIMD proposal (WebAssembly/relaxed-simd, proposals/relaxed-simd/Overview.md, "Binary format").
 * Base64 (smaller in the edge runtime than an array literal) of these 112 bytes
 * (test/kernels/relaxed.test.ts checks the two agree):
 *   00 61 73 6d 01 00 00 00                    magic, version 1
 *   01 0e 02 60 04 7f 7f 7f 7f 00 60 03 7f 7f 7f 00   types: (i32 ×4) → (), (i32 ×3) → ()
 *   03 03 02 00 01                             functions 0, 1 have types 0, 1
 *   05 03 01 00 01                             one memory, min 1 page
 *   07 13 03 03 6d 65 6d 02 00 03 64 6f 74 00 00 03 64 31 36 00 01   exports "mem", "dot", "d16"
 *   0a 37 02                                   code: two bodies
 *   1d 00 20 03 20 00 fd 00 04 00 20 01 fd 00 04 00 20 02 fd 00 04 00 fd 93 02 fd 0b 04 00 0b
 *     body 0 (29 bytes, no locals): local.get $out; v128.load a, b, c; i32x4.relaxed_dot_i8x16_i7x16_add_s; v128.store
 *   17 00 20 02 20 00 fd 00 04 00 20 01 fd 00 04 00 fd 92 02 fd 0b 04 00 0b
 *     body 1 (23 bytes, no locals): local.get $out; v128.load a, b; i16x8.relaxed_dot_i8x16_i7x16_s; v128.store
 */
export const PROBE = Uint8Array.from(
  atob("AGFzbQEAAAABDgJgBH9/f38AYAN/f38AAwMCAAEFAwEAAQcTAwNtZW0CAANkb3QAAANkMTYAAQo3Ah0AIAMgAP0ABAAgAf0ABAAgAv0ABAD9kwL9CwQACxcAIAIgAP0ABAAgAf0ABAD9kgL9CwQACw=="),
  (c) => c.charCodeAt(0),
);

export interface RelaxedProbe {
  /** The engine validates the relaxed-SIMD instructions at all. */
  supported: boolean;
  /** Every probed result matched the exact definitions, in the baseline and the optimizing tier. */
  correct: boolean;
  /**
   * The engine's `i32x4.relaxed_dot_i8x16_i7x16_add_s` is one fused, non-saturating instruction: outside the
   * deterministic range (second operand 255) it gives 4·127·255 = 129,540, as x86's AVX-VNNI `vpdpbusd` does
   * (V8 emits it where the CPU has AVX-VNNI: Chromium 156 here). The usual lowering, `pmaddubsw` + `pmaddwd`
   * + `paddd`, saturates each pair at 32,767 (65,534; Node 20 and 22 here). It only decides speed: the relaxed
   * GEMM then accumulates in i32 lanes (one instruction per 16 products) instead of i16 blocks
   * (src/kernels/wasm/prepare.ts, RelaxedForm); both are exact in the range it uses.
   */
  fused: boolean;
  /** What was found (for reports). */
  detail: string;
}

let cached: RelaxedProbe | undefined;

/** Whether this engine validates a module (false, not an exception, where validating one throws). */
export function validates(module: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(module);
  } catch {
    return false;
  }
}

/** Forgets the verdict (after V8 flags were changed: src/kernels/wasm/loader.ts, requireRelaxed). */
export function resetRelaxedProbe(): void {
  cached = undefined;
}

/**
 * Checks both instructions on this engine, with a signed 8-bit and b in [0, 127] (the range where they are
 * deterministic): dot lane i = c[i] + Σ_{j<4} a[4i+j]·b[4i+j]; d16 lane l = a[2l]·b[2l] + a[2l+1]·b[2l+1]
 * (|·| ≤ 32512, no saturation). On vectors at the limits (−128, 127) and random ones, over enough calls
 * that V8 tiers the functions up.
 */
export function probeRelaxedDot(calls = 3000): RelaxedProbe {
  if (cached) return cached;
  if (!validates(PROBE)) return (cached = { supported: false, correct: false, fused: false, detail: "relaxed SIMD not validated by this engine (Node 20: --experimental-wasm-relaxed-simd)" });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(PROBE));
  const mem = new Uint8Array((inst.exports.mem as WebAssembly.Memory).buffer);
  const dot = inst.exports.dot as (a: number, b: number, c: number, out: number) => void;
  const d16 = inst.exports.d16 as (a: number, b: number, out: number) => void;
  const a = new Int8Array(mem.buffer, 0, 16), b = new Int8Array(mem.buffer, 16, 16);
  const c = new Int32Array(mem.buffer, 32, 4), out = new Int32Array(mem.buffer, 48, 4), out16 = new Int16Array(mem.buffer, 64, 8);
  const u = mulberry32(0x9e3779b9); // 2654435769
  const rnd = () => Math.floor(u() * 256); // a byte
  const fail = (what: string, call: number, lane: number, want: number, got: number) =>
    (cached = { supported: true, correct: false, fused: false, detail: `${what} miscomputed at call ${call}, lane ${lane}: expected ${want}, engine ${got}` });
  for (let call = 0; call < calls; call++) {
    for (let i = 0; i < 16; i++) {
      const edge = call % 3 === 0;
      a[i] = edge ? (i & 1 ? 127 : -128) : rnd() - 128;
      b[i] = edge ? 127 : rnd() & 127;
    }
    for (let i = 0; i < 4; i++) c[i] = call % 5 === 0 ? (i & 1 ? 2 ** 31 - 1 - 65536 : -(2 ** 31) + 65536) : rnd() * 1000 - 128000;
    dot(0, 16, 32, 48);
    for (let i = 0; i < 4; i++) {
      let want = c[i];
      for (let j = 0; j < 4; j++) want += a[4 * i + j] * b[4 * i + j];
      if (out[i] !== (want | 0)) return fail("relaxed_dot_i8x16_i7x16_add_s", call, i, want | 0, out[i]);
    }
    d16(0, 16, 64);
    for (let l = 0; l < 8; l++) {
      const want = a[2 * l] * b[2 * l] + a[2 * l + 1] * b[2 * l + 1];
      if (out16[l] !== want) return fail("i16x8.relaxed_dot_i8x16_i7x16_s", call, l, want, out16[l]);
    }
  }
  // How the engine lowers the i32 form (see `fused`), after the calls above tiered the function up.
  a.fill(127);
  b.fill(-1); // the byte 255
  c.fill(0);
  dot(0, 16, 32, 48);
  const fused = out[0] === 4 * 127 * 255;
  return (cached = { supported: true, correct: true, fused, detail: `both relaxed dot products matched the definitions over ${calls} calls` });
}
