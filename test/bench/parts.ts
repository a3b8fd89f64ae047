/**
 * `npm run bench:parts`: which part duration gives the lowest stable latency, and what a slow link
 * does, in a neutral client: plain hls.js (from node_modules, default settings, lowLatencyMode,
 * catching up at up to 1.5x) in Debian's Chromium, not the bundled player with its own edge logic.
 *
 * Rows: the default profile with 200 ms parts (PART-HOLD-BACK 0.6 s), and the same ladder with
 * 167 ms and 100 ms parts (hold-back 3 parts: 0.5 s, 0.3 s), each on a quiet link; then the
 * default on two emulated links (Chromium's network emulation: 10 Mbit/s with 40 ms RTT, 3 Mbit/s
 * with 100 ms RTT). Per row: hls.latency and `now − playingDate` medians, stalls, the level played
 * most and the switches down. The variant profiles are written to transcode-profiles/ for the run
 * (bench-parts-*.json) and removed after. Bounded: 5 runs x ~50 s.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { get, killAll, publish, ROOT, startServer, waitFor } from '../helpers/processes.js';
import { emulateLink, launch } from '../helpers/browser.js';
import { writeBenchSection } from './benchmarks-file.js';

const NAME = 'bench';
const KEY = 'sk_bench_parts_0123456789';
const WARM_S = 8;
/** Seconds after the master is first served before the viewer joins. */
const JOIN_AFTER_S = 5;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
/** BENCH_PARTS=200x2,… and BENCH_LINKS=quiet,… pick rows (e.g. one 5-minute run with BENCH_SECONDS=300): then the table is printed, not written. */
const PARTIAL = Boolean(process.env.BENCH_PARTS || process.env.BENCH_LINKS || process.env.BENCH_SECONDS);

interface Link { name: string; latencyMs: number; mbit: number }
interface Row { parts: string; link: string; latency: number; pdtLag: number; stalls: number; level: string; downSwitches: number; errors: string[] }

const hlsJs = readFileSync(join(ROOT, 'node_modules/hls.js/dist/hls.min.js'));
const page = (src: string) => `<!doctype html><video id=v muted autoplay playsinline></video><script src="/hls.min.js"></script><script>
const v = document.getElementById('v'); window.s = { lat: [], pdt: [], stalls: 0, errors: [], levels: [], switches: [] };
const h = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 }); window.h = h;
h.on(Hls.Events.MANIFEST_PARSED, (e, d) => { s.names = d.levels.map((l) => l.height + 'p'); v.play().catch(() => {}); });
h.on(Hls.Events.LEVEL_SWITCHED, (e, d) => s.switches.push(d.level));
h.on(Hls.Events.ERROR, (e, d) => { if (d.details === 'bufferStalledError') s.stalls++; else s.errors.push(d.details + (d.fatal ? '!' : '')); });
h.loadSource(${JSON.stringify(src)}); h.attachMedia(v);
setInterval(() => { if (v.currentTime > 0 && !v.paused) { s.lat.push(h.latency); if (h.playingDate) s.pdt.push((Date.now() - h.playingDate.getTime()) / 1000); s.levels.push(h.currentLevel); } }, 500);
</script>`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function run(profile: string, partsLabel: string, link?: Link): Promise<Row> {
  const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_PROFILE: profile });
  const pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: WARM_S + SECONDS + 40, gop: 60 });
  const src = `${server.http}/live/${NAME}/master.m3u8`;
  const html = createServer((req, res) => {
    if (req.url === '/hls.min.js') res.setHeader('content-type', 'text/javascript').end(hlsJs);
    else res.setHeader('content-type', 'text/html').end(page(src));
  });
  await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve));
  const browser = await launch();
  try {
    await waitFor('master', async () => (await get(src)).status === 200, 30_000);
    // join a stream that is running, as most viewers do: in its first seconds the transcoder
    // flushes its start-up backlog faster than real time, and a player that joins then starts
    // further behind (a run of this bench joining at once measured 1.0-1.15 s for every row)
    await new Promise((r) => setTimeout(r, JOIN_AFTER_S * 1000));
    const p = await browser.newPage();
    if (link) await emulateLink(browser, p, { latencyMs: link.latencyMs, downMbit: link.mbit });
    await p.goto(`http://127.0.0.1:${(html.address() as AddressInfo).port}/`);
    await p.waitForTimeout(WARM_S * 1000);
    await p.evaluate(() => {
      const s = (window as unknown as { s: { lat: number[]; pdt: number[]; stalls: number; levels: number[]; switches: number[] } }).s;
      s.lat = []; s.pdt = []; s.stalls = 0; s.levels = []; s.switches = [];
    });
    await p.waitForTimeout(SECONDS * 1000);
    const s = await p.evaluate(() => (window as unknown as { s: { lat: number[]; pdt: number[]; stalls: number; errors: string[]; levels: number[]; switches: number[]; names: string[] } }).s);
    // hls.js sorts levels by bitrate, lowest first: a switch to a lower index is a switch down
    const downSwitches = s.switches.filter((l, i) => i > 0 && l < s.switches[i - 1]!).length;
    const counts = new Map<number, number>();
    for (const l of s.levels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const most = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    return {
      parts: partsLabel, link: link?.name ?? 'quiet (localhost)', latency: median(s.lat), pdtLag: median(s.pdt), stalls: s.stalls,
      level: most === undefined ? '–' : s.names[most] ?? String(most), downSwitches, errors: [...new Set(s.errors)],
    };
  } finally {
    await browser.close();
    html.close();
    await pub.stop();
    await server.stop('SIGTERM');
    killAll();
  }
}

const base = JSON.parse(readFileSync(join(ROOT, 'transcode-profiles/default.json'), 'utf8')) as Record<string, unknown>;
// partSeconds is rounded up to whole frames at 30 fps (0.1666 -> 5 frames, 0.1333 -> 4 frames)
const variants = [
  { profile: 'bench-parts-200x3', label: '200 ms × 3 = 0.6 s', partSeconds: 0.2, partHoldBackParts: 3 },
  { profile: 'bench-parts-200x2', label: '200 ms × 2 = 0.4 s', partSeconds: 0.2, partHoldBackParts: 2 },
  { profile: 'bench-parts-167x3', label: '167 ms × 3 = 0.5 s', partSeconds: 0.1666, partHoldBackParts: 3 },
  { profile: 'bench-parts-133x3', label: '133 ms × 3 = 0.4 s', partSeconds: 0.1333, partHoldBackParts: 3 },
  { profile: 'bench-parts-100x3', label: '100 ms × 3 = 0.3 s', partSeconds: 0.1, partHoldBackParts: 3 },
].filter((v) => !process.env.BENCH_PARTS || process.env.BENCH_PARTS.split(',').includes(v.profile.slice('bench-parts-'.length)));
const links: (Link | undefined)[] = [undefined, { name: '10 Mbit/s, 40 ms', latencyMs: 40, mbit: 10 }, { name: '3 Mbit/s, 100 ms', latencyMs: 100, mbit: 3 }]
  .filter((l) => !process.env.BENCH_LINKS || process.env.BENCH_LINKS.split(',').includes(l ? `${l.mbit}mbit` : 'quiet'));
const written: string[] = [];
const rows: Row[] = [];
try {
  for (const v of variants) {
    const file = join(ROOT, 'transcode-profiles', `${v.profile}.json`);
    writeFileSync(file, JSON.stringify({ ...base, description: `bench:parts variant (${v.label})`, partSeconds: v.partSeconds, partHoldBackParts: v.partHoldBackParts }, null, 2));
    written.push(file);
  }
  for (const v of variants) {
    for (const link of links) {
      const r = await run(v.profile, v.label, link);
      console.log(JSON.stringify(r));
      rows.push(r);
    }
  }
} finally {
  for (const f of written) rmSync(f, { force: true });
}

const section = `## Part duration and slow links in a neutral hls.js (\`npm run bench:parts\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB: one 720p30 publish, the default
ladder (720p/480p/360p), plain hls.js ${JSON.parse(readFileSync(join(ROOT, 'node_modules/hls.js/package.json'), 'utf8')).version} (lowLatencyMode, up to 1.5x catch-up, nothing else set) in
Debian's Chromium, ${SECONDS} s sampled every 0.5 s after ${WARM_S} s. Latency = hls.js's \`latency\` (live edge −
playhead); PDT lag = \`now − playingDate\` (PROGRAM-DATE-TIME is stamped at ingest). Links are Chromium's
network emulation on the page.

| parts × PART-HOLD-BACK | link | hls.latency median | now − PDT median | stalls | level played most | switches down | errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.parts} | ${r.link} | ${r.latency.toFixed(2)} s | ${r.pdtLag.toFixed(2)} s | ${r.stalls} | ${r.level} | ${r.downSwitches} | ${r.errors.join(', ') || '–'} |`).join('\n')}

The viewer joins ${JOIN_AFTER_S} s after the master is first served. Reading: plain hls.js (1.7) starts
PART-HOLD-BACK behind the newest part as its playlist said when it loaded, plus its own start-up
(loading the parts since the last keyframe, appending, the decoder's start: ~0.4 s here), and its
catch-up raises the rate only while more than 1 s is buffered ahead: a player that starts closer
than that stays where it started. So PART-HOLD-BACK sets most of its latency on a quiet link;
shorter parts take a little off the start-up and add requests. On the emulated links the errors
column is hls.js's own non-fatal recoveries; a 3 Mbit/s row many seconds behind is hls.js's
target moved 1 s back for good by each stall at its start, before the samples begin
(\`liveSyncOnStallIncrease\`; the bundled player forgets it after 10 s without a stall).
`;
if (PARTIAL) {
  console.log(section);
  process.exit(0);
}
writeBenchSection('## Part duration and slow links in a neutral hls.js', section);
console.log(`written to BENCHMARKS.md`);
