/**
 * Real players in Chromium for fault tests: the bundled hls.js watch page and an independent
 * player (Shaka Player from npm, a devDependency used only here) on a minimal page. Each page
 * samples its <video> every 100 ms (time, paused, ended, distance to the live edge, PDT latency)
 * and records every HTTP answer it did not expect, so a test can measure stalls and see errors.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT } from './processes.js';

/** The players a fault test watches with. */
export type PlayerKind = 'bundled' | 'shaka';

/** One sample of a page's video element. */
export interface Sample {
  t: number;
  ct: number;
  paused: boolean;
  ended: boolean;
  /** Seconds from the playhead to the live edge (end of the seekable range; Shaka: end of the buffer), when known. */
  behind: number | null;
  /** now − the playing frame's PROGRAM-DATE-TIME, in seconds, when the player tells it. */
  latency: number | null;
}

/** A player page being watched. */
export interface WatchedPlayer {
  kind: PlayerKind;
  page: Page;
  /** Samples taken since `since` (ms). */
  samples(since?: number): Promise<Sample[]>;
  /** Answers other than 2xx/304, uncaught page errors and player errors, with time. */
  problems: Array<{ t: number; what: string }>;
  close(): Promise<void>;
}

/**
 * DEBUG_PLAYER_LOG=1 (when a player test misbehaves): every page's console (hls.js's own log via
 * the page's ?debug=1, a sample line every 100 ms) and every playlist answer's validators, each
 * line tagged `<kind>#<page> <ms mod 100000>` so it lines up with the rig's "back after" time.
 */
const DEBUG = Boolean(process.env.DEBUG_PLAYER_LOG);
let pages = 0;
const SAMPLER = `
  window.__samples = [];
  setInterval(() => {
    const v = document.querySelector('video');
    if (!v) return;
    // The live edge: the page's own measure when it has one (Shaka), else the end of the seekable range.
    const s = v.seekable;
    const end = window.__edge ? window.__edge() : s.length ? s.end(s.length - 1) : NaN;
    let date = null;
    try { date = window.__playingDate ? window.__playingDate() : (window.hls && window.hls.playingDate ? window.hls.playingDate.getTime() : null); } catch (e) {}
    window.__samples.push({ t: Date.now(), ct: v.currentTime, paused: v.paused, ended: v.ended,
      behind: Number.isFinite(end) ? end - v.currentTime : null, latency: date ? (Date.now() - date) / 1000 : null });
    if (window.__debugSamples) console.log('sample ct=' + v.currentTime.toFixed(2) + ' seekable=' + (s.length ? s.start(0).toFixed(2) + '-' + s.end(s.length - 1).toFixed(2) : '-') + ' buffered=' + (v.buffered.length ? v.buffered.start(0).toFixed(2) + '-' + v.buffered.end(v.buffered.length - 1).toFixed(2) : '-') + ' rate=' + v.playbackRate + ' paused=' + v.paused + ' dur=' + v.duration);
    if (window.__samples.length > 20000) window.__samples.splice(0, 5000);
  }, 100);
`;

/**
 * The Shaka page: plays the stream with LL-HLS on, and like any site that embeds a player, starts
 * again by itself after the stream ended once the stream is back (polling the playlists).
 */
function shakaPage(src: string): string {
  return `<!doctype html><html><body style="margin:0;background:#000">
<video id="video" muted autoplay playsinline style="width:640px;height:360px"></video>
<script src="/__test/shaka.js"></script>
<script>
const src = ${JSON.stringify(src)};
const video = document.getElementById('video');
shaka.polyfill.installAll();
const player = new shaka.Player();
window.player = player;
window.__playingDate = () => { const d = player.getPlayheadTimeAsDate(); return d ? d.getTime() : null; };
// Shaka's seekable end runs on the wall clock and so moves ahead of the media by every reconnect
// gap it closes up; in LL mode its buffer reaches the newest listed part, so the end of the buffer
// is the edge in media time.
window.__edge = () => { const b = video.buffered; return b.length ? b.end(b.length - 1) : NaN; };
// Shaka's defaults plus lowLatencyMode (no liveSync: its latency is measured against the
// wall-clock seek range, which a reconnect gap puts out of reach). Our streams carry no captions
// (Shaka's CEA-608 probe may otherwise pick the URI-less preload hint).
player.configure({ streaming: { lowLatencyMode: true }, manifest: { hls: { disableClosedCaptionsDetection: true } } });
player.addEventListener('error', (e) => { const d = e.detail || {}; console.error('shaka error ' + d.code + ' severity ' + d.severity + ' ' + JSON.stringify(d.data || []).slice(0, 300)); });
async function isLive() {
  const m = await fetch(src, { cache: 'no-store' }).then((r) => r.ok ? r.text() : null).catch(() => null);
  const first = m && m.split('\\n').find((l) => l && !l.startsWith('#'));
  if (!first) return false;
  const p = await fetch(new URL(first, new URL(src, location.href)), { cache: 'no-store' }).then((r) => r.ok ? r.text() : null).catch(() => null);
  return !!p && !p.includes('#EXT-X-ENDLIST');
}
async function live() {
  while (!(await isLive())) await new Promise((r) => setTimeout(r, 1000));
}
async function start() {
  await live();
  await player.attach(video);
  await player.load(src);
  video.play().catch(() => {});
}
// When the playlists get ENDLIST Shaka plays to the end, but the media element often never fires
// 'ended': audio ends a few ms before video and playback waits in that last gap for good. A site
// treats "at the end of the buffer, not moving, and the playlist has ENDLIST" as the end; so do we.
let restarting = false;
function restart() { if (restarting) return; restarting = true; void player.unload().then(start).finally(() => { restarting = false; }); }
video.addEventListener('ended', restart);
let lastCt = -1;
setInterval(async () => {
  const b = video.buffered;
  const stuck = video.currentTime === lastCt && video.currentTime > 0 && b.length && b.end(b.length - 1) - video.currentTime < 0.3;
  lastCt = video.currentTime;
  if (stuck && !restarting && !(await isLive())) restart();
}, 1000);
start().catch((e) => console.error('shaka load failed ' + (e && (e.code || e.message)) + ' ' + JSON.stringify(e && e.data || '').slice(0, 300) + ' ' + (e && e.stack || '').slice(0, 2000)));
</script></body></html>`;
}

/** True for an answer a player may get while the protocol works: a held LL-HLS request that timed out (503 + Retry-After). */
function heldTimeout(url: string, status: number): boolean {
  return status === 503 && (/[?&]_HLS_msn=/.test(url) || /-p\d+\.m4s$/.test(url));
}

/** Opens a player on stream `name` of the server at `http`. */
export async function openPlayer(context: BrowserContext, kind: PlayerKind, http: string, name: string): Promise<WatchedPlayer> {
  const page = await context.newPage();
  const pageNo = ++pages;
  const problems: WatchedPlayer['problems'] = [];
  page.on('pageerror', (err) => problems.push({ t: Date.now(), what: `page error: ${err.message}` }));
  page.on('console', (msg) => {
    if (DEBUG) console.log(`${kind}#${pageNo} ${Date.now() % 100000} ${msg.text().slice(0, 300)}`);
    if (msg.type() !== 'error' || !/shaka (error|load failed)/.test(msg.text())) return;
    // (Shaka reports a 404 it got as error 1001 with the URL: classified like the answer itself)
    const gone = /^shaka error 1001 .*?\["([^"]+-p\d+\.m4s)",404/.exec(msg.text());
    problems.push({ t: Date.now(), what: gone ? `part 404 ${gone[1]}` : msg.text() });
  });
  page.on('response', (res) => {
    const status = res.status();
    if (DEBUG && res.url().includes('.m3u8')) void res.allHeaders().then((h) => console.log(`${kind}#${pageNo} ${Date.now() % 100000} RESP ${status} ${res.url()} ${h['cache-control']} ${h.etag} ${h['last-modified']} ${h.age ?? ''}`)).catch(() => {});
    if ((status >= 200 && status < 300) || status === 304) return;
    const url = res.url();
    // A part that answers 404 is either a fault or the part a preload hint announced before its
    // run ended (the server retires that ID): whoever reads `problems` tells them apart.
    if (status === 404 && /-p\d+\.m4s$/.test(url)) return void problems.push({ t: Date.now(), what: `part 404 ${url}` });
    problems.push({ t: Date.now(), what: `${heldTimeout(url, status) ? 'held request timed out' : 'HTTP'} ${status} ${url}` });
  });
  page.on('requestfailed', (req) => {
    // a request the player itself aborted (hls.js cancels a superseded blocking reload) is not an error
    if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push({ t: Date.now(), what: `request failed ${req.failure()?.errorText} ${req.url()}` });
  });
  await page.addInitScript((DEBUG ? 'window.__debugSamples = true;' : '') + SAMPLER);
  if (kind === 'bundled') {
    await page.goto(`${http}/watch/${name}${DEBUG ? '?debug=1' : ''}`);
  } else {
    // Shaka 4.16 (maintained LTS line), not 5.2: 5.2.12's HLS parser collapses a PROGRAM-DATE-TIME
    // gap over 1 s at a DISCONTINUITY (any reconnect that takes longer), then asserts
    // "segmentAvailabilityDuration must be >= 0", empties its segment index and stalls for good;
    // 4.16.50 plays the same playlists through. hls.js handles them too.
    const shakaJs = readFileSync(`${ROOT}node_modules/shaka-player/dist/shaka-player.compiled.js`);
    await page.route(`${http}/__test/**`, (route) => {
      const url = route.request().url();
      if (url.endsWith('/shaka.js')) return route.fulfill({ body: shakaJs, contentType: 'text/javascript' });
      return route.fulfill({ body: shakaPage(`${http}/live/${name}/master.m3u8`), contentType: "text/html" });
    });
    await page.goto(`${http}/__test/shaka.html`);
  }
  return {
    kind,
    page,
    problems,
    samples: async (since = 0) => (await page.evaluate(() => (window as unknown as { __samples: Sample[] }).__samples)).filter((s) => s.t >= since),
    close: () => page.close(),
  };
}

/** Waits until the player's playhead has advanced `seconds` (playing), or throws after `timeoutMs`. */
export async function waitPlaying(p: WatchedPlayer, seconds: number, timeoutMs: number): Promise<void> {
  await p.page.waitForFunction(
    (s) => {
      const samples = (window as unknown as { __samples: Array<{ ct: number; paused: boolean }> }).__samples;
      const first = samples.find((x) => x.ct > 0 && !x.paused);
      const last = samples.at(-1);
      return !!first && !!last && last.ct - first.ct >= s;
    },
    seconds,
    { timeout: timeoutMs, polling: 200 },
  );
}

/**
 * The longest time, in seconds, the playhead did not move between `from` and `to` (ms): a stall,
 * a wait for the stream, or an ended stream all count; a paused video does not (nobody pauses here).
 */
export function longestStall(samples: readonly Sample[], from: number, to: number): number {
  let longest = 0;
  let stuckSince: number | undefined;
  let prev: Sample | undefined;
  for (const s of samples) {
    if (s.t < from || s.t > to) continue;
    const moved = prev !== undefined && Math.abs(s.ct - prev.ct) > 0.02;
    if (prev && !moved) stuckSince ??= prev.t;
    if (moved) stuckSince = undefined;
    if (stuckSince !== undefined) longest = Math.max(longest, (s.t - stuckSince) / 1000);
    prev = s;
  }
  return longest;
}

/**
 * Median distance to the live edge (s) over the samples within `spanMs` of `t`, or null when none
 * knows it. (One 100 ms sample lands anywhere in a part's 200 ms cycle; the median over 2 s does not.)
 */
export function behindAround(samples: readonly Sample[], t: number, spanMs = 1000): number | null {
  const near = samples.filter((s) => Math.abs(s.t - t) <= spanMs && s.behind !== null).map((s) => s.behind!);
  if (!near.length) return null;
  near.sort((a, b) => a - b);
  return near[Math.floor(near.length / 2)]!;
}

/** Seconds from `from` (ms) until the player is playing within `edge` seconds of the live edge, or undefined. */
export function secondsToEdge(samples: readonly Sample[], from: number, edge: number): number | undefined {
  let prev: Sample | undefined;
  for (const s of samples) {
    if (s.t >= from && prev && s.ct - prev.ct > 0.02 && s.behind !== null && s.behind <= edge) return (s.t - from) / 1000;
    prev = s;
  }
  return undefined;
}
