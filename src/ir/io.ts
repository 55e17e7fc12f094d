// .qmodel file I/O for Node: read + validate, validate + atomic write. The codec itself is ./qmodel.ts.

import { readFileChecked, writeFileAtomic } from "../fsutil.js";
import { decodeQModel, encodeQModel } from "./qmodel.js";
import type { Program } from "./types.js";

/** Reads and validates a .qmodel file. */
export function readQModel(path: string): Program {
  return decodeQModel(readFileChecked(path), path);
}

/** Validates, encodes and writes a program atomically. */
export function writeQModel(path: string, p: Program): void {
  writeFileAtomic(path, encodeQModel(p));
}
