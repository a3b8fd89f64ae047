/**
 * `npm run bench:memory`: the server's RSS with 1, 5 and 10 live streams, once their windows are
 * full (playlist + CDN grace = 12 segments = 24 s), plus the media bytes the packager holds and
 * the ffmpeg processes' RSS. Sources are 640x360 (so the default profile encodes its 360p rung
 * only and 10 streams fit 2 cores), plus one 720p stream with the full 3-rendition ladder.
 * Bounded: 4 runs of ~40 s.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ffmpegChildren, get, killAll, publish, sleep, startServer, waitFor } from '../helpers/processes.js';
import { writeBenchSection } from './benchmarks-file.js';

const FILL_S = 32;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function run(streams: number, size: string, profile: string): Promise<{ streams: number; size: string; profile: string; rssMiB: number; mediaMiB: number; ffmpegMiB: number; idleMiB: number }> {
  const keys = Array.from({ length: streams }, (_, i) => `s${i}:sk_mem_${String(i).padStart(2, '0')}_0123456789`);
  const server = await startServer({ ORIGIN_STREAM_KEYS: keys.join(','), ORIGIN_MAX_STREAMS: '20', ORIGIN_PROFILE: profile });
  try {
    const idleMiB = rssKiB(server.proc.pid!) / 1024;
    const pubs = keys.map((k) => publish(`${server.rtmp}/live/${k.split(':')[1]}`, { size, seconds: FILL_S + 30, gop: 60 }));
    await waitFor('all playable', async () => {
      const body = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<{ state: string }> };
      return body.streams.length === streams && body.streams.every((s) => s.state === 'live');
    }, 60_000, 500);
    await sleep(FILL_S * 1000);
    const body = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<{ memoryBytes: number }> };
    const media = body.streams.reduce((s, x) => s + x.memoryBytes, 0);
    const ffmpegKiB = ffmpegChildren(server.proc.pid!).reduce((s, pid) => s + rssKiB(pid), 0);
    const result = { streams, size, profile, rssMiB: rssKiB(server.proc.pid!) / 1024, mediaMiB: media / 2 ** 20, ffmpegMiB: ffmpegKiB / 1024, idleMiB };
    for (const p of pubs) await p.stop();
    return result;
  } finally {
    await server.stop('SIGKILL');
    killAll();
  }
}

const rows = [];
const LADDERS: Record<string, string> = {
  'default 1280x720': '720p source: 720p + 480p + 360p',
  'default 640x360': '360p source: 360p',
  'passthrough 1280x720': '720p source, `passthrough`: 720p copied + 360p',
};
for (const [n, size, profile] of [[1, '1280x720', 'default'], [1, '1280x720', 'passthrough'], [1, '640x360', 'default'], [5, '640x360', 'default'], [10, '640x360', 'default']] as const) {
  const r = await run(n, size, profile);
  console.log(r);
  rows.push(`| ${r.streams} | ${LADDERS[`${profile} ${size}`]} | ${r.idleMiB.toFixed(0)} MiB | ${r.rssMiB.toFixed(0)} MiB | ${r.mediaMiB.toFixed(1)} MiB | ${r.ffmpegMiB.toFixed(0)} MiB |`);
}

const section = `## Memory with 1, 5 and 10 live streams

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:memory\` on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB.
Each stream is a real ffmpeg publishing over RTMP (2 s GOP) into the default profile (one row: the
\`passthrough\` profile, whose source rung is copied, not encoded); RSS is read
from /proc after ${FILL_S} s, when every window is full (6 listed segments + 6 kept for CDNs, plus
the parts of the open segment). "media held" is what the packagers report (\`memoryBytes\` in
/api/streams): it is bounded by the window, so it stops growing after 24 s whatever the uptime.

| streams | ladder | server RSS idle | server RSS | media held | ffmpeg RSS (all) |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
writeBenchSection('## Memory with 1, 5 and 10 live streams', section);
console.log(`written to BENCHMARKS.md`);
