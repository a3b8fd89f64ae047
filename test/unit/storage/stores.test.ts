// The two stores behind one contract (the file store on a temp dir, the S3 store on s3rver), and
// retention over a real store: what ended longer ago than the retention goes, the rest stays.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../../server/storage/file-store.js';
import { S3Store } from '../../../server/storage/s3-store.js';
import { parseStorageUrl, probeStore, type ObjectStore } from '../../../server/storage/store.js';
import { Recordings } from '../../../server/record/recorder.js';
import { keys, type RecordingManifest } from '../../../server/record/recording.js';

let s3: S3rver;
let endpoint: string;
beforeAll(async () => {
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: mkdtempSync(join(tmpdir(), 'lo-s3u-')), configureBuckets: [{ name: 'unit', configs: [] }] });
  const { port } = await s3.run();
  endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
});
afterAll(async () => s3?.close());

const stores: Array<[string, () => ObjectStore]> = [
  ['file', () => new FileStore(mkdtempSync(join(tmpdir(), 'lo-store-')))],
  ['s3', () => new S3Store({ bucket: 'unit', prefix: `p${Math.random().toString(36).slice(2)}/`, endpoint })],
];

describe.each(stores)('%s store', (_kind, make) => {
  it('puts, gets, lists at any depth and deletes by prefix', async () => {
    const store = make();
    await store.put('media/a/e1/720p/x.m4s', Buffer.from('one'), 'video/iso.segment');
    await store.put('media/a/e1/list-0.json', Buffer.from('[]'), 'application/json');
    await store.put('catalog/a/e1.json', Buffer.from('{}'), 'application/json');
    await store.put('catalog/a/e1.json', Buffer.from('{"again":1}'), 'application/json');
    expect((await store.get('media/a/e1/720p/x.m4s'))?.toString()).toBe('one');
    expect((await store.get('catalog/a/e1.json'))?.toString()).toBe('{"again":1}');
    expect(await store.get('nope/x')).toBeUndefined();
    expect((await store.list('media/')).sort()).toEqual(['media/a/e1/720p/x.m4s', 'media/a/e1/list-0.json']);
    expect(await store.list('catalog/')).toEqual(['catalog/a/e1.json']);
    expect(await store.list('nothing/')).toEqual([]);
    expect(await store.deletePrefix('media/a/e1/')).toBe(2);
    expect(await store.list('media/')).toEqual([]);
    await store.delete('catalog/a/e1.json');
    await store.delete('catalog/a/e1.json'); // gone already: no error
    expect(await store.list('catalog/')).toEqual([]);
    await probeStore(store);
  });
});

describe('startup probe', () => {
  it('turns a store that never answers into a startup error after its timeout', async () => {
    const hanging: ObjectStore = { where: 'file:///stuck', put: () => new Promise(() => {}), get: async () => undefined, list: async () => [], deletePrefix: async () => 0, delete: async () => {} };
    await expect(probeStore(hanging, 50)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: 'The recording store file:///stuck cannot be written: Error: no answer within 0.05 s' });
  });
});

describe('storage URL', () => {
  it('parses file and s3 URLs', () => {
    expect(parseStorageUrl('file:///var/rec/')).toEqual({ kind: 'file', root: '/var/rec' });
    expect(parseStorageUrl('s3://my.bucket/a/b/')).toEqual({ kind: 's3', bucket: 'my.bucket', prefix: 'a/b/' });
    expect(parseStorageUrl('s3://bucket')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '' });
    for (const bad of ['file:///', 'file://host/x', 's3://B/x', 's3://user:pw@bucket/x', 'http://x/y', 'nope']) expect(() => parseStorageUrl(bad), bad).toThrow(/ORIGIN_STORAGE_URL/);
  });
});

describe('retention', () => {
  it('deletes recordings that ended before the retention, and only those', async () => {
    const store = new FileStore(mkdtempSync(join(tmpdir(), 'lo-ret-')));
    const day = 86_400_000;
    const now = Date.UTC(2026, 11, 4);
    const put = async (epoch: string, endedAt: number | null) => {
      const m: RecordingManifest = { v: 1, id: `s-${epoch}`, stream: 's', epoch, startedAt: (endedAt ?? now) - 1000, endedAt, renditions: ['r'], segments: { r: 0 }, durationSeconds: 1, bytes: 1, targetDuration: 2 };
      await store.put(keys.manifest('s', epoch), Buffer.from(JSON.stringify(m)), 'application/json');
      await store.put(keys.piece('s', epoch, 'r', `${epoch}-0.m4s`), Buffer.from('x'), 'video/iso.segment');
    };
    await put('old', now - 8 * day);
    await put('recent', now - 6 * day);
    await put('live', null);
    const recordings = new Recordings({ store, logger: pino({ level: 'silent' }), records: () => true, dvrSeconds: 0, retentionDays: 7, endedRetentionMs: 0, writer: 'unit' });
    expect(await recordings.applyRetention(now)).toEqual(['s-old']);
    expect((await recordings.list()).map((m) => m.id)).toEqual(['s-recent', 's-live']);
    expect(await store.list('media/s/old/')).toEqual([]);
    expect(await store.list('media/s/recent/')).toEqual(['media/s/recent/r/recent-0.m4s']);
  });
});

describe('read cache of the recordings', () => {
  it('reuses store answers (shared while in flight), and forgets them after a delete', async () => {
    const inner = new FileStore(mkdtempSync(join(tmpdir(), 'lo-cache-')));
    const calls = { list: 0, get: 0 };
    const store: ObjectStore = {
      where: inner.where,
      put: (k, b, t) => inner.put(k, b, t),
      get: (k) => (calls.get++, inner.get(k)),
      list: (p) => (calls.list++, inner.list(p)),
      deletePrefix: (p) => inner.deletePrefix(p),
      delete: (k) => inner.delete(k),
    };
    const m: RecordingManifest = { v: 1, id: 's-e1', stream: 's', epoch: 'e1', startedAt: 1, endedAt: 2, renditions: ['r'], segments: { r: 0 }, durationSeconds: 1, bytes: 1, targetDuration: 2 };
    await inner.put(keys.manifest('s', 'e1'), Buffer.from(JSON.stringify(m)), 'application/json');
    const recordings = new Recordings({ store, logger: pino({ level: 'silent' }), records: () => true, dvrSeconds: 0, retentionDays: 0, endedRetentionMs: 0, writer: 'unit' });
    const [a, b] = await Promise.all([recordings.list(), recordings.list()]);
    expect(a).toEqual(b);
    expect(calls.list).toBe(1);
    for (let i = 0; i < 5; i++) expect((await recordings.manifest('s-e1'))?.id).toBe('s-e1');
    expect(calls.get).toBe(1); // the list read the manifest once; the ended manifest is reused
    expect(await recordings.delete('s-e1')).toBe(true);
    expect(await recordings.manifest('s-e1')).toBeUndefined();
    expect(await recordings.list()).toEqual([]);
  });
});
