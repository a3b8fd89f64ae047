// The bundled player in LL-HLS mode in real Chromium: 3 renditions, latency under 2 s for 30 s, no stalls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { killAll, publish, startServer, waitFor, get, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
const NAME = 'studio';
const KEY = 'sk_llbrowser_0123456789';

describe.skipIf(skip !== undefined)('LL-HLS in the bundled player (Chromium)', () => {
  let server: ServerHandle;
  let pub: Publisher;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    await waitFor('master', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000);
    browser = await launch();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('plays in lowLatencyMode with 3 renditions and hls.latency under 2 s for 30 s without stalls', async () => {
    await page.goto(`${server.http}/watch/${NAME}`);
    await page.waitForFunction(() => document.querySelector('video')!.currentTime > 0.5, undefined, { timeout: 30_000 });
    const setup = await page.evaluate(() => {
      const w = window as unknown as { hls: { config: { lowLatencyMode: boolean }; levels: Array<{ details?: { partTarget: number } }> } };
      return { ll: w.hls.config.lowLatencyMode, levels: w.hls.levels.length };
    });
    expect(setup).toEqual({ ll: true, levels: 3 });
    // let hls.js settle on its target (PART-HOLD-BACK) and its first ABR choice, then count stalls
    await page.waitForTimeout(3000);
    await page.evaluate(() => {
      const v = document.querySelector('video')!;
      const log: string[] = ((window as unknown as { stallLog: string[] }).stallLog = []);
      const t0 = performance.now();
      v.addEventListener('waiting', () => log.push(`waiting at ${((performance.now() - t0) / 1000).toFixed(1)} s, t=${v.currentTime.toFixed(2)}`));
    });
    const samples: number[] = [];
    const progress: number[] = [];
    for (let i = 0; i < 30; i++) {
      await page.waitForTimeout(1000);
      const s = await page.evaluate(() => {
        const w = window as unknown as { hls: { latency: number } };
        return { latency: w.hls.latency, t: document.querySelector('video')!.currentTime };
      });
      samples.push(s.latency);
      progress.push(s.t);
    }
    const stallLog = await page.evaluate(() => (window as unknown as { stallLog: string[] }).stallLog);
    const stalls = stallLog.length;
    if (stalls) console.log(stallLog.join('\n'));
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(`hls.latency over 30 s: median ${sorted[15]!.toFixed(2)} s, max ${sorted.at(-1)!.toFixed(2)} s, stalls ${stalls}`);
    expect(Math.max(...samples)).toBeLessThan(2);
    expect(stalls).toBe(0);
    expect(progress.at(-1)! - progress[0]!).toBeGreaterThan(27);
    const details = await page.evaluate(() => {
      const w = window as unknown as { hls: { levels: Array<{ details?: { partTarget: number; canBlockReload: boolean } }>; currentLevel: number } };
      const d = w.hls.levels[w.hls.currentLevel]!.details!;
      return { partTarget: d.partTarget, canBlockReload: d.canBlockReload };
    });
    expect(details).toEqual({ partTarget: 0.2, canBlockReload: true });
  }, 90_000);
});
