// Generates the register tiles of the two GEMM kernels:
//  - assembly/gemm-tiles.ts, the baseline GEMM's (assembly/gemm.ts): one function per weight container
//    (16-, 8-, 4- or 2-bit fields per i16 lane) and row count;
//  - assembly/gemm-relaxed-tiles.ts, the relaxed-SIMD GEMM's (assembly/gemm-relaxed.ts): one function per
//    accumulation form (i32 or i16 blocks) and tile shape (rows × 8-channel panels, RELAXED_TILES).
// Tiles of a family differ only in how many rows share a broadcast, how many panels share an x vector and
// how a 16-byte weight block is decoded or accumulated, so they are written by this script rather than by
// hand, and stay identical in structure (XNNPACK keeps its microkernels the same way: a template per
// family and a generator; see its src/qs8-gemm/*.c.in). The output is committed;
// test/kernels/gemm-tiles.test.ts regenerates both files and fails if either differs.
//
//   npx tsx scripts/gen-gemm-tiles.ts            (rewrites both files)
//   npx tsx scripts/gen-gemm-tiles.ts --check    (exit 1 if either is not up to date)

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The generated files, relative to the package root. */
export const TILES_FILE = join("assembly", "gemm-tiles.ts");
export const RELAXED_TILES_FILE = join("assembly", "gemm-relaxed-tiles.ts");

/** A relaxed register tile's shape: [rows, panels] (rows × 8·panels output channels). */
export type RelaxedShape = readonly [number, number];

/**
 * The relaxed GEMM's main register tile per accumulation form; leftover rows use 1-row tiles, leftover
 * panels 1-panel tiles. Measured on cnn-s W4A4 (bench/deploy/builds-ab.ts, docs/RESULTS.md "Relaxed SIMD"):
 * the i32 form, one fused dot per 16 products where the engine has it (x86 AVX-VNNI), gains from 6 rows
 * (12 accumulator chains hide the dot's latency; 12 + 2 weights + 1 broadcast fill V8's 15 allocatable
 * registers); the i16 form, two instructions per 16 products and no dependency through the dot, was best
 * at 4 rows (5 and 6 rows, 2 rows × 2 panels measured slower or equal).
 */
export const RELAXED_TILES: { readonly i32: RelaxedShape; readonly i16: RelaxedShape } = { i32: [6, 1], i16: [4, 1] };

/** Weight containers: bits per i16 lane field (16 = plain i16 vectors). */
const CONTAINERS = [16, 8, 4, 2] as const;
type Container = (typeof CONTAINERS)[number];

/** Rows of the MR×8 tile per container: 4 on i16/int8 vectors, 6 when packed fields are decoded in registers. */
const ROWS: Record<Container, number> = { 16: 4, 8: 4, 4: 6, 2: 6 };

/**
 * Rows of the simulator's raw short-K tile (tile{RAW_ROWS}x8_c16_raw, i16 panels): 6 (12 accumulators, 2 weight
 * vectors and 1 broadcast: V8's 15 allocatable xmm registers on x86-64) — nothing else is live at its end, the
 * accumulators go straight to memory. Measured against 4 rows with bench/kernels/gemm-ab.ts --raw --w4 at the
 * K ≤ 32 slab shapes: 1.16–1.36× main's kernel against 1.05–1.24× (docs/RESULTS.md "the raw GEMM at short K").
 */
export const RAW_ROWS = 6;

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

/**
 * tile{MR}x8_c{c}: MR rows × one 8-channel panel, accumulating into the tile at `acc`. The two forms with their
 * own outputs start from the panel's biases (bv) in registers instead:
 *  - "requant", tile{MR}x8_c{c}_requant: the accumulators end requantized (requantClamp8Shared, shared shift
 *    S > 0) and stored as i16 at y0 (row stride ys): row 0 straight from its registers, the others through
 *    `acc` (assembly/gemm.ts says when it runs and why it is a function of its own, not inlined);
 *  - "fit", tile{MR}x8_c{c}_requantfit: the same with the fitted requant (requantFit8: per-channel M at fM, B at fB);
 *  - "f64", tile{MR}x8_c{c}_requantf64: the same with the f64 requant (requantClamp8F64At: f of channels 0–3 at f0, 4–7 at f1),
 *    every row from its registers;
 *  - "raw", tile{MR}x8_c{c}_raw: the i32 accumulators stored straight from their registers to y0 (row stride
 *    ys), for the simulator's accumulate-only GEMM (assembly/gemm.ts gemm_s16_8c2_acc).
 */
function tileRows(MR: number, c: Container, form: "acc" | "requant" | "fit" | "f64" | "raw" = "acc"): string {
  const P = pairs(c);
  const L: string[] = [];
  const requant = form === "requant" || form === "fit" || form === "f64";
  if (form === "requant") {
    L.push(`export function tile${MR}x8_c${c}_requant(x0: usize, xs: usize, panel: usize, blocks: i32, bv: usize, acc: usize, pw: usize, m: usize, S: i32, zy: i32, lo: i32, hi: i32, y0: usize, ys: usize): void {`);
  } else if (form === "fit") {
    L.push(`export function tile${MR}x8_c${c}_requantfit(x0: usize, xs: usize, panel: usize, blocks: i32, bv: usize, acc: usize, fM: usize, fB: usize, lo: i32, hi: i32, y0: usize, ys: usize): void {`);
  } else if (form === "f64") {
    L.push(`export function tile${MR}x8_c${c}_requantf64(x0: usize, xs: usize, panel: usize, blocks: i32, bv: usize, f0: usize, f1: usize, zy: i32, lo: i32, hi: i32, y0: usize, ys: usize): void {`);
  } else if (form === "raw") {
    L.push(`export function tile${MR}x8_c${c}_raw(x0: usize, xs: usize, panel: usize, blocks: i32, bv: usize, y0: usize, ys: usize): void {`);
  } else {
    L.push("// @ts-ignore: decorator");
    L.push(`@inline function tile${MR}x8_c${c}(x0: usize, xs: usize, panel: usize, blocks: i32, acc: usize): void {`);
  }
  L.push("  let wp = panel;");
  L.push("  let o: usize = 0;");
  for (let r = 1; r < MR; r++) L.push(`  const x${r} = x${r - 1} + xs;`);
  if (form !== "acc") for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) L.push(`  let a${r}${h} = v128.load(bv, ${16 * h});`);
  else L.push(...accs(MR, false));
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
  if (requant) {
    const rq = (a0: string, a1: string, S = "S") =>
      form === "f64" ? `requantClamp8F64At(${a0}, ${a1}, f0, f1, k, lo, hi)` : form === "fit" ? `requantFit8(${a0}, ${a1}, v128.load(fM), v128.load(fM, 16), v128.load(fB), v128.load(fB, 16), lo, hi)` : `requantClamp8Shared(${a0}, ${a1}, v128.load(pw), v128.load(pw, 16), v128.load(m), v128.load(m, 16), ${S}, zy, lo, hi)`;
    if (form === "f64") {
      // Every row requantized straight from its registers (8 accumulators, k and the 4 f vectors the requant loads
      // fit V8's 15 xmm registers), no pass through `acc`: mobilenetv2 W8A8 1.0–1.5% faster than through `acc`
      // (bench/kernels/ab.ts, both orders; docs/RESULTS.md "Session 30").
      L.push("  const k = f64x2.splat(MAGIC + f64(zy));");
      for (let r = 0; r < MR; r++) L.push(`  v128.store(${r === 0 ? "y0" : `y0 + ys * ${r}`}, ${rq(`a${r}0`, `a${r}1`)});`);
      L.push("}");
      return L.join("\n");
    }
    for (let r = 1; r < MR; r++) for (let h = 0; h < 2; h++) L.push(`  v128.store(acc, a${r}${h}, ${32 * (r - 1) + 16 * h});`);
    const epilogue = (S: string, ind: string) => {
      L.push(`${ind}v128.store(y0, ${rq("a00", "a01", S)});`);
      L.push(`${ind}for (let i: usize = 0; i < ${MR - 1}; i++) v128.store(y0 + ys * (i + 1), ${rq("v128.load(acc + (i << 5))", "v128.load(acc + (i << 5), 16)", S)});`);
    };
    if (form === "fit") epilogue("S", "  ");
    else {
      // S = FIXED_S (assembly/requant.ts requant_fit) as a constant: the requant's shifts by immediates.
      L.push("  if (S == FIXED_S) {");
      epilogue("FIXED_S", "    ");
      L.push("  } else {");
      epilogue("S", "    ");
      L.push("  }");
    }
  } else if (form === "raw") {
    for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) L.push(`  v128.store(${r === 0 ? "y0" : r === 1 ? "y0 + ys" : `y0 + ys * ${r}`}, a${r}${h}${h ? ", 16" : ""});`);
  } else L.push(...accs(MR, true));
  L.push("}");
  return L.join("\n");
}

/**
 * The tiles with their own outputs as the GEMM calls them: tileRows' "requant", "fit" or "f64" tile looping itself over
 * `rows` rows (a multiple of MR; x0 and y0 step by MR rows), so that a row block × panel is one call, not one per MR
 * rows — the call, its 12–13 arguments and the f64 constant k once per block. mobilenetv2 W8A8 2.8–3.1% faster than a
 * call per tile (bench/kernels/ab.ts, both orders; the short-K GEMMs alone 13–18%: docs/RESULTS.md "Session 30").
 * The simulator's "raw" tile likewise (assembly/gemm.ts gemmRawTiles; docs/RESULTS.md "Session 30: simn").
 */
function tileRowsLoop(MR: number, c: Container, form: "requant" | "fit" | "f64" | "raw"): string {
  const one = tileRows(MR, c, form).split("\n");
  const hoisted = one.filter((l) => l.includes("const k = f64x2.splat"));
  const body = one.slice(1, -1).filter((l) => !hoisted.includes(l));
  const L = [one[0].replace("): void {", ", rows: i32): void {"), ...hoisted];
  L.push(`  for (let t = 0; t < rows; t += ${MR}) {`);
  for (const l of body) L.push("  " + l);
  L.push(`    x0 += xs * ${MR};`);
  L.push(`    y0 += ys * ${MR};`);
  L.push("  }");
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
    "// Each accumulates into the i32 tile at `acc` (bias preloaded by the caller); tile4x8_c16_requant and",
    `// tile${RAW_ROWS}x8_c16_raw start from the biases and end with the requantized outputs or the raw i32 accumulators;`,
    "// tile4x8_c16_requantfit and tile4x8_c16_requantf64 are tile4x8_c16_requant with the fitted requant (requantFit8) and",
    "// the f64 one (requantClamp8F64At).",
    "",
    'import { FIXED_S, MAGIC, requantClamp8F64At, requantClamp8Shared, requantFit8 } from "./requant";',
    "",
  ];
  const fns: string[] = [];
  for (const c of CONTAINERS) {
    fns.push(tileRows(ROWS[c], c));
    fns.push(tileRows(1, c));
  }
  for (const c of CONTAINERS) fns.push(tileWide(c));
  fns.push(tileRowsLoop(ROWS[16], 16, "requant"));
  fns.push(tileRowsLoop(ROWS[16], 16, "fit"));
  fns.push(tileRowsLoop(ROWS[16], 16, "f64"));
  fns.push(tileRowsLoop(RAW_ROWS, 16, "raw"));
  return header.join("\n") + fns.map((f) => f.replace("@inline function", "@inline export function")).join("\n\n") + "\n";
}

/** Relaxed tiles: the name of the accumulator of row r, panel p, half h (channels 0–3 / 4–7 of the panel). */
const ra = (r: number, p: number, h: number) => `a${r}_${p}${h}`;

/**
 * rtile{MR}x{8·NP}_{form}: MR rows × NP consecutive 8c4 panels of the relaxed GEMM, accumulating into the i32
 * tile at `acc` (row r, panel p at byte 32·(r·NP + p); bias preloaded by the caller). Per k-quad: one
 * `v128.load32_splat` of each row's 4 x bytes, two 16-byte weight vectors per panel, and MR·NP·2 dots.
 *  - i32: `i32x4.relaxed_dot_i8x16_i7x16_add_s` straight into i32 accumulators (T = 1);
 *  - i16: `i16x8.relaxed_dot_i8x16_i7x16_s` pair sums added in i16 lanes for T quads, then widened
 *    pairwise into the tile in memory (the accumulators of the i32 form stay in memory instead).
 */
function relaxedTile(MR: number, NP: number, form: "i32" | "i16"): string {
  const L: string[] = [];
  const off = (r: number, p: number, h: number) => 32 * (r * NP + p) + 16 * h;
  const each = (f: (r: number, p: number, h: number) => void) => {
    for (let r = 0; r < MR; r++) for (let p = 0; p < NP; p++) for (let h = 0; h < 2; h++) f(r, p, h);
  };
  const i16 = form === "i16";
  L.push("// @ts-ignore: decorator");
  L.push(`@inline export function rtile${MR}x${8 * NP}_${form}(x0: usize, xs: usize, panel: usize, panelBytes: usize, quads: i32, ${i16 ? "T: i32, " : ""}acc: usize): void {`);
  for (let p = 0; p < NP; p++) L.push(`  let wp${p} = ${p === 0 ? "panel" : `panel + <usize>${p} * panelBytes`};`);
  L.push("  let o: usize = 0;");
  for (let r = 1; r < MR; r++) L.push(`  const x${r} = x${r - 1} + xs;`);
  const pad = i16 ? "    " : "  ";
  if (i16) {
    L.push("  for (let q0 = 0; q0 < quads; q0 += T) {");
    L.push("    const q1 = min(quads, q0 + T);");
    each((r, p, h) => L.push(`    let ${ra(r, p, h)} = i16x8.splat(0);`));
    L.push("    for (let q = q0; q < q1; q++) {");
  } else {
    each((r, p, h) => L.push(`  let ${ra(r, p, h)} = v128.load(acc, ${off(r, p, h)});`));
    L.push("  for (let q = 0; q < quads; q++) {");
  }
  for (let p = 0; p < NP; p++) for (let h = 0; h < 2; h++) L.push(`${pad}  const w${p}${h} = v128.load(wp${p}${h ? ", 16" : ""});`);
  for (let r = 0; r < MR; r++) {
    L.push(`${pad}  const v${r} = v128.load32_splat(x${r} + o);`);
    for (let p = 0; p < NP; p++)
      for (let h = 0; h < 2; h++) {
        const a = ra(r, p, h);
        L.push(i16 ? `${pad}  ${a} = i16x8.add(${a}, i16x8.relaxed_dot_i8x16_i7x16_s(w${p}${h}, v${r}));` : `${pad}  ${a} = i32x4.relaxed_dot_i8x16_i7x16_add_s(w${p}${h}, v${r}, ${a});`);
      }
  }
  L.push(`${pad}  o += 4;`);
  for (let p = 0; p < NP; p++) L.push(`${pad}  wp${p} += 32;`);
  L.push(`${pad}}`);
  if (i16) {
    each((r, p, h) => L.push(`    v128.store(acc, i32x4.add(v128.load(acc, ${off(r, p, h)}), i32x4.extadd_pairwise_i16x8_s(${ra(r, p, h)})), ${off(r, p, h)});`));
    L.push("  }");
  } else {
    each((r, p, h) => L.push(`  v128.store(acc, ${ra(r, p, h)}, ${off(r, p, h)});`));
  }
  L.push("}");
  return L.join("\n");
}

/** The shapes written for a main tile [MR, NP]: itself, then those of leftover rows and panels. */
function relaxedShapes([MR, NP]: RelaxedShape): [number, number][] {
  const all: [number, number][] = [[MR, NP], [1, NP], [MR, 1], [1, 1]];
  return all.filter(([r, p], i) => all.findIndex(([r2, p2]) => r2 === r && p2 === p) === i);
}

/**
 * rtile: the one entry the kernel calls. T > 1 picks the i16 form (T k-quads per block), T = 1 the i32 form;
 * rows (the form's RMR or 1) and np (its RNP or 1) pick the shape.
 */
function relaxedDispatch(tiles: typeof RELAXED_TILES): string {
  const args = (form: "i32" | "i16") => `x0, xs, panel, panelBytes, quads, ${form === "i16" ? "T, " : ""}acc`;
  const byPanels = (form: "i32" | "i16", r: number, NP: number, ind: string) =>
    NP === 1 ? `${ind}rtile${r}x8_${form}(${args(form)});` : `${ind}if (np == ${NP}) rtile${r}x${8 * NP}_${form}(${args(form)});\n${ind}else rtile${r}x8_${form}(${args(form)});`;
  const byRows = (form: "i32" | "i16", ind: string) => {
    const [MR, NP] = tiles[form];
    return MR === 1 ? byPanels(form, 1, NP, ind) : `${ind}if (rows == ${MR}) {\n${byPanels(form, MR, NP, ind + "  ")}\n${ind}} else {\n${byPanels(form, 1, NP, ind + "  ")}\n${ind}}`;
  };
  return [
    "/** Rows and 8-channel panels of each form's main tile. */",
    `export const RMR_I32 = ${tiles.i32[0]};`,
    `export const RNP_I32 = ${tiles.i32[1]};`,
    `export const RMR_I16 = ${tiles.i16[0]};`,
    `export const RNP_I16 = ${tiles.i16[1]};`,
    "",
    "/** rows (the form's RMR or 1) × np (its RNP or 1) panels from `panel` on; T > 1: the i16 form, T k-quads per block; T = 1: the i32 form. */",
    "// @ts-ignore: decorator",
    "@inline export function rtile(x0: usize, xs: usize, panel: usize, panelBytes: usize, quads: i32, T: i32, acc: usize, rows: i32, np: i32): void {",
    "  if (T > 1) {",
    byRows("i16", "    "),
    "  } else {",
    byRows("i32", "    "),
    "  }",
    "}",
  ].join("\n");
}

/** The relaxed tiles' file. */
export function generateRelaxedTiles(tiles: typeof RELAXED_TILES = RELAXED_TILES): string {
  const header = [
    "// GENERATED by scripts/gen-gemm-tiles.ts — do not edit; change the generator (RELAXED_TILES: the main tile's",
    "// shape per form) and run `npx tsx scripts/gen-gemm-tiles.ts` (test/kernels/gemm-tiles.test.ts checks this file is its output).",
    "//",
    "// The register tiles of the relaxed-SIMD GEMM (assembly/gemm-relaxed.ts explains the 8c4 panels, the two",
    "// accumulation forms and why they are exact). rtile{MR}x{N}_{form}: MR rows × N channels (N/8 panels);",
    "// form i32: relaxed_dot_i8x16_i7x16_add_s into i32 lanes; i16: T k-quads of pair sums in i16 lanes, then",
    "// widened. Each accumulates into the i32 tile at `acc` (row r, panel p at byte 32·(r·np + p); bias",
    "// preloaded by the caller).",
    "",
  ];
  for (const [MR, NP] of [tiles.i32, tiles.i16])
    if (MR * NP > 16) throw new Error(`relaxed tile ${MR}×${8 * NP}: its accumulators need ${32 * MR * NP} bytes, the engine's scratch holds 512 (src/kernels/wasm/engine.ts)`);
  const fns: string[] = [];
  for (const form of ["i32", "i16"] as const) for (const [MR, NP] of relaxedShapes(tiles[form])) fns.push(relaxedTile(MR, NP, form));
  fns.push(relaxedDispatch(tiles));
  return header.join("\n") + fns.join("\n\n") + "\n";
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outputs: [string, string][] = [[TILES_FILE, generateTiles()], [RELAXED_TILES_FILE, generateRelaxedTiles()]];
  if (process.argv.includes("--check")) {
    const stale = outputs.filter(([f, text]) => readFileSync(join(ROOT, f), "utf8") !== text).map(([f]) => f);
    console.log(stale.length ? `${stale.join(", ")} differ${stale.length === 1 ? "s" : ""} from the generator's output: run npx tsx scripts/gen-gemm-tiles.ts` : `${outputs.map(([f]) => f).join(", ")} are up to date`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const [f, text] of outputs) {
    writeFileSync(join(ROOT, f), text);
    console.log(`wrote ${f}`);
  }
}
