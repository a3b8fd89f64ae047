// Fault injection with real processes. During each scenario a crawler polls every playlist every
// 250 ms and fetches every listed piece: no listed URL may answer 404, the media sequence never
// goes back, a URL's bytes never change. Sources are 640x360 so only the 360p rung is encoded and
// the two cores are not the bottleneck.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crawl } from '../helpers/crawler.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';
import { ffmpegChildren, get, killAll, publish, sleep, startServer, tempFile, waitFor, type ServerHandle } from '../helpers/processes.js';

const GRACE_S = 4;
const KEYS = { crash: 'sk_crash_0123456789ab', back: 'sk_back_01234567890ab', late: 'sk_late_01234567890ab', take: 'sk_take_01234567890ab' };
const SMALL = { size: '640x360', seconds: 300 } as const;

/** Newest part ID listed in a rendition's playlist. */
async function newestPart(url: string): Promise<string | undefined> {
  const p = parseMediaPlaylist((await get(url)).text);
  return (p.openParts.at(-1) ?? p.segments.at(-1)?.parts.at(-1))?.uri;
}

async function api(server: ServerHandle, name: string): Promise<Record<string, unknown> | undefined> {
  const body = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<Record<string, unknown>> };
  return body.streams.find((s) => s.name === name);
}

describe('streams that survive the real world', () => {
  let server: ServerHandle;

  beforeAll(async () => {
    const config = tempFile('origin.json', JSON.stringify({ streams: [{ name: 'take', key: KEYS.take, onDuplicate: 'takeover' }] }));
    server = await startServer(
      {
        ORIGIN_STREAM_KEYS: `crash:${KEYS.crash},back:${KEYS.back},late:${KEYS.late},take:${KEYS.take}`,
        ORIGIN_RECONNECT_GRACE: String(GRACE_S),
      },
      ['--config', config],
    );
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    killAll();
  });

  const ready = (name: string) => waitFor(`${name} playable`, async () => (await get(`${server.http}/live/${name}/master.m3u8`)).status === 200, 30_000, 100);

  it('kill -9 of a live ffmpeg: restarted, new parts within 3 s, playlists continue after a discontinuity', async () => {
    const pub = publish(`${server.rtmp}/live/${KEYS.crash}`, SMALL);
    try {
      await ready('crash');
      const c = crawl(`${server.http}/live/crash`);
      await sleep(3000);
      const [pid] = ffmpegChildren(server.proc.pid!);
      expect(pid).toBeGreaterThan(0);
      const before = await newestPart(`${server.http}/live/crash/360p/index.m3u8`);
      process.kill(pid!, 'SIGKILL');
      const killedAt = Date.now();
      // the first new part after the crash sits behind a discontinuity with a new init segment
      await waitFor('a part of the new run', async () => {
        const text = (await get(`${server.http}/live/crash/360p/index.m3u8`)).text;
        return text.includes('#EXT-X-DISCONTINUITY') && (await newestPart(`${server.http}/live/crash/360p/index.m3u8`)) !== before && /DISCONTINUITY\n#EXT-X-MAP[^\n]*\n(#EXT-X-PROGRAM-DATE-TIME[^\n]*\n)?#EXT-X-PART/.test(text);
      }, 10_000, 50);
      const backMs = Date.now() - killedAt;
      console.log(`kill -9: new parts ${backMs} ms after the crash`);
      expect(backMs).toBeLessThan(3000);
      await sleep(4000);
      const report = await c.stop();
      expect(report.violations).toEqual([]);
      expect(report.fetched).toBeGreaterThan(20);
      expect(report.endlists.size).toBe(0);
      const s = await api(server, 'crash');
      expect(s).toMatchObject({ live: true, state: 'live', restarts: 1 });
      expect((s!.lastFailure as { signal: string }).signal).toBe('SIGKILL');
      expect(ffmpegChildren(server.proc.pid!)).toHaveLength(1);
    } finally {
      await pub.stop();
    }
  }, 60_000);

  it('publisher drops and comes back within the grace: same playlists, media sequence goes on, a discontinuity marks the join', async () => {
    const first = publish(`${server.rtmp}/live/${KEYS.back}`, SMALL);
    await ready('back');
    const c = crawl(`${server.http}/live/back`);
    await sleep(3000);
    const seqBefore = parseMediaPlaylist((await get(`${server.http}/live/back/360p/index.m3u8`)).text);
    await first.stop();
    await sleep(1500);
    expect(await api(server, 'back')).toMatchObject({ live: true, state: 'reconnecting' });
    expect(ffmpegChildren(server.proc.pid!)).toHaveLength(0);
    const second = publish(`${server.rtmp}/live/${KEYS.back}`, SMALL);
    try {
      await waitFor('segments of the new publish', async () => {
        const p = parseMediaPlaylist((await get(`${server.http}/live/back/360p/index.m3u8`)).text);
        return p.segments.some((s, i) => i > 0 && s.msn > seqBefore.mediaSequence + seqBefore.segments.length) && (await get(`${server.http}/live/back/360p/index.m3u8`)).text.includes('#EXT-X-DISCONTINUITY');
      }, 20_000, 200);
      await sleep(2000);
      const report = await c.stop();
      expect(report.violations).toEqual([]);
      expect(report.endlists.size).toBe(0);
      expect(report.discontinuities).toBeGreaterThanOrEqual(1);
      const after = parseMediaPlaylist((await get(`${server.http}/live/back/360p/index.m3u8`)).text);
      expect(after.mediaSequence).toBeGreaterThanOrEqual(seqBefore.mediaSequence);
      expect(await api(server, 'back')).toMatchObject({ live: true, state: 'live' });
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('publisher comes back after the grace: the old playlists end with ENDLIST, a new session goes on numbering', async () => {
    const first = publish(`${server.rtmp}/live/${KEYS.late}`, SMALL);
    await ready('late');
    const c = crawl(`${server.http}/live/late`);
    await sleep(2000);
    const oldText = (await get(`${server.http}/live/late/360p/index.m3u8`)).text;
    const oldEpoch = /URI="init-([a-z0-9]+)/.exec(oldText)![1];
    await first.stop();
    await waitFor('ENDLIST after the grace', async () => (await get(`${server.http}/live/late/360p/index.m3u8`)).text.includes('#EXT-X-ENDLIST'), (GRACE_S + 4) * 1000, 100);
    expect(await api(server, 'late')).toMatchObject({ live: false, state: 'ended' });
    const endedSeq = parseMediaPlaylist((await get(`${server.http}/live/late/360p/index.m3u8`)).text);
    const second = publish(`${server.rtmp}/live/${KEYS.late}`, SMALL);
    try {
      await waitFor('the new session', async () => {
        const res = await get(`${server.http}/live/late/360p/index.m3u8`);
        return res.status === 200 && !res.text.includes('#EXT-X-ENDLIST') && !res.text.includes(oldEpoch!) && parseMediaPlaylist(res.text).segments.length > 0;
      }, 20_000, 200);
      const fresh = parseMediaPlaylist((await get(`${server.http}/live/late/360p/index.m3u8`)).text);
      expect(fresh.mediaSequence).toBeGreaterThan(endedSeq.mediaSequence + endedSeq.segments.length - 1);
      await sleep(1000);
      const report = await c.stop();
      expect(report.violations).toEqual([]);
      expect(report.endlists.has('360p')).toBe(true);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('takeover policy: a second publisher with the right key replaces the first, the playlists go on', async () => {
    const first = publish(`${server.rtmp}/live/${KEYS.take}`, SMALL);
    await ready('take');
    const c = crawl(`${server.http}/live/take`);
    await sleep(2000);
    const second = publish(`${server.rtmp}/live/${KEYS.take}`, SMALL);
    try {
      const firstCode = await Promise.race([first.exited, sleep(8000).then(() => 'still running')]);
      expect(firstCode).not.toBe('still running'); // the first publisher was disconnected
      expect(server.logs().some((l) => l.msg === 'publisher taken over' && l.stream === 'take')).toBe(true);
      await waitFor('parts after the takeover', async () => /DISCONTINUITY/.test((await get(`${server.http}/live/take/360p/index.m3u8`)).text), 15_000, 200);
      await sleep(2000);
      expect(second.proc.exitCode).toBeNull();
      const report = await c.stop();
      expect(report.violations).toEqual([]);
      expect(report.endlists.size).toBe(0);
      expect(ffmpegChildren(server.proc.pid!)).toHaveLength(1);
    } finally {
      await second.stop();
      await first.stop();
    }
  }, 60_000);
});

describe('no orphans', () => {
  afterAll(() => killAll());

  it('SIGKILL of the server: its ffmpeg exits by itself (stdin closes)', async () => {
    const server = await startServer({ ORIGIN_STREAM_KEYS: `crash:${KEYS.crash}` });
    const pub = publish(`${server.rtmp}/live/${KEYS.crash}`, SMALL);
    try {
      await waitFor('playable', async () => (await get(`${server.http}/live/crash/master.m3u8`)).status === 200, 30_000);
      const [pid] = ffmpegChildren(server.proc.pid!);
      expect(pid).toBeGreaterThan(0);
      await server.stop('SIGKILL');
      const alive = () => {
        try {
          process.kill(pid!, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor('the orphaned ffmpeg to exit', () => !alive(), 5000, 50);
    } finally {
      await pub.stop();
    }
  }, 60_000);
});

describe('failures and limits', () => {
  afterAll(() => killAll());

  it('a stalled ffmpeg (SIGSTOP) is killed after 3 segment durations and restarted', async () => {
    const server = await startServer({ ORIGIN_STREAM_KEYS: `crash:${KEYS.crash}` });
    const pub = publish(`${server.rtmp}/live/${KEYS.crash}`, SMALL);
    try {
      await waitFor('playable', async () => (await get(`${server.http}/live/crash/master.m3u8`)).status === 200, 30_000);
      const [pid] = ffmpegChildren(server.proc.pid!);
      process.kill(pid!, 'SIGSTOP');
      const stoppedAt = Date.now();
      await waitFor('the stall to be noticed', () => server.logs().some((l) => l.msg === 'ffmpeg stalled: no output while input arrives; killing it'), 12_000, 100);
      const noticedMs = Date.now() - stoppedAt;
      expect(noticedMs).toBeGreaterThanOrEqual(5000);
      await waitFor('a new ffmpeg', () => ffmpegChildren(server.proc.pid!).some((p) => p !== pid), 5000, 100);
      const before = await newestPart(`${server.http}/live/crash/360p/index.m3u8`);
      await waitFor('new parts', async () => (await newestPart(`${server.http}/live/crash/360p/index.m3u8`)) !== before, 5000, 100);
      const s = await api(server, 'crash');
      expect(s).toMatchObject({ state: 'live', restarts: 1 });
      expect((s!.lastFailure as { hint: string }).hint).toContain('overloaded');
    } finally {
      await pub.stop();
      await server.stop('SIGKILL');
    }
  }, 60_000);

  it('an ffmpeg that keeps failing marks the stream failed: exit code and hint for all, stderr for an admin, a clean reason in the event', async () => {
    // A stand-in for an ffmpeg that cannot decode the source (HEVC from OBS 30+): it answers
    // -version (and fluent-ffmpeg's capability queries) like the real one and fails every run the way
    // ffmpeg 5.1 does.
    const fake = tempFile('ffmpeg', `#!/bin/sh\ncase "$*" in *-version*|*-formats*|*-encoders*|*-codecs*|*-filters*) exec ffmpeg "$@";; esac\necho "[flv @ 0x1] Video codec 12 is not implemented." >&2\necho "Decoder (codec hevc) not found for input stream #0:0" >&2\nexit 1\n`);
    execFileSync('chmod', ['+x', fake]);
    const ADMIN = 'admin-token-for-the-crash-test';
    const server = await startServer({ ORIGIN_STREAM_KEYS: `crash:${KEYS.crash}`, FFMPEG_PATH: fake, ORIGIN_ADMIN_TOKEN: ADMIN });
    const events: string[] = [];
    const sse = await fetch(`${server.http}/api/events`);
    void (async () => {
      const reader = sse.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        events.push(Buffer.from(value!).toString());
      }
    })();
    const pub = publish(`${server.rtmp}/live/${KEYS.crash}`, SMALL);
    try {
      await waitFor('the stream to fail', async () => (await api(server, 'crash'))?.state === 'failed', 40_000, 250);
      const s = (await api(server, 'crash'))!;
      expect(s.live).toBe(false);
      // the public sees how ffmpeg ended and the fix; its lines (paths, pid) are for an admin
      const failure = s.lastFailure as { code: number; stderr?: string[]; hint: string };
      expect(failure.code).toBe(1);
      expect(failure.stderr).toBeUndefined();
      expect(failure.hint).toContain('H.264');
      const adminView = JSON.parse((await get(`${server.http}/api/streams/crash`, { headers: { authorization: `Bearer ${ADMIN}` } })).text) as { lastFailure: { stderr: string[] } };
      expect(adminView.lastFailure.stderr.join('\n')).toContain('Decoder (codec hevc) not found');
      await waitFor('the failed event', () => events.join('').includes('event: stream.failed'), 5000, 50);
      const failedEvent = events.join('').split('event: stream.failed\ndata: ')[1]!.split('\n')[0]!;
      expect(JSON.parse(failedEvent)).toMatchObject({ name: 'crash', error: expect.stringMatching(/^ffmpeg exited with code 1; .*H\.264/) });
      expect(failedEvent).not.toContain('Decoder');
      const failed = server.logs().find((l) => String(l.msg).startsWith('stream failed'));
      expect(failed).toMatchObject({ stream: 'crash', level: 50 });
      expect(String(failed!.msg)).toContain('ffmpeg exited with code 1');
      expect(server.logs().filter((l) => l.msg === 'restarting ffmpeg').length).toBe(5);
      // the publisher is let go, so OBS's own reconnect gets a fresh session
      await waitFor('publisher disconnected', () => pub.proc.exitCode !== null, 5000);
    } finally {
      await sse.body?.cancel().catch(() => {});
      await pub.stop();
      await server.stop('SIGKILL');
    }
  }, 60_000);

  it('refuses a publisher beyond ORIGIN_MAX_STREAMS with a clear log line, leaving the live one alone', async () => {
    const server = await startServer({ ORIGIN_STREAM_KEYS: `crash:${KEYS.crash},back:${KEYS.back}`, ORIGIN_MAX_STREAMS: '1' });
    const pub = publish(`${server.rtmp}/live/${KEYS.crash}`, SMALL);
    try {
      await waitFor('playable', async () => (await get(`${server.http}/live/crash/master.m3u8`)).status === 200, 30_000);
      const extra = publish(`${server.rtmp}/live/${KEYS.back}`, SMALL);
      const code = await Promise.race([extra.exited, sleep(8000).then(() => 'still running')]);
      await extra.stop();
      expect(code).not.toBe('still running');
      expect(server.logs().find((l) => l.msg === 'publisher refused: live stream limit reached (ORIGIN_MAX_STREAMS)')).toMatchObject({ stream: 'back', maxStreams: 1 });
      expect(await api(server, 'back')).toBeUndefined();
      expect(await api(server, 'crash')).toMatchObject({ live: true });
      expect(pub.proc.exitCode).toBeNull();
    } finally {
      await pub.stop();
      await server.stop('SIGKILL');
    }
  }, 60_000);
});
