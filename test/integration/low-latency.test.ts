// LL-HLS on a real live stream: playlists follow the rules for 20 s while a client walks them with
// blocking reloads, held parts are answered as soon as they exist, and bad directives get 4xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, probe, publish, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { lowLatencyViolations, parseMediaPlaylist, partId } from '../helpers/hls-rules.js';

const NAME = 'studio';
const KEY = 'sk_ll_0123456789abcdef';
const RENDITIONS = ['720p', '480p', '360p'];

describe('low-latency HLS on a live stream', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let base: string;

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
    base = `${server.http}/live/${NAME}`;
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    await waitFor('master playlist', async () => (await get(`${base}/master.m3u8`)).status === 200, 30_000, 100);
  }, 60_000);

  afterAll(async () => {
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('keeps every rule for 20 s while a client follows each rendition with blocking reloads', async () => {
    const until = Date.now() + 20_000;
    const follow = async (rendition: string) => {
      let p = parseMediaPlaylist((await get(`${base}/${rendition}/index.m3u8`)).text);
      let reloads = 0;
      let lastHint = -1;
      const problems: string[] = [];
      while (Date.now() < until) {
        problems.push(...lowLatencyViolations(p).map((v) => `${rendition}: ${v}`));
        expect(p.reports.map((r) => r.uri).sort()).toEqual(RENDITIONS.filter((r) => r !== rendition).map((r) => `../${r}/index.m3u8`).sort());
        // ask for the part after the newest one (the hinted part): msn of the open segment, next index
        const msn = p.mediaSequence + p.segments.length;
        const next = p.openParts.length;
        const t0 = Date.now();
        const res = await get(`${base}/${rendition}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${next}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('public, max-age=6');
        const q = parseMediaPlaylist(res.text);
        // the answer holds the awaited part, and the media sequence never goes back
        expect(q.mediaSequence).toBeGreaterThanOrEqual(p.mediaSequence);
        const newest = q.openParts.at(-1) ?? q.segments.at(-1)!.parts.at(-1)!;
        expect(partId(newest.uri)).toBeGreaterThanOrEqual(partId(p.preloadHint!));
        expect(partId(q.preloadHint!)).toBeGreaterThan(lastHint);
        lastHint = partId(q.preloadHint!);
        expect(Date.now() - t0).toBeLessThan(6000 + 1000);
        p = q;
        reloads++;
      }
      return { reloads, problems };
    };
    const results = await Promise.all(RENDITIONS.map(follow));
    for (const r of results) {
      expect(r.problems).toEqual([]);
      // one reload per 200 ms part, give or take: about 100 in 20 s
      expect(r.reloads).toBeGreaterThan(60);
    }
    console.log(`blocking reloads in 20 s: ${results.map((r) => r.reloads).join(', ')}`);
  }, 40_000);

  it('holds a request for the hinted part and answers it within one part duration of its creation', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text);
      const hint = p.preloadHint!;
      const msn = p.mediaSequence + p.segments.length;
      // The playlist request below is answered on the same packager event that publishes the part:
      // the moment it lists the part is the part's creation, seen from outside.
      const partReq = get(`${base}/720p/${hint}`).then((r) => ({ r, at: Date.now() }));
      const listReq = get(`${base}/720p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${p.openParts.length}`).then((r) => ({ r, at: Date.now() }));
      const [part, list] = await Promise.all([partReq, listReq]);
      expect(part.r.status).toBe(200);
      expect(part.r.body.subarray(4, 8).toString()).toBe('moof');
      expect(part.r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(list.r.text).toContain(`URI="${hint}"`);
      samples.push(Math.abs(part.at - list.at));
    }
    samples.sort((a, b) => a - b);
    console.log(`held part answered vs. listed: median ${samples[5]} ms, max ${samples.at(-1)} ms`);
    expect(samples.at(-1)!).toBeLessThan(200);
  });

  it('serves parts that decode: init + a keyframe part probe as H.264 + AAC', async () => {
    const text = (await get(`${base}/360p/index.m3u8`)).text;
    const p = parseMediaPlaylist(text);
    const init = (await get(`${base}/360p/${/URI="(init-[^"]+)"/.exec(text)![1]}`)).body;
    const part = p.segments.flatMap((s) => s.parts).find((x) => x.independent)!;
    const streams = await probe(Buffer.concat([init, (await get(`${base}/360p/${part.uri}`)).body]));
    expect(streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
  });

  it('refuses bad directives with 400', async () => {
    const p = parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text);
    const edge = p.mediaSequence + p.segments.length;
    const far = await get(`${base}/720p/index.m3u8?_HLS_msn=${edge + 3}`);
    expect(far.status).toBe(400);
    expect(JSON.parse(far.text).code).toBe('ERR_BAD_DIRECTIVE');
    expect((await get(`${base}/720p/index.m3u8?_HLS_part=2`)).status).toBe(400);
    expect((await get(`${base}/720p/index.m3u8?_HLS_msn=-1`)).status).toBe(400);
    expect((await get(`${base}/720p/index.m3u8?_HLS_msn=1&_HLS_skip=NO`)).status).toBe(400);
    // a part two ahead of the hint is not held: 404 at once
    const ahead = `${hint2(p.preloadHint!)}`;
    expect((await get(`${base}/720p/${ahead}`)).status).toBe(404);
    // 2 segments ahead is allowed (held, then answered as the stream makes a segment every 2 s)
    const held = await get(`${base}/720p/index.m3u8?_HLS_msn=${edge + 2}`);
    expect(held.status).toBe(200);
  }, 20_000);

  it('answers 503 + Retry-After after 3 target durations when the publisher stalls, then resumes', async () => {
    const p = parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text);
    pub.proc.kill('SIGSTOP'); // the publisher freezes with its connection open: no end, no new parts
    try {
      const t0 = Date.now();
      const msn = p.mediaSequence + p.segments.length + 1;
      const [list, part] = await Promise.all([
        get(`${base}/720p/index.m3u8?_HLS_msn=${msn}&_HLS_part=5`),
        // the hinted part of a later moment than the frozen one, requested after the stall began
        (async () => {
          await new Promise((r) => setTimeout(r, 1500));
          const q = parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text);
          return get(`${base}/720p/${q.preloadHint}`);
        })(),
      ]);
      const waited = Date.now() - t0;
      expect(list.status).toBe(503);
      expect(list.headers.get('retry-after')).toBe('2');
      expect(JSON.parse(list.text).code).toBe('ERR_HOLD_TIMEOUT');
      expect(part.status).toBe(503);
      expect(part.headers.get('retry-after')).toBe('2');
      expect(waited).toBeGreaterThanOrEqual(6000);
      expect(waited).toBeLessThan(9000);
    } finally {
      pub.proc.kill('SIGCONT');
    }
    const before = parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text).preloadHint!;
    await waitFor('new parts after the stall', async () => parseMediaPlaylist((await get(`${base}/720p/index.m3u8`)).text).preloadHint !== before, 15_000, 200);
  }, 30_000);
});

function hint2(hint: string): string {
  return hint.replace(/-p(\d+)\.m4s$/, (_, n: string) => `-p${Number(n) + 2}.m4s`);
}
