// The recorder over a fake store (no timing assertions: the fake decides what each write does):
// the order of writes, a store that fails (retries, then the recording stops and says why), a slow
// store (warning), a store that falls behind (bounded backlog), a DVR-only window (nothing listed,
// old segments deleted), and closing what a crash left unfinished (only this writer's).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Recordings } from '../../../server/record/recorder.js';
import { keys, type RecordingManifest } from '../../../server/record/recording.js';
import type { ObjectStore } from '../../../server/storage/store.js';
import type { Segment } from '../../../server/hls/rendition.js';

type Op = { op: 'put' | 'delete'; key: string };

/** A store in memory that records every call; `fail(key)` makes a write throw, `delay` slows it. */
function fakeStore(opts: { fail?: (key: string) => boolean; delayMs?: number; hang?: boolean } = {}) {
  const objects = new Map<string, Buffer>();
  const ops: Op[] = [];
  const store: ObjectStore = {
    where: 'fake://',
    async put(key, body) {
      if (opts.hang) return new Promise(() => {});
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.fail?.(key)) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      ops.push({ op: 'put', key });
      objects.set(key, body);
    },
    async get(key) {
      return objects.get(key);
    },
    async list(prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(prefix));
    },
    async deletePrefix(prefix) {
      const ks = [...objects.keys()].filter((k) => k.startsWith(prefix));
      for (const k of ks) objects.delete(k);
      return ks.length;
    },
    async delete(key) {
      ops.push({ op: 'delete', key });
      objects.delete(key);
    },
  };
  return { store, objects, ops };
}

function logs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  return { logger, lines };
}

const seg = (msn: number, bytes = 100, duration = 2): Segment => ({
  msn, uri: `ep-${msn}.m4s`, duration, programDateTime: 1_000_000 + msn * 2000, discontinuity: false, mapUri: 'init-ep.mp4', parts: [],
  piece: { body: Buffer.alloc(bytes, msn), etag: '"x"', lastModified: '' },
});
const info = { name: 's', epoch: 'ep', startedAt: 1_000_000, targetDuration: 2, segmentSeconds: 2 };

function recordings(store: ObjectStore, extra: Partial<ConstructorParameters<typeof Recordings>[0]> = {}) {
  const l = logs();
  const r = new Recordings({ store, logger: l.logger, records: () => true, dvrSeconds: 0, retentionDays: 0, endedRetentionMs: 0, writer: 'me', retryDelaysMs: [1, 1], ...extra });
  return { r, lines: l.lines };
}

describe('recorder', () => {
  it('writes each segment before the list naming it, the master, and the manifest with its end', async () => {
    const { store, objects, ops } = fakeStore();
    const { r } = recordings(store);
    const rec = r.forSession(info)!;
    const hi = rec.sink('720p');
    const lo = rec.sink('360p');
    hi.init('init-ep.mp4', Buffer.from('init'));
    lo.init('init-ep.mp4', Buffer.from('init'));
    rec.setMaster('#EXTM3U\n');
    expect(await Promise.all([hi.segment(seg(0)), lo.segment(seg(0, 50)), hi.segment(seg(1, 100, 1.5))])).toEqual([true, true, true]);
    await rec.end();
    const puts = ops.filter((o) => o.op === 'put').map((o) => o.key);
    expect(puts.indexOf('media/s/ep/720p/ep-1.m4s')).toBeLessThan(puts.lastIndexOf('media/s/ep/720p/list-0.json'));
    expect(puts.indexOf('media/s/ep/720p/ep-0.m4s')).toBeLessThan(puts.indexOf('media/s/ep/720p/list-0.json'));
    expect(JSON.parse(objects.get('media/s/ep/720p/list-0.json')!.toString()).map((s: { msn: number }) => s.msn)).toEqual([0, 1]);
    expect(objects.get('media/s/ep/master.m3u8')!.toString()).toBe('#EXTM3U\n');
    const m = JSON.parse(objects.get(keys.manifest('s', 'ep'))!.toString()) as RecordingManifest;
    expect(m).toMatchObject({ id: 's-ep', renditions: ['720p', '360p'], segments: { '720p': 2, '360p': 1 }, durationSeconds: 3.5, bytes: 4 + 4 + 100 + 50 + 100, writer: 'me' });
    expect(m.endedAt).toBeGreaterThan(0);
    expect(puts.at(-1)).toBe(keys.manifest('s', 'ep'));
  });

  it('retries a failing write, then stops the recording, says why, and writes nothing more', async () => {
    let failing = false;
    const { store, objects, ops } = fakeStore({ fail: (k) => failing && k.endsWith('.m4s') });
    const { r, lines } = recordings(store);
    const rec = r.forSession(info)!;
    const sink = rec.sink('720p');
    expect(await sink.segment(seg(0))).toBe(true);
    failing = true;
    expect(await sink.segment(seg(1))).toBe(false);
    expect(lines.filter((l) => l.msg === 'store write failed; retrying')).toHaveLength(2);
    const stop = lines.find((l) => String(l.msg).startsWith('recording stopped'))!;
    expect(stop.level).toBe(50);
    expect(stop.msg).toBe('recording stopped: the store failed: ENOSPC: disk full; the live stream goes on');
    failing = false;
    expect(await sink.segment(seg(2))).toBe(false); // stopped for good
    expect(ops.some((o) => o.key.endsWith('ep-2.m4s'))).toBe(false);
    await rec.end();
    const m = JSON.parse(objects.get(keys.manifest('s', 'ep'))!.toString()) as RecordingManifest;
    expect(m.stoppedEarly).toBe('the store failed: ENOSPC: disk full');
    expect(m.segments['720p']).toBe(1);
    expect(m.endedAt).not.toBeNull();
    expect((await r.metric.stopped.get()).values[0]!.value).toBe(1);
  });

  it('warns when a segment takes longer than 0.9 x its duration to store', async () => {
    const { store } = fakeStore({ delayMs: 60 });
    const { r, lines } = recordings(store);
    const rec = r.forSession({ ...info, segmentSeconds: 0.05 })!;
    expect(await rec.sink('720p').segment(seg(0))).toBe(true);
    expect(lines.find((l) => String(l.msg).startsWith('the store is slow'))).toBeDefined();
  });

  it('stops recording when the backlog passes 128 MiB (a store that hangs), and holds no more', async () => {
    const { store } = fakeStore({ hang: true });
    const { r, lines } = recordings(store);
    const rec = r.forSession(info)!;
    const sink = rec.sink('720p');
    const results = [sink.segment(seg(0, 70 * 2 ** 20)), sink.segment(seg(1, 70 * 2 ** 20))];
    expect(await results[1]).toBe(false);
    expect(String(lines.find((l) => String(l.msg).startsWith('recording stopped'))?.reason)).toMatch(/^the store fell behind: 140 MiB waiting \(limit 128 MiB\)$/);
    expect(await sink.segment(seg(2))).toBe(false);
  });

  it('keeps a DVR-only window unlisted and deletes what falls out of it (plus six segments)', async () => {
    const { store, objects, ops } = fakeStore();
    const { r } = recordings(store, { records: () => false, dvrSeconds: 10 });
    const rec = r.forSession(info)!;
    expect(rec.recording).toBe(false);
    const sink = rec.sink('720p');
    for (let i = 0; i < 20; i++) await sink.segment(seg(i));
    expect([...objects.keys()].some((k) => k.startsWith('catalog/'))).toBe(false);
    const kept = [...objects.keys()].filter((k) => k.endsWith('.m4s')).map((k) => Number(/ep-(\d+)/.exec(k)![1]));
    // 10 s + 6 x 2 s: the newest 11 segments
    expect(kept.sort((a, b) => a - b)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(ops.filter((o) => o.op === 'delete')).toHaveLength(9);
  });

  it('closes only its own recordings that a crash left unfinished', async () => {
    const { store, objects } = fakeStore();
    const open = (epoch: string, writer: string): RecordingManifest => ({ v: 1, id: `s-${epoch}`, stream: 's', epoch, startedAt: 5000, endedAt: null, renditions: ['r'], segments: { r: 3 }, durationSeconds: 6, bytes: 1, targetDuration: 2, writer });
    await store.put(keys.manifest('s', 'a'), Buffer.from(JSON.stringify(open('a', 'me'))), 'application/json');
    await store.put(keys.manifest('s', 'b'), Buffer.from(JSON.stringify(open('b', 'someone-else'))), 'application/json');
    const { r } = recordings(store);
    expect(await r.closeUnfinished()).toEqual(['s-a']);
    const a = JSON.parse(objects.get(keys.manifest('s', 'a'))!.toString()) as RecordingManifest;
    expect(a.endedAt).toBe(11_000);
    expect(a.stoppedEarly).toBe('the server stopped before the broadcast ended');
    expect(JSON.parse(objects.get(keys.manifest('s', 'b'))!.toString()).endedAt).toBeNull();
  });
});
