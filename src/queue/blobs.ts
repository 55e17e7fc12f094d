// Content-addressed blobs: models, hw-models and datasets travel to workers as bytes stored in Redis under
// their sha256 (`nipq:blob:<64 hex>`), fetched once per worker into its cache directory as `<dir>/<64 hex>`.
// An address is validated hex before it names a key or a file, so nothing a job says can point a worker
// at another path; bytes are checked against their address when fetched and again when read.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { NipqInputError } from "../errors.js";
import { writeFileAtomic } from "../fsutil.js";
import { MAX_BLOB_BYTES } from "../limits.js";

/** A content address: 64 lowercase hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** How long an uploaded blob stays in Redis after its last upload (7 days; workers keep their own copy). */
export const BLOB_TTL_S = 7 * 24 * 3600;

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function checkAddress(sha: string): string {
  if (typeof sha !== "string" || !SHA256_HEX.test(sha)) throw new NipqInputError(`content address: expected 64 lowercase hex digits, found ${JSON.stringify(String(sha).slice(0, 80))}`);
  return sha;
}

/** The Redis key of a blob. */
export function blobKey(sha: string): string {
  return `nipq:blob:${checkAddress(sha)}`;
}

/** The cache file of a blob: always `<dir>/<64 hex>`. */
export function cachePath(dir: string, sha: string): string {
  return join(dir, checkAddress(sha));
}

/** Stores blobs (each once: SET NX) and renews their expiry; returns their addresses. */
export async function putBlobs(redis: Redis, blobs: Uint8Array[]): Promise<string[]> {
  const shas = blobs.map(sha256);
  const m = redis.multi();
  blobs.forEach((b, i) => {
    m.set(blobKey(shas[i]), Buffer.from(b.buffer, b.byteOffset, b.byteLength), "EX", BLOB_TTL_S, "NX");
    m.expire(blobKey(shas[i]), BLOB_TTL_S);
  });
  await m.exec();
  return shas;
}

/** A blob that is not (or no longer) in Redis: retryable (a coordinator re-uploads what Redis lost). */
export class BlobMissingError extends Error {
  override name = "BlobMissingError";
}

/** Reads a cached blob and checks it still hashes to its address (a changed file is removed, then refetched). */
export function readCached(dir: string, sha: string): Uint8Array {
  const path = cachePath(dir, sha);
  const bytes = new Uint8Array(readFileSync(path));
  if (sha256(bytes) !== sha) {
    rmSync(path, { force: true });
    throw new Error(`cache ${path}: content does not hash to its name (removed; it is fetched again)`);
  }
  return bytes;
}

/** A worker's blob cache: fetches each address from Redis at most once at a time, into `dir` (an existing directory: startWorker makes it). */
export class BlobCache {
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly redis: Redis,
    /** Told of each blob fetched from Redis (a worker logs it: `fetched <sha12> <bytes> B`). */
    private readonly onFetch: (sha: string, bytes: number) => void = () => {},
  ) {}

  /** Makes sure blob `sha` is in the cache directory (fetching and verifying it when it is not). */
  ensure(sha: string): Promise<void> {
    const path = cachePath(this.dir, sha);
    if (existsSync(path)) return Promise.resolve();
    let p = this.inflight.get(sha);
    if (!p) {
      p = this.fetch(sha, path).finally(() => this.inflight.delete(sha));
      this.inflight.set(sha, p);
    }
    return p;
  }

  private async fetch(sha: string, path: string): Promise<void> {
    const key = blobKey(sha);
    const size = await this.redis.strlen(key);
    if (size === 0) throw new BlobMissingError(`blob ${sha.slice(0, 12)}… is not in Redis (the coordinator uploads it; retrying)`);
    if (size > MAX_BLOB_BYTES) throw new NipqInputError(`blob ${sha.slice(0, 12)}…: ${size} bytes, more than the ${MAX_BLOB_BYTES} a worker accepts`);
    const bytes = await this.redis.getBuffer(key);
    if (!bytes) throw new BlobMissingError(`blob ${sha.slice(0, 12)}… is not in Redis (the coordinator uploads it; retrying)`);
    if (sha256(bytes) !== sha) throw new NipqInputError(`blob ${sha.slice(0, 12)}…: its bytes hash to ${sha256(bytes).slice(0, 12)}…, not to their address`);
    writeFileAtomic(path, bytes);
    this.onFetch(sha, bytes.length);
  }
}
