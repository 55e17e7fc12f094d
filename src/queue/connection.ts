// Redis connections for a `--queue` URL (parsed and shown by ./url.ts).

import { Redis, type RedisOptions } from "ioredis";
import { UsageError } from "../errors.js";
import type { QueueUrl } from "./url.js";

export { parseQueueUrl, type QueueUrl } from "./url.js";

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
