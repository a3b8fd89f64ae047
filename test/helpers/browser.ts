/**
 * Debian's Chromium driven by playwright-core (no browser download). Flags from ../shared/DESIGN.md:
 * without the background-networking flags Chromium keeps dialing Google's hosts on this closed network.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

/** Where Debian puts Chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. With CI=true they must run. */
export function browserUnavailable(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires the browser tests: ${reason}`);
  return reason;
}

/** Launches headless Chromium with a fresh profile; close the context to end it. */
export async function launch(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'lo-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * One DevTools session per page: conditions are per session, and one session's offline state
 * outlives another session's "online" (an outage never ended when each call opened its own).
 */
const sessions = new WeakMap<Page, CDPSession>();

/**
 * Puts `page` behind an emulated link (DevTools network conditions): `latencyMs` is added per
 * request (the RTT the issues name); `offline` cuts it. Call again to change or lift it (0 / -1 =
 * no limit).
 */
export async function emulateLink(
  browser: BrowserContext,
  page: Page,
  link: { latencyMs: number; downMbit: number; upMbit?: number; offline?: boolean },
): Promise<void> {
  const bytesPerSecond = (mbit: number) => (mbit > 0 ? (mbit * 1e6) / 8 : -1);
  let cdp = sessions.get(page);
  if (!cdp) {
    cdp = await browser.newCDPSession(page);
    await cdp.send('Network.enable');
    sessions.set(page, cdp);
  }
  await cdp.send('Network.emulateNetworkConditions', {
    offline: link.offline ?? false,
    latency: link.latencyMs,
    downloadThroughput: bytesPerSecond(link.downMbit),
    uploadThroughput: bytesPerSecond(link.upMbit ?? link.downMbit),
  });
}
