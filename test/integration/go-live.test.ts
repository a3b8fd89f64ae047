// Go live end to end with real processes: ffmpeg publishes testsrc2 1280x720@30 + sine over RTMP to
// the built server on free ports; playlists are read over HTTP, pieces probed with ffprobe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ffmpegChildren, get, killAll, probe, probeVideoFrames, publish, sleep, startServer, waitFor,
  type Publisher, type ServerHandle,
} from '../helpers/processes.js';

const NAME = 'studio';
const KEY = 'sk_live_0123456789abcdef';
const RENDITIONS = ['720p', '480p', '360p'];

function attr(line: string, name: string): string | undefined {
  return new RegExp(`${name}=("[^"]*"|[^,]*)`).exec(line)?.[1]?.replace(/"/g, '');
}

function mediaSequence(playlist: string): number {
  return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);
}

function segmentUris(playlist: string): string[] {
  return playlist.split('\n').filter((l) => l.endsWith('.m4s'));
}

describe('go live: OBS -> RTMP -> 3 renditions -> HLS over HTTP', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let base: string;
  let publishedAt: number;
  let masterAfterMs: number;

  beforeAll(async () => {
    // no reconnect grace: the stream ends (ENDLIST) as soon as the publisher goes
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY},other:sk_other_0123456789ab`, ORIGIN_RECONNECT_GRACE: "0" });
    base = `${server.http}/live/${NAME}`;
    publishedAt = Date.now();
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    await waitFor('master playlist', async () => (await get(`${base}/master.m3u8`)).status === 200, 30_000, 50);
    masterAfterMs = Date.now() - publishedAt;
  }, 60_000);

  afterAll(async () => {
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('serves a master playlist with 3 variants: BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE', async () => {
    console.log(`first playable master playlist ${masterAfterMs} ms after ffmpeg started publishing`);
    const res = await get(`${base}/master.m3u8`);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(res.headers.get('cache-control')).toBe('public, max-age=1');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const lines = res.text.split('\n');
    const inf = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(inf).toHaveLength(3);
    // the middle rung first: a player starts on the first (playlist.ts startOrder)
    expect(lines.filter((l) => l.endsWith('/index.m3u8'))).toEqual(['480p', '720p', '360p'].map((r) => `${r}/index.m3u8`));
    const heights = [480, 720, 360];
    inf.forEach((line, i) => {
      expect(Number(attr(line, 'BANDWIDTH'))).toBeGreaterThan(Number(attr(line, 'AVERAGE-BANDWIDTH')));
      expect(attr(line, 'CODECS')).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      expect(attr(line, 'RESOLUTION')).toMatch(new RegExp(`^\\d+x${heights[i]}$`));
      expect(attr(line, 'FRAME-RATE')).toBe('30.000');
    });
    // 720p is encoded as High (64), level 3.1 (1f): the CODECS string is read from the real init segment
    expect(attr(inf[1]!, 'CODECS')).toBe('avc1.64001f,mp4a.40.2');
    expect(attr(inf[1]!, 'RESOLUTION')).toBe('1280x720');
    expect(attr(inf[0]!, 'RESOLUTION')).toBe('854x480');
  });

  it('lists segments in every media playlist; init + segment probe as H.264 + AAC at the declared size', async () => {
    const master = (await get(`${base}/master.m3u8`)).text;
    for (const r of RENDITIONS) {
      const pl = (await get(`${base}/${r}/index.m3u8`)).text;
      expect(pl).toMatch(/^#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n/);
      expect(pl).toMatch(/\n#EXT-X-MEDIA-SEQUENCE:\d+\n/);
      expect(pl).toMatch(/#EXT-X-MAP:URI="init-[a-z0-9]+\.mp4"/);
      expect(pl).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT/);
      expect(pl).toMatch(/#EXTINF:[\d.]+,\n[a-z0-9]+-\d+\.m4s/);
      expect(pl).not.toContain('#EXT-X-ENDLIST');
      const initUri = /URI="([^"]+)"/.exec(pl)![1]!;
      const segUri = segmentUris(pl).at(-1)!;
      const init = await get(`${base}/${r}/${initUri}`);
      const seg = await get(`${base}/${r}/${segUri}`);
      for (const piece of [init, seg]) {
        expect(piece.status).toBe(200);
        expect(piece.headers.get('content-type')).toBe('video/mp4');
        expect(piece.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(piece.headers.get('etag')).toMatch(/^"[\w-]+"$/);
      }
      const streams = await probe(Buffer.concat([init.body, seg.body]));
      const video = streams.find((s) => s.codec_type === 'video')!;
      const audio = streams.find((s) => s.codec_type === 'audio')!;
      expect(video.codec_name).toBe('h264');
      expect(audio.codec_name).toBe('aac');
      const declared = master.split('\n').find((l, i, all) => all[i + 1] === `${r}/index.m3u8`)!;
      expect(`${video.width}x${video.height}`).toBe(attr(declared, 'RESOLUTION'));
    }
  });

  it('cuts segments that start with an IDR frame and last at most 2 s + one frame, from an 8 s source GOP', async () => {
    const pl = await waitFor('4 segments', async () => {
      const t = (await get(`${base}/360p/index.m3u8`)).text;
      return segmentUris(t).length >= 4 ? t : undefined;
    }, 20_000, 200);
    const init = (await get(`${base}/360p/${/URI="([^"]+)"/.exec(pl)![1]}`)).body;
    for (const uri of segmentUris(pl).slice(-3)) {
      const frames = await probeVideoFrames(Buffer.concat([init, (await get(`${base}/360p/${uri}`)).body]));
      expect(frames[0]!.key).toBe(true);
      expect(frames.filter((f) => f.key)).toHaveLength(1);
      const duration = frames.length / 30;
      expect(duration).toBeLessThanOrEqual(2 + 1 / 30 + 1e-6);
    }
    for (const m of pl.matchAll(/#EXTINF:([\d.]+),/g)) expect(Number(m[1])).toBeLessThanOrEqual(2 + 1 / 30);
  });

  it('lists the stream in /api/streams by name, never by key; logs never show the key', async () => {
    const res = await get(`${server.http}/api/streams`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = JSON.parse(res.text) as { streams: Array<Record<string, unknown>> };
    const s = body.streams.find((x) => x.name === NAME)!;
    expect(s).toMatchObject({ name: NAME, live: true, profile: 'default', playbackUrl: `${server.http}/live/${NAME}/master.m3u8` });
    expect(Date.parse(s.startedAt as string)).toBeGreaterThan(publishedAt - 5000);
    expect((s.renditions as Array<Record<string, unknown>>).map((r) => [r.name, r.width, r.height])).toEqual([
      ['720p', 1280, 720], ['480p', 854, 480], ['360p', 640, 360],
    ]);
    expect((s.renditions as Array<{ bandwidth: number }>).every((r) => r.bandwidth > 0)).toBe(true);
    expect(res.text).not.toContain(KEY);
    // a configured key is never printed: not in a log line, not in the startup banner
    expect(server.logs().some((l) => JSON.stringify(l).includes(KEY))).toBe(false);
    expect(server.output()).not.toContain(KEY);
    expect(server.output()).toContain(`Stream Key: the key configured for "${NAME}" (not printed)`);
  });

  it('refuses an unknown key: connection closed, a warning with the remote address, no ffmpeg, no playlist', async () => {
    const before = ffmpegChildren(server.proc.pid!).length;
    const bad = publish(`${server.rtmp}/live/sk_wrong_0123456789abcd`, { seconds: 10, size: '320x240' });
    const code = await Promise.race([bad.exited, sleep(8000).then(() => 'still running')]);
    await bad.stop();
    expect(code).not.toBe('still running');
    expect(code).not.toBe(0);
    const refusal = server.logs().find((l) => l.msg === 'publish refused' && l.reason === 'unknown stream key');
    expect(refusal).toMatchObject({ remoteAddress: expect.stringContaining('127.0.0.1'), level: 40 });
    expect(JSON.stringify(refusal)).not.toContain('sk_wrong_0123456789abcd');
    expect(ffmpegChildren(server.proc.pid!).length).toBe(before);
    expect((await get(`${server.http}/api/streams`)).text).not.toContain('sk_wrong');
    expect((await get(`${server.http}/live/other/master.m3u8`)).status).toBe(404);
  });

  it('refuses a second publisher on a live name and leaves the first untouched', async () => {
    const seqBefore = mediaSequence((await get(`${base}/720p/index.m3u8`)).text);
    const segsBefore = segmentUris((await get(`${base}/720p/index.m3u8`)).text).at(-1);
    const second = publish(`${server.rtmp}/live/${KEY}`, { seconds: 10, size: '320x240' });
    const code = await Promise.race([second.exited, sleep(8000).then(() => 'still running')]);
    await second.stop();
    expect(code).not.toBe('still running');
    expect(server.logs().some((l) => l.msg === 'publish refused' && String(l.reason).includes('already live'))).toBe(true);
    expect(ffmpegChildren(server.proc.pid!)).toHaveLength(1);
    // the first publish keeps producing new segments under the same names
    await waitFor('a newer segment', async () => segmentUris((await get(`${base}/720p/index.m3u8`)).text).at(-1) !== segsBefore, 10_000, 200);
    expect(mediaSequence((await get(`${base}/720p/index.m3u8`)).text)).toBeGreaterThanOrEqual(seqBefore);
    expect(pub.proc.exitCode).toBeNull();
  });

  it('ends every playlist with ENDLIST once ffmpeg has flushed (within its 3 s stop bound) after the publisher stops, and leaves no ffmpeg running', async () => {
    const transcoders = ffmpegChildren(server.proc.pid!);
    expect(transcoders).toHaveLength(1);
    await pub.stop();
    const stoppedAt = Date.now();
    await waitFor('ENDLIST on every playlist', async () => {
      const texts = await Promise.all(RENDITIONS.map(async (r) => (await get(`${base}/${r}/index.m3u8`)).text));
      return texts.every((t) => t.trimEnd().endsWith('#EXT-X-ENDLIST'));
    }, 5000, 50);
    const endMs = Date.now() - stoppedAt;
    console.log(`ENDLIST on every playlist ${endMs} ms after the publisher stopped`);
    // The ENDLIST follows ffmpeg's flush of the last fragments, which is bounded by the 3 s stop
    // timeout; typically ~0.5 s, but 3.1 s was seen here with Chromium tests sharing the 2 cores.
    // The bound checked is the stop timeout's, not a speed (speed is for benchmarks).
    expect(endMs).toBeLessThan(4500);
    await waitFor('no ffmpeg child', () => ffmpegChildren(server.proc.pid!).length === 0, 3000);
    const api = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<{ name: string; live: boolean }> };
    expect(api.streams.find((s) => s.name === NAME)?.live).toBe(false);
  });
});

describe('shutdown', () => {
  afterAll(() => killAll());

  it('SIGTERM drains: /readyz 503 at once while /healthz stays 200, ENDLIST seen by a 100 ms poller, new publishers refused, exit 0 with no ffmpeg left', async () => {
    const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_DRAIN_SECONDS: '3' });
    const pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 60, size: '640x360' });
    let late: ReturnType<typeof publish> | undefined;
    try {
      await waitFor('master playlist', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000);
      expect((await get(`${server.http}/readyz`)).status).toBe(200);
      const [ffmpegPid] = ffmpegChildren(server.proc.pid!);
      expect(ffmpegPid).toBeGreaterThan(0);
      // What a player or CDN polling every 100 ms sees from the signal on (anything unexpected is kept).
      const seen: string[] = [];
      let endlistAt = 0;
      let readyz503At = 0;
      let stopPolling = false;
      const poller = (async () => {
        while (!stopPolling) {
          const [pl, ready, health] = await Promise.all([
            get(`${server.http}/live/${NAME}/360p/index.m3u8`).catch(() => undefined),
            get(`${server.http}/readyz`).catch(() => undefined),
            get(`${server.http}/healthz`).catch(() => undefined),
          ]);
          if (!pl || !ready || !health) break; // the port closed
          if (pl.status !== 200) seen.push(`playlist ${pl.status} ${pl.text.slice(0, 120)}`);
          if (health.status !== 200) seen.push(`healthz ${health.status}`);
          // (a poll answered before the server handled the signal may still say 200; never after a 503)
          if (ready.status === 503) readyz503At ||= Date.now();
          else if (ready.status !== 200 || readyz503At) seen.push(`readyz ${ready.status}${readyz503At ? ' after a 503' : ''}`);
          if (pl.text.includes('#EXT-X-ENDLIST') && !endlistAt) endlistAt = Date.now();
          await sleep(100);
        }
      })();
      const t0 = Date.now();
      server.proc.kill('SIGTERM');
      await sleep(300);
      late = publish(`${server.rtmp}/live/${KEY}`, { seconds: 10, size: '320x180' });
      const code = await server.exited;
      const t1 = Date.now();
      stopPolling = true;
      await poller;
      expect(seen).toEqual([]);
      expect(code).toBe(0);
      expect(readyz503At).toBeGreaterThan(0);
      expect(readyz503At - t0).toBeLessThan(1000);
      expect(endlistAt).toBeGreaterThan(0);
      // the port stayed open for the drain after the ENDLIST (not in the same few milliseconds)
      expect(t1 - endlistAt).toBeGreaterThan(2000);
      expect(server.logs().some((l) => l.msg === 'stream ended' && l.reason === 'server shutting down')).toBe(true);
      // the publisher that came during the drain found the RTMP port closed and got no transcoder
      expect(await Promise.race([late.exited, sleep(5000).then(() => 'still running')])).not.toBe(0);
      expect(late.output()).toMatch(/Connection refused|Input\/output error|Error opening output/i);
      expect(server.logs().filter((l) => l.msg === 'ladder chosen')).toHaveLength(1);
      await waitFor('transcoder gone', () => {
        try {
          process.kill(ffmpegPid!, 0);
          return false;
        } catch {
          return true;
        }
      }, 3000);
    } finally {
      await late?.stop();
      await pub.stop();
      await server.stop('SIGKILL');
    }
  }, 60_000);
});
