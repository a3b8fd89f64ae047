/**
 * Hostile input against a running server while a legitimate stream is live (127.0.0.1 only,
 * bounded in time and count, stops by itself). Used by `npm run fuzz` (test/fuzz/run.ts, long)
 * and by test/integration/fuzz.test.ts (short, in `npm test`).
 *
 * RTMP port: random bytes, truncated and wrong-version handshakes, a valid handshake followed by a
 * huge Set Chunk Size and a message header claiming 16 MB, idle and trickling connections.
 * HTTP port: path traversal (plain, encoded, double-encoded), NUL, oversized paths and headers,
 * odd and garbage methods, bad LL-HLS directives.
 * Meanwhile the legitimate stream's playlist is polled: its segments must keep coming with no gap.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface FuzzTarget {
  rtmpPort: number;
  httpPort: number;
  /** The server's pid (RSS is read from /proc). */
  pid: number;
  /** Media playlist of the legitimate stream, e.g. /live/fuzz/360p/index.m3u8. */
  playlistPath: string;
}

export interface FuzzReport {
  rtmpAttacks: number;
  httpRequests: number;
  /** HTTP answers with a 5xx status, or that leaked a file: must be empty. */
  httpProblems: string[];
  /** Segments of the legitimate stream seen during the run, and msn gaps or discontinuities among them. */
  segmentsSeen: number;
  streamProblems: string[];
  /** Idle RTMP connections the server closed, and after how long (ms). */
  idleClosedAfterMs: number[];
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Opens a TCP connection, runs `fn`, always destroys the socket; resolves when done (max `limitMs`). */
function withSocket(port: number, limitMs: number, fn: (s: Socket, closed: Promise<number>) => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('data', () => {});
    const closed = new Promise<number>((r) => s.once('close', () => r(Date.now() - started)));
    const t = setTimeout(() => s.destroy(), limitMs);
    s.once('connect', () => {
      fn(s, closed).catch(() => {}).finally(() => {
        clearTimeout(t);
        s.destroy();
        resolve();
      });
    });
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** One RTMP message chunk (fmt 0, chunk stream 2) of a protocol control message. */
function controlChunk(type: number, payload: Buffer, claimedLength = payload.length): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x02;
  h.writeUIntBE(0, 1, 3);
  h.writeUIntBE(claimedLength, 4, 3);
  h[7] = type;
  h.writeUInt32LE(0, 8);
  return Buffer.concat([h, payload]);
}

const RTMP_ATTACKS: Array<(port: number) => Promise<void>> = [
  // random bytes
  (port) => withSocket(port, 2000, async (s) => { s.write(randomBytes(1 + Math.floor(Math.random() * 65536))); await sleep(100); }),
  // truncated handshake: C0 and part of C1
  (port) => withSocket(port, 2000, async (s) => { s.write(Buffer.concat([Buffer.from([3]), randomBytes(700)])); await sleep(200); }),
  // wrong version byte
  (port) => withSocket(port, 2000, async (s) => { s.write(Buffer.concat([Buffer.from([0x06]), randomBytes(1536)])); await sleep(200); }),
  // a valid handshake, then a 2^31-1 chunk size and a header that claims a 16 MB message, then garbage
  (port) => withSocket(port, 3000, async (s) => {
    s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]));
    await sleep(150);
    s.write(Buffer.alloc(1536)); // C2
    const size = Buffer.alloc(4);
    size.writeUInt32BE(0x7fffffff);
    s.write(controlChunk(1, size));
    s.write(controlChunk(20, randomBytes(64), 0xffffff));
    s.write(randomBytes(4096));
    await sleep(200);
  }),
];

/** HTTP requests (raw, so that nothing normalizes them) and what a safe answer is. */
const HTTP_REQUESTS: string[] = [
  'GET /live/../../../../etc/passwd HTTP/1.1',
  'GET /live/%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1',
  'GET /live/fuzz/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1',
  'GET /live/fuzz/360p/..%252f..%252fpackage.json HTTP/1.1',
  'GET /../package.json HTTP/1.1',
  'GET //etc/passwd HTTP/1.1',
  'GET /player/../../package.json HTTP/1.1',
  'GET /live/fuzz/360p/%00.m4s HTTP/1.1',
  'GET /live/fuzz/360p/index.m3u8?_HLS_msn=-1 HTTP/1.1',
  'GET /live/fuzz/360p/index.m3u8?_HLS_msn=abc&_HLS_part=9999999 HTTP/1.1',
  'GET /live/fuzz/360p/index.m3u8?_HLS_part=1 HTTP/1.1',
  `GET /live/${'a'.repeat(20000)}/master.m3u8 HTTP/1.1`,
  'PROPFIND /live/fuzz/master.m3u8 HTTP/1.1',
  'TRACE / HTTP/1.1',
  'DELETE /api/streams/fuzz HTTP/1.1',
  'GET /vod/..%2f..%2fetc/master.m3u8 HTTP/1.1',
  'GET /vod/fuzz-abc/360p/..%2f..%2f..%2fpackage.json HTTP/1.1',
  'GET /vod/fuzz-abc/360p.mp4 HTTP/1.1',
  'GET /api/recordings?stream=%00 HTTP/1.1',
  'DELETE /api/recordings/fuzz-abc HTTP/1.1',
  'PUT /live/fuzz/master.m3u8 HTTP/1.1',
  'CONNECT 127.0.0.1:22 HTTP/1.1',
  'GARBAGE',
  'GET / HTTP/9.9',
];

/** Sends one raw HTTP request; resolves with the status (0 when the server closed without one) and the body. */
function rawHttp(port: number, requestLine: string, extraHeaders = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ status: m ? Number(m[1]) : 0, text: data });
    };
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', () => {});
    s.once('close', done);
    s.setTimeout(3000, () => s.destroy());
    s.write(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extraHeaders}\r\n`);
  });
}

/** Runs the hostile input for `seconds`; at most `maxRounds` rounds. */
export async function fuzz(target: FuzzTarget, seconds: number, idleProbeSeconds: number, maxRounds = 10_000): Promise<FuzzReport> {
  const report: FuzzReport = {
    rtmpAttacks: 0, httpRequests: 0, httpProblems: [], segmentsSeen: 0, streamProblems: [], idleClosedAfterMs: [],
    rssBeforeMiB: rssMiB(target.pid), rssAfterMiB: 0,
  };
  const deadline = Date.now() + seconds * 1000;

  // the legitimate stream, polled all along
  const seen = new Map<number, boolean>();
  const watcher = (async () => {
    while (Date.now() < deadline) {
      try {
        const text = await (await fetch(`http://127.0.0.1:${target.httpPort}${target.playlistPath}`)).text();
        const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
        let msn = sequence;
        let discontinuity = false;
        for (const line of text.split('\n')) {
          if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
          if (line.startsWith('#EXTINF')) {
            if (!seen.has(msn)) seen.set(msn, discontinuity);
            discontinuity = false;
            msn++;
          }
        }
      } catch (err) {
        report.streamProblems.push(`playlist fetch failed: ${(err as Error).message}`);
      }
      await sleep(500);
    }
  })();

  // idle and trickling RTMP connections run beside the rest
  const idle = Array.from({ length: 3 }, () =>
    withSocket(target.rtmpPort, (idleProbeSeconds + 5) * 1000, async (_s, closed) => {
      report.idleClosedAfterMs.push(await closed);
    }),
  );
  const trickle = withSocket(target.rtmpPort, (idleProbeSeconds + 5) * 1000, async (s, closed) => {
    s.write(Buffer.from([3]));
    await sleep(500);
    s.write(randomBytes(10));
    await closed;
  });

  for (let round = 0; round < maxRounds && Date.now() < deadline; round++) {
    await Promise.all([
      RTMP_ATTACKS[round % RTMP_ATTACKS.length]!(target.rtmpPort).then(() => report.rtmpAttacks++),
      (async () => {
        const line = HTTP_REQUESTS[round % HTTP_REQUESTS.length]!;
        const extra = round % 7 === 3 ? `X-Big: ${'b'.repeat(20000)}\r\n` : '';
        const { status, text } = await rawHttp(target.httpPort, line, extra);
        report.httpRequests++;
        if (status >= 500) report.httpProblems.push(`${line.slice(0, 80)} -> ${status}`);
        if (/root:x:0:0|"name": "live-origin"/.test(text)) report.httpProblems.push(`${line.slice(0, 80)} leaked a file`);
      })(),
    ]);
  }
  await watcher;
  await Promise.all([...idle, trickle]);

  const msns = [...seen.keys()].sort((a, b) => a - b);
  report.segmentsSeen = msns.length;
  for (let i = 1; i < msns.length; i++) if (msns[i] !== msns[i - 1]! + 1) report.streamProblems.push(`msn ${msns[i - 1]} then ${msns[i]}`);
  for (const [msn, disc] of seen) if (disc) report.streamProblems.push(`discontinuity before msn ${msn}`);
  report.rssAfterMiB = rssMiB(target.pid);
  return report;
}
