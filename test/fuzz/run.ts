/**
 * `npm run fuzz [seconds]`: hostile input (test/fuzz/hostile.ts) against a real server with a live
 * stream, for 60 s by default (at most 600). Prints the report; exit 1 when the server went down,
 * answered 5xx, leaked a file, the stream had a gap, an idle connection stayed open, or memory grew
 * by more than 64 MiB.
 */
import { fuzz } from './hostile.js';
import { killAll, publish, startServer, waitFor, get } from '../helpers/processes.js';

const seconds = Math.min(600, Math.max(5, Number(process.argv[2] ?? 60)));
const IDLE = 5;
const server = await startServer({ ORIGIN_STREAM_KEYS: 'fuzz:sk_fuzz_0123456789ab', ORIGIN_RTMP_IDLE_TIMEOUT: String(IDLE) });
const pub = publish(`${server.rtmp}/live/sk_fuzz_0123456789ab`, { size: '640x360', seconds: seconds + 60, gop: 60 });
let failed = false;
try {
  await waitFor('the stream to be live', async () => (await get(`${server.http}/live/fuzz/360p/index.m3u8`)).status === 200, 30_000, 250);
  const port = (url: string) => Number(new URL(url.replace('rtmp:', 'http:')).port);
  const report = await fuzz({ rtmpPort: port(server.rtmp), httpPort: port(server.http), pid: server.proc.pid!, playlistPath: '/live/fuzz/360p/index.m3u8' }, seconds, IDLE);
  console.log(JSON.stringify(report, null, 2));
  const problems = [
    ...report.httpProblems,
    ...report.streamProblems,
    server.proc.exitCode !== null ? `server exited with ${server.proc.exitCode}` : '',
    report.segmentsSeen < seconds / 2 - 3 ? `only ${report.segmentsSeen} segments in ${seconds} s` : '',
    report.idleClosedAfterMs.length < 3 || report.idleClosedAfterMs.some((ms) => ms > (IDLE + 2) * 1000) ? `idle connections: ${JSON.stringify(report.idleClosedAfterMs)}` : '',
    report.rssAfterMiB - report.rssBeforeMiB > 64 ? `RSS grew from ${report.rssBeforeMiB.toFixed(0)} to ${report.rssAfterMiB.toFixed(0)} MiB` : '',
  ].filter(Boolean);
  failed = problems.length > 0;
  console.log(failed ? `FAIL:\n  ${problems.join('\n  ')}` : `OK: ${report.rtmpAttacks} RTMP attacks, ${report.httpRequests} HTTP requests, ${report.segmentsSeen} segments without a gap`);
} finally {
  await pub.stop();
  await server.stop('SIGKILL');
  killAll();
}
process.exit(failed ? 1 : 0);
