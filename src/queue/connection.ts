// `--queue redis://[[user]:password@]HOST[:PORT][/DB]` (or `rediss://…` for TLS): the one place a queue URL
// is parsed, shown (never with its password) and turned into Redis connections. The password may also come
// from the environment (NIPQ_REDIS_PASSWORD), so it need not appear on a command line that `ps` shows.

import { Redis, type RedisOptions } from "ioredis";
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

/**
 * A Redis connection for the URL. Commands wait while the connection is down (ioredis reconnects every
 * ≤ 2 s), as BullMQ's workers require (`maxRetriesPerRequest: null`); callers bound their own waiting.
 * TLS (`rediss://`) verifies the server's certificate against Node's CA store (add a private CA with
 * NODE_EXTRA_CA_CERTS=ca.pem).
 */
export function redisConnection(q: QueueUrl, name: string, extra: RedisOptions = {}): Redis {
  const opts: RedisOptions = {
    host: q.host,
    port: q.port,
    db: q.db,
    username: q.username,
    password: q.password,
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...(q.tls ? { tls: { servername: /^[\d.]+$|:/.test(q.host) ? undefined : q.host } } : {}),
    ...extra,
  };
  return new Redis(opts);
}

/** Why a connection failed, in words a user can act on (ECONNREFUSED, WRONGPASS, TLS errors, …). */
export function connectionError(q: QueueUrl, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e).split("\n")[0];
  if (/WRONGPASS|invalid username-password/i.test(msg)) return `${q.shown}: authentication failed: wrong user name or password`;
  if (/NOAUTH/i.test(msg)) return `${q.shown}: the server requires a password (redis://:PASSWORD@HOST, or NIPQ_REDIS_PASSWORD)`;
  if (err?.code === "ECONNREFUSED") return `${q.shown}: connection refused (is redis-server running there?)`;
  if (err?.code === "ENOTFOUND" || err?.code === "EAI_AGAIN") return `${q.shown}: unknown host`;
  return `${q.shown}: ${msg}`;
}

/**
 * Connects and pings within `timeoutMs`; a server that cannot be reached, refuses the password or fails the
 * TLS handshake is a UsageError naming the URL (shown without its password).
 */
export async function connectChecked(q: QueueUrl, name: string, timeoutMs = 15_000): Promise<Redis> {
  const redis = redisConnection(q, name, { lazyConnect: true });
  let last: unknown;
  const onError = (e: unknown) => (last = e);
  redis.on("error", onError);
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(last ?? new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs).unref()),
    ]);
  } catch (e) {
    redis.disconnect();
    throw new UsageError(`--queue ${connectionError(q, last ?? e)}`);
  }
  redis.off("error", onError);
  return redis;
}
