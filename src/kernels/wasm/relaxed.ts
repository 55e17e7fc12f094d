// Relaxed SIMD probe (DESIGN.md §6): `i32x4.relaxed_dot_i8x16_i7x16_add_s` may be used only after this
// engine has been seen computing it right. Node 20 needs --experimental-wasm-relaxed-simd, and its baseline
// tier (Liftoff) was seen miscomputing this instruction, so the probe checks actual results against the
// exact definition both on first calls (baseline tier) and after enough calls for the optimizing tier.
// Without a passing probe the baseline SIMD kernels run. (No relaxed GEMM is built yet: today the probe
// only decides and reports; see docs/RESULTS.md.)

import { mulberry32 } from "../../rng.js";

/**
 * A hand-assembled module (no build step, so it can never be out of date):
 *   (module (memory (export "mem") 1)
 *     (func (export "dot") (param $a i32) (param $b i32) (param $c i32) (param $out i32)
 *       (v128.store (local.get $out)
 *         (i32x4.relaxed_dot_i8x16_i7x16_add_s (v128.load (local.get $a)) (v128.load (local.get $b)) (v128.load (local.get $c))))))
 * Opcode 0xfd 0x113 (LEB128 0x93 0x02) is i32x4.relaxed_dot_i8x16_i7x16_add_s in the relaxed-SIMD proposal
 * (WebAssembly/relaxed-simd, proposals/relaxed-simd/Overview.md, "Binary format").
 */
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32 i32 i32 i32) → ()
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // one memory, min 1 page
  0x07, 0x0d, 0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00, // exports "mem", "dot"
  0x0a, 0x1f, 0x01, 0x1d, 0x00, // code: one body of 29 bytes, no locals
  0x20, 0x03, // local.get $out
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load (a)
  0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, // v128.load (b)
  0x20, 0x02, 0xfd, 0x00, 0x04, 0x00, // v128.load (c)
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0xfd, 0x0b, 0x04, 0x00, // v128.store
  0x0b, // end
]);

export interface RelaxedProbe {
  /** The engine validates the relaxed-SIMD instruction at all. */
  supported: boolean;
  /** Every probed result matched the exact definition, in the baseline and the optimizing tier. */
  correct: boolean;
  /** What was found (for reports). */
  detail: string;
}

let cached: RelaxedProbe | undefined;

/**
 * Checks i32x4.relaxed_dot_i8x16_i7x16_add_s on this engine: lane i = c[i] + Σ_{j<4} a[4i+j]·b[4i+j] with
 * a signed 8-bit and b in [0, 127] (the range where the instruction is deterministic), on vectors at the
 * limits (−128, 127) and random ones, over enough calls that V8 tiers the function up.
 */
export function probeRelaxedDot(calls = 3000): RelaxedProbe {
  if (cached) return cached;
  let ok = false;
  try {
    ok = WebAssembly.validate(PROBE);
  } catch {
    ok = false;
  }
  if (!ok) return (cached = { supported: false, correct: false, detail: "relaxed SIMD not validated by this engine (Node 20: --experimental-wasm-relaxed-simd)" });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(PROBE));
  const mem = new Uint8Array((inst.exports.mem as WebAssembly.Memory).buffer);
  const dot = inst.exports.dot as (a: number, b: number, c: number, out: number) => void;
  const a = new Int8Array(mem.buffer, 0, 16), b = new Int8Array(mem.buffer, 16, 16);
  const c = new Int32Array(mem.buffer, 32, 4), out = new Int32Array(mem.buffer, 48, 4);
  const u = mulberry32(0x9e3779b9); // 2654435769
  const rnd = () => Math.floor(u() * 256); // a byte
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
      if (out[i] !== (want | 0))
        return (cached = { supported: true, correct: false, detail: `relaxed_dot_i8x16_i7x16_add_s miscomputed at call ${call}, lane ${i}: expected ${want | 0}, engine ${out[i]}` });
    }
  }
  return (cached = { supported: true, correct: true, detail: `relaxed_dot_i8x16_i7x16_add_s matched the definition over ${calls} calls` });
}
