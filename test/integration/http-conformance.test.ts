// Header conformance over every route of a live origin (real server, real stream, real HTTP), and
// odd requests that must never get a 5xx or anything but the media and player routes' bytes.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, httpGet, killAll, publish, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';

const NAME = 'studio';
const KEY = 'sk_headers_0123456789ab';

let server: ServerHandle;
let pub: Publisher;
const urls: Record<string, string> = {};

beforeAll(async () => {
  server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
  pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120, size: '640x360', gop: 60 });
  const base = `${server.http}/live/${NAME}`;
  await waitFor('2 segments', async () => {
    const r = await get(`${base}/360p/index.m3u8`);
    return r.status === 200 && parseMediaPlaylist(r.text).segments.length >= 2;
  }, 30_000, 200);
  const text = (await get(`${base}/360p/index.m3u8`)).text;
  const p = parseMediaPlaylist(text);
  Object.assign(urls, {
    master: `${base}/master.m3u8`,
    playlist: `${base}/360p/index.m3u8`,
    init: `${base}/360p/${/URI="(init-[^"]+)"/.exec(text)![1]}`,
    segment: `${base}/360p/${p.segments[0]!.uri}`,
    part: `${base}/360p/${p.segments.at(-1)!.parts[0]!.uri}`,
    api: `${server.http}/api/streams`,
    health: `${server.http}/healthz`,
    page: `${server.http}/watch/${NAME}`,
    asset: `${server.http}/assets/watch.js`,
    missingSegment: `${base}/360p/${p.segments[0]!.uri.replace(/-\d+\.m4s/, '-999999.m4s')}`,
    missingStream: `${server.http}/live/nosuch/master.m3u8`,
  });
}, 60_000);

afterAll(async () => {
  await pub?.stop();
  await server?.stop('SIGKILL');
  killAll();
});

const PLAYLIST = 'application/vnd.apple.mpegurl';
const IMMUTABLE = 'public, max-age=31536000, immutable';

describe('header conformance table', () => {
  // ETag: strong for pieces from memory; @fastify/static's weak size-mtime tag for the player's files.
  it.each([
    ['master', 200, PLAYLIST, 'public, max-age=1', 'strong'],
    ['playlist', 200, PLAYLIST, 'public, max-age=1', 'strong'],
    ['init', 200, 'video/mp4', IMMUTABLE, 'strong'],
    ['segment', 200, 'video/mp4', IMMUTABLE, 'strong'],
    ['part', 200, 'video/mp4', IMMUTABLE, 'strong'],
    ['api', 200, 'application/json; charset=utf-8', 'no-store', false],
    ['health', 200, 'application/json; charset=utf-8', 'no-store', false],
    ['page', 200, 'text/html; charset=utf-8', 'public, max-age=60', 'weak'],
    ['asset', 200, 'application/javascript; charset=utf-8', 'public, max-age=60', 'weak'],
    ['missingSegment', 404, 'application/json; charset=utf-8', 'public, max-age=1', false],
    ['missingStream', 404, 'application/json; charset=utf-8', 'public, max-age=1', false],
  ])('%s: %i %s, Cache-Control %s, ETag %s, CORS, HEAD', async (which, status, type, cache, hasEtag) => {
    const identity = { headers: { 'accept-encoding': 'identity' } };
    const res = await get(urls[which]!, identity);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('cache-control')).toBe(cache);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Content-Range');
    expect(res.headers.get('access-control-expose-headers')).toContain('Age');
    expect(res.headers.has('set-cookie')).toBe(false);
    if (hasEtag) {
      expect(res.headers.get('etag')).toMatch(hasEtag === 'strong' ? /^"[^"]+"$/ : /^W\/"[^"]+"$/);
      expect(res.headers.get('last-modified')).toMatch(/GMT$/);
      const cached = await httpGet(urls[which]!, { 'if-none-match': res.headers.get('etag')!, 'accept-encoding': 'identity' });
      // a live playlist may have moved on meanwhile; then it is a fresh 200
      expect([304, ...(which === 'playlist' ? [200] : [])]).toContain(cached.status);
      if (cached.status === 304) {
        expect(cached.body.length).toBe(0);
        expect(cached.headers.etag).toBe(res.headers.get('etag'));
        expect(cached.headers['cache-control']).toBe(cache);
      }
    }
    const head = await get(urls[which]!, { method: 'HEAD', ...identity });
    expect(head.status).toBe(status);
    expect(head.body.length).toBe(0);
    expect(head.headers.get('content-type')).toBe(type);
    if (status === 200 && which !== 'playlist') expect(head.headers.get('content-length')).toBe(String(res.body.length));
  });

  it('answers If-Modified-Since with 304 for an immutable piece', async () => {
    const res = await get(urls.segment!);
    const again = await httpGet(urls.segment!, { 'if-modified-since': res.headers.get('last-modified')! });
    expect(again.status).toBe(304);
  });

  it('serves byte ranges of media pieces: 206 with Content-Range, 416 when unsatisfiable', async () => {
    const whole = await get(urls.segment!);
    const size = whole.body.length;
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const r = await get(urls.segment!, { headers: { range: 'bytes=100-199' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 100-199/${size}`);
    expect(r.body.equals(whole.body.subarray(100, 200))).toBe(true);
    const tail = await get(urls.segment!, { headers: { range: 'bytes=-10' } });
    expect(tail.body.equals(whole.body.subarray(size - 10))).toBe(true);
    const bad = await get(urls.segment!, { headers: { range: `bytes=${size}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${size}`);
    // If-Range with another validator: the whole piece
    const stale = await get(urls.segment!, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(size);
  });

  it('compresses playlists when asked, with Vary: Accept-Encoding and a per-coding ETag; never media', async () => {
    const plain = await get(urls.master!, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('vary')).toBe('Accept-Encoding');
    expect(plain.headers.has('content-encoding')).toBe(false);
    for (const coding of ['gzip', 'br'] as const) {
      const res = await fetch(urls.master!, { headers: { 'accept-encoding': coding } });
      // fetch decodes by itself; the raw headers tell what was sent
      expect(res.headers.get('content-encoding')).toBe(coding);
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      expect(res.headers.get('etag')).toBe(`${plain.headers.get('etag')!.slice(0, -1)}-${coding}"`);
      expect(await res.text()).toBe(plain.text);
    }
    const seg = await get(urls.segment!, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(seg.headers.has('content-encoding')).toBe(false);
  });

  it('answers CORS preflights, Range allowed', async () => {
    const res = await fetch(urls.segment!, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('GET');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('range');
    expect(res.headers.get('access-control-max-age')).toBe('86400');
  });

  it('caches an ended playlist (ENDLIST) only 1 s, as a live one (the name may go live again), and keeps its segments immutable', async () => {
    const ended = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_RECONNECT_GRACE: '0' });
    const p = publish(`${ended.rtmp}/live/${KEY}`, { seconds: 60, size: '640x360', gop: 60 });
    try {
      const url = `${ended.http}/live/${NAME}/360p/index.m3u8`;
      await waitFor('a segment', async () => (await get(url)).status === 200, 30_000, 200);
      await p.stop();
      await waitFor('ENDLIST', async () => (await get(url)).text.includes('#EXT-X-ENDLIST'), 5000, 100);
      const res = await get(url);
      expect(res.headers.get('cache-control')).toBe('public, max-age=1');
      const seg = parseMediaPlaylist(res.text).segments[0]!.uri;
      expect((await get(`${ended.http}/live/${NAME}/360p/${seg}`)).headers.get('cache-control')).toBe(IMMUTABLE);
    } finally {
      await p.stop();
      await ended.stop('SIGKILL');
    }
  }, 60_000);
});

/** Sends a raw request (no client normalisation) and returns status and body. */
function raw(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d));
    sock.on('error', reject);
    sock.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf('\r\n\r\n') + 4) }));
    sock.write(request);
  });
}

describe('odd requests never get a 5xx or a byte of anything else', () => {
  it.each([
    'GET /live/../../../etc/passwd HTTP/1.1',
    'GET /live/%2e%2e/%2e%2e/etc/passwd HTTP/1.1',
    'GET /live/studio/360p/..%2f..%2f..%2fpackage.json HTTP/1.1',
    'GET /live//studio//master.m3u8 HTTP/1.1',
    'GET //live/studio/master.m3u8 HTTP/1.1',
    'GET /live/studio%00/master.m3u8 HTTP/1.1',
    'GET /live/studio/360p/%00.m4s HTTP/1.1',
    `GET /live/${'x'.repeat(2048)}/master.m3u8 HTTP/1.1`,
    `GET /assets/${'a/'.repeat(1024)}x.js HTTP/1.1`,
    'GET /assets/../package.json HTTP/1.1',
    'GET /assets/%2e%2e/package.json HTTP/1.1',
    'GET /assets/..%5c..%5cpackage.json HTTP/1.1',
    'GET /live/studio/master.m3u8?_HLS_msn=%00 HTTP/1.1',
    'POST /live/studio/master.m3u8 HTTP/1.1',
    'PUT /live/studio/360p/x-1.m4s HTTP/1.1',
    'DELETE /live/studio/master.m3u8 HTTP/1.1',
    'PATCH /api/streams HTTP/1.1',
    'PROPFIND / HTTP/1.1',
    'TRACE / HTTP/1.1',
    'CONNECT 127.0.0.1:22 HTTP/1.1',
    'BREW /coffee HTTP/1.1',
    'GET * HTTP/1.1',
    'GET http://evil.example/live/studio/master.m3u8 HTTP/1.1',
  ])('%s', async (line) => {
    const port = Number(new URL(server.http).port);
    const res = await raw(port, `${line}\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(500);
    expect(res.body).not.toContain('root:');
    expect(res.body).not.toContain('"name": "live-origin"');
    // only a real media route or the player's page may answer 200
    if (res.status === 200) expect(res.body.startsWith('#EXTM3U') || res.body.includes('<title>live-origin: streams</title>')).toBe(true);
  });
});
