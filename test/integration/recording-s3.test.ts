// Recording on an S3-compatible store (s3rver on 127.0.0.1 stands in for S3, MinIO, R2): the
// per-stream `record` setting over ORIGIN_RECORD, a recording listed and downloaded from the
// bucket, a store that dies mid-broadcast (recording stops with a log line and a metric, the live
// stream goes on, the API answers 503 not 500), and the startup errors of a store that cannot be
// written (exit 6) or a URL that is not one (exit 2).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, get, killAll, publish, runServer, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';

const KEPT = 'sk_s3_kept_0123456789';
const SKIPPED = 'sk_s3_skip_0123456789';
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

interface Recording { id: string; stream: string; endedAt: string | null; durationSeconds: number; renditions: string[]; downloadUrl: string; stoppedEarly?: string }

function startS3(port: number, dir: string): Promise<S3rver> {
  const s3 = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'media', configs: [] }] });
  return s3.run().then(() => s3);
}

describe('recording on S3 (s3rver)', () => {
  let s3: S3rver | undefined;
  let s3Port: number;
  let s3Dir: string;
  let server: ServerHandle;
  const pubs: Publisher[] = [];

  beforeAll(async () => {
    s3Port = await freePort();
    s3Dir = mkdtempSync(join(tmpdir(), 'lo-s3rver-'));
    s3 = await startS3(s3Port, s3Dir);
    const config = join(mkdtempSync(join(tmpdir(), 'lo-s3-conf-')), 'config.json');
    writeFileSync(config, JSON.stringify({ streams: [{ name: 'kept', key: KEPT }, { name: 'skipped', key: SKIPPED, record: false }] }));
    server = await startServer({
      ...S3_ENV,
      ORIGIN_CONFIG: config,
      ORIGIN_RECORD: 'all',
      ORIGIN_STORAGE_URL: 's3://media/live-origin/test',
      ORIGIN_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      ORIGIN_RECONNECT_GRACE: '6',
    });
  }, 60_000);

  afterAll(async () => {
    for (const p of pubs) await p.stop();
    await server?.stop('SIGKILL');
    await s3?.close().catch(() => undefined);
    killAll();
  });

  it('records a 40 s broadcast with a publisher drop in the middle as one recording in the bucket, only for the stream whose setting allows it', async () => {
    // 20 s, the publisher is killed (-9) and back 2 s later for 20 s (within the 6 s grace)
    const a = publish(`${server.rtmp}/live/${KEPT}`, { seconds: 60, size: '640x360', gop: 60 });
    const b = publish(`${server.rtmp}/live/${SKIPPED}`, { seconds: 12, size: '640x360', gop: 60 });
    pubs.push(a, b);
    await waitFor('kept live', async () => (await get(`${server.http}/live/kept/master.m3u8`)).status === 200, 20_000);
    await sleep(19_000);
    a.proc.kill('SIGKILL');
    await a.exited;
    await sleep(2000);
    const a2 = publish(`${server.rtmp}/live/${KEPT}`, { seconds: 20, size: '640x360', gop: 60 });
    pubs.push(a2);
    await Promise.all([a2.exited, b.exited]);
    const rec = await waitFor('recording listed', async () => {
      const list = (JSON.parse((await get(`${server.http}/api/recordings`)).text) as { recordings: Recording[] }).recordings;
      return list.length >= 1 && list.every((r) => r.endedAt) ? list : undefined;
    }, 20_000);
    expect(rec.map((r) => r.stream)).toEqual(['kept']);
    expect(rec[0]!.durationSeconds).toBeGreaterThan(37);
    expect(rec[0]!.durationSeconds).toBeLessThan(43);
    const vod = await get(`${server.http}/vod/${rec[0]!.id}/360p/index.m3u8`);
    expect(vod.text.match(/#EXT-X-DISCONTINUITY\n/g)?.length, vod.text).toBe(1);
    // the objects are in the bucket under the prefix (s3rver keeps them as files)
    const files = spawnSync('find', [join(s3Dir, 'media'), '-name', '*.m4s._S3rver_object'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(files.length).toBeGreaterThan(4);
    expect(files.every((f) => f.includes('/live-origin/test/media/kept/'))).toBe(true);
    const dl = await get(rec[0]!.downloadUrl);
    expect(dl.status).toBe(200);
    const file = join(mkdtempSync(join(tmpdir(), 'lo-s3-dl-')), 'd.mp4');
    writeFileSync(file, dl.body);
    const duration = Number(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).stdout);
    expect(duration).toBeGreaterThan(37);
    expect(duration).toBeLessThan(44);
  }, 90_000);

  it('stops recording when the store dies, says so, and the live stream goes on', async () => {
    const p = publish(`${server.rtmp}/live/${KEPT}`, { seconds: 40, size: '640x360', gop: 60 });
    pubs.push(p);
    const variant = await waitFor('live playlist', async () => {
      const m = await get(`${server.http}/live/kept/master.m3u8`);
      const v = m.status === 200 ? m.text.split('\n').find((l) => l && !l.startsWith('#')) : undefined;
      return v ? `${server.http}/live/kept/${v}` : undefined;
    }, 20_000);
    await sleep(4000);
    await s3!.close();
    s3 = undefined;
    const before = parseMediaPlaylist((await get(variant)).text);
    // five attempts over ~7.5 s, then the recording stops
    const stopped = await waitFor('recording stopped', () => server.logs().find((l) => String(l.msg).startsWith('recording stopped')), 20_000);
    expect(stopped.msg).toContain('the live stream goes on');
    expect(String(stopped.reason)).toMatch(/store failed/);
    const after = parseMediaPlaylist((await get(variant)).text);
    expect(after.mediaSequence + after.segments.length).toBeGreaterThan(before.mediaSequence + before.segments.length + 2);
    const streams = JSON.parse((await get(`${server.http}/api/streams`)).text) as { streams: Array<{ name: string; live: boolean }> };
    expect(streams.streams.find((s) => s.name === 'kept')?.live).toBe(true);
    const metrics = (await get(`${server.http}/metrics`)).text;
    expect(metrics).toMatch(/^origin_recordings_stopped_total 1$/m);
    expect(metrics).toMatch(/^origin_storage_failures_total\{op="write"\} [1-9]/m);
    expect(metrics).toMatch(/^origin_storage_upload_seconds_count\{stream="kept"\} [1-9]/m);
    // the store is down: the list is a 503 with a code, not a 500
    const list = await get(`${server.http}/api/recordings`);
    expect(list.status).toBe(503);
    expect(JSON.parse(list.text).code).toBe('ERR_STORAGE_READ');
    expect(server.logs().filter((l) => (l.level as number) >= 50 && !String(l.msg).startsWith('recording stopped'))).toEqual([]);
    // the store comes back; the broadcast ends: the stopped recording is listed as ended, with why
    s3 = await startS3(s3Port, s3Dir);
    await p.stop();
    const listed = await waitFor('stopped recording listed as ended', async () => {
      const r = await get(`${server.http}/api/recordings?stream=kept`);
      const list = r.status === 200 ? (JSON.parse(r.text) as { recordings: Recording[] }).recordings : [];
      return list.length === 2 && list[1]!.endedAt ? list : undefined;
    }, 30_000);
    expect(listed[0]!.stoppedEarly).toBeUndefined();
    expect(listed[1]!.stoppedEarly).toMatch(/^the store failed: /);
    expect(listed[1]!.durationSeconds).toBeGreaterThan(2);
  }, 90_000);
});

describe('recording store at startup', () => {
  afterAll(() => killAll());

  it('exits 6 with the reason when the store cannot be written', async () => {
    const port = await freePort();
    const s3 = await runServer({ ...S3_ENV, ORIGIN_RECORD: 'all', ORIGIN_STORAGE_URL: 's3://media/x', ORIGIN_S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(s3.code, s3.output).toBe(6);
    expect(s3.output).toContain(`The recording store s3://media/x/ at http://127.0.0.1:${port} cannot be written`);
    // a path under a regular file (root may write anywhere else; Node's recursive mkdir loops on /proc)
    const notDir = join(mkdtempSync(join(tmpdir(), 'lo-s3-file-')), 'a-file');
    writeFileSync(notDir, 'x');
    const file = await runServer({ ORIGIN_DVR_SECONDS: '60', ORIGIN_STORAGE_URL: `file://${notDir}/store` });
    expect(file.code, file.output).toBe(6);
    expect(file.output).toContain(`The recording store file://${notDir}/store cannot be written: ENOTDIR`);
  });

  it('exits 2 for a storage URL or setting that is not one', async () => {
    for (const [env, message] of [
      [{ ORIGIN_STORAGE_URL: 'ftp://host/x' }, 'ORIGIN_STORAGE_URL'],
      [{ ORIGIN_STORAGE_URL: 'file://relative/x' }, 'a file URL has no host'],
      [{ ORIGIN_STORAGE_URL: 's3://UPPER_case/x' }, 'is not a valid bucket name'],
      [{ ORIGIN_RECORD: 'yes' }, 'ORIGIN_RECORD'],
      [{ ORIGIN_DVR_SECONDS: '99999' }, 'ORIGIN_DVR_SECONDS'],
      [{ ORIGIN_S3_ENDPOINT: 'http://127.0.0.1:9000' }, 'ORIGIN_S3_ENDPOINT (s3Endpoint) needs ORIGIN_STORAGE_URL=s3://'],
    ] as const) {
      const r = await runServer(env);
      expect(r.code, r.output).toBe(2);
      expect(r.output).toContain(message);
    }
  });
});
