/**
 * `npm run bench:latency`: glass-to-glass latency in the bundled player, LL-HLS on and off.
 * A real ffmpeg publishes 1280x720@30 over RTMP with its wall clock burned into the picture; the
 * server stamps EXT-X-PROGRAM-DATE-TIME with the wall clock at which each frame reached it; the
 * player in Chromium reports `Date.now() - hls.playingDate` every second for 60 s. A screenshot
 * shows the burned clock next to the page's clock to confirm the figure. Also: publish to first
 * frame, the same page on the issue's two throttled links, and four pages in step (the spread of
 * what they show, before and after one page's outage). Bounded: ~12 minutes, every step timed out.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { get, killAll, publish, sleep, startServer, waitFor, ROOT } from '../helpers/processes.js';
import { cutNetwork, openSyncPages, spreads } from '../helpers/sync-pages.js';
import type { Page } from 'playwright-core';
import { emulateLink, launch } from '../helpers/browser.js';
import { writeBenchSection } from './benchmarks-file.js';

const SECONDS = 60;
const NAME = 'bench';
const KEY = 'sk_bench_0123456789abcd';
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

function publisher(url: string) {
  const startSeconds = (Date.now() % 86_400_000) / 1000; // UTC seconds of day when pts is 0
  // pts:hms with an offset prints the UTC time of day with milliseconds; -re keeps pts on the wall clock.
  const burn = existsSync(FONT)
    ? `,drawtext=fontfile=${FONT}:text='%{pts\\:hms\\:${startSeconds.toFixed(3)}}':fontsize=64:fontcolor=white:box=1:boxcolor=black@0.7:x=40:y=40`
    : '';
  const proc = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30${burn}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(SECONDS + 60),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-b:v', '3000k', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', url,
  ], { stdio: 'ignore' });
  return { proc, burned: burn !== '' };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/**
 * Stalls, as the page shows them: the playhead not advancing for 100 ms or more (sampled every
 * 50 ms) while not paused. (Counting 'waiting' events counted each stall twice when hls.js seeks
 * over a hole in it — waiting, seeking, waiting, seeked, playing — and its duration from the first
 * 'waiting' never closed.) A string, not a function: tsx would wrap named inner functions in a
 * helper the page lacks.
 */
const TRACK_FREEZES = `(() => {
  const v = document.querySelector('video');
  const w = window;
  w.freezes = [];
  let last = v.currentTime, since = 0;
  setInterval(() => {
    const now = Date.now();
    if (v.paused || v.ended || v.currentTime !== last) {
      if (since && now - since >= 100) w.freezes.push(now - since);
      since = 0;
      last = v.currentTime;
    } else if (!since) since = now;
    w.freezeSince = since;
  }, 50);
})()`;

/** The freezes since TRACK_FREEZES ran: count and ms (one still going on counts too). */
async function readFreezes(page: Page): Promise<{ stalls: number; stalledMs: number }> {
  const freezes = await page.evaluate(() => {
    const w = window as unknown as { freezes: number[]; freezeSince: number };
    return w.freezeSince && Date.now() - w.freezeSince >= 100 ? [...w.freezes, Date.now() - w.freezeSince] : w.freezes;
  });
  return { stalls: freezes.length, stalledMs: freezes.reduce((sum, ms) => sum + ms, 0) };
}

/** A link emulated by Chromium (DevTools network conditions) on the page. */
interface Link { name: string; latencyMs: number; mbit: number }

async function measure(lowLatency: boolean, query = '', link?: Link): Promise<{ median: number; p95: number; latency: number; stalls: number; stalledMs: number; level: string; screenshot: string; burned: boolean }> {
  const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
  const pub = publisher(`${server.rtmp}/live/${KEY}`);
  const browser = await launch();
  try {
    await waitFor('master', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000);
    const page = await browser.newPage();
    if (link) await emulateLink(browser, page, { latencyMs: link.latencyMs, downMbit: link.mbit });
    await page.goto(`${server.http}/watch/${NAME}${lowLatency ? query : '?lowLatency=0'}`);
    await page.waitForFunction(() => document.querySelector('video')!.currentTime > 0.5, undefined, { timeout: 30_000 });
    await page.waitForTimeout(8000); // let hls.js reach its target latency
    // stalls from here on
    await page.evaluate(TRACK_FREEZES);
    const g2g: number[] = [];
    const hlsLatency: number[] = [];
    const heights = new Map<number, number>();
    for (let i = 0; i < SECONDS; i++) {
      await page.waitForTimeout(1000);
      const s = await page.evaluate(() => {
        const h = (window as unknown as { hls: { playingDate: Date | null; latency: number; currentLevel: number; levels: { height: number }[] } }).hls;
        return { g2g: h.playingDate ? (Date.now() - h.playingDate.getTime()) / 1000 : NaN, latency: h.latency, height: h.levels[h.currentLevel]?.height ?? 0 };
      });
      if (Number.isFinite(s.g2g)) g2g.push(s.g2g);
      hlsLatency.push(s.latency);
      heights.set(s.height, (heights.get(s.height) ?? 0) + 1);
    }
    const level = `${[...heights].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0}p`;
    // The page's own clock next to the video, redrawn every frame, so that the screenshot shows
    // both clocks at the same instant: their difference is glass to glass, publisher included.
    // (a string, not a function: tsx would wrap a named inner function in a helper the page lacks)
    await page.evaluate(`(() => {
      const d = document.createElement('div');
      d.style.cssText = 'position:fixed;right:16px;top:60px;font:700 40px monospace;color:#fff;background:#000c;padding:8px;z-index:9';
      document.body.append(d);
      const tick = () => { d.textContent = 'page ' + new Date().toISOString().slice(11, 23); requestAnimationFrame(tick); };
      tick();
    })()`);
    await page.waitForTimeout(200);
    mkdirSync(`${ROOT}/test-output`, { recursive: true });
    const { stalls, stalledMs } = await readFreezes(page);
    const screenshot = `test-output/latency-${lowLatency ? (query ? 'll-sync' : 'll') : 'standard'}${link ? `-${link.mbit}mbit` : ''}.png`;
    await page.screenshot({ path: `${ROOT}/${screenshot}` });
    console.log(`  series (${lowLatency ? 'LL' : 'standard'}${link ? `, ${link.name}` : ''}): ${g2g.map((x) => x.toFixed(2)).join(' ')}`);
    return { median: quantile(g2g, 0.5), p95: quantile(g2g, 0.95), latency: quantile(hlsLatency, 0.5), stalls, stalledMs, level, screenshot, burned: pub.burned };
  } finally {
    await browser.close();
    pub.proc.kill('SIGKILL');
    await server.stop('SIGTERM');
    killAll();
  }
}

/**
 * Ingest to origin: for 30 s, follow the 720p playlist with blocking reloads and note when each
 * part and segment first appears; its last frame reached the server at PROGRAM-DATE-TIME + its
 * duration (PDT is stamped at ingest). The difference is transcode + packaging delay (for a
 * segment it includes waiting for the next keyframe part that closes it).
 */
async function measurePipeline(record = false): Promise<{ firstPlayableMs: number; segment: number[]; part: number[]; upload: number[] }> {
  // with recording on, the file store: a segment's upload lag is when its file appears (renamed
  // into place whole) minus when the playlist first listed it, watched every 10 ms
  const store = record ? mkdtempSync(join(tmpdir(), 'lo-bench-rec-')) : '';
  const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ...(record ? { ORIGIN_RECORD: 'all', ORIGIN_STORAGE_URL: `file://${store}` } : {}) });
  const upload: number[] = [];
  const pending = new Map<string, number>();
  const watcher = setInterval(() => {
    for (const [uri, at] of pending) {
      if (existsSync(join(store, 'media', NAME, uri.split('-')[0]!, '720p', uri))) {
        upload.push((Date.now() - at) / 1000);
        pending.delete(uri);
      }
    }
  }, 10);
  const t0 = Date.now();
  const pub = publisher(`${server.rtmp}/live/${KEY}`);
  try {
    const base = `${server.http}/live/${NAME}/720p/index.m3u8`;
    await waitFor('master', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000, 20);
    const firstPlayableMs = Date.now() - t0;
    const seenSeg = new Map<string, number>();
    const seenPart = new Map<string, number>();
    const ends = new Map<string, number>(); // uri -> wall clock of its last frame at ingest
    let text = (await get(base)).text;
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const now = Date.now();
      let pdt = 0;
      let open = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
          pdt = Date.parse(line.slice(25));
          open = 0;
        } else if (line.startsWith('#EXT-X-PART:')) {
          const d = Number(/DURATION=([\d.]+)/.exec(line)![1]) * 1000;
          const uri = /URI="([^"]+)"/.exec(line)![1]!;
          open += d;
          if (!seenPart.has(uri)) {
            seenPart.set(uri, now);
            ends.set(uri, pdt + open);
          }
        } else if (line.startsWith('#EXTINF:')) {
          open = Number(line.slice(8).split(',')[0]) * 1000;
        } else if (line.endsWith('.m4s') && !line.startsWith('#')) {
          if (!seenSeg.has(line)) {
            seenSeg.set(line, now);
            ends.set(line, pdt + open);
            if (record) pending.set(line, now);
          }
        }
      }
      const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF/g) ?? []).length;
      const parts = (text.slice(text.lastIndexOf('#EXTINF')).match(/#EXT-X-PART:/g) ?? []).length;
      const r = await get(`${base}?_HLS_msn=${msn}&_HLS_part=${parts}`);
      if (r.status === 200) text = r.text;
    }
    // the first appearances (already there when we started) say nothing: drop the first second
    const since = (m: Map<string, number>) => [...m].filter(([, at]) => at > t0 + firstPlayableMs + 1000).map(([uri, at]) => (at - ends.get(uri)!) / 1000);
    return { firstPlayableMs, segment: since(seenSeg), part: since(seenPart), upload };
  } finally {
    clearInterval(watcher);
    pub.proc.kill('SIGKILL');
    await server.stop('SIGTERM');
    killAll();
  }
}

/**
 * Publish to first frame on screen, as a viewer who waits on the watch page sees it: the page is
 * open before the publisher starts; t0 is the publisher's spawn (its first packet follows within
 * ~0.3 s), the end is the first frame the video element presents (requestVideoFrameCallback).
 * The server's own log gives the steps between: publish accepted, first playable master.
 */
async function measureFirstFrame(): Promise<{ frameMs: number; acceptedMs: number; playableMs: number; stallsIn5s: number; stalledMs: number }> {
  const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
  const browser = await launch();
  let pub: ReturnType<typeof publisher> | undefined;
  try {
    const page = await browser.newPage();
    await page.goto(`${server.http}/watch/${NAME}`);
    await page.waitForTimeout(1500); // the page is waiting for the stream
    const first = page.evaluate(() => new Promise<number>((resolve) => {
      const v = document.querySelector('video')!;
      v.requestVideoFrameCallback(() => resolve(Date.now()));
    }));
    const t0 = Date.now();
    pub = publisher(`${server.rtmp}/live/${KEY}`);
    const frameAt = await Promise.race([first, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no frame in 30 s')), 30_000))]);
    // stalls after the first frame (a start that stalls at once is no start)
    await page.evaluate(TRACK_FREEZES);
    await page.waitForTimeout(5000);
    const { stalls, stalledMs } = await readFreezes(page);
    const logs = server.logs();
    const at = (msg: string) => Number(logs.find((l) => l.msg === msg)?.time ?? NaN) - t0;
    return {
      frameMs: frameAt - t0,
      acceptedMs: at('publish accepted'),
      playableMs: at('first playable master playlist'),
      stallsIn5s: stalls,
      stalledMs,
    };
  } finally {
    await browser.close();
    pub?.proc.kill('SIGKILL');
    await server.stop('SIGTERM');
    killAll();
  }
}
const firstFrames: Array<Awaited<ReturnType<typeof measureFirstFrame>>> = [];
for (let i = 0; i < 3; i++) {
  const f = await measureFirstFrame();
  console.log(`first frame: ${JSON.stringify(f)}`);
  firstFrames.push(f);
}
const ff = (key: 'frameMs' | 'acceptedMs' | 'playableMs') => Math.round(quantile(firstFrames.map((f) => f[key]), 0.5));
const fromAccepted = firstFrames.map((f) => f.frameMs - f.acceptedMs);

// Recording off and on, in the order off, on, on, off so that a trend in the machine's load
// weighs on both alike; each mode's samples are pooled.
const runs: Array<{ record: boolean } & Awaited<ReturnType<typeof measurePipeline>>> = [];
for (const record of [false, true, true, false]) {
  const r = await measurePipeline(record);
  console.log(`recording ${record ? 'on ' : 'off'}: publish -> first playable ${r.firstPlayableMs} ms; segment delay median ${quantile(r.segment, 0.5).toFixed(3)} s; part delay median ${quantile(r.part, 0.5).toFixed(3)} s${record ? `; upload lag median ${quantile(r.upload, 0.5).toFixed(3)} s p95 ${quantile(r.upload, 0.95).toFixed(3)} s (${r.upload.length} segments)` : ''}`);
  runs.push({ record, ...r });
}
const pool = (record: boolean, key: 'segment' | 'part' | 'upload') => runs.filter((r) => r.record === record).flatMap((r) => r[key]);
const pipeline = { ...runs[0]!, segment: pool(false, 'segment'), part: pool(false, 'part') };
const recorded = { segment: pool(true, 'segment'), part: pool(true, 'part'), upload: pool(true, 'upload') };
const ratio = (key: 'segment' | 'part') => quantile(recorded[key], 0.5) / quantile(pipeline[key], 0.5);
console.log(`recording on/off medians: part ${ratio('part').toFixed(2)}, segment ${ratio('segment').toFixed(2)}`);

const ll = await measure(true);
console.log(`LL-HLS on:  median ${ll.median.toFixed(2)} s, p95 ${ll.p95.toFixed(2)} s (hls.latency ${ll.latency.toFixed(2)} s) ${ll.screenshot}`);
// the same with a wall-clock target (the sync steering, see player/src/sync.ts): how close the
// bundled player holds without stalling where hls.js alone stops catching up (its rate catch-up
// needs more than 1 s of buffer ahead)
const SYNC_TARGET = 0.9;
const llSync = await measure(true, `?sync=${SYNC_TARGET}`);
console.log(`LL-HLS ?sync=${SYNC_TARGET}: median ${llSync.median.toFixed(2)} s, p95 ${llSync.p95.toFixed(2)} s, ${llSync.stalls} stalls`);
const std = await measure(false);
console.log(`LL-HLS off: median ${std.median.toFixed(2)} s, p95 ${std.p95.toFixed(2)} s (hls.latency ${std.latency.toFixed(2)} s) ${std.screenshot}`);

// the issue's throttled links (Chromium's network emulation on the page)
const LINKS: Link[] = [
  { name: '10 Mbit/s, 40 ms', latencyMs: 40, mbit: 10 },
  { name: '3 Mbit/s, 100 ms', latencyMs: 100, mbit: 3 },
];
const throttled: { link: Link; r: Awaited<ReturnType<typeof measure>> }[] = [];
for (const link of LINKS) {
  const r = await measure(true, '', link);
  console.log(`LL-HLS on, ${link.name}: median ${r.median.toFixed(2)} s, p95 ${r.p95.toFixed(2)} s, ${r.stalls} stalls (${r.stalledMs} ms), ${r.level} most`);
  throttled.push({ link, r });
}

/**
 * In step: the scenario of test/browser/sync.test.ts (test/helpers/sync-pages.ts) at 360p, as the
 * issue measured it: four pages with ?sync, one with a clock 1.5 s fast, one behind 100 ms / 5 Mbit/s,
 * joined 3 s apart; spread sampled for 20 s from 10 s after the last join, then one page offline for
 * 3 s and the spread again 10 s later.
 */
async function measureSpread(target: number): Promise<{ median: number; p95: number; missing: number; latencies: number[]; afterOutageMedian: number; afterOutageP95: number }> {
  const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}` });
  const pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 120, gop: 60 });
  const browser = await launch();
  try {
    await waitFor('master', async () => (await get(`${server.http}/live/${NAME}/master.m3u8`)).status === 200, 30_000, 250);
    const pages = await openSyncPages(browser, `${server.http}/watch/${NAME}?sync=${target}`);
    await sleep(10_000);
    const all = await spreads(pages, [0, 1, 2, 3], 20);
    await cutNetwork(browser, pages[3]!, 3000);
    await sleep(10_000);
    const after = await spreads(pages, [0, 1, 2, 3], 10);
    console.log(`  spread each sample: ${all.spread.map((x) => Math.round(x)).join(' ')} ms; after the outage: ${after.spread.map((x) => Math.round(x)).join(' ')} ms`);
    return {
      median: quantile(all.spread, 0.5), p95: quantile(all.spread, 0.95), missing: all.missing + after.missing,
      latencies: all.latency.map((l) => quantile(l, 0.5)), afterOutageMedian: quantile(after.spread, 0.5), afterOutageP95: quantile(after.spread, 0.95),
    };
  } finally {
    await browser.close();
    await pub.stop();
    await server.stop('SIGTERM');
    killAll();
  }
}
const SPREAD_TARGET = 1.5;
const spread = await measureSpread(SPREAD_TARGET);
console.log(`in step: spread median ${spread.median} ms p95 ${spread.p95} ms (${spread.missing} samples missing); 10 s after a 3 s outage: median ${spread.afterOutageMedian} ms p95 ${spread.afterOutageP95} ms`);

const section = `## Glass-to-glass latency in the bundled player (default profile, 3 renditions)

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:latency\` on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB:
ffmpeg publishes 1280x720@30 (x264 ultrafast, 2 s GOP) over RTMP to the server on the same machine,
which transcodes the default ladder and packages it; Debian's Chromium plays \`/watch/<name>\` with
the bundled hls.js player. Latency = \`Date.now() - hls.playingDate\`, where PROGRAM-DATE-TIME is the
wall clock at which the frame reached the server (so the publisher's own encoding, ~1 frame with
zerolatency, is not in it). Sampled every second for ${SECONDS} s after an 8 s warm-up.

| mode | median | p95 | hls.latency (median) | freezes ≥ 0.1 s in ${SECONDS} s (count / ms) |
| --- | --- | --- | --- | --- |
| LL-HLS on (parts, blocking reload, PART-HOLD-BACK of the default profile) | ${ll.median.toFixed(2)} s | ${ll.p95.toFixed(2)} s | ${ll.latency.toFixed(2)} s | ${ll.stalls} / ${ll.stalledMs} |
| LL-HLS on, \`?sync=${SYNC_TARGET}\` (the page steers its rate to ${SYNC_TARGET} s behind by the server's clock) | ${llSync.median.toFixed(2)} s | ${llSync.p95.toFixed(2)} s | ${llSync.latency.toFixed(2)} s | ${llSync.stalls} / ${llSync.stalledMs} |
| LL-HLS off (\`?lowLatency=0\`, hls.js 3 s behind) | ${std.median.toFixed(2)} s | ${std.p95.toFixed(2)} s | ${std.latency.toFixed(2)} s | ${std.stalls} / ${std.stalledMs} |

The same LL-HLS page behind Chromium's network emulation (the issue's throttled links; the player
starts on the master's first variant, the middle rung, and hls.js's ABR moves from there):

| link | median | p95 | hls.latency (median) | freezes ≥ 0.1 s in ${SECONDS} s (count / ms) | rendition played most |
| --- | --- | --- | --- | --- | --- |
${throttled.map(({ link, r }) => `| ${link.name} | ${r.median.toFixed(2)} s | ${r.p95.toFixed(2)} s | ${r.latency.toFixed(2)} s | ${r.stalls} / ${r.stalledMs} | ${r.level} |`).join('\n')}

In step (\`?sync=${SPREAD_TARGET}\`, 360p publish, test/helpers/sync-pages.ts): four pages on one stream, joined 3 s
apart, one with a clock 1.5 s fast, one behind 100 ms / 5 Mbit/s; the PROGRAM-DATE-TIME of the frame
on screen in all four, sampled at one instant every second for 20 s from 10 s after the last join;
then one page offline for 3 s and sampled again from 10 s later for 10 s.

| | spread median | spread p95 |
| --- | --- | --- |
| four pages (latency by page: ${spread.latencies.map((l) => `${l.toFixed(2)} s`).join(', ')}; samples missing: ${spread.missing}) | ${Math.round(spread.median)} ms | ${Math.round(spread.p95)} ms |
| 10 s after one page's 3 s outage | ${Math.round(spread.afterOutageMedian)} ms | ${Math.round(spread.afterOutageP95)} ms |

Ingest to origin (same machine, 720p rendition, ${pipeline.segment.length} segments and ${pipeline.part.length} parts over 30 s, followed with
blocking reloads): the time a piece is first listed minus the time its last frame reached the server.

| piece | median | p95 |
| --- | --- | --- |
| part (200 ms fragment) | ${quantile(pipeline.part, 0.5).toFixed(3)} s | ${quantile(pipeline.part, 0.95).toFixed(3)} s |
| segment (2 s; closed by its own last part, where the encoder keys the next) | ${quantile(pipeline.segment, 0.5).toFixed(3)} s | ${quantile(pipeline.segment, 0.95).toFixed(3)} s |

With recording on (\`ORIGIN_RECORD=all\`, file store on the same disk), same run, runs ordered off, on, on, off and pooled:

| piece | recording off (median) | recording on (median) | on / off |
| --- | --- | --- | --- |
| part | ${quantile(pipeline.part, 0.5).toFixed(3)} s | ${quantile(recorded.part, 0.5).toFixed(3)} s | ${ratio('part').toFixed(2)} |
| segment | ${quantile(pipeline.segment, 0.5).toFixed(3)} s | ${quantile(recorded.segment, 0.5).toFixed(3)} s | ${ratio('segment').toFixed(2)} |

Upload lag (a segment listed → its file in the store, ${recorded.upload.length} segments): median ${quantile(recorded.upload, 0.5).toFixed(3)} s, p95 ${quantile(recorded.upload, 0.95).toFixed(3)} s.

Publish to first playable master playlist: ${pipeline.firstPlayableMs} ms (the first segment of every rendition must be complete; it is one part long (0.2 s) for this, listed with that part, and the next one PART-HOLD-BACK long: ladder.ts earlySegments).

Publish to first frame on screen for a viewer already waiting on \`/watch/<name>\` (median of ${firstFrames.length}; from the publisher's spawn, through its RTMP connect, our ffmpeg, the first 0.2 s segment, the page's wake-up (\`stream.ready\` on /api/events) and hls.js's start):

| step (ms after the publisher was started) | median | runs |
| --- | --- | --- |
| publish accepted (the publisher's ffmpeg started and connected) | ${ff('acceptedMs')} | ${firstFrames.map((f) => f.acceptedMs).join(', ')} |
| first playable master playlist | ${ff('playableMs')} | ${firstFrames.map((f) => f.playableMs).join(', ')} |
| first frame on screen (Chromium, bundled player) | ${ff('frameMs')} | ${firstFrames.map((f) => f.frameMs).join(', ')} |
| first frame, counted from publish accepted (the publisher's first packet) | ${Math.round(quantile(fromAccepted, 0.5))} | ${fromAccepted.join(', ')} |
| freezes ≥ 0.1 s in the 5 s after the first frame (count / ms) | ${quantile(firstFrames.map((f) => f.stallsIn5s), 0.5)} | ${firstFrames.map((f) => `${f.stallsIn5s} / ${f.stalledMs}`).join(', ')} |

${ll.burned ? `The publisher burns its UTC clock into the picture; the screenshots \`${ll.screenshot}\` and \`${std.screenshot}\` (written by the run, not committed) show it beside the page's clock, redrawn every frame: the difference between the two is glass to glass including the publisher's own capture and encode, which PROGRAM-DATE-TIME does not see.` : 'No font for drawtext was found (fonts-dejavu-core), so no clock was burned in.'}
`;
writeBenchSection('## Glass-to-glass latency in the bundled player', section);
console.log(`written to BENCHMARKS.md`);
