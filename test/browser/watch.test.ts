// The bundled player in real headless Chromium while a real ffmpeg publishes over RTMP.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { get, killAll, publish, startServer, waitFor, ROOT, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
if (skip) console.log(`browser tests skipped: ${skip}`);

const NAME = 'studio';
const KEY = 'sk_browser_0123456789ab';

describe.skipIf(skip !== undefined)('player in Chromium', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    browser = await launch();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('lists the live stream on the directory page', async () => {
    await waitFor('stream in API', async () => (await get(`${server.http}/api/streams`)).text.includes(`"name":"${NAME}"`), 15_000);
    await page.goto(`${server.http}/`);
    const card = page.locator(`a[href="/watch/${NAME}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.textContent()).toContain(NAME);
  });

  it('plays /watch/<name>: currentTime advances 3 s, hls.js reports 3 levels, the quality menu switches', async () => {
    await page.goto(`${server.http}/watch/${NAME}`);
    await page.waitForFunction(() => {
      const w = window as unknown as { hls?: { levels: unknown[] } };
      return (w.hls?.levels.length ?? 0) > 0;
    }, undefined, { timeout: 30_000 });
    const start = await page.waitForFunction(() => {
      const v = document.querySelector('video')!;
      return v.currentTime > 0 ? v.currentTime : false;
    }, undefined, { timeout: 30_000 }).then((h) => h.jsonValue() as Promise<number>);
    await page.waitForFunction((t0) => document.querySelector('video')!.currentTime >= t0 + 3, start, { timeout: 20_000 });
    const levels = await page.evaluate(() => (window as unknown as { hls: { levels: Array<{ height: number }> } }).hls.levels.map((l) => l.height));
    expect(levels).toEqual([360, 480, 720]); // hls.js orders levels by bitrate
    const options = await page.locator('#quality option').allTextContents();
    expect(options).toEqual(['Auto', expect.stringMatching(/^720p/), expect.stringMatching(/^480p/), expect.stringMatching(/^360p/)]);

    await page.selectOption('#quality', { label: options[3]! }); // 360p
    await page.waitForFunction(() => document.querySelector('video')!.videoHeight === 360, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => document.getElementById('playing')!.textContent!.startsWith('360p'), undefined, { timeout: 5_000 });
    expect(await page.locator('#playing').textContent()).toMatch(/^360p · \d+ kbit\/s$/);
    await page.selectOption('#quality', '-1');
    expect(await page.evaluate(() => (window as unknown as { hls: { autoLevelEnabled: boolean } }).hls.autoLevelEnabled)).toBe(true);
    mkdirSync(`${ROOT}/test-output`, { recursive: true });
    await page.screenshot({ path: `${ROOT}/test-output/watch.png` });
  }, 90_000);
});
