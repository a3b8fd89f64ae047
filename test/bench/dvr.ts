/**
 * `npm run bench:dvr`: how big the live playlists of a 10-minute DVR window are, full and as delta
 * updates (`_HLS_skip=YES`, which hls.js asks for by itself), after `BENCH_DVR_MINUTES` (10) of
 * live with ORIGIN_DVR_SECONDS=600. A real ffmpeg publishes 640x360 (one rendition) over RTMP;
 * the window's old segments are in the file store. Bounded: the minutes + 1.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { gzipSync } from 'node:zlib';
import { get, killAll, publish, sleep, startServer, waitFor } from '../helpers/processes.js';
import { writeBenchSection } from './benchmarks-file.js';

const MINUTES = Number(process.env.BENCH_DVR_MINUTES ?? 10);
const KEY = 'sk_bench_dvr_0123456789';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startServer({ ORIGIN_STREAM_KEYS: `dvr:${KEY}`, ORIGIN_DVR_SECONDS: '600', ORIGIN_STORAGE_URL: `file://${mkdtempSync(join(tmpdir(), 'lo-bench-dvr-'))}` });
const pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: MINUTES * 60 + 60, size: '640x360', gop: 60 });
try {
  const master = await waitFor('master', async () => {
    const r = await get(`${server.http}/live/dvr/master.m3u8`);
    return r.status === 200 ? r.text : undefined;
  }, 30_000);
  const variant = `${server.http}/live/dvr/${master.split('\n').find((l) => l && !l.startsWith('#'))}`;
  const end = Date.now() + MINUTES * 60_000;
  while (Date.now() < end) {
    await sleep(30_000);
    const t = (await get(variant)).text;
    console.log(`  ${Math.round((MINUTES * 60_000 - (end - Date.now())) / 1000)} s: ${(t.match(/#EXTINF/g) ?? []).length} segments listed, ${t.length} B`);
  }
  const full: number[] = [];
  const delta: number[] = [];
  const fullGz: number[] = [];
  const deltaGz: number[] = [];
  let segments = 0;
  let span = 0;
  for (let i = 0; i < 10; i++) {
    const f = (await get(variant)).text;
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(f)![1]) + (f.match(/#EXTINF/g) ?? []).length;
    // the reload hls.js makes: blocking on the next part, asking for a delta update
    const parts = (f.slice(f.lastIndexOf('#EXTINF')).match(/#EXT-X-PART:/g) ?? []).length;
    const d = (await get(`${variant}?_HLS_msn=${msn}&_HLS_part=${parts}&_HLS_skip=YES`)).text;
    if (!d.includes('#EXT-X-SKIP:')) throw new Error(`no EXT-X-SKIP in the delta update:\n${d}`);
    full.push(f.length);
    delta.push(d.length);
    fullGz.push(gzipSync(f).length);
    deltaGz.push(gzipSync(d).length);
    segments = (f.match(/#EXTINF/g) ?? []).length;
    span = [...f.matchAll(/#EXTINF:([\d.]+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    await sleep(500);
  }
  const ratio = median(delta) / median(full);
  const section = `## DVR playlists: full and delta updates (\`npm run bench:dvr\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB: ORIGIN_DVR_SECONDS=600, a 640x360
publish (one rendition) live for ${MINUTES} min; the window then lists ${segments} segments (${Math.round(span)} s). Ten reloads as
hls.js makes them (blocking on the next part, \`_HLS_skip=YES\`), medians:

| playlist | bytes | gzip (as served with Accept-Encoding) |
| --- | --- | --- |
| full | ${median(full)} | ${median(fullGz)} |
| delta update (EXT-X-SKIP, CAN-SKIP-UNTIL 12 s) | ${median(delta)} | ${median(deltaGz)} |
| delta / full | ${(100 * ratio).toFixed(1)} % | ${((100 * median(deltaGz)) / median(fullGz)).toFixed(1)} % |

Goal of the issue: a delta reload ≤ 25 % of the full playlist.
`;
  console.log(section);
  writeBenchSection('## DVR playlists: full and delta updates', section);
  if (ratio > 0.25) process.exitCode = 1;
} finally {
  await pub.stop();
  await server.stop('SIGTERM');
  killAll();
}
