// Atomic file output (DESIGN.md §5): write a temporary file beside the target, then rename over it, so a
// failure never leaves a half-written output and readers never see a partial file.

import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { NipqInputError } from "./errors.js";

function ioError(path: string, verb: string, e: unknown): NipqInputError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" || code === "EPERM" ? "permission denied" : code === "EISDIR" ? "is a directory" : code === "ENOTDIR" ? "a parent is not a directory" : code === "ENOSPC" ? "no space left on device" : (e as Error).message;
  return new NipqInputError(`${path}: cannot ${verb}: ${why}`);
}

/** Writes `data` to `path` atomically (temp file in the same directory + rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(path, "write", e);
  }
}

/** Creates a directory (and parents), mapping failures to a one-line input error. */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw ioError(dir, "create directory", e);
  }
}

/** Reads a whole file, mapping failures to a one-line input error naming the file. */
export function readFileChecked(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw ioError(path, "read", e);
  }
}

/**
 * Checks, before long work starts, that `path` can be written later: its directory exists and is writable.
 * The write itself stays atomic; this only moves the failure to the start.
 */
export function checkWritable(path: string): void {
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw ioError(path, "write", e);
  }
}
