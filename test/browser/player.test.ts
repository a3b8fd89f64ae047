// The bundled player as a viewer meets it, in real Chromium: the directory updates by itself, the
// watch page plays real (non-black) frames, the stats overlay moves, the stream ends and comes
// back without a reload, the embed page plays, keyboard and phone width work.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { killAll, publish, startServer, ROOT, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { browserUnavailable, launch } from '../helpers/browser.js';

const skip = browserUnavailable();
const NAME = 'studio';
const KEY = 'sk_player_0123456789ab';

/** Mean and spread of the luma of the current video frame, drawn into a canvas. */
async function frameLuma(page: Page): Promise<{ mean: number; spread: number }> {
  return page.evaluate(() => {
    const v = document.querySelector('video')!;
    const c = document.createElement('canvas');
    c.width = 64;
    c.height = 36;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(v, 0, 0, c.width, c.height);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const ys: number[] = [];
    for (let i = 0; i < d.length; i += 4) ys.push(0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const spread = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length);
    return { mean, spread };
  });
}

describe.skipIf(skip !== undefined)('the bundled player (Chromium)', () => {
  let server: ServerHandle;
  let browser: BrowserContext;
  let page: Page;
  let pub: Publisher | undefined;

  beforeAll(async () => {
    // no reconnect grace: stopping the publisher ends the stream at once
    server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_RECONNECT_GRACE: '0' });
    browser = await launch();
    page = await browser.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pub?.stop();
    await server?.stop('SIGKILL');
    killAll();
  });

  it('the directory shows how to go live, then a newly published stream within 5 s, without reload, with a thumbnail', async () => {
    await page.goto(`${server.http}/`);
    await page.locator('#empty').waitFor({ state: 'visible' });
    expect(await page.locator('#empty').textContent()).toContain('rtmp://');
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const t0 = Date.now();
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    await page.locator(`a[href="/watch/${NAME}"]`).waitFor({ timeout: 5000 });
    console.log(`directory card ${Date.now() - t0} ms after the publisher started`);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1); // same page
    expect(await page.locator('#empty').isHidden()).toBe(true);
    // the first thumbnail is written ~10 s after ffmpeg starts (ffmpeg holds the first JPEG until the second selection)
    await page.waitForFunction(() => (document.querySelector('.card img') as HTMLImageElement | null)?.naturalWidth === 320, undefined, { timeout: 30_000 });
  }, 50_000);

  it('plays real frames, shows a stats overlay whose numbers change, and takes a screenshot', async () => {
    await page.click(`a[href="/watch/${NAME}"]`);
    await page.waitForFunction(() => document.querySelector('video')!.currentTime > 1 && document.querySelector('video')!.readyState >= 2, undefined, { timeout: 30_000 });
    const luma = await frameLuma(page);
    // testsrc2 is colour bars: bright on average and far from uniform; a black frame is neither
    expect(luma.mean).toBeGreaterThan(40);
    expect(luma.spread).toBeGreaterThan(20);
    await page.keyboard.press('s');
    await page.locator('#stats').waitFor({ state: 'visible' });
    expect(await page.locator('#stats-toggle').getAttribute('aria-pressed')).toBe('true');
    const read = () => page.evaluate(() => ['st-rendition', 'st-resolution', 'st-bitrate', 'st-bandwidth', 'st-buffer', 'st-latency', 'st-dropped'].map((id) => document.getElementById(id)!.textContent));
    await page.waitForFunction(() => document.getElementById('st-latency')!.textContent !== '–', undefined, { timeout: 5000 });
    const first = await read();
    await page.waitForTimeout(2500);
    const second = await read();
    expect(first[1]).toMatch(/^\d+×\d+$/);
    expect(first[3]).toMatch(/Mbit\/s$/);
    expect(first[5]).toMatch(/^\d+\.\d\d s$/);
    expect(second).not.toEqual(first);
    // the graph has been drawn
    const inked = await page.evaluate(() => {
      const c = document.getElementById('graph') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2]! > 200 || d[i + 1]! > 180) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(20);
    mkdirSync(`${ROOT}/test-output`, { recursive: true });
    await page.screenshot({ path: `${ROOT}/test-output/watch-stats.png` });
  }, 60_000);

  it('keyboard and controls: m mutes, k pauses, the LIVE badge brings back to the edge', async () => {
    const muted = await page.evaluate(() => document.querySelector('video')!.muted);
    await page.keyboard.press('m');
    expect(await page.evaluate(() => document.querySelector('video')!.muted)).toBe(!muted);
    await page.keyboard.press('k');
    expect(await page.evaluate(() => document.querySelector('video')!.paused)).toBe(true);
    await page.waitForTimeout(2500);
    await page.waitForFunction(() => document.getElementById('live')!.textContent!.startsWith('LIVE −'), undefined, { timeout: 5000 });
    await page.click('#live');
    await page.waitForFunction(() => !document.querySelector('video')!.paused && document.getElementById('live')!.classList.contains('at-edge'), undefined, { timeout: 10_000 });
    const names = await page.evaluate(() => [...document.querySelectorAll('button, select, input')].map((el) => el.getAttribute('aria-label') ?? ''));
    expect(names.every((n) => n.length > 0)).toBe(true);
  }, 30_000);

  it('says "Stream ended" when the publisher stops, and resumes by itself when it publishes again', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 2));
    await pub!.stop();
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'Stream ended' && !document.getElementById('status')!.hidden, undefined, { timeout: 20_000 });
    // a viewer who opens the page after the end is told so too (not "Waiting for the stream…")
    const late = await browser.newPage();
    try {
      await late.goto(`${server.http}/watch/${NAME}`);
      await late.waitForFunction(() => document.getElementById('status')!.textContent === 'Stream ended' && !document.getElementById('status')!.hidden, undefined, { timeout: 10_000 });
    } finally {
      await late.close();
    }
    pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 120 });
    await page.waitForFunction(() => document.getElementById('status')!.hidden, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => {
      const v = document.querySelector('video')!;
      return !v.paused && v.currentTime > 1;
    }, undefined, { timeout: 30_000 });
    const t1 = await page.evaluate(() => document.querySelector('video')!.currentTime);
    await page.waitForTimeout(2000);
    expect(await page.evaluate(() => document.querySelector('video')!.currentTime)).toBeGreaterThan(t1 + 1);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(2); // no reload
  }, 90_000);

  it('the embed page plays and fits a phone-width iframe', async () => {
    const phone = await browser.newPage();
    await phone.setViewportSize({ width: 375, height: 667 });
    try {
      await phone.goto(`${server.http}/embed/${NAME}`);
      await phone.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 30_000 });
      expect(await phone.locator('header').count()).toBe(0);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      const watch = await browser.newPage();
      await watch.setViewportSize({ width: 375, height: 667 });
      await watch.goto(`${server.http}/watch/${NAME}`);
      await watch.locator('#quality').waitFor();
      expect(await watch.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await watch.close();
    } finally {
      await phone.close();
    }
  }, 60_000);
});
