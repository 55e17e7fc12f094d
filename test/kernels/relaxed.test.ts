// The relaxed-SIMD probe: it must reject an engine that does not validate the instruction and one that
// miscomputes it, and accept one that computes it right. Node 20 offers all three: no flag; the flag with
// the baseline tier (Liftoff miscomputes relaxed_dot_i8x16_i7x16_add_s there); the flag with --no-liftoff.

import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { probeRelaxedDot, type RelaxedProbe } from "../../src/kernels/wasm/relaxed.js";

const script = `import { probeRelaxedDot } from ${JSON.stringify(new URL("../../src/kernels/wasm/relaxed.ts", import.meta.url).pathname)}; console.log(JSON.stringify(probeRelaxedDot()));`;

function probeWith(flags: string[]): RelaxedProbe {
  const out = execFileSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!) as RelaxedProbe;
}

describe("relaxed SIMD probe", () => {
  it("without the engine flag: not supported, so the baseline SIMD kernels run", () => {
    const p = probeRelaxedDot();
    if (!process.execArgv.includes("--experimental-wasm-relaxed-simd")) expect(p).toMatchObject({ supported: false, correct: false });
  });
  it("with the flag: a wrong result anywhere fails the probe; the optimizing tier alone passes it", () => {
    const dflt = probeWith(["--experimental-wasm-relaxed-simd"]);
    expect(dflt.supported).toBe(true);
    // Node 20's Liftoff miscomputes the instruction (seen here: the accumulator operand is not added).
    if (!dflt.correct) expect(dflt.detail).toMatch(/miscomputed at call \d+, lane \d: expected -?\d+, engine -?\d+/);
    const turbofan = probeWith(["--experimental-wasm-relaxed-simd", "--no-liftoff"]);
    expect(turbofan).toMatchObject({ supported: true, correct: true });
  });
});
