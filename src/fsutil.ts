// Everything nipq writes goes through here (docs/SECURITY.md). Two promises:
//
// 1. Atomic output (DESIGN.md §5). A file is written to a temporary file beside it and renamed over it; an
//    output directory (an export bundle, a report, a training checkpoint) is written whole to a temporary
//    directory beside it and swapped in by rename. A failure or a kill never leaves a half-written output.
// 2. Nothing is deleted that nipq did not make. A file is only ever replaced by rename. An existing output
//    directory is replaced only when it is empty or holds nothing but a previous output of the same kind;
//    a directory that is, or holds, the current directory is refused; files are removed one by one by
//    name and directories only by rmdir (which fails on anything left inside): there is no recursive
//    delete anywhere.
//
// Temporary and backup entries are named `.NAME.nipq-PID-RAND.tmp` / `.old` beside the target, so a later
// run recognises the ones a killed process left (PID no longer running on this machine) and cleans them:
// a stale `.tmp` is removed; a stale `.old` (the previous output, moved aside by a directory swap that was
// killed before the new one was in place) is renamed back when the target is missing, else removed.

import { accessSync, constants, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { NipqInputError } from "./errors.js";

function ioWhy(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
    case "EEXIST":
      return "a parent is not a directory";
    case "ENOSPC":
      return "no space left on device";
    case "ENOTEMPTY":
      return "the directory is not empty (something was written into it meanwhile)";
    default:
      return (e as Error).message;
  }
}

function ioError(path: string, verb: string, e: unknown): NipqInputError {
  return e instanceof NipqInputError ? e : new NipqInputError(`${path}: cannot ${verb}: ${ioWhy(e)}`);
}

/** An empty or blank path names nothing (resolve("") is the current directory): refuse it. */
function requirePath(path: string, what: string): void {
  if (typeof path !== "string" || path.trim() === "") throw new NipqInputError(`${JSON.stringify(path)}: cannot ${what}: expected a path, found an empty one`);
}

// ---- side entries: temporaries and backups, named so that a later run can recognise stale ones ----

const SIDE = /^\.(.*)\.nipq-(\d+)-([a-z0-9]+)\.(tmp|old)$/;

/** `.NAME.nipq-PID-RAND.tmp` (or `.old`) beside `target`. */
function sidePath(target: string, kind: "tmp" | "old"): string {
  return join(dirname(target), `.${basename(target)}.nipq-${process.pid}-${Math.random().toString(36).slice(2, 10)}.${kind}`);
}

/** Whether a process with this id runs on this machine (EPERM: it runs, as another user). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The side entries of `target` left by processes that no longer run, newest first. */
function staleSides(target: string): { path: string; kind: "tmp" | "old" }[] {
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return [];
  }
  const out: { path: string; kind: "tmp" | "old"; mtime: number }[] = [];
  for (const n of names) {
    const m = SIDE.exec(n);
    if (!m || m[1] !== basename(target) || processAlive(Number(m[2]))) continue;
    const path = join(dirname(target), n);
    quietly(() => out.push({ path, kind: m[4] as "tmp" | "old", mtime: lstatSync(path).mtimeMs })); // gone meanwhile: skip
  }
  return out.sort((a, b) => b.mtime - a.mtime);
}

function quietly(f: () => void): void {
  try {
    f();
  } catch {
    // best effort: whatever is left is named as ours and cleaned by the next run
  }
}

// ---- files ----

/** Writes `data` to `path` atomically (temp file in the same directory + rename); cleans stale temporaries of `path`. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  requirePath(path, "write");
  for (const s of staleSides(path)) if (s.kind === "tmp") quietly(() => lstatSync(s.path).isFile() && unlinkSync(s.path));
  const tmp = sidePath(path, "tmp");
  try {
    writeFileSync(tmp, data, { flag: "wx" });
    renameSync(tmp, path);
  } catch (e) {
    quietly(() => unlinkSync(tmp));
    throw ioError(path, "write", e);
  }
}

/** Creates a directory and its missing parents, mapping failures to a one-line input error. */
export function ensureDir(dir: string): void {
  requirePath(dir, "create directory");
  try {
    mkdirParents(dir);
    if (!statSync(dir).isDirectory()) throw new NipqInputError(`${dir}: cannot create directory: a file of that name exists`);
  } catch (e) {
    throw ioError(dir, "create directory", e);
  }
}

/**
 * mkdir -p without `recursive: true`, which loops forever in Node 20 under /proc (e.g. /proc/x/y): creates
 * each missing level from the nearest existing ancestor down; returns the directories created, outermost first.
 */
function mkdirParents(dir: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); !exists(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  missing.reverse();
  for (const m of missing) mkdirSync(m);
  return missing;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a whole file, mapping failures to a one-line input error naming the file. */
export function readFileChecked(path: string): Uint8Array {
  requirePath(path, "read");
  try {
    return readFileSync(path);
  } catch (e) {
    throw ioError(path, "read", e);
  }
}

/** Whether renaming a file onto `path` would replace `input`: the entry at `path` (a symlink itself, not its target) is the file `input` names (followed). */
function replacesInput(path: string, input: string): boolean {
  try {
    const out = lstatSync(path, { throwIfNoEntry: false });
    const st = out && statSync(input, { throwIfNoEntry: false });
    return !!st && st.dev === out.dev && st.ino === out.ino;
  } catch {
    return false; // unreadable: the write or the read reports it
  }
}

/**
 * Checks, before long work starts, that `path` can be written later: it is not a directory, it is not one of
 * the command's `inputs` (the rename would replace the file the command reads: DESIGN.md §5, a command never
 * touches its inputs), and its directory exists and is writable. The write itself stays atomic; this only moves
 * the failure to the start.
 */
export function checkWritable(path: string, inputs: readonly string[] = []): void {
  requirePath(path, "write");
  const dir = dirname(path);
  const input = inputs.find((i) => replacesInput(path, i));
  if (input !== undefined) throw new NipqInputError(`${path}: cannot write: it is the input ${input}; choose another output path`);
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw ioError(path, "write", e);
  }
}

// ---- output directories ----

/** A kind of directory a command writes whole: what it is called and every file it may hold. */
export interface OutputDirKind {
  /** For messages: "bundle", "report", "checkpoint". */
  what: string;
  /** Every file name such a directory holds. */
  files: readonly string[];
  /** Whether `dir`, whose entries are all in `files`, is a previous output of this kind (default: yes). */
  isPrevious?: (dir: string) => boolean;
}

type DirState = { kind: "missing" } | { kind: "empty" } | { kind: "ours" } | { kind: "foreign"; why: string };

function dirState(dir: string, k: OutputDirKind): DirState {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return { kind: "missing" };
  }
  if (st.isSymbolicLink()) return { kind: "foreign", why: "exists and is a symbolic link" };
  if (!st.isDirectory()) return { kind: "foreign", why: "exists and is not a directory" };
  const entries = readdirSync(dir);
  if (entries.length === 0) return { kind: "empty" };
  const other = entries.filter((e) => !k.files.includes(e) || !lstatSync(join(dir, e)).isFile());
  if (other.length || (k.isPrevious && !k.isPrevious(dir)))
    return { kind: "foreign", why: `the directory exists and is not a nipq ${k.what}${other.length ? ` (it holds ${other.slice(0, 3).join(", ")}${other.length > 3 ? ", …" : ""})` : ""}` };
  return { kind: "ours" };
}

/** Whether directory `dir` is `path` or one of its ancestors (the file system root holds everything). */
function holds(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Removes a directory nipq wrote: its files of this kind by name, then the directory if that left it empty. */
function removeOurs(dir: string, k: OutputDirKind): void {
  for (const f of k.files) quietly(() => lstatSync(join(dir, f)).isFile() && unlinkSync(join(dir, f)));
  quietly(() => rmdirSync(dir));
}

/** Finishes or undoes what a killed run left beside `target`: restores a previous output, drops temporaries. */
function recover(target: string, k: OutputDirKind): void {
  for (const s of staleSides(target)) {
    if (s.kind === "old" && !exists(target) && dirState(s.path, k).kind === "ours") quietly(() => renameSync(s.path, target));
    else if (dirState(s.path, k).kind !== "foreign") removeOurs(s.path, k);
  }
}

/**
 * Checks an output directory before any work (and again right before writing): a non-blank path, not the
 * current directory or one that holds it, absent or empty or a previous output of this kind, under a
 * writable directory. Cleans what a killed run left beside it. Returns the absolute path.
 */
export function prepareOutputDir(out: string, k: OutputDirKind): string {
  requirePath(out, `write the ${k.what}`);
  const target = resolve(out);
  const fail = (why: string) => new NipqInputError(`${out}: cannot write the ${k.what}: ${why}`);
  if (holds(target, process.cwd())) throw fail("it is the current directory or holds it; choose a new directory");
  recover(target, k);
  const st = dirState(target, k);
  if (st.kind === "foreign") throw fail(`${st.why}; choose another --out`);
  // The nearest existing ancestor must be a directory we can write into.
  let d = dirname(target);
  while (!exists(d)) d = dirname(d);
  try {
    if (!statSync(d).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(d, constants.W_OK);
  } catch (e) {
    throw fail(ioWhy(e));
  }
  return target;
}

/**
 * Writes `files` as the directory `out`, atomically: into a temporary directory beside it, which replaces
 * `out` by rename. An existing `out` (a previous output, see prepareOutputDir) is first renamed aside to a
 * `.old` backup and removed only once the new one is in place; an empty one is replaced by rename(2)
 * itself, which refuses a directory that is not empty. Parents this call created are removed on failure.
 */
export function writeOutputDir(out: string, files: readonly (readonly [string, string | Uint8Array])[], k: OutputDirKind): void {
  const target = prepareOutputDir(out, k);
  for (const [name] of files) if (!k.files.includes(name)) throw new Error(`writeOutputDir: ${name} is not a ${k.what} file`);
  const tmp = sidePath(target, "tmp");
  let created: string[] = [];
  let old: string | undefined;
  try {
    created = mkdirParents(dirname(target));
    mkdirSync(tmp);
    for (const [name, data] of files) writeFileSync(join(tmp, name), data, { flag: "wx" });
    if (dirState(target, k).kind === "ours") {
      old = sidePath(target, "old");
      renameSync(target, old);
    }
    renameSync(tmp, target);
  } catch (e) {
    removeOurs(tmp, k);
    if (old && !exists(target)) quietly(() => renameSync(old!, target));
    for (const c of created.reverse()) quietly(() => rmdirSync(c));
    throw ioError(out, `write the ${k.what}`, e);
  }
  if (old) removeOurs(old, k);
}
