// Startup contract of the real server process: exit codes and messages for bad input, --help,
// the demo key, and raw odd HTTP paths over a real socket.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, get, killAll, publish, runServer, startServer, tempFile, waitFor } from '../helpers/processes.js';

afterAll(() => killAll());

describe('startup', () => {
  it('--help prints every setting with its default and exits 0', async () => {
    const { code, output } = await runServer({}, ['--help']);
    expect(code).toBe(0);
    expect(output).toMatch(/ORIGIN_RTMP_PORT\s+rtmpPort\s+1935/);
    expect(output).toContain('ORIGIN_STREAM_KEYS');
  });

  it.each([
    [{ ORIGIN_RTMP_PORT: 'abc' }, [], /ORIGIN_RTMP_PORT must be an integer from 1 to 65535, got "abc"/],
    [{ ORIGIN_PROFILE: 'nosuch' }, [], /ORIGIN_PROFILE \/ profile must name a file in transcode-profiles\/ \(1080p, default, low-cpu, passthrough\), got "nosuch"/],
    [{ ORIGIN_STREAM_KEYS: 'x' }, [], /ORIGIN_STREAM_KEYS entry 1 must look like name:key/],
    [{}, ['--config', '/nonexistent.json'], /config file \/nonexistent.json: cannot read it/],
    [{}, ['--frobnicate'], /command line: .*frobnicate/],
  ])('bad config %j %j exits 2 with a message naming the key', async (env, args, message) => {
    const { code, output } = await runServer(env as Record<string, string>, args);
    expect(code).toBe(2);
    expect(output).toMatch(message);
    expect(output).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
  });

  it('a bad config file names the file and the key', async () => {
    const file = tempFile('origin.json', JSON.stringify({ httpPort: 0, streams: [{ name: 'A B', key: 'abcdefghijkl0123' }] }));
    const { code, output } = await runServer({}, ['--config', file]);
    expect(code).toBe(2);
    expect(output).toContain(`config file ${file}: httpPort must be an integer from 1 to 65535, got 0`);
    expect(output).toContain(`config file ${file}: streams[0].name must be a string matching`);
  });

  it('a missing or broken ffmpeg is a clear startup error (exit 3)', async () => {
    const missing = await runServer({ FFMPEG_PATH: '/nonexistent/ffmpeg', ORIGIN_RTMP_PORT: String(await freePort()), ORIGIN_HTTP_PORT: String(await freePort()) });
    expect(missing.code).toBe(3);
    expect(missing.output).toContain('ffmpeg at /nonexistent/ffmpeg (from FFMPEG_PATH) does not run: no such file');
    const broken = await runServer({ FFMPEG_PATH: '/bin/false', ORIGIN_RTMP_PORT: String(await freePort()), ORIGIN_HTTP_PORT: String(await freePort()) });
    expect(broken.code).toBe(3);
    expect(broken.output).toContain('ffmpeg at /bin/false (from FFMPEG_PATH) does not run');
  });

  it('a taken port is a clear startup error (exit 4)', async () => {
    const first = await startServer();
    const port = new URL(first.http).port;
    const { code, output } = await runServer({ ORIGIN_HTTP_PORT: port, ORIGIN_RTMP_PORT: String(await freePort()), ORIGIN_HOST: '127.0.0.1' });
    expect(code).toBe(4);
    expect(output).toContain(`Cannot listen for HTTP on port ${port}: the port is in use by another process`);
    const rtmpPort = new URL(first.rtmp).port;
    const rtmp = await runServer({ ORIGIN_RTMP_PORT: rtmpPort, ORIGIN_HTTP_PORT: String(await freePort()), ORIGIN_HOST: '127.0.0.1' });
    expect(rtmp.code).toBe(4);
    expect(rtmp.output).toContain(`Cannot listen for RTMP on port ${rtmpPort}`);
    expect(await first.stop()).toBe(0);
  });

  it('a TMPDIR too long for unix socket paths is a clear startup error (exit 2), and 64-character stream names work under /tmp', async () => {
    const long = join(tmpdir(), 'x'.repeat(90));
    mkdirSync(long, { recursive: true });
    const { code, output } = await runServer({ TMPDIR: long, ORIGIN_HTTP_PORT: String(await freePort()), ORIGIN_RTMP_PORT: String(await freePort()), ORIGIN_HOST: '127.0.0.1' });
    expect(code).toBe(2);
    expect(output).toContain(`TMPDIR ${long} is too long for ffmpeg's output sockets`);
    rmSync(long, { recursive: true, force: true });
    // the longest stream name goes live (its socket paths used to be cut at 107 bytes)
    const name = `a${'b'.repeat(62)}z`;
    const server = await startServer({ ORIGIN_STREAM_KEYS: `${name}:sk_long_name_0123456` });
    const pub = publish(`${server.rtmp}/live/sk_long_name_0123456`, { seconds: 20, size: '320x240', gop: 60 });
    try {
      await waitFor('the long name to be playable', async () => (await get(`${server.http}/live/${name}/master.m3u8`)).status === 200, 30_000, 250);
    } finally {
      await pub.stop();
      await server.stop('SIGKILL');
    }
  }, 60_000);

  it('with no keys configured prints a demo stream key that survives a restart, and the OBS settings', async () => {
    const media = mkdtempSync(join(tmpdir(), 'lo-demo-'));
    const first = await startServer({ ORIGIN_MEDIA_DIR: media });
    const key = /Stream Key: (\S+)\s+\(stream "demo"\)/.exec(first.output())?.[1];
    expect(key).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(first.output()).toMatch(/Server: +rtmp:\/\/127\.0\.0\.1:\d+\/live/);
    expect(first.output()).toMatch(/Watch: http:\/\/127\.0\.0\.1:\d+\/watch\/demo/);
    expect(await first.stop()).toBe(0);
    const second = await startServer({ ORIGIN_MEDIA_DIR: media });
    expect(second.output()).toContain(`Stream Key: ${key}`);
    expect(await second.stop()).toBe(0);
  });
});

/** Sends a raw HTTP/1.1 request line (no client-side normalisation) and returns the status. */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0)));
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

describe('odd paths over a real socket', () => {
  it.each([
    '/live/../../../etc/passwd',
    '/live/%2e%2e/%2e%2e/master.m3u8',
    '/live/x/..%2f..%2f/index.m3u8',
    '/live/x/720p/..%2f..%2fpackage.json',
    '/live/x%00/master.m3u8',
    '/live/x/720p/%00.m4s',
    `/live/${'a'.repeat(2048)}/master.m3u8`,
    '/assets/../../package.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '//etc/passwd',
  ])('%s is refused with a 4xx', async (path) => {
    const server = shared ?? (shared = await startServer());
    const status = await rawGet(Number(new URL(server.http).port), path);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
  });
});
let shared: Awaited<ReturnType<typeof startServer>> | undefined;
