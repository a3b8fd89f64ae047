// The origin app without listening (fastify inject): path validation, error bodies, cache policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildOrigin } from '../../../server/origin/app.js';
import { SessionManager } from '../../../server/session/manager.js';
import { StreamEvents } from '../../../server/events.js';
import { CACHE_CONTROL, cacheHeaders } from '../../../server/origin/cache-policy.js';

let app: FastifyInstance;

beforeAll(async () => {
  const logger = pino({ level: 'silent' });
  const sessions = new SessionManager(
    { streams: [], profiles: new Map(), defaultProfile: 'default', endedRetentionMs: 1000, maxStreams: 1, maxMediaBytes: 1 },
    { ffmpegPath: 'ffmpeg', runDir: '/tmp', logger, events: new StreamEvents(), reconnectGraceMs: 1000 },
  );
  app = await buildOrigin({ logger, sessions, events: new StreamEvents(), publicUrl: 'https://cdn.example.com/', playerRoot: new URL('../../../dist/player', import.meta.url).pathname });
  await app.ready();
});
afterAll(() => app.close());

describe('cache policy', () => {
  it('gives each kind of response its Cache-Control and type', () => {
    expect(cacheHeaders('playlist')).toEqual({ 'cache-control': 'public, max-age=1', 'content-type': 'application/vnd.apple.mpegurl' });
    expect(cacheHeaders('media')).toEqual({ 'cache-control': 'public, max-age=31536000, immutable', 'content-type': 'video/mp4' });
    expect(cacheHeaders('mediaMiss')['cache-control']).toBe('public, max-age=1');
    expect(cacheHeaders('api')['cache-control']).toBe('no-store');
    // a live playlist may be cached for at most half the 2 s target duration
    expect(Number(/max-age=(\d+)/.exec(CACHE_CONTROL.playlist)![1])).toBeLessThanOrEqual(1);
  });
});

describe('routes', () => {
  it('answers /healthz and an empty /api/streams', async () => {
    const h = await app.inject('/healthz');
    expect(h.statusCode).toBe(200);
    expect(h.json()).toEqual({ status: 'ok' });
    const s = await app.inject('/api/streams');
    expect(s.json()).toEqual({ streams: [] });
    expect(s.headers['cache-control']).toBe('no-store');
    expect(s.headers['access-control-allow-origin']).toBe('*');
  });

  it.each([
    ['/live/nosuch/master.m3u8', 404, 'ERR_STREAM_NOT_FOUND', 'public, max-age=1'],
    ['/live/nosuch/720p/index.m3u8', 404, 'ERR_STREAM_NOT_FOUND', 'public, max-age=1'],
    ['/live/nosuch/720p/abc-1.m4s', 404, 'ERR_STREAM_NOT_FOUND', 'public, max-age=1'],
    ['/live/nosuch/720p/init-abc.mp4', 404, 'ERR_STREAM_NOT_FOUND', 'public, max-age=1'],
    // (inject, like browsers, resolves unencoded and %2e dot segments before sending)
    ['/live/%2e%2e/master.m3u8', 404, 'ERR_NOT_FOUND', undefined],
    ['/live/..%2f..%2fetc/master.m3u8', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/a%00b/master.m3u8', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/x/..%2F..%2Fpasswd/index.m3u8', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/x/720p/..%2F..%2Fpackage.json', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/x/720p/%2e%2e', 404, 'ERR_NOT_FOUND', 'public, max-age=1'],
    ['/live/x/720p/seg.ts', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/UPPER/master.m3u8', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    [`/live/${'a'.repeat(2000)}/master.m3u8`, 414, 'FST_ERR_MAX_PARAM_LENGTH', undefined],
    ['/live/../../etc/passwd', 404, 'ERR_NOT_FOUND', undefined],
    ['/live//master.m3u8', 400, 'ERR_BAD_REQUEST', 'public, max-age=1'],
    ['/live/x/a/b/c/d', 404, 'ERR_NOT_FOUND', 'public, max-age=1'],
  ])('GET %s -> %i %s as JSON, never 5xx', async (url, status, code, cacheControl) => {
    const res = await app.inject(url);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json().code).toBe(code);
    // misses on media paths are cached 1 s at most (paths normalized away from /live/ are not media paths)
    expect(res.headers['cache-control']).toBe(cacheControl);
    const head = await app.inject({ method: 'HEAD', url });
    expect(head.statusCode).toBe(status);
  });

  it('serves the player pages and assets', async () => {
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.body).toContain('/assets/directory.js');
    const watch = await app.inject('/watch/studio');
    expect(watch.body).toContain('/assets/watch.js');
    expect((await app.inject('/watch/..%2Fetc')).statusCode).toBe(400);
    const js = await app.inject('/assets/watch.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect((await app.inject('/assets/../package.json')).statusCode).toBe(404);
  });
});
