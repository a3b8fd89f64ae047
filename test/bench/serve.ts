/**
 * `npm run bench:serve`: how fast the origin serves a ~0.7 MB segment and a variant playlist from
 * memory, against Debian's nginx serving a copy of the same files from disk, in one run, with wrk
 * at 64 and 256 connections. Ratios to nginx are what compare (2 shared cores: wrk, the server
 * under test and nothing else run during a measurement). Bounded: 8 cases x 3 rounds x 6 s.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { get, killAll, publish, sleep, startServer, waitFor } from '../helpers/processes.js';
import { startNginx } from '../helpers/nginx.js';
import { writeBenchSection } from './benchmarks-file.js';

const NAME = 'bench';
const KEY = 'sk_serve_0123456789abcd';
const DURATION_S = 6;
// 3 rounds, so that the figure is a true median (of 2 it was the better round)
const ROUNDS = 3;

interface WrkResult { rps: number; p50: number; p99: number }

function wrk(url: string, connections: number): WrkResult {
  const out = execFileSync('wrk', ['-t2', `-c${connections}`, `-d${DURATION_S}s`, '--latency', url], { encoding: 'utf8' });
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk got error responses from ${url}:\n${out}`);
  const ms = (s: string) => (s.endsWith('us') ? parseFloat(s) / 1000 : s.endsWith('ms') ? parseFloat(s) : parseFloat(s) * 1000);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
    p50: ms(/\s50%\s+([\d.]+\w+)/.exec(out)![1]!),
    p99: ms(/\s99%\s+([\d.]+\w+)/.exec(out)![1]!),
  };
}

/** nginx serving `root` from disk with the origin's headers (sendfile, one worker). */
function startStaticNginx(root: string): ReturnType<typeof startNginx> {
  return startNginx((port) => `
  sendfile on;
  tcp_nopush on;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location ~ \\.m3u8$ { add_header Cache-Control "public, max-age=1"; add_header Access-Control-Allow-Origin *; }
    location ~ \\.(m4s|mp4)$ { add_header Cache-Control "public, max-age=31536000, immutable"; add_header Access-Control-Allow-Origin *; }
  }`);
}

// One worker process each: the origin is one Node process, nginx gets one worker to match.
const server = await startServer({ ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_RECONNECT_GRACE: '600' });
const pub = publish(`${server.rtmp}/live/${KEY}`, { seconds: 60, gop: 60 });
let nginx: { url: string; stop: () => void } | undefined;
try {
  const base = `${server.http}/live/${NAME}/720p`;
  await waitFor('4 segments', async () => {
    const r = await get(`${base}/index.m3u8`);
    return r.status === 200 && (r.text.match(/\.m4s\n/g) ?? []).length >= 4;
  }, 60_000, 500);
  // Stop the publisher: the stream waits for it (grace 600 s), the pieces stay, no ffmpeg runs.
  await pub.stop();
  await sleep(1000);
  const playlist = (await get(`${base}/index.m3u8`)).text;
  const segUri = playlist.split('\n').filter((l) => /-\d+\.m4s$/.test(l)).at(-2)!;
  const segment = (await get(`${base}/${segUri}`)).body;
  const root = mkdtempSync(join(tmpdir(), 'lo-serve-'));
  for (const [path, body] of [[`live/${NAME}/720p/index.m3u8`, Buffer.from(playlist)], [`live/${NAME}/720p/${segUri}`, segment]] as const) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), body);
  }
  nginx = await startStaticNginx(root);
  const cases: Array<[string, string]> = [['segment', `/live/${NAME}/720p/${segUri}`], ['playlist', `/live/${NAME}/720p/index.m3u8`]];
  const rows: string[] = [];
  for (const [what, path] of cases) {
    for (const c of [64, 256]) {
      const o: WrkResult[] = [];
      const n: WrkResult[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        o.push(wrk(`${server.http}${path}`, c));
        n.push(wrk(`${nginx.url}${path}`, c));
      }
      const med = (xs: WrkResult[], k: keyof WrkResult) => [...xs.map((x) => x[k])].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const line = `| ${what} (${what === 'segment' ? `${(segment.length / 1e6).toFixed(2)} MB` : `${playlist.length} B`}) | ${c} | ${med(o, 'rps').toFixed(0)} | ${med(o, 'p50').toFixed(2)} / ${med(o, 'p99').toFixed(2)} | ${med(n, 'rps').toFixed(0)} | ${med(n, 'p50').toFixed(2)} / ${med(n, 'p99').toFixed(2)} | **${(med(o, 'rps') / med(n, 'rps')).toFixed(2)}x** |`;
      console.log(line);
      rows.push(line);
    }
  }
  const label = process.env.BENCH_LABEL ?? 'current';
  const section = `## Serving speed against nginx (${label})

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:serve\` on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB,
${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '')}: wrk -t2 against the origin (one Node process, pieces from
memory) and against nginx (one worker, sendfile, the same playlist and segment copied to disk), in
one run, ${ROUNDS} rounds of ${DURATION_S} s each, medians. Latencies in ms.

| what | connections | origin req/s | origin p50 / p99 | nginx req/s | nginx p50 / p99 | origin / nginx |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
  writeBenchSection(`## Serving speed against nginx (${label})`, section);
  console.log(`written to BENCHMARKS.md`);
} finally {
  nginx?.stop();
  await pub.stop();
  await server.stop('SIGKILL');
  killAll();
}
