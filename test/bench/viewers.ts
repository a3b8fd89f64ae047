/**
 * `npm run bench:viewers`: how many LL-HLS viewers one node serves. One server, one 720p30
 * publish with the `passthrough` profile (the source copied + 360p + audio: the lightest ladder
 * of several renditions, so that ffmpeg leaves the 2 cores to serving), and simulated viewers (test/bench/viewer-load.ts, in
 * BENCH_GENERATORS processes, 2 by default: blocking reloads + part fetches, renditions spread evenly) in steps of
 * 250, 500, 1000, 1500, 2000 for 20 s each, until part fetch p95 passes 200 ms or errors appear.
 * Reports per step: part fetch median / p95, errors, the origin's CPU (from /proc) and the
 * generator's, and writes the table to BENCHMARKS.md with the machine. Bounded: ≤ 5 steps × ~25 s.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ffmpegChildren, get, killAll, publish, sleep, startServer, waitFor } from '../helpers/processes.js';
import { viewerLoad } from './load.js';
import { writeBenchSection } from './benchmarks-file.js';

const NAME = 'bench';
const KEY = 'sk_viewers_0123456789ab';
const STEPS = [250, 500, 1000, 1500, 2000];
const SECONDS = 20;
/**
 * Load generator processes. One tops out near one core (at 1000 viewers it used 90 % of a core and
 * the origin 31 %: the generator was the knee); two share the load, and their CPU is reported.
 */
const GENERATORS = Number(process.env.BENCH_GENERATORS ?? 2);
const TICKS = 100; // USER_HZ

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

interface Step {
  viewers: number;
  parts: number;
  partMedianMs: number | null;
  partP95Ms: number | null;
  errors: Record<string, number>;
  originCpuPercent: number;
  generatorCpuPercent: number;
  /** The publishing ffmpeg and the transcoder: the rest of the machine's load. */
  ffmpegCpuPercent: number;
}

// More held requests than the defaults allow for one rendition: this measures the node, not the cap.
const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_PROFILE: 'passthrough', ORIGIN_HTTP_MAX_HELD_PER_RENDITION: '10000', ORIGIN_HTTP_MAX_HELD: '20000' });
const pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: STEPS.length * (SECONDS + 10) + 60, gop: 60, encoder: 'obs' });
const steps: Step[] = [];
let renditions: string[] = [];
try {
  const base = `${server.http}/live/${NAME}`;
  await waitFor('the renditions live', async () => (await get(`${base}/master.m3u8`)).text.split('index.m3u8').length >= 3, 60_000, 500);
  renditions = (await get(`${base}/master.m3u8`)).text.split('\n').filter((l) => l.endsWith('index.m3u8')).map((l) => l.split('/')[0]!);
  await sleep(4000);
  for (const viewers of STEPS) {
    const cpu0 = cpuSeconds(server.proc.pid!);
    const media = [pub.proc.pid!, ...ffmpegChildren(server.proc.pid!)];
    const media0 = media.reduce((a, pid) => a + cpuSeconds(pid), 0);
    const t0 = Date.now();
    const r = await viewerLoad(base, viewers, SECONDS, GENERATORS);
    const wall = (Date.now() - t0) / 1000;
    const step: Step = {
      viewers, parts: r.parts, partMedianMs: r.partMedianMs, partP95Ms: r.partP95Ms, errors: r.errors,
      originCpuPercent: Math.round((100 * (cpuSeconds(server.proc.pid!) - cpu0)) / wall),
      generatorCpuPercent: Math.round((100 * r.generatorCpuSeconds) / wall),
      ffmpegCpuPercent: Math.round((100 * (media.reduce((a, pid) => a + cpuSeconds(pid), 0) - media0)) / wall),
    };
    steps.push(step);
    console.log(JSON.stringify(step));
    if ((step.partP95Ms ?? Infinity) > 200 || Object.keys(step.errors).length > 0) break;

    await sleep(3000);
  }
} finally {
  await pub.stop();
  await server.stop('SIGKILL');
  killAll();
}

const limit = steps.at(-1);
const ok = steps.filter((s) => (s.partP95Ms ?? Infinity) <= 200 && Object.keys(s.errors).length === 0);
const best = ok.at(-1);
const row = (s: Step) => `| ${s.viewers} | ${s.parts} | ${s.partMedianMs ?? '–'} / ${s.partP95Ms ?? '–'} | ${Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} | ${s.originCpuPercent} % | ${s.generatorCpuPercent} % | ${s.ffmpegCpuPercent} % | ${s.originCpuPercent ? ((s.originCpuPercent / 100) * 1000 / s.viewers).toFixed(2) : '–'} ms/s |`;
const date = new Date().toISOString().slice(0, 10);
const section = `## Viewers per node (\`npm run bench:viewers\`)

Measured ${date} on ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.
One server, one 720p30 publish (x264 veryfast, 2 s GOP) with the \`passthrough\` profile (renditions
${renditions.join(', ')}: the source copied, so that ffmpeg leaves the cores to serving), simulated LL-HLS viewers in ${GENERATORS} other process${GENERATORS > 1 ? 'es' : ''} (test/bench/load.ts) on the
same 2 cores (blocking reload for the next part with \`_HLS_skip=YES\`, then each new part; renditions
spread evenly; joined over 2 s), ${SECONDS} s per step, steps until part fetch p95 passes 200 ms or
errors appear. Part times are from request to last byte, as the generator sees them (it shares the
cores with the origin, so they include its own scheduling). CPU is of one core (100 % = one core).

| viewers | parts fetched | part fetch median / p95 ms | errors | origin CPU | generator CPU (all ${GENERATORS}) | publisher + ffmpeg CPU | origin CPU per viewer |
|---|---|---|---|---|---|---|---|
${steps.map(row).join('\n')}

${best ? `Highest step within the bound: ${best.viewers} viewers (${Math.round(best.viewers / cpus().length)} per core of this machine, the generator included on the same cores).` : 'No step stayed within the bound.'}
${limit ? `At ${limit.viewers} viewers the origin used ${limit.originCpuPercent} % of a core, the generators ${limit.generatorCpuPercent} % and the publisher with ffmpeg ${limit.ffmpegCpuPercent} %: ${limit.originCpuPercent + limit.generatorCpuPercent + limit.ffmpegCpuPercent} % of the machine's ${cpus().length * 100} %${limit.originCpuPercent + limit.generatorCpuPercent + limit.ffmpegCpuPercent >= 160 ? ', so the shared cores, not the origin alone, set the knee here; the origin\'s own limit needs a generator on other cores to find' : ''}.` : ''}
`;
writeBenchSection('## Viewers per node', section);
console.log(section);
