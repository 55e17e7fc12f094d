// Global setup: every temporary file of a test run (the tests' mkdtemp directories and whatever the CLI
// processes they spawn write) goes under one directory, removed when the run ends, so `npm test` leaves
// nothing behind in the system's temporary directory. Forked test workers and spawned CLIs inherit TMPDIR.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "nipq-test-run-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
