// A real redis-server for the queue tests, on a free loopback port, with no persistence (`--save ''
// --appendonly no`), stopped after; and real `nipq worker` processes (bin/nipq.mjs → dist/). The tests wrap
// themselves in ./debian.ts's describeWithPackage("redis-server", …): one line saying what to install where
// it is missing (`.ci/run` installs it from ./debian-packages.json).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packagePath } from "./debian.js";

export const REDIS_SERVER = packagePath("redis-server");

/** A free loopback TCP port (the kernel picks it; closed again before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  /** Stops it (SIGTERM, then waits). */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port: with no persistence, every key is gone. */
  restart(): Promise<void>;
}

export interface RedisOptions {
  password?: string;
  /** TLS only (no plain port): cert, key and CA files. */
  tls?: { cert: string; key: string; ca: string };
}

function waitReady(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) {
        p.stdout!.off("data", onData);
        resolve();
      }
    };
    p.stdout!.on("data", onData);
    p.once("exit", (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${out}`)));
  });
}

/** Starts redis-server on a free loopback port. */
export async function startRedis(o: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"];
  if (o.tls) args.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", o.tls.cert, "--tls-key-file", o.tls.key, "--tls-ca-cert-file", o.tls.ca, "--tls-auth-clients", "no");
  else args.push("--port", String(port));
  if (o.password) args.push("--requirepass", o.password);
  let proc: ChildProcess;
  const start = async () => {
    proc = spawn(REDIS_SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    await waitReady(proc);
  };
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  await start();
  return { port, stop, restart: async () => (await stop(), await start()) };
}

export interface WorkerProcess {
  proc: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves when its output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** How many lines of its output start with `prefix`. */
  count(prefix: string): number;
  /** SIGTERM (running jobs finish), then waits for the exit; resolves to its exit code and stdout. */
  stop(): Promise<{ code: number | null; stdout: string }>;
}

/** Spawns `nipq worker --queue URL …`. */
export function spawnWorker(url: string, args: string[] = [], env: Record<string, string> = {}): WorkerProcess {
  const proc = spawn(process.execPath, ["bin/nipq.mjs", "worker", "--queue", url, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  let stdout = "";
  proc.stdout!.on("data", (d: Buffer) => ((out += d.toString()), (stdout += d.toString())));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        const m = out.match(pattern);
        if (m) return resolve(m);
        if (proc.exitCode !== null) return reject(new Error(`worker exited with ${proc.exitCode} before printing ${pattern}:\n${out}`));
        if (Date.now() - t0 > timeoutMs) return reject(new Error(`worker did not print ${pattern} within ${timeoutMs / 1000} s:\n${out}`));
        setTimeout(tick, 50);
      };
      tick();
    });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }
    return { code: proc.exitCode, stdout };
  };
  const count = (prefix: string) => out.split("\n").filter((l) => l.startsWith(prefix)).length;
  return { proc, output: () => out, waitFor, count, stop };
}

/** Resolves when `cond()` holds (checked every 50 ms), or rejects after `timeoutMs` saying `what`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs `nipq …args` asynchronously: the test's event loop keeps reading its workers' output meanwhile
 * (spawnSync would stall it, and a worker whose pipe fills would stall with it).
 */
export function nipqAsync(args: string[], env: Record<string, string> = {}): { proc: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const proc = spawn(process.execPath, ["bin/nipq.mjs", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => proc.once("exit", (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

/** A self-signed certificate for 127.0.0.1, made with openssl. */
export function selfSignedCert(): { dir: string; cert: string; key: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "nipq-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync(packagePath("openssl"), ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl req failed: ${r.error?.message ?? r.stderr}`);
  }
  writeFileSync(join(dir, "README"), "test certificate, deleted after the test\n");
  return { dir, cert, key, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
