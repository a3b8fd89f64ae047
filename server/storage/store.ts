/**
 * Object storage for recordings and the DVR window: one small interface over a directory
 * (file-store.ts) or an S3-compatible bucket (s3-store.ts, the only file that imports the AWS SDK).
 * Keys are '/'-separated paths the recorder builds from validated names (stream, epoch, rendition,
 * media names), never from a request's raw text.
 */
import { ERR_CONFIG_INVALID, ERR_STORAGE_UNAVAILABLE } from '../errors.js';

/** What the recorder and the VOD routes need from a store. */
export interface ObjectStore {
  /** Where it writes, for logs and messages (never with credentials). */
  readonly where: string;
  /** Writes the whole object (replaces it). */
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The whole object, or undefined when it does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under `prefix` (which ends with '/'), at any depth. */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under `prefix` (which ends with '/'); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
  /** Deletes one object (no error when it is gone already). */
  delete(key: string): Promise<void>;
}

/** Where the store is, parsed from ORIGIN_STORAGE_URL. */
export type StoreLocation = { kind: 'file'; root: string } | { kind: 's3'; bucket: string; prefix: string };

/**
 * Parses ORIGIN_STORAGE_URL: `file:///abs/path` or `s3://bucket/prefix` (pure). Messages name the
 * variable and what is allowed.
 */
export function parseStorageUrl(url: string): StoreLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL must be file:///absolute/path or s3://bucket/prefix, got "${url}"`);
  }
  if (u.protocol === 'file:') {
    if (u.host) throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL: a file URL has no host (file:///absolute/path), got "${url}"`);
    const root = decodeURIComponent(u.pathname).replace(/\/+$/, '');
    if (!root.startsWith('/') || root.length < 2) throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL: the path must be absolute and not /, got "${url}"`);
    return { kind: 'file', root };
  }
  if (u.protocol === 's3:') {
    // bucket names: 3-63 of a-z 0-9 . - (AWS rules; S3-compatible stores accept the same)
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(u.hostname)) {
      throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL: "${u.hostname}" is not a valid bucket name (3-63 of a-z 0-9 . -)`);
    }
    if (u.username || u.password) throw new ERR_CONFIG_INVALID('ORIGIN_STORAGE_URL must not carry credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
    const prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
    if (prefix && !/^[A-Za-z0-9._\/-]+$/.test(prefix)) throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL: the prefix may hold A-Z a-z 0-9 . _ - / only, got "${prefix}"`);
    return { kind: 's3', bucket: u.hostname, prefix: prefix ? `${prefix}/` : '' };
  }
  throw new ERR_CONFIG_INVALID(`ORIGIN_STORAGE_URL must be file:///absolute/path or s3://bucket/prefix, got a ${u.protocol} URL`);
}

/** Settings of an S3 store (ORIGIN_S3_*); credentials come from the AWS SDK's default chain. */
export interface S3Settings {
  endpoint?: string | undefined;
  region?: string | undefined;
}

/** Opens the store ORIGIN_STORAGE_URL names (the S3 client is loaded only when used). */
export async function openStore(url: string, s3: S3Settings): Promise<ObjectStore> {
  const where = parseStorageUrl(url);
  if (where.kind === 'file') {
    const { FileStore } = await import('./file-store.js');
    return new FileStore(where.root);
  }
  const { S3Store } = await import('./s3-store.js');
  return new S3Store({ bucket: where.bucket, prefix: where.prefix, ...s3 });
}

/**
 * Proves at startup that the store can be written, read and deleted (a probe object), so that a
 * wrong path, bucket or credential is a clear startup error (exit 6), not a silent gap later.
 */
export async function probeStore(store: ObjectStore, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const key = `.probe/${process.pid}-${Date.now()}`;
  let timer: NodeJS.Timeout | undefined;
  // A store that never answers must not hang the start (Node's recursive mkdir was seen to spin
  // for ever under /proc, burning a core): after the timeout it is a startup error like any other.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([timeout, (async () => {
      await store.put(key, Buffer.from('live-origin probe'), 'text/plain');
      const back = await store.get(key);
      if (!back || back.toString() !== 'live-origin probe') throw new Error('an object written could not be read back');
      await store.delete(key);
    })()]);
  } catch (e) {
    throw new ERR_STORAGE_UNAVAILABLE(store.where, describeStoreError(e));
  } finally {
    clearTimeout(timer);
  }
}

/** How long the startup probe may take. */
const PROBE_TIMEOUT_MS = 15_000;

/** A store failure in one line without internals (no stack, no credentials). */
export function describeStoreError(e: unknown): string {
  const err = e as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err?.$metadata?.httpStatusCode;
  const code = err?.code ?? err?.name;
  return [code, status ? `HTTP ${status}` : undefined, err?.message?.split('\n')[0]?.slice(0, 200)].filter(Boolean).join(': ') || String(e);
}
