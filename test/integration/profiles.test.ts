// Shipped profiles from a real published stream: the ladder fits the source (no upscaling) and
// every rendition is what the profile declares (ffprobe: codec, size; bitrate within ±30 % over 10 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, probe, publish, startServer, tempFile, waitFor, type ServerHandle } from '../helpers/processes.js';
import { lowLatencyViolations, parseMediaPlaylist } from '../helpers/hls-rules.js';

const KEYS = { small: 'sk_small_0123456789ab', low: 'sk_lowcpu_0123456789a' };
let server: ServerHandle;

beforeAll(async () => {
  const config = tempFile('origin.json', JSON.stringify({
    streams: [
      { name: 'small', key: KEYS.small, profile: 'default' },
      { name: 'low', key: KEYS.low, profile: 'low-cpu' },
    ],
  }));
  server = await startServer({}, ['--config', config]);
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  killAll();
});

async function streamInfo(name: string): Promise<Record<string, unknown>> {
  const body = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<Record<string, unknown>> };
  return body.streams.find((s) => s.name === name)!;
}

describe('shipped profiles on real streams', () => {
  it('a 640x360 source under `default` yields only 360p (never upscaled), shown in /api/streams', async () => {
    const pub = publish(`${server.rtmp}/live/${KEYS.small}`, { size: '640x360', seconds: 60, gop: 60 });
    try {
      await waitFor('playable', async () => (await get(`${server.http}/live/small/master.m3u8`)).status === 200, 30_000, 200);
      const master = (await get(`${server.http}/live/small/master.m3u8`)).text;
      expect(master.match(/#EXT-X-STREAM-INF/g)).toHaveLength(1);
      expect(master).toContain('RESOLUTION=640x360');
      const info = await streamInfo('small');
      expect(info.source).toMatchObject({ videoCodec: 'h264', width: 640, height: 360, fps: 30 });
      expect((info.ladder as Array<{ name: string; width: number; height: number; fps: number }>).map((r) => [r.name, r.width, r.height, r.fps])).toEqual([['360p', 640, 360, 30]]);
    } finally {
      await pub.stop();
    }
  }, 60_000);

  it('`low-cpu` from a 720p source: 480p + 240p + audio-only, at the declared sizes and bitrates (±30 % over 10 s)', async () => {
    const pub = publish(`${server.rtmp}/live/${KEYS.low}`, { size: '1280x720', seconds: 60, gop: 60 });
    try {
      const base = `${server.http}/live/low`;
      await waitFor('6 segments', async () => {
        const r = await get(`${base}/240p/index.m3u8`);
        return r.status === 200 && parseMediaPlaylist(r.text).segments.length >= 6;
      }, 40_000, 500);
      const declared = { '480p': { size: '854x480', kbps: 1200 + 96 }, '240p': { size: '426x240', kbps: 400 + 64 } };
      const master = (await get(`${base}/master.m3u8`)).text;
      const audioVariant = master.split('\n').find((l, i, all) => all[i + 1] === 'audio/index.m3u8')!;
      expect(audioVariant).toMatch(/^#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="mp4a\.40\.2"$/);
      const audioText = (await get(`${base}/audio/index.m3u8`)).text;
      const audio = parseMediaPlaylist(audioText);
      expect(lowLatencyViolations(audio)).toEqual([]);
      const audioInit = (await get(`${base}/audio/${/URI="(init-[^"]+)"/.exec(audioText)![1]}`)).body;
      const audioSegs = await Promise.all(audio.segments.slice(-4).map(async (s) => (await get(`${base}/audio/${s.uri}`)).body));
      expect((await probe(Buffer.concat([audioInit, audioSegs[0]!]))).map((s) => s.codec_name)).toEqual(['aac']);
      const audioKbps = (audioSegs.reduce((a, b) => a + b.length, 0) * 8) / audio.segments.slice(-4).reduce((a, s) => a + s.duration, 0) / 1000;
      console.log(`low-cpu audio: ${audioKbps.toFixed(0)} kbit/s, 64 declared`);
      expect(audioKbps).toBeGreaterThan(64 * 0.7);
      expect(audioKbps).toBeLessThan(64 * 1.3);
      for (const [rendition, want] of Object.entries(declared)) {
        const text = (await get(`${base}/${rendition}/index.m3u8`)).text;
        const p = parseMediaPlaylist(text);
        const init = (await get(`${base}/${rendition}/${/URI="(init-[^"]+)"/.exec(text)![1]}`)).body;
        // the last 5 whole segments (10 s), past the encoder's start-up
        const segs = p.segments.slice(-5);
        const bodies = await Promise.all(segs.map(async (s) => (await get(`${base}/${rendition}/${s.uri}`)).body));
        const seconds = segs.reduce((a, s) => a + s.duration, 0);
        const kbps = (bodies.reduce((a, b) => a + b.length, 0) * 8) / seconds / 1000;
        const streams = await probe(Buffer.concat([init, bodies[0]!]));
        const video = streams.find((s) => s.codec_type === 'video')!;
        expect(`${video.codec_name} ${video.width}x${video.height}`).toBe(`h264 ${want.size}`);
        expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
        console.log(`low-cpu ${rendition}: ${kbps.toFixed(0)} kbit/s measured over ${seconds.toFixed(1)} s, ${want.kbps} declared`);
        expect(kbps).toBeGreaterThan(want.kbps * 0.7);
        expect(kbps).toBeLessThan(want.kbps * 1.3);
      }
    } finally {
      await pub.stop();
    }
  }, 90_000);
});
