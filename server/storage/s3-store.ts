/**
 * The store on an S3-compatible bucket (AWS, MinIO, Ceph RGW, R2): the only file that imports
 * @aws-sdk/client-s3. Two settings make the SDK work with stores other than AWS:
 * - `forcePathStyle` when an endpoint is given: http://host/bucket/key needs no DNS per bucket;
 * - `requestChecksumCalculation: 'WHEN_REQUIRED'`: since SDK 3.729 every PUT carries a CRC32
 *   checksum by default, which older S3-compatible stores (and s3rver) reject.
 * Credentials come from the SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile,
 * instance role); they never appear in our config or logs.
 */
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore } from './store.js';

/** Where and how to reach the bucket. */
export interface S3StoreOptions {
  bucket: string;
  /** Key prefix, '' or ending with '/'. */
  prefix: string;
  endpoint?: string | undefined;
  region?: string | undefined;
}

/** One request to the store may take this long before it counts as failed (the recorder retries). */
const REQUEST_TIMEOUT_MS = 15_000;

/** A bucket (and prefix) as an object store. */
export class S3Store implements ObjectStore {
  readonly where: string;
  private readonly client: S3Client;

  constructor(private readonly opts: S3StoreOptions) {
    this.where = `s3://${opts.bucket}/${opts.prefix}${opts.endpoint ? ` at ${new URL(opts.endpoint).origin}` : ''}`;
    this.client = new S3Client({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // the recorder has its own retry with backoff; one SDK attempt keeps a failure's cost bounded
      maxAttempts: 1,
      requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: 5000 },
    });
  }

  private key(key: string): string {
    return `${this.opts.prefix}${key}`;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key), Body: body, ContentType: contentType, ContentLength: body.length }));
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }));
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: this.key(prefix), ContinuationToken: token }));
      for (const c of page.Contents ?? []) if (c.Key) out.push(c.Key.slice(this.opts.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    // list from the start again after each page: what was deleted no longer shows, and a
    // continuation token over a listing that changed underneath could skip keys
    for (;;) {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: this.key(prefix) }));
      const keys = (page.Contents ?? []).map((c) => c.Key).filter((k): k is string => !!k);
      if (!keys.length) return count;
      // DeleteObjects takes at most 1000 keys, which is also ListObjectsV2's page size
      try {
        await this.client.send(new DeleteObjectsCommand({ Bucket: this.opts.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
      } catch {
        // Some S3-compatible stores lack the batch call or fail it (s3rver races on its own
        // directory clean-up; GCS's XML API has no DeleteObjects): one by one then, in order.
        for (const Key of keys) await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key }));
      }
      count += keys.length;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }));
  }
}
