// What every command shares: option parsers that fail with UsageError, the one JSON document on stdout,
// and human output to stdout/stderr. The error → exit code mapping lives in ./main.ts (runCli).

import { InvalidArgumentError, Option } from "commander";
import { defaultWorkers } from "../exec/workers.js";
import { MAX_WORKERS } from "../limits.js";

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
