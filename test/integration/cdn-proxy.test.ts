// A real caching proxy (Debian's nginx) in front of the origin while a stream is live: 20 simulated
// players pull through it. From the origin's own request log: every segment is fetched once per
// rendition, playlists are never older than 1 s + target duration, and LL-HLS blocking reloads
// and held parts coalesce at the proxy into one origin request each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, publish, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';
import { nginxUnavailable, startCachingProxy } from '../helpers/nginx.js';

const skip = nginxUnavailable();
if (skip) console.log(`proxy tests skipped: ${skip}`);
const NAME = 'studio';
const KEY = 'sk_cdn_0123456789abcdef';
const PLAYERS = 20;
const TARGET = 2;

describe.skipIf(skip !== undefined)('behind a caching proxy (nginx)', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let cdn: Awaited<ReturnType<typeof startCachingProxy>>;

  /** Origin requests per URL path+query, from its debug request log. */
  const originHits = () => {
    const hits = new Map<string, number>();
    for (const l of server.logs()) if (l.msg === 'request') hits.set(String(l.url), (hits.get(String(l.url)) ?? 0) + 1);
    return hits;
  };

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_LOG_LEVEL: 'debug' });
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 180, size: '640x360', gop: 60 });
    await waitFor('playable', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000, 200);
    cdn = await startCachingProxy(server.http);
  }, 60_000);

  afterAll(async () => {
    cdn?.stop();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('20 polling players: each segment reaches the origin once, no player sees a playlist older than 1 s + target', async () => {
    // Ground truth, straight from the origin: when each media sequence number first appeared.
    const appeared = new Map<number, number>();
    let watching = true;
    const truth = (async () => {
      while (watching) {
        const r = await get(`${server.http}/live/${NAME}/360p/index.m3u8`);
        if (r.status === 200) for (const s of parseMediaPlaylist(r.text).segments) if (!appeared.has(s.msn)) appeared.set(s.msn, Date.now());
        await sleep(100);
      }
    })();
    const staleness: number[] = [];
    const until = Date.now() + 20_000;
    const player = async (i: number) => {
      await sleep(i * 50); // players arrive over a second
      const seen = new Set<string>();
      const master = await get(`${cdn.url}/live/${NAME}/master.m3u8`);
      expect(master.status).toBe(200);
      while (Date.now() < until) {
        const r = await get(`${cdn.url}/live/${NAME}/360p/index.m3u8`);
        expect(r.status).toBe(200);
        const p = parseMediaPlaylist(r.text);
        const newest = p.segments.at(-1)!.msn;
        const next = appeared.get(newest + 1);
        staleness.push(next === undefined ? 0 : Date.now() - next);
        for (const s of p.segments.slice(-3)) {
          if (seen.has(s.uri)) continue;
          seen.add(s.uri);
          const seg = await get(`${cdn.url}/live/${NAME}/360p/${s.uri}`);
          expect(seg.status).toBe(200);
        }
        await sleep(500 + Math.random() * 500);
      }
    };
    await Promise.all(Array.from({ length: PLAYERS }, (_, i) => player(i)));
    watching = false;
    await truth;
    const segmentHits = [...originHits()].filter(([url]) => /\/360p\/[a-z0-9]+-\d+\.m4s$/.test(url));
    expect(segmentHits.length).toBeGreaterThan(5);
    expect(segmentHits.filter(([, n]) => n > 1)).toEqual([]);
    staleness.sort((a, b) => a - b);
    console.log(`playlist staleness through the proxy: median ${staleness[Math.floor(staleness.length / 2)]} ms, max ${staleness.at(-1)} ms over ${staleness.length} polls; ${segmentHits.length} segments, each fetched once from the origin by ${PLAYERS} players`);
    expect(staleness.at(-1)!).toBeLessThanOrEqual((1 + TARGET) * 1000);
  }, 60_000);

  it('blocking reloads and held parts coalesce: 20 players waiting for the same part cost the origin one request each', async () => {
    const rounds: Array<{ url: string; part: string }> = [];
    for (let round = 0; round < 8; round++) {
      const p = parseMediaPlaylist((await get(`${server.http}/live/${NAME}/360p/index.m3u8`)).text);
      const msn = p.mediaSequence + p.segments.length;
      const url = `/live/${NAME}/360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${p.openParts.length + 1}`;
      const part = `/live/${NAME}/360p/${p.preloadHint}`;
      rounds.push({ url, part });
      const answers = await Promise.all(
        Array.from({ length: PLAYERS }, async () => {
          const [pl, pt] = await Promise.all([get(`${cdn.url}${url}`), get(`${cdn.url}${part}`)]);
          return { pl: pl.status, pt: pt.status, cache: pl.headers.get('x-cache') };
        }),
      );
      expect(answers.every((a) => a.pl === 200 && a.pt === 200)).toBe(true);
    }
    const hits = originHits();
    const counts = rounds.map((r) => [hits.get(r.url) ?? 0, hits.get(r.part) ?? 0]);
    console.log(`origin requests per blocking reload / held part, ${PLAYERS} players each: ${counts.map((c) => c.join('/')).join(' ')}`);
    expect(counts.every(([pl, pt]) => pl === 1 && pt === 1)).toBe(true);
  }, 60_000);
});
