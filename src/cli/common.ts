// What every command shares: option parsers that fail with UsageError, the one JSON document on stdout,
// and human output to stdout/stderr. The error → exit code mapping lives in ./main.ts (runCli).

import { InvalidArgumentError, Option } from "commander";
import { defaultWorkers } from "../exec/workers.js";
import { MAX_TENSOR_ELEMENTS, MAX_WORKERS } from "../limits.js";

/** What --data accepts, for every command's help. */
export const DATA_HELP =
  "dataset: mnist (shipped digits), fashion-mnist (Debian dataset-fashion-mnist), idx:DIR, npy:DIR (x_test.npy u8 NHWC, y_test.npy), cifar10:DIR (CIFAR-10 binary), images:DIR (a folder per class, PNG/JPEG)";

/** What --resize does, for every command that takes --data. */
export const RESIZE_HELP = "images:DIR only: scale images to the model's input size (bilinear) instead of refusing other sizes";

/** The model facts a dataset is checked against (src/data/index.ts dataFor): input [H, W, C], classes, its file. */
export function modelFacts(p: { layers: { out: { shape: number[] } }[] }, file: string): { input: number[]; classes: number; name: string } {
  return { input: p.layers[0].out.shape, classes: p.layers[p.layers.length - 1].out.shape[0], name: file };
}

/** Parses "W/A" (or one number for both) with each in 2..8. */
export function parseBits(v: string): { w: number; a: number } {
  const m = /^\s*(\d+)\s*(?:\/\s*(\d+)\s*)?$/.exec(v);
  if (!m) throw new InvalidArgumentError(`expected W/A with integers in 2..8 (e.g. 4/4), found ${JSON.stringify(v)}`);
  const w = Number(m[1]);
  const a = m[2] === undefined ? w : Number(m[2]);
  for (const [k, b] of [["W", w], ["A", a]] as const) {
    if (b < 2 || b > 8) throw new InvalidArgumentError(`${k} expected an integer in 2..8, found ${b}`);
  }
  return { w, a };
}

/** Parses "H,W,C": three positive integers whose product is at most MAX_TENSOR_ELEMENTS. */
export function parseInputShape(v: string): [number, number, number] {
  const parts = v.split(/[,×x]/).map((s) => s.trim());
  const n = parts.map(Number);
  if (parts.length !== 3 || !parts.every((s) => /^\d+$/.test(s)) || !n.every((k) => Number.isSafeInteger(k) && k >= 1))
    throw new InvalidArgumentError(`expected H,W,C with three positive integers (e.g. 224,224,3), found ${JSON.stringify(v)}`);
  if (n[0] * n[1] * n[2] > MAX_TENSOR_ELEMENTS) throw new InvalidArgumentError(`expected at most ${MAX_TENSOR_ELEMENTS} elements (H·W·C), found ${n[0] * n[1] * n[2]}`);
  return n as [number, number, number];
}

/** Parses a finite number option within [min, max]. */
export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}], found ${JSON.stringify(v)}`);
    return n;
  };
}

/** Parses an integer option within [min, max]; commander reports the failure as a usage error (exit 2). */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "∞" : max}], found ${JSON.stringify(v)}`);
    return n;
  };
}

/**
 * Parses every file or directory argument and option (--out, --dump-logits, --data, --hw, <file>, …): an
 * empty or blank value is a usage error. Unset shell variables give exactly that ("--out $DIR"), and
 * resolve("") is the current directory.
 */
export function pathOption(v: string): string {
  if (v.trim() === "") throw new InvalidArgumentError(`expected a path, found ${JSON.stringify(v)}`);
  return v;
}

/** Parses one of a fixed set of values. */
export function choiceOption<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!choices.includes(v as T)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}, found ${JSON.stringify(v)}`);
    return v as T;
  };
}

/** `--workers <N>`, the same in every command: worker threads, by default one per core (numbers never depend on it). */
export function workersOption(what: string): Option {
  const n = defaultWorkers();
  return new Option("--workers <N>", `worker threads ${what}`).argParser(intOption("--workers", 1, MAX_WORKERS)).default(n, `the number of cores, ${n} here`);
}

/** Accumulates a repeatable option (`--set a=1 --set b=2` → ["a=1", "b=2"]). */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Writes exactly one JSON document to stdout (the `--json` contract). */
export function printJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
}

/**
 * Text safe to print on a terminal: control characters (C0 but newline, DEL, C1) and bidirectional
 * overrides are shown as \u escapes, so a layer name or a path cannot move the cursor, recolour, retitle
 * or reorder what follows.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Human output: to stdout normally; with --json to stderr so stdout carries only the JSON document. */
export function say(json: boolean | undefined, text: string): void {
  (json ? process.stderr : process.stdout).write(printable(text) + "\n");
}

/** Prints each warning as one `nipq: warning: …` line on stderr (also under --json) and returns them for the report. */
export function printWarnings(warnings: string[]): string[] {
  for (const w of warnings) process.stderr.write(`nipq: warning: ${w}
`);
  return warnings;
}

export { fmtInt } from "../report/table.js";

/** A shape as "28×28×1". */
export function fmtShape(s: readonly number[]): string {
  return s.join("×");
}
