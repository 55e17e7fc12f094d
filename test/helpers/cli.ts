// Runs the real `nipq` binary (bin/nipq.mjs → dist/) as a user would. `npm test` builds dist/ first
// (pretest); when running one test file by hand, run `npm run build:ts` after changing src/.

import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

/** The binary, absolute so that a test may run it in another directory (`cwd`). */
const BIN = resolve("bin/nipq.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `nipq ...args` (this checkout's binary, or `opts.bin`) and returns its exit code and output. */
export function nipq(args: string[], opts: { env?: Record<string, string>; cwd?: string; bin?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [opts.bin ?? BIN, ...args], {
    encoding: "utf8",
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    maxBuffer: 256 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts the CLI contract for bad input: exit 2, exactly one `nipq: …` line on stderr, nothing on stdout. */
export function expectInputError(r: CliResult, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split("\n");
  if (r.code !== 2 || lines.length !== 1 || !lines[0].startsWith("nipq: ") || !pattern.test(lines[0]) || r.stdout !== "")
    throw new Error(`expected exit 2 with one line matching ${pattern}, got exit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 300)}`);
}
