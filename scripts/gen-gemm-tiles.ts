// Generates assembly/gemm-tiles.ts: the register tiles of the GEMM kernel (assembly/gemm.ts), one
// function per weight container (16-, 8-, 4- or 2-bit fields per i16 lane) and row count. They differ
// only in how many rows share a broadcast and how a 16-byte weight block is decoded, so they are written
// by this script rather than by hand, and stay identical in structure (XNNPACK keeps its microkernels
// the same way: a template per family and a generator; see its src/qs8-gemm/*.c.in). The output is
// committed; test/kernels/gemm-tiles.test.ts regenerates it and fails if the file differs.
//
//   npx tsx scripts/gen-gemm-tiles.ts            (rewrites assembly/gemm-tiles.ts)
//   npx tsx scripts/gen-gemm-tiles.ts --check    (exit 1 if it is not up to date)

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The generated file, relative to the package root. */
export const TILES_FILE = join("assembly", "gemm-tiles.ts");

/** Weight containers: bits per i16 lane field (16 = plain i16 vectors). */
const CONTAINERS = [16, 8, 4, 2] as const;
type Container = (typeof CONTAINERS)[number];

/** Rows of the MR×8 tile per container: 4 on i16/int8 vectors, 6 when packed fields are decoded in registers. */
const ROWS: Record<Container, number> = { 16: 4, 8: 4, 4: 6, 2: 6 };

/** k-pairs one 16-byte block holds (each k-pair is two i16x8 weight vectors: channels 0–3 and 4–7). */
const pairs = (c: Container) => (c === 16 ? 1 : 16 / c / 2);

/** Bytes of weights per k-pair block. */
const blockBytes = (c: Container) => (c === 16 ? 32 : 16);

/** `o + 4j`, the x offset of k-pair j of a block. */
const xo = (j: number) => (j === 0 ? "o" : `o + ${4 * j}`);

/**
 * The decode of weight vector q of a packed block `raw`: field q of each lane, sign-extended by two shifts
 * (`i16x8.shr_s(i16x8.shl(raw, 16 − c·(q+1)), 16 − c)`; no left shift for the top field).
 */
function decode(raw: string, c: Container, q: number): string {
  const up = 16 - c * (q + 1);
  return up === 0 ? `i16x8.shr_s(${raw}, ${16 - c})` : `i16x8.shr_s(i16x8.shl(${raw}, ${up}), ${16 - c})`;
}

/** Accumulator loads or stores of `n` tile rows (two i32x4 per row: channels 0–3, 4–7). */
function accs(n: number, store: boolean): string[] {
  const out: string[] = [];
  for (let r = 0; r < n; r++)
    for (let h = 0; h < 2; h++) out.push(store ? `  v128.store(acc, a${r}${h}, ${32 * r + 16 * h});` : `  let a${r}${h} = v128.load(acc, ${32 * r + 16 * h});`);
  return out;
}

/** tile{MR}x8_c{c}: MR rows × one 8-channel panel. */
function tileRows(MR: number, c: Container): string {
  const P = pairs(c);
  const L: string[] = [];
  L.push("// @ts-ignore: decorator");
  L.push(`@inline function tile${MR}x8_c${c}(x0: usize, xs: usize, panel: usize, blocks: i32, acc: usize): void {`);
  L.push("  let wp = panel;");
  L.push("  let o: usize = 0;");
  for (let r = 1; r < MR; r++) L.push(`  const x${r} = x${r - 1} + xs;`);
  L.push(...accs(MR, false));
  L.push("  for (let b = 0; b < blocks; b++) {");
  if (c === 16) {
    L.push("    const w0_0 = v128.load(wp);");
    L.push("    const w0_1 = v128.load(wp, 16);");
  } else {
    L.push("    const raw = v128.load(wp);");
    for (let q = 0; q < 2 * P; q++) L.push(`    const w${q >> 1}_${q & 1} = ${decode("raw", c, q)};`);
  }
  for (let j = 0; j < P; j++)
    for (let r = 0; r < MR; r++) {
      L.push(`    const v${r}_${j} = v128.load32_splat(x${r} + ${xo(j)});`);
      for (let h = 0; h < 2; h++) L.push(`    a${r}${h} = i32x4.add(a${r}${h}, i32x4.dot_i16x8_s(v${r}_${j}, w${j}_${h}));`);
    }
  L.push(`    o += ${4 * P};`);
  L.push(`    wp += ${blockBytes(c)};`);
  L.push("  }");
  L.push(...accs(MR, true));
  L.push("}");
  return L.join("\n");
}

/** tile1x32_c{c}: one row × four consecutive panels (32 channels): one broadcast of x feeds 8 dots. */
function tileWide(c: Container): string {
  const P = pairs(c);
  const L: string[] = [];
  L.push("// @ts-ignore: decorator");
  L.push(`@inline function tile1x32_c${c}(x0: usize, panel: usize, panelBytes: usize, blocks: i32, acc: usize): void {`);
  L.push("  let o: usize = 0;");
  for (let p = 0; p < 4; p++) L.push(`  let wp${p} = panel + <usize>${p} * panelBytes;`);
  L.push(...accs(4, false));
  L.push("  for (let b = 0; b < blocks; b++) {");
  for (let j = 0; j < P; j++) L.push(`    const v${j} = v128.load32_splat(x0 + ${xo(j)});`);
  for (let p = 0; p < 4; p++) {
    if (c === 16) {
      L.push(`    const w${p}_0_0 = v128.load(wp${p});`);
      L.push(`    const w${p}_0_1 = v128.load(wp${p}, 16);`);
    } else {
      L.push(`    const raw${p} = v128.load(wp${p});`);
      for (let q = 0; q < 2 * P; q++) L.push(`    const w${p}_${q >> 1}_${q & 1} = ${decode(`raw${p}`, c, q)};`);
    }
    for (let j = 0; j < P; j++) for (let h = 0; h < 2; h++) L.push(`    a${p}${h} = i32x4.add(a${p}${h}, i32x4.dot_i16x8_s(v${j}, w${p}_${j}_${h}));`);
  }
  L.push(`    o += ${4 * P};`);
  for (let p = 0; p < 4; p++) L.push(`    wp${p} += ${blockBytes(c)};`);
  L.push("  }");
  L.push(...accs(4, true));
  L.push("}");
  return L.join("\n");
}

/** The whole generated file. */
export function generateTiles(): string {
  const header = [
    "// GENERATED by scripts/gen-gemm-tiles.ts — do not edit; change the generator and run",
    "// `npx tsx scripts/gen-gemm-tiles.ts` (test/kernels/gemm-tiles.test.ts checks this file is its output).",
    "//",
    "// The register tiles of the GEMM kernel (assembly/gemm.ts explains the 8c2 panels, the weight containers",
    "// and when each tile runs). tile{MR}x8_c{c}: MR rows × one 8-channel panel; tile1x32_c{c}: one row × four",
    "// panels. c is the container: 16 = i16 vectors; 8, 4, 2 = that many bits per field, decoded in registers.",
    "// Each accumulates into the i32 tile at `acc` (bias preloaded by the caller).",
    "",
  ];
  const fns: string[] = [];
  for (const c of CONTAINERS) {
    fns.push(tileRows(ROWS[c], c));
    fns.push(tileRows(1, c));
  }
  for (const c of CONTAINERS) fns.push(tileWide(c));
  return header.join("\n") + fns.map((f) => f.replace("@inline function", "@inline export function")).join("\n\n") + "\n";
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = join(ROOT, TILES_FILE);
  const text = generateTiles();
  if (process.argv.includes("--check")) {
    const same = readFileSync(file, "utf8") === text;
    console.log(same ? `${TILES_FILE} is up to date` : `${TILES_FILE} differs from its generator's output: run npx tsx scripts/gen-gemm-tiles.ts`);
    process.exit(same ? 0 : 1);
  }
  writeFileSync(file, text);
  console.log(`wrote ${TILES_FILE}`);
}
