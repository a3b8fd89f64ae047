// A viewer's player keeps playing across a publisher reconnect (within the grace), without a reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { get, killAll, publish, sleep, startServer, waitFor, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
const NAME = 'studio';
const KEY = 'sk_reconnect_0123456789';

describe.skipIf(skip !== undefined)('player across a publisher reconnect (Chromium)', () => {
  let server: ServerHandle;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
    browser = await launch();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('currentTime advances again after the gap, same page, no reload', async () => {
    const first = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120, size: '640x360' });
    await waitFor('master', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000);
    await page.goto(`${server.http}/watch/${NAME}`);
    await page.evaluate(() => ((window as unknown as { loaded: number }).loaded = Date.now()));
    await page.waitForFunction(() => document.querySelector('video')!.currentTime > 2, undefined, { timeout: 30_000 });
    await first.stop();
    await sleep(3000);
    const during = await page.evaluate(() => document.querySelector('video')!.currentTime);
    const second = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120, size: '640x360' });
    try {
      // playback goes on well past where it stood during the gap
      await page.waitForFunction((t) => document.querySelector('video')!.currentTime > t + 3, during, { timeout: 30_000 });
      const sameDocument = await page.evaluate(() => typeof (window as unknown as { loaded?: number }).loaded === 'number');
      expect(sameDocument).toBe(true);
      const status = await page.locator('#status').isVisible();
      expect(status).toBe(false);
    } finally {
      await second.stop();
    }
  }, 90_000);
});
