/**
 * `npm run fuzz [seconds]`: hostile input against a real server with a live stream, for 60 s by
 * default (at most 600): the random input of test/fuzz/hostile.ts, and at the same time every
 * hostile client of test/fuzz/attacks.ts (the issue "Hostile publishers and viewers"), each
 * bounded. Prints the report and a table row for BENCHMARKS.md; exit 1 when the server went down,
 * answered 5xx, leaked a file, the stream had a gap, an idle connection stayed open, /healthz p95
 * passed 50 ms, or memory grew by more than 64 MiB.
 */
import { fuzz } from './hostile.js';
import { halfOpenPublisher, heldFlood, multiPublish, neverPublish, pinConnections, playLeak, sseFlood } from './attacks.js';
import { killAll, publish, startServer, waitFor, get } from '../helpers/processes.js';

const seconds = Math.min(600, Math.max(20, Number(process.argv[2] ?? 60)));
const IDLE = 5;
const KEY = 'sk_fuzz_0123456789ab';
const server = await startServer({ ORIGIN_STREAM_KEYS: `fuzz:${KEY}`, ORIGIN_RTMP_IDLE_TIMEOUT: String(IDLE) });
const pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: seconds + 60, gop: 60 });
const port = (url: string) => Number(new URL(url.replace('rtmp:', 'http:')).port);
const rtmpPort = port(server.rtmp);
const httpPort = port(server.http);
let failed = false;
try {
  await waitFor('the stream to be live', async () => (await get(`${server.http}/live/fuzz/360p/index.m3u8`)).status === 200, 30_000, 250);
  // /healthz every 100 ms all along: the event loop as a viewer would feel it
  const healthz: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${server.http}/healthz`).catch(() => {});
      healthz.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const attackSeconds = Math.min(30, seconds - 5);
  const [report, ...attacks] = await Promise.all([
    fuzz({ rtmpPort, httpPort, pid: server.proc.pid!, playlistPath: '/live/fuzz/360p/index.m3u8' }, seconds, IDLE),
    halfOpenPublisher(rtmpPort, 'wrong-key-0000000000', 300, 1024, 20_000).then((r) => ['halfopen wrong key', r] as const),
    halfOpenPublisher(rtmpPort, KEY, 150, 64, 20_000).then((r) => ['second publisher', r] as const),
    multiPublish(rtmpPort, 200).then((r) => ['multipublish 200', r] as const),
    playLeak(rtmpPort, 100).then((r) => ['play x100', r] as const),
    pinConnections(rtmpPort, 500, 10_000).then((r) => ['pin 500', r] as const),
    neverPublish(rtmpPort, 15_000).then((r) => ['never publishes', r] as const),
    heldFlood(httpPort, '/live/fuzz/360p/index.m3u8', 5000, attackSeconds).then((r) => ['5000 held requests/s', r] as const),
    sseFlood(httpPort, 5000, 10_000).then((r) => ['5000 SSE attempts', r] as const),
  ]);
  probing = false;
  await prober;
  healthz.sort((a, b) => a - b);
  const p95 = healthz[Math.floor(healthz.length * 0.95)] ?? NaN;
  const metrics = (await get(`${server.http}/metrics`)).text;
  const refusals = metrics.split('\n').filter((l) => l.startsWith('origin_rtmp_refused_total{') && !l.endsWith(' 0')).map((l) => l.replace('origin_rtmp_refused_total', '')).join(' ');
  console.log(JSON.stringify({ ...report, attacks: Object.fromEntries(attacks), healthzP95Ms: p95, healthzMaxMs: healthz.at(-1), refusals }, null, 2));
  const problems = [
    ...report.httpProblems,
    ...report.streamProblems,
    server.proc.exitCode !== null ? `server exited with ${server.proc.exitCode}` : '',
    report.segmentsSeen < seconds / 2 - 3 ? `only ${report.segmentsSeen} segments in ${seconds} s` : '',
    report.idleClosedAfterMs.length < 3 || report.idleClosedAfterMs.some((ms) => ms > (IDLE + 2) * 1000) ? `idle connections: ${JSON.stringify(report.idleClosedAfterMs)}` : '',
    report.rssAfterMiB - report.rssBeforeMiB > 64 ? `RSS grew from ${report.rssBeforeMiB.toFixed(0)} to ${report.rssAfterMiB.toFixed(0)} MiB` : '',
    p95 > 50 ? `/healthz p95 ${p95.toFixed(0)} ms > 50 ms` : '',
    ...attacks.filter(([, r]) => 'halfClosedOnly' in r && (r.halfClosedOnly || r.closedAfterMs === undefined || r.closedAfterMs > 1000)).map(([n, r]) => `${n}: ${JSON.stringify(r)}`),
  ].filter(Boolean);
  failed = problems.length > 0;
  console.log(`\n| fuzz s | RTMP attacks | HTTP requests | segments, gaps | RSS MiB before → after | /healthz p95 / max ms | RTMP refusals |\n|---|---|---|---|---|---|---|\n| ${seconds} | ${report.rtmpAttacks} + 8 hostile clients | ${report.httpRequests} + ${attackSeconds * 5000} held + 5000 SSE | ${report.segmentsSeen}, ${report.streamProblems.length} | ${report.rssBeforeMiB.toFixed(0)} → ${report.rssAfterMiB.toFixed(0)} | ${p95.toFixed(0)} / ${healthz.at(-1)?.toFixed(0)} | ${refusals} |`);
  console.log(failed ? `FAIL:\n  ${problems.join('\n  ')}` : 'OK');
} finally {
  await pub.stop();
  await server.stop('SIGKILL');
  killAll();
}
process.exit(failed ? 1 : 0);
