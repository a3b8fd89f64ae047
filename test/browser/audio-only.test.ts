// The audio-only rung plays in hls.js (Chromium): hls.js leaves an audio-only variant out of its
// levels when the master has video ones, so the player is given the audio playlist directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { get, killAll, publish, startServer, tempFile, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
const KEY = 'sk_audio_0123456789abc';

describe.skipIf(skip !== undefined)('audio-only rendition in hls.js (Chromium)', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let browser: BrowserContext;

  beforeAll(async () => {
    const config = tempFile('origin.json', JSON.stringify({ streams: [{ name: 'radio', key: KEY, profile: 'low-cpu' }] }));
    server = await startServer({}, ['--config', config]);
    pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 120, gop: 60 });
    await waitFor('audio playlist', async () => (await get(`${server.http}/live/radio/audio/index.m3u8`)).status === 200, 30_000, 200);
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('plays the AAC-only playlist: one level, audio decoded, no picture, currentTime advances', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.http}/watch/radio`);
    await page.waitForFunction(() => (window as unknown as { hls?: unknown }).hls !== undefined, undefined, { timeout: 30_000 });
    await page.evaluate(() => {
      const w = window as unknown as { hls: { loadSource(u: string): void } };
      w.hls.loadSource('/live/radio/audio/index.m3u8');
    });
    await page.waitForFunction(() => {
      const h = (window as unknown as { hls: { levels: Array<{ audioCodec?: string }> } }).hls;
      return h.levels.length === 1 && document.querySelector('video')!.currentTime > 0.5;
    }, undefined, { timeout: 30_000 });
    const t0 = await page.evaluate(() => document.querySelector('video')!.currentTime);
    await page.waitForFunction((t) => document.querySelector('video')!.currentTime > t + 3, t0, { timeout: 15_000 });
    const media = await page.evaluate(() => {
      const v = document.querySelector('video') as HTMLVideoElement & { webkitAudioDecodedByteCount?: number; webkitVideoDecodedByteCount?: number };
      return { audioBytes: v.webkitAudioDecodedByteCount ?? -1, videoBytes: v.webkitVideoDecodedByteCount ?? -1, height: v.videoHeight };
    });
    // (hls.js learns no CODECS from a media playlist loaded directly; the decoder counters tell)
    expect(media.audioBytes).toBeGreaterThan(10_000);
    expect(media.videoBytes).toBe(0);
    expect(media.height).toBe(0);
    await page.close();
  }, 60_000);
});
