// DVR and past broadcasts in the bundled player (real Chromium, real publisher, file store): a
// viewer seeks 60 s back in a live stream with ORIGIN_DVR_SECONDS (old segments come from the
// store) and plays, LIVE brings them back to the edge, a viewer who joins meanwhile starts at the
// edge; after the broadcast the recording plays from its start to its end on the watch page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { get, killAll, publish, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
const NAME = 'dvr';
const KEY = 'sk_dvr_browser_0123456789';
const SECONDS = 100; // the live test ends at ~95 s

interface State { t: number; played: number; latency: number | null; seekable: [number, number] | null; seekHidden: boolean; status: string; paused: boolean; ended: boolean; duration: number; error: string | null }
const state = (page: Page): Promise<State> =>
  page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const hls = (window as unknown as { hls?: { latency: number } }).hls;
    const s = v.seekable;
    let played = 0;
    for (let i = 0; i < v.played.length; i++) played += v.played.end(i) - v.played.start(i);
    return {
      t: v.currentTime,
      played,
      latency: hls && Number.isFinite(hls.latency) ? hls.latency : null,
      seekable: s.length ? [s.start(0), s.end(s.length - 1)] as [number, number] : null,
      seekHidden: (document.getElementById('seek') as HTMLInputElement).hidden,
      status: (document.getElementById('status') as HTMLElement).hidden ? '' : document.getElementById('status')!.textContent ?? '',
      paused: v.paused,
      ended: v.ended,
      duration: v.duration,
      error: v.error ? `${v.error.code} ${v.error.message}` : null,
    };
  });

describe.skipIf(skip !== undefined)('DVR and past broadcasts in the player', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let browser: BrowserContext;
  let startedAt = 0;
  const failed: string[] = [];

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_RECORD: 'all', ORIGIN_DVR_SECONDS: '120', ORIGIN_RECONNECT_GRACE: '3' });
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: SECONDS, size: '640x360', gop: 60 });
    startedAt = Date.now();
    browser = await launch();
    // every answer the pages get that is not a success is a failure of this test
    browser.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('seeks 60 s back in the live stream and plays from the store; LIVE returns to the edge; a new viewer joins at the edge', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.http}/watch/${NAME}`);
    await waitFor('playing', async () => ((await state(page)).played > 2 ? true : undefined), 30_000);
    expect((await state(page)).seekHidden).toBe(true); // the window is too short to seek in yet
    // a player that falls behind without the viewer asking (here: moved back 5 s by script, as a
    // stall would) is brought back to the edge once it has played 5 s without a stall (after the
    // first 15 s, where it is brought back at once, and 30 s after any earlier jump)
    await sleep(Math.max(0, startedAt + 45_000 - Date.now()));
    await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      v.currentTime = Math.max(0, v.currentTime - 5);
    });
    await sleep(1000);
    expect((await state(page)).latency!).toBeGreaterThan(4);
    await waitFor('back at the edge by itself', async () => ((await state(page)).latency! < 2.5 ? true : undefined), 15_000, 250);
    await sleep(Math.max(0, startedAt + 78_000 - Date.now()));
    const before = await state(page);
    expect(before.seekHidden).toBe(false);
    expect(before.seekable![1] - before.seekable![0]).toBeGreaterThan(65);
    expect(before.latency!).toBeLessThan(3);
    // drag the timeline 60 s back
    await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      const seek = document.getElementById('seek') as HTMLInputElement;
      seek.value = String(v.currentTime - 60);
      seek.dispatchEvent(new Event('input'));
    });
    await sleep(1500);
    const back = await state(page);
    await sleep(8000); // longer than the 5 s after which a player that fell behind by itself is brought back
    const later = await state(page);
    expect(later.t - back.t, JSON.stringify([back, later])).toBeGreaterThan(6); // it plays
    expect(later.latency!, JSON.stringify(later)).toBeGreaterThan(55);
    expect(later.latency!).toBeLessThan(66);
    expect(later.error).toBeNull();
    expect(await page.locator('#position').textContent()).toMatch(/^−1:0\d$|^−0:5\d$/);
    // a second viewer who opens the page now starts at the live edge
    const late = await browser.newPage();
    await late.goto(`${server.http}/watch/${NAME}`);
    // (played, not currentTime: in a DVR window a player that has only seeked to the edge is at
    // t ≈ 90 s already, and hls.js's latency is the one of its last timeupdate, before that seek:
    // seen in CI as a late viewer "87.8 s behind" that had not started yet)
    await waitFor('late viewer playing', async () => ((await state(late)).played > 2 ? true : undefined), 20_000);
    const lateState = await state(late);
    expect(lateState.latency!, JSON.stringify(lateState)).toBeLessThan(3);
    // LIVE
    await page.locator('#live').click();
    await sleep(3000);
    const live = await state(page);
    expect(live.latency!, JSON.stringify(live)).toBeLessThan(3);
    expect(live.paused).toBe(false);
    await late.close();
    await page.close();
    expect(failed).toEqual([]);
  }, 150_000);

  it('plays the recording from its start to its end on the watch page', async () => {
    await pub.exited;
    const rec = await waitFor('recording', async () => {
      const list = (JSON.parse((await get(`${server.http}/api/recordings?stream=${NAME}`)).text) as { recordings: Array<{ id: string; endedAt: string | null; durationSeconds: number }> }).recordings;
      return list[0]?.endedAt ? list[0] : undefined;
    }, 20_000);
    expect(rec.durationSeconds).toBeGreaterThan(SECONDS - 3);
    // the directory page lists it
    const dir = await browser.newPage();
    await dir.goto(`${server.http}/`);
    const link = dir.locator(`a[href="/watch/${NAME}?recording=${rec.id}"]`);
    await link.waitFor({ timeout: 10_000 });
    await dir.close();
    const page = await browser.newPage();
    await page.goto(`${server.http}/watch/${NAME}?recording=${rec.id}`);
    await waitFor('VOD playing', async () => ((await state(page)).t > 0.5 ? true : undefined), 20_000);
    const start = await state(page);
    expect(start.seekable![0]).toBeLessThan(0.5); // from the start, not the end
    expect(start.t).toBeLessThan(10);
    expect(Math.abs(start.duration - rec.durationSeconds), JSON.stringify(start)).toBeLessThan(1.5);
    await page.evaluate(() => ((document.getElementById('video') as HTMLVideoElement).playbackRate = 8));
    const end = await waitFor('end of the broadcast', async () => {
      const s = await state(page);
      return s.ended || s.status === 'End of the broadcast' ? s : undefined;
    }, 40_000);
    expect(end.t).toBeGreaterThan(rec.durationSeconds - 1.5);
    expect(end.error).toBeNull();
    expect(await page.locator('#title').textContent()).toBe(`${NAME} · past broadcast`);
    await page.close();
    expect(failed).toEqual([]);
  }, 90_000);
});
