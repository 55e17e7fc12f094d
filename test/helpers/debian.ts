// Tests that need a Debian package (DESIGN.md §7: the full Fashion-MNIST, Chromium for the browser tests;
// a test that needs another, e.g. redis-server, adds it to ./debian-packages.json). On a fresh machine with
// only Node and npm they skip, each block with one line saying what to install (printed by
// ./skip-reporter.ts); `.ci/run` installs every package listed in ./debian-packages.json and sets CI=1, and
// under CI a missing package fails the test instead of skipping it.

import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { describe, it, type TestContext } from "vitest";

/** Package name → a path the package installs (its presence means the package is there). */
const PACKAGES = JSON.parse(readFileSync(new URL("./debian-packages.json", import.meta.url), "utf8")) as Record<string, string>;

/** The path package `pkg` installs; throws for a package missing from debian-packages.json (so .ci/run installs it). */
export function packagePath(pkg: string): string {
  const path = PACKAGES[pkg];
  if (!path) throw new Error(`${pkg}: not in test/helpers/debian-packages.json (add it there so .ci/run installs it)`);
  return path;
}

/** A directory, or a regular file we may execute (a program hidden behind /dev/null does not count). */
function installed(path: string): boolean {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return true;
    accessSync(path, constants.X_OK);
    return st.isFile();
  } catch {
    return false;
  }
}

/** Why a test that needs `pkg` cannot run here (one line saying what to install), or undefined when it can. */
export function missingPackage(pkg: string): string | undefined {
  const path = packagePath(pkg);
  return installed(path) ? undefined : `needs the Debian package ${pkg} (${path} is missing): apt-get install ${pkg}`;
}

/** Skips the running test with `why` as its note, or under CI (`.ci/run`) fails it: CI must run every test. */
export function skipOrFail(ctx: TestContext, why: string): void {
  if (process.env.CI) throw new Error(`${why} (.ci/run installs it)`);
  ctx.skip(why);
}

/** describe() for a block that needs `pkg`: as written where it is installed, else one skipped test of its name saying what to install. */
export function describeWithPackage(pkg: string, name: string, body: () => void): void {
  const why = missingPackage(pkg);
  if (why) it(name, (ctx) => skipOrFail(ctx, why));
  else describe(name, body);
}

/** it() for a test that needs `pkg`: runs where it is installed, else skips saying what to install. */
export function itWithPackage(pkg: string, name: string, fn: () => unknown, timeout?: number): void {
  const why = missingPackage(pkg);
  it(name, { timeout }, (ctx) => (why ? skipOrFail(ctx, why) : fn()));
}
