// Recording and DVR on a real server with a real publisher, on the file store: a 40 s broadcast
// with a publisher killed (-9) in the middle and back 2 s later is one recording of ~40 s; the live
// playlists reach back past the memory window (older segments answered from the store with the
// same bytes and ETag); delta updates skip; the recording plays as VOD (every listed piece fetched),
// downloads as one MP4 per rendition (ffprobe: duration and picture size), honours Range and
// validators, and is deleted by the admin only. Bad input gets 400/404, never 500.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, publish, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';

const KEY = 'sk_record_0123456789ab';
const ADMIN = 'admin-token-recording-0123';
const NAME = 'rec';

interface Recording { id: string; stream: string; startedAt: string; endedAt: string | null; durationSeconds: number; renditions: string[]; bytes: number; playbackUrl: string; downloadUrl: string }

/** ffprobe of a file: format duration and the first video stream's size. */
function probeFile(path: string): { duration: number; width: number; height: number; errors: string } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,width,height', '-of', 'json', path], { encoding: 'utf8' });
  const j = JSON.parse(r.stdout || '{}') as { format?: { duration?: string }; streams?: Array<{ codec_type: string; width?: number; height?: number }> };
  const v = j.streams?.find((s) => s.codec_type === 'video');
  return { duration: Number(j.format?.duration ?? 0), width: v?.width ?? 0, height: v?.height ?? 0, errors: r.stderr };
}

describe('recording and DVR (file store)', () => {
  let server: ServerHandle;
  let store: string;
  const pubs: Publisher[] = [];
  /** A segment seen early, while in memory: where, its bytes and ETag. */
  let early: { url: string; etag: string; body: Buffer } | undefined;
  let firstPlaylist = '';
  let variantUrl = '';

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'lo-rec-store-'));
    server = await startServer({
      ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`,
      ORIGIN_RECORD: 'all',
      ORIGIN_STORAGE_URL: `file://${store}`,
      ORIGIN_DVR_SECONDS: '120',
      ORIGIN_RECONNECT_GRACE: '6',
      ORIGIN_ADMIN_TOKEN: ADMIN,
    });
    // 20 s, then the publisher dies (kill -9) and OBS is back 2 s later for 20 s more
    const first = publish(`${server.rtmp}/live/${KEY}`, { seconds: 60, gop: 60 });
    pubs.push(first);
    const master = await waitFor('master', async () => {
      const r = await get(`${server.http}/live/${NAME}/master.m3u8`);
      return r.status === 200 ? r.text : undefined;
    }, 20_000);
    variantUrl = `${server.http}/live/${NAME}/${master.split('\n').find((l) => l && !l.startsWith('#'))}`;
    await sleep(3000);
    firstPlaylist = (await get(variantUrl)).text;
    const seg = parseMediaPlaylist(firstPlaylist).segments[0]!;
    const r = await get(new URL(seg.uri, variantUrl).href);
    early = { url: new URL(seg.uri, variantUrl).href, etag: r.headers.get('etag') ?? '', body: r.body };
    await sleep(14_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    await sleep(2000);
    const second = publish(`${server.rtmp}/live/${KEY}`, { seconds: 20, gop: 60 });
    pubs.push(second);
    await sleep(15_000);
  }, 90_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('lists a DVR window reaching back past the memory window, one DISCONTINUITY in it', async () => {
    const text = (await get(variantUrl)).text;
    const p = parseMediaPlaylist(text);
    const span = p.segments.reduce((s, x) => s + x.duration, 0);
    // memory holds 6 listed + 6 grace segments (24 s); the live window alone is 12 s
    expect(span, text).toBeGreaterThan(28);
    expect(p.mediaSequence).toBe(parseMediaPlaylist(firstPlaylist).mediaSequence);
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)?.length ?? 0, text).toBe(1);
    expect(text).toContain('CAN-SKIP-UNTIL=12');
  });

  it('answers a segment that left memory from the store: same bytes, same ETag, immutable', async () => {
    const r = await get(early!.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('etag')).toBe(early!.etag);
    expect(Buffer.compare(r.body, early!.body)).toBe(0);
    expect(r.headers.get('cache-control')).toContain('immutable');
    const again = await get(early!.url, { headers: { 'if-none-match': early!.etag } });
    expect(again.status).toBe(304);
  });

  it('skips old segments in a delta update (EXT-X-SKIP) and keeps it small', async () => {
    const full = (await get(variantUrl)).text;
    const p = parseMediaPlaylist(full);
    const delta = await get(`${variantUrl}?_HLS_msn=${p.mediaSequence + p.segments.length}&_HLS_skip=YES`);
    expect(delta.status).toBe(200);
    const skipped = /#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta.text);
    expect(skipped, delta.text).not.toBeNull();
    expect(Number(skipped![1])).toBeGreaterThan(5);
    console.log(`DVR playlist ${full.length} B, delta update ${delta.text.length} B (${((100 * delta.text.length) / full.length).toFixed(0)} %)`);
    expect(delta.text.length).toBeLessThan(full.length);
  });

  let rec: Recording;
  it('makes one recording of ~40 s for the broadcast with a drop in the middle', async () => {
    for (const p of pubs) await p.exited;
    // the grace (6 s) passes, the session ends, the recorder writes its manifest
    rec = await waitFor('ended recording', async () => {
      const r = await get(`${server.http}/api/recordings?stream=${NAME}`);
      expect(r.status).toBe(200);
      const list = (JSON.parse(r.text) as { recordings: Recording[] }).recordings;
      return list.length === 1 && list[0]!.endedAt ? list[0]! : undefined;
    }, 20_000);
    expect(rec.stream).toBe(NAME);
    expect(rec.durationSeconds).toBeGreaterThan(37);
    expect(rec.durationSeconds).toBeLessThan(43);
    expect(rec.renditions).toEqual(['720p', '480p', '360p']);
    expect(rec.bytes).toBeGreaterThan(100_000);
    expect(rec.playbackUrl).toBe(`${server.http}/vod/${rec.id}/master.m3u8`);
    const all = (JSON.parse((await get(`${server.http}/api/recordings`)).text) as { recordings: Recording[] }).recordings;
    expect(all.map((r) => r.id)).toEqual([rec.id]);
    const logs = server.logs().filter((l) => String(l.msg).startsWith('recording'));
    expect(logs.map((l) => l.msg)).toContain('recording complete');
    expect(server.logs().filter((l) => (l.level as number) >= 50), server.output()).toEqual([]);
  });

  it('serves the recording as VOD: every listed piece 200, one DISCONTINUITY, ENDLIST', async () => {
    const master = await get(rec.playbackUrl);
    expect(master.status).toBe(200);
    expect(master.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(master.headers.get('cache-control')).toBe('public, max-age=86400');
    const variants = master.text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(variants.length).toBe(rec.renditions.length);
    let total = 0;
    for (const v of variants) {
      const url = new URL(v, rec.playbackUrl).href;
      const pl = await get(url);
      expect(pl.status).toBe(200);
      expect(pl.text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
      expect(pl.text).toContain('#EXT-X-ENDLIST');
      expect(pl.text).not.toContain('#EXT-X-PART');
      expect(pl.text.match(/#EXT-X-DISCONTINUITY\n/g)?.length, pl.text).toBe(1);
      const uris = [...new Set(pl.text.split('\n').flatMap((l) => (l.startsWith('#EXT-X-MAP:URI="') ? [l.slice(16, -1)] : l && !l.startsWith('#') ? [l] : [])))];
      for (const u of uris) {
        const r = await get(new URL(u, url).href);
        if (r.status !== 200) throw new Error(`${u}: ${r.status} ${r.text}`);
        expect(r.headers.get('cache-control')).toContain('immutable');
        total++;
      }
    }
    expect(total).toBeGreaterThan(rec.renditions.length * 19);
    // the DVR window's segment that was live is the same piece in the recording
    const name = early!.url.split('/').slice(-2).join('/');
    const fromVod = await get(`${server.http}/vod/${rec.id}/${name}`);
    expect(fromVod.headers.get('etag')).toBe(early!.etag);
    expect(Buffer.compare(fromVod.body, early!.body)).toBe(0);
  });

  it('downloads each rendition as one MP4 of the whole broadcast (ffprobe), with Range and validators', async () => {
    const master = (await get(rec.playbackUrl)).text;
    for (const rendition of rec.renditions) {
      const url = `${server.http}/vod/${rec.id}/${rendition}.mp4`;
      const r = await get(url);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('video/mp4');
      expect(r.headers.get('content-disposition')).toContain(`${rec.id}-${rendition}.mp4`);
      expect(Number(r.headers.get('content-length'))).toBe(r.body.length);
      const file = join(mkdtempSync(join(tmpdir(), 'lo-rec-dl-')), 'd.mp4');
      await import('node:fs/promises').then((fs) => fs.writeFile(file, r.body));
      const p = probeFile(file);
      expect(p.errors).toBe('');
      expect(p.duration, rendition).toBeGreaterThan(37);
      expect(p.duration, rendition).toBeLessThan(44);
      const res = new RegExp(`RESOLUTION=(\\d+)x(\\d+)[^\\n]*\\n${rendition}/index.m3u8`).exec(master);
      expect([p.width, p.height]).toEqual([Number(res![1]), Number(res![2])]);
      // a range from the middle is the same bytes as the whole file's
      const mid = Math.floor(r.body.length / 2);
      const part = await get(url, { headers: { range: `bytes=${mid}-${mid + 9999}` } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${mid}-${mid + 9999}/${r.body.length}`);
      expect(Buffer.compare(part.body, r.body.subarray(mid, mid + 10000))).toBe(0);
      const tail = await get(url, { headers: { range: 'bytes=-100' } });
      expect(Buffer.compare(tail.body, r.body.subarray(-100))).toBe(0);
      expect((await get(url, { headers: { range: `bytes=${r.body.length + 10}-` } })).status).toBe(416);
      expect((await get(url, { headers: { 'if-none-match': r.headers.get('etag')! } })).status).toBe(304);
    }
  });

  it('answers bad recording requests with 400/404, never 500', async () => {
    const cases: Array<[string, number]> = [
      [`/vod/${NAME}-nosuchepoch/master.m3u8`, 404],
      [`/vod/..%2f..%2fetc/master.m3u8`, 400],
      [`/vod/${rec.id}/nope/index.m3u8`, 404],
      [`/vod/${rec.id}/${rec.renditions[0]}/init-zzzz.mp4`, 404],
      [`/vod/${rec.id}/${rec.renditions[0]}/${rec.id.split('-').pop()}-p3.m4s`, 404],
      [`/vod/${rec.id}/${rec.renditions[0]}/../../x.m4s`, 404],
      [`/vod/${rec.id}/UPPER.mp4`, 400],
      [`/vod/${rec.id}/t/abc/master.m3u8`, 404],
      [`/api/recordings?stream=../x`, 400],
    ];
    for (const [path, status] of cases) {
      const r = await get(`${server.http}${path}`);
      expect(`${path} ${r.status}`, r.text).toBe(`${path} ${status}`);
      expect(r.headers.get('content-type')).toContain('application/json');
    }
  });

  it('deletes a recording only with the admin token; then it is gone everywhere', async () => {
    const url = `${server.http}/api/recordings/${rec.id}`;
    expect((await get(url, { method: 'DELETE' })).status).toBe(401);
    expect((await get(url, { method: 'DELETE', headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const ok = await get(url, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(ok.status, ok.text).toBe(200);
    expect(JSON.parse((await get(`${server.http}/api/recordings`)).text)).toEqual({ recordings: [] });
    expect((await get(rec.playbackUrl)).status).toBe(404);
    expect((await get(url, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    const left = spawnSync('find', [store, '-type', 'f'], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('');
  });
});
