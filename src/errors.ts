// Typed errors. Every error a user can fix by changing their input is a `NipqInputError`: the CLI prints
// its one-line message as `nipq: <message>` and exits with code 2 (DESIGN.md §5). Anything else exits 1.

/** Bad input or usage: a file, a field, what was expected and what was found. CLI exit code 2. */
export class NipqInputError extends Error {
  override name = "NipqInputError";
  constructor(message: string) {
    super(message);
  }
}

/** Bad command-line usage (unknown option value, malformed --set, …). */
export class UsageError extends NipqInputError {
  override name = "UsageError";
}

/** A dataset that is missing, unreadable or inconsistent. */
export class DatasetError extends NipqInputError {
  override name = "DatasetError";
}

/**
 * A service a command depends on failed — the Redis of a queued run stayed away, a job failed on a worker
 * for another reason than its input (src/queue/coordinator.ts): neither bad input nor a bug. CLI exit code 1,
 * its one line without "internal error".
 */
export class ServiceError extends Error {
  override name = "ServiceError";
}

/** A batch whose activations would need more memory than the plain-TS backends allow (src/exec/interpret.ts). */
export class MemoryLimitError extends NipqInputError {
  override name = "MemoryLimitError";
  constructor(what: string, neededBytes: number, limitBytes: number, batch: number) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    super(`${what}: the activations of a batch of ${batch} need ${mib(neededBytes)}, over the limit of ${mib(limitBytes)} (lower --batch)`);
  }
}

/**
 * A .qmodel file (or an in-memory integer program) that violates the format or the arithmetic contract.
 * `file` is the path ("<memory>" for programs built in memory), `field` a JSON-path-like location
 * (e.g. `layers[3].m[5]`), `expected` and `found` say what was wanted and what was there.
 */
export class QModelFormatError extends NipqInputError {
  override name = "QModelFormatError";
  constructor(
    readonly file: string,
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}: ${field}: expected ${expected}, found ${found}`);
  }
}

/** Describes any value briefly for an error message ("found …"), never more than ~60 characters. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of ${(v as Uint8Array).length} elements`;
  return typeof v === "object" ? "an object" : typeof v;
}
