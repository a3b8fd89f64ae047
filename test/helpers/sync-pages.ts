/**
 * The "viewers in step" scenario of issue 17, shared by test/browser/sync.test.ts (which asserts
 * it) and `npm run bench:latency` (which reports it): four bundled players on one stream with
 * `?sync=<target>`, joined 3 s apart, the first with a clock 1.5 s fast, the second behind an
 * emulated 100 ms / 5 Mbit/s link. Every second all pages are sampled at once for the
 * PROGRAM-DATE-TIME of the frame on screen (hls.playingDate: it does not depend on the page's clock).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { emulateLink } from './browser.js';
import { sleep } from './processes.js';

/** How fast the first page's clock runs. */
export const SKEW_MS = 1500;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

/** Opens the four pages on `watchUrl` (which carries `?sync=`), `joinGapMs` apart. */
export async function openSyncPages(browser: BrowserContext, watchUrl: string, joinGapMs = 3000): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < 4; i++) {
    const page = await browser.newPage();
    if (i === 0) {
      // (a string, not a function: tsx, which runs the benches, wraps a named class in a helper
      // the page lacks)
      await page.addInitScript({
        content: `(() => {
          const D = Date, now = D.now.bind(D), skew = ${SKEW_MS};
          class Skewed extends D {
            constructor(...a) { if (a.length) super(...a); else super(now() + skew); }
            static now() { return now() + skew; }
          }
          globalThis.Date = Skewed;
        })();`,
      });
    }
    if (i === 1) await emulateLink(browser, page, { latencyMs: 100, downMbit: 5, upMbit: 1 });
    await page.goto(watchUrl);
    if (i === 0) {
      // the scenario is void if the skew did not take: the page's Date against the browser's real clock
      const skew = await page.evaluate(() => Date.now() - (performance.timeOrigin + performance.now()));
      if (Math.abs(skew - SKEW_MS) > 100) throw new Error(`the skewed page's clock is ${Math.round(skew)} ms off, not ${SKEW_MS}`);
    }
    pages.push(page);
    await sleep(joinGapMs);
  }
  return pages;
}

/**
 * PDT (ms) of the frame on screen in each page, brought to one instant; null where a page has none.
 * The pages answer one after the other (tens of ms apart on 2 busy cores), so each also gives the
 * moment it was read, by the browser's real clock (performance.timeOrigin + now(): the skewed
 * page fakes only Date), and its playback rate: the PDT at the common instant is pdt + rate × Δt.
 * Without this the harness's own sampling delay showed up as spread (a 150 ms p95 once in CI).
 */
async function sample(pages: Page[]): Promise<(number | null)[]> {
  const read = await Promise.all(
    pages.map((p) =>
      p.evaluate(() => {
        const pdt = (window as unknown as { hls?: { playingDate?: Date | null } }).hls?.playingDate?.getTime() ?? null;
        const v = document.querySelector('video');
        const rate = v && !v.paused && !v.seeking && v.readyState >= 3 ? v.playbackRate : 0;
        return { pdt, at: performance.timeOrigin + performance.now(), rate };
      }),
    ),
  );
  const ref = Math.max(...read.map((r) => r.at));
  return read.map((r) => (r.pdt === null ? null : r.pdt + r.rate * (ref - r.at)));
}

/** Once a second for `seconds`: the spread (ms) of the pages `which`, and each one's latency (s, by this process's clock). */
export async function spreads(pages: Page[], which: number[], seconds: number): Promise<{ spread: number[]; latency: number[][]; missing: number }> {
  const spread: number[] = [];
  const latency: number[][] = which.map(() => []);
  let missing = 0;
  for (let s = 0; s < seconds; s++) {
    const at = Date.now();
    const dates = await sample(pages);
    const vals = which.map((i) => dates[i]);
    if (vals.some((v) => v === null)) missing++;
    else {
      spread.push(Math.max(...(vals as number[])) - Math.min(...(vals as number[])));
      vals.forEach((v, k) => latency[k]!.push((at - v!) / 1000));
    }
    await sleep(1000);
  }
  return { spread, latency, missing };
}

/** Takes `page` off the network for `ms` (DevTools' offline emulation), then back on an unthrottled link. */
export async function cutNetwork(browser: BrowserContext, page: Page, ms: number): Promise<void> {
  await emulateLink(browser, page, { latencyMs: 0, downMbit: 0, offline: true });
  await sleep(ms);
  await emulateLink(browser, page, { latencyMs: 0, downMbit: 0 });
}
