// Reading a dataset file whole, with the one-line error every reader gives (a DatasetError naming the file).

import { readFileSync } from "node:fs";
import { DatasetError } from "../errors.js";

/** The bytes of `path`, or a DatasetError "<path>: cannot read: <why>". */
export function readDataFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(`${path}: cannot read: ${code === "ENOENT" ? "no such file" : code ?? (e as Error).message}`);
  }
}
