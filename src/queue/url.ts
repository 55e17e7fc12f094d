// `--queue redis://[[user]:password@]HOST[:PORT][/DB]` (or `rediss://…` for TLS): the one place a queue URL
// is parsed and shown (never with its password). The password may also come from the environment
// (NIPQ_REDIS_PASSWORD), so it need not appear on a command line that `ps` shows. No Redis client here: the
// CLI checks --queue at every start of simulate and sweep, and loads ioredis and bullmq (~0.3 s) only to
// connect (./connection.ts).

import { UsageError } from "../errors.js";

/** A parsed queue URL. */
export interface QueueUrl {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL as it may be printed: the password replaced by "***". */
  shown: string;
}

const EXPECTED = "expected redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://… (TLS), e.g. redis://127.0.0.1:6379/0";

/** Parses and checks `--queue`. Anything else than a plain Redis URL is a usage error (exit 2). */
export function parseQueueUrl(spec: string, env: NodeJS.ProcessEnv = process.env): QueueUrl {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new UsageError(`--queue: ${EXPECTED}, found ${JSON.stringify(spec.replace(/:[^:@/]*@/, ":***@"))}`);
  }
  const bad = (why: string) => new UsageError(`--queue ${showUrl(u)}: ${why} (${EXPECTED})`);
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw bad(`unsupported scheme ${JSON.stringify(u.protocol.slice(0, -1))}`);
  if (!u.hostname) throw bad("missing host");
  if (u.search || u.hash) throw bad("query strings and fragments are not supported");
  const port = u.port === "" ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port must be 1..65535, found ${u.port}`);
  const path = u.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d{1,9}$/.test(path)) throw bad(`the database must be a number, found ${JSON.stringify(path)}`);
  const password = u.password ? decodeURIComponent(u.password) : env.NIPQ_REDIS_PASSWORD || undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port, db: path === "" ? 0 : Number(path), username, password, tls: u.protocol === "rediss:", shown: showUrl(u) };
}

function showUrl(u: URL): string {
  const auth = u.username || u.password ? `${u.username ? decodeURIComponent(u.username) : ""}${u.password ? ":***" : ""}@` : "";
  return `${u.protocol}//${auth}${u.host}${u.pathname === "/" ? "" : u.pathname}`;
}
