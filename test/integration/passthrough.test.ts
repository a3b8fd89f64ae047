// The `passthrough` profile on real streams: an OBS-like source (x264 High with B-frames, 2 s
// keyframes) is copied with its own codec parameters, its segments start on its keyframes and last
// at most 2 s + a frame, the 360p rung's segments start on the same frames, and the master's
// BANDWIDTH covers what arrived. A source with OBS's default ~8 s keyframes is re-encoded instead,
// with a warning that names the OBS setting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, probe, probeVideoFrames, publish, startServer, tempFile, waitFor, type ServerHandle } from '../helpers/processes.js';
import { lowLatencyViolations, parseMediaPlaylist } from '../helpers/hls-rules.js';

const KEYS = { copy: 'sk_passthru_0123456789', long: 'sk_longgop_0123456789', stops: 'sk_nokeys_01234567890' };
let server: ServerHandle;

beforeAll(async () => {
  const config = tempFile('origin.json', JSON.stringify({
    streams: [
      { name: 'copy', key: KEYS.copy, profile: 'passthrough' },
      { name: 'longgop', key: KEYS.long, profile: 'passthrough' },
      { name: 'nokeys', key: KEYS.stops, profile: 'passthrough' },
    ],
  }));
  server = await startServer({}, ['--config', config]);
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  killAll();
});

async function streamInfo(name: string): Promise<Record<string, any>> {
  const body = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<Record<string, any>> };
  return body.streams.find((s) => s.name === name)!;
}

describe('passthrough profile', () => {
  it('copies an OBS-like H.264 source: its codec parameters, its keyframes as segment starts, 360p aligned, honest BANDWIDTH', async () => {
    const pub = publish(`${server.rtmp}/live/${KEYS.copy}`, { size: '1280x720', seconds: 60, gop: 60, encoder: 'obs' });
    try {
      const base = `${server.http}/live/copy`;
      await waitFor('5 segments', async () => {
        const r = await get(`${base}/source/index.m3u8`);
        return r.status === 200 && parseMediaPlaylist(r.text).segments.length >= 5;
      }, 40_000, 500);

      const info = await streamInfo('copy');
      expect(info.ladder.map((r: Record<string, unknown>) => [r.name, r.passthrough ?? false, r.height])).toEqual([['source', true, 720], ['360p', false, 360]]);
      expect(info.source.gopSeconds).toBeGreaterThan(1.9);
      expect(info.source.gopSeconds).toBeLessThan(2.1);

      const text = (await get(`${base}/source/index.m3u8`)).text;
      const playlist = parseMediaPlaylist(text);
      expect(lowLatencyViolations(playlist)).toEqual([]);
      const init = (await get(`${base}/source/${/URI="(init-[^"]+)"/.exec(text)![1]}`)).body;
      const segs = playlist.segments.slice(-4);
      const bodies = await Promise.all(segs.map(async (s) => (await get(`${base}/source/${s.uri}`)).body));

      // the publisher's own H.264: High profile, level 3.1, 1280x720, with its B-frames
      const video = (await probe(Buffer.concat([init, bodies[0]!]))).find((s) => s.codec_type === 'video')!;
      expect([video.codec_name, video.profile, video.level, video.width, video.height]).toEqual(['h264', 'High', 31, 1280, 720]);
      expect(Number(video.has_b_frames)).toBeGreaterThan(0);

      // every segment starts with a keyframe, holds no other, and lasts at most 2 s + one frame
      for (const [i, s] of segs.entries()) {
        const frames = await probeVideoFrames(Buffer.concat([init, bodies[i]!]));
        expect(frames[0]!.key).toBe(true);
        expect(frames.filter((f) => f.key)).toHaveLength(1);
        expect(s.duration).toBeLessThanOrEqual(2 + 1 / 30 + 0.001);
      }

      // the 360p rung's segments begin at the same instants (keyframes forced where the source has them)
      const small = parseMediaPlaylist((await get(`${base}/360p/index.m3u8`)).text);
      const starts = (p: typeof small) => new Set(p.segments.map((s) => s.programDateTime));
      // (PROGRAM-DATE-TIME is the first picture's presentation time; ms-rounded in the playlist)
      const common = playlist.segments.filter((s) => small.segments.some((t) => Math.abs(t.programDateTime! - s.programDateTime!) <= 2));
      expect(common.length).toBeGreaterThanOrEqual(3);

      // master: CODECS from the source's SPS, its size and frame rate, BANDWIDTH ≥ every measured segment
      const master = (await get(`${base}/master.m3u8`)).text;
      const line = master.split('\n').find((l, i, all) => all[i + 1] === 'source/index.m3u8')!;
      expect(line).toContain('CODECS="avc1.64001f,mp4a.40.2"');
      expect(line).toContain('RESOLUTION=1280x720');
      expect(line).toContain('FRAME-RATE=30.000');
      const bandwidth = Number(/BANDWIDTH=(\d+)/.exec(line)![1]);
      const peak = Math.max(...segs.map((s, i) => (bodies[i]!.length * 8) / s.duration));
      console.log(`passthrough: BANDWIDTH ${bandwidth}, measured peak ${Math.round(peak)} bit/s over the last 4 segments`);
      expect(bandwidth).toBeGreaterThanOrEqual(peak);
    } finally {
      await pub.stop();
    }
  }, 90_000);

  it("re-encodes the rung when the source's keyframes are ~8 s apart, and says which OBS setting to change", async () => {
    const pub = publish(`${server.rtmp}/live/${KEYS.long}`, { size: '1280x720', seconds: 40, gop: 250, encoder: 'obs' });
    try {
      await waitFor('playable', async () => (await get(`${server.http}/live/longgop/master.m3u8`)).status === 200, 40_000, 500);
      const info = await streamInfo('longgop');
      expect(info.ladder.map((r: Record<string, unknown>) => [r.name, r.passthrough ?? false, r.height])).toEqual([['source', false, 720], ['360p', false, 360]]);
      expect(info.source.gopSeconds).toBeGreaterThan(2.1);
      const warning = server.logs().find((l) => l.stream === 'longgop' && String(l.msg).startsWith('passthrough rung "source" is re-encoded'));
      expect(warning?.msg).toMatch(/keyframe interval is at least \d\.\d\d s, which does not fit 2 s segments: set OBS Settings > Output > Streaming > Keyframe Interval to 2 s/);
      expect(warning?.level).toBe(40);
      // re-encoded: 2 s segments anyway (after the two short early ones, one part then 3 parts,
      // for a quick start: ladder.ts earlySegments)
      await waitFor('4 segments', async () => parseMediaPlaylist((await get(`${server.http}/live/longgop/source/index.m3u8`)).text).segments.length >= 4, 20_000, 250);
      const segs = parseMediaPlaylist((await get(`${server.http}/live/longgop/source/index.m3u8`)).text).segments;
      expect(segs.slice(0, 4).map((s) => s.duration)).toEqual([0.2, 0.4, 2, 2]);
    } finally {
      await pub.stop();
    }
  }, 90_000);

  it('stops a copied rung whose source stops sending keyframes at twice the segment duration, and names the cause', async () => {
    // 2 s keyframes for 6 s, then none: a copied segment would grow for as long as the stream lasts
    const pub = publish(`${server.rtmp}/live/${KEYS.stops}`, { size: '640x360', seconds: 40, gop: 60, encoder: 'obs', keyframesUntil: 6 });
    try {
      await waitFor('a failure reported', async () => {
        const s = JSON.parse((await get(`${server.http}/api/streams/nokeys`)).text) as { lastFailure?: { hint: string } | null };
        return s.lastFailure?.hint;
      }, 30_000, 250);
      const s = JSON.parse((await get(`${server.http}/api/streams/nokeys`)).text) as { lastFailure: { hint: string } };
      expect(s.lastFailure.hint).toBe('the source stopped sending keyframes: set OBS Settings > Output > Streaming > Keyframe Interval to 2 s (or use a profile without a passthrough rung)');
      // no segment of the copied rung grew past what rounds to the target duration
      const text = (await get(`${server.http}/live/nokeys/source/index.m3u8`)).text;
      const parsed = parseMediaPlaylist(text);
      expect(parsed.segments.length).toBeGreaterThan(1);
      for (const seg of parsed.segments) expect(Math.round(seg.duration)).toBeLessThanOrEqual(parsed.targetDuration);
    } finally {
      await pub.stop();
    }
  }, 60_000);
});
