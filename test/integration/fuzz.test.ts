// The short version of `npm run fuzz`: 12 s of hostile RTMP and HTTP input while a stream is live.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fuzz } from '../fuzz/hostile.js';
import { get, killAll, publish, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';

const IDLE = 3;
let server: ServerHandle;
let pub: Publisher;

beforeAll(async () => {
  server = await startServer({ ORIGIN_STREAM_KEYS: 'fuzz:sk_fuzz_0123456789ab', ORIGIN_RTMP_IDLE_TIMEOUT: String(IDLE) });
  pub = publish(`${server.rtmp}/live/sk_fuzz_0123456789ab`, { size: '640x360', seconds: 60, gop: 60 });
  await waitFor('live', async () => (await get(`${server.http}/live/fuzz/360p/index.m3u8`)).status === 200, 30_000, 250);
});

afterAll(async () => {
  await pub?.stop();
  await server?.stop('SIGKILL');
  killAll();
});

it('survives hostile RTMP and HTTP input with the live stream unbroken, idle connections closed, memory bounded', async () => {
  const port = (url: string) => Number(new URL(url.replace('rtmp:', 'http:')).port);
  const report = await fuzz({ rtmpPort: port(server.rtmp), httpPort: port(server.http), pid: server.proc.pid!, playlistPath: '/live/fuzz/360p/index.m3u8' }, 12, IDLE);
  console.log(`fuzz: ${report.rtmpAttacks} RTMP attacks, ${report.httpRequests} HTTP requests, ${report.segmentsSeen} segments, idle closed after ${report.idleClosedAfterMs.join('/')} ms, RSS ${report.rssBeforeMiB.toFixed(0)} -> ${report.rssAfterMiB.toFixed(0)} MiB`);
  expect(server.proc.exitCode).toBeNull();
  expect(report.httpProblems).toEqual([]);
  expect(report.streamProblems).toEqual([]);
  expect(report.rtmpAttacks).toBeGreaterThan(10);
  expect(report.httpRequests).toBeGreaterThan(10);
  expect(report.segmentsSeen).toBeGreaterThanOrEqual(5);
  expect(report.idleClosedAfterMs).toHaveLength(3);
  for (const ms of report.idleClosedAfterMs) expect(ms).toBeLessThan((IDLE + 2) * 1000);
  expect(report.rssAfterMiB - report.rssBeforeMiB).toBeLessThan(64);
  expect((await get(`${server.http}/healthz`)).status).toBe(200);
}, 60_000);
