// Operations and trust, on a real server with a real publisher: metrics that move, the stream
// API, admin routes behind a bearer token, the OpenAPI document, signed and retried webhooks to a
// local receiver, signed playback in the path, RTMPS ingest, the publish auth callback
// (allow / deny / timeout), and no stream key anywhere in answers, playlists or logs.
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, httpGet, killAll, publish, sleep, startServer, waitFor, type ServerHandle } from '../helpers/processes.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';
import { mintToken } from '../../server/origin/playback-token.js';

const KEY = 'sk_ops_secret_0123456789';
const ADMIN = 'admin-token-0123456789abcdef';
const HOOK_SECRET = 'webhook-secret-0123456789';
const PLAY_SECRET = 'playback-secret-0123456789';

interface Delivery { headers: Record<string, unknown>; raw: string; status: number }
const deliveries: Delivery[] = [];
let receiver: FastifyInstance;
let server: ServerHandle;
let base: string;
/** The local receiver's base URL (webhooks at /hook, publish auth at /auth). */
let hook: string;

beforeAll(async () => {
  // The webhook receiver and publish-auth callback: a local Fastify, as an operator's service would be.
  receiver = Fastify();
  receiver.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const failedOnce = new Set<string>();
  receiver.post('/hook', async (req, reply) => {
    const raw = req.body as string;
    const id = (JSON.parse(raw) as { id: string }).id;
    // every delivery fails once, so each event must be retried to arrive
    const status = failedOnce.has(id) ? 200 : 500;
    failedOnce.add(id);
    deliveries.push({ headers: req.headers, raw, status });
    return reply.code(status).send('');
  });
  receiver.post('/auth', async (req, reply) => {
    const { key } = JSON.parse(req.body as string) as { key: string; ip: string };
    if (key === 'sk_allow_0123456789') return { name: 'authd' };
    if (key === 'sk_slow_01234567890') await sleep(3000);
    if (key === 'sk_badname_012345678') return { name: '../etc' };
    return reply.code(403).send({ error: 'no' });
  });
  await receiver.listen({ port: 0, host: '127.0.0.1' });
  hook = `http://127.0.0.1:${(receiver.server.address() as { port: number }).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'lo-ops-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  server = await startServer({
    ORIGIN_STREAM_KEYS: `ops:${KEY}`,
    ORIGIN_ADMIN_TOKEN: ADMIN,
    ORIGIN_WEBHOOK_URLS: `${hook}/hook`,
    ORIGIN_WEBHOOK_SECRET: HOOK_SECRET,
    ORIGIN_PLAYBACK_SECRET: PLAY_SECRET,
    ORIGIN_TLS_CERT: join(dir, 'cert.pem'),
    ORIGIN_TLS_KEY: join(dir, 'key.pem'),
    ORIGIN_RECONNECT_GRACE: '0',
    ORIGIN_LOG_LEVEL: 'debug',
  });
  base = server.http.replace('http:', 'https:');
});

afterAll(async () => {
  await server?.stop('SIGKILL');
  await receiver?.close();
  killAll();
});

// The origin speaks HTTPS here (self-signed): requests skip verification.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const admin = { authorization: `Bearer ${ADMIN}` };
const json = async (url: string, headers: Record<string, string> = {}, method = 'GET') => {
  const r = await httpGet(url, headers, method);
  return { status: r.status, headers: r.headers, body: r.body.length ? JSON.parse(r.body.toString()) as Record<string, any> : {} };
};
function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}` : ''}`) && !l.startsWith('#'));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

describe('operations', () => {
  let token = '';

  it('takes an RTMPS publish; metrics move; the stream API shows ingest, ladder and transcoder', async () => {
    const pub = publish(`${server.rtmps}/live/${KEY}`, { size: '640x360', seconds: 40, gop: 60 });
    try {
      await waitFor('live over RTMPS', async () => (await json(`${base}/api/streams/ops`)).body.state === 'live', 30_000, 250);
      await sleep(3000);
      const first = (await httpGet(`${base}/metrics`)).body.toString();
      await sleep(2500);
      const m = await httpGet(`${base}/metrics`);
      const text = m.body.toString();
      expect(String(m.headers['content-type'])).toContain('text/plain');
      expect(metric(text, 'origin_live_streams')).toBe(1);
      expect(metric(text, 'origin_ingest_bits_per_second', 'stream="ops"')).toBeGreaterThan(100_000);
      expect(metric(text, 'origin_ingest_frames_per_second', 'stream="ops"')).toBeGreaterThan(20);
      expect(metric(text, 'origin_transcoder_speed_ratio', 'stream="ops"')).toBeGreaterThan(0.5);
      expect(metric(text, 'origin_stream_state', 'stream="ops",state="live"')).toBe(1);
      expect(metric(text, 'origin_segments_total', 'stream="ops",rendition="360p"')).toBeGreaterThan(metric(first, 'origin_segments_total', 'stream="ops",rendition="360p"')!);
      expect(metric(text, 'origin_newest_segment_age_seconds', 'stream="ops",rendition="360p"')).toBeLessThan(3);
      expect(metric(text, 'origin_http_requests_total', 'route="/api/streams/:name",method="GET",status="200"')).toBeGreaterThan(0);
      expect(metric(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(text).toContain('origin_http_response_bytes_total');

      const pub1 = await json(`${base}/api/streams/ops`);
      expect(pub1.body.ingest).toMatchObject({ connected: true, videoCodec: 'h264', width: 640, height: 360, remoteAddress: '(admin only)' });
      expect(pub1.body.ingest.measuredBitrateKbps).toBeGreaterThan(100);
      expect(pub1.body.transcoder).toMatchObject({ running: true, restarts: 0 });
      expect(pub1.body.transcoder.speed).toBeGreaterThan(0.5);
      expect(pub1.body.ladder.map((r: { name: string }) => r.name)).toEqual(['360p']);
      expect((await json(`${base}/api/streams/ops`, admin)).body.ingest.remoteAddress).toBe('127.0.0.1');
      expect((await json(`${base}/api/streams/nosuch`)).status).toBe(404);
      expect((await json(`${base}/api/streams/..%2Fetc`)).status).toBe(400);
    } finally {
      await pub.stop();
    }
  }, 60_000);

  it('guards the admin routes with the bearer token and documents them in OpenAPI', async () => {
    for (const [path, method] of [['/api/sessions', 'GET'], ['/api/streams/ops/kick', 'POST'], ['/api/tokens', 'POST']] as const) {
      const none = await json(`${base}${path}`, {}, method);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Bearer');
      expect((await json(`${base}${path}`, { authorization: 'Bearer wrong-token-xxxxxxxxxxxx' }, method)).status).toBe(401);
    }
    const sessions = await json(`${base}/api/sessions`, admin);
    expect(sessions.status).toBe(200);
    expect(sessions.body.sessions[0]).toMatchObject({ name: 'ops' });
    const doc = await json(`${base}/api/openapi.json`);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/streams', '/api/streams/{name}', '/api/streams/{name}/kick', '/api/sessions', '/api/tokens', '/metrics']));
    expect(doc.body.paths['/api/streams/{name}/kick'].post.security).toEqual([{ bearer: [] }]);
    // the list's shape is in the document (the same on a single node and in a cluster), `node` null here
    expect(Object.keys(doc.body.paths['/api/streams'].get.responses['200'].content['application/json'].schema.properties.streams.items.properties)).toEqual(expect.arrayContaining(['name', 'live', 'node', 'playbackUrl']));
    const list = await json(`${base}/api/streams`);
    expect(list.body.streams[0]).toMatchObject({ name: 'ops', node: null });
    expect(list.body.streams[0].ladder).toBeDefined();
    // a single node has no cluster to list
    const cluster = await json(`${base}/api/cluster`, admin);
    expect([cluster.status, cluster.body.code]).toEqual([404, 'ERR_NOT_CLUSTERED']);
    expect((await json(`${base}/readyz`)).status).toBe(200);
  });

  it('sends signed webhooks for started and ended, retried after a failure', async () => {
    await waitFor('stream.ended delivered', () => deliveries.some((d) => d.status === 200 && d.raw.includes('"stream.ended"')), 30_000, 200);
    const delivered = deliveries.filter((d) => d.status === 200).map((d) => JSON.parse(d.raw) as Record<string, string>);
    expect(delivered.map((d) => d.event)).toEqual(expect.arrayContaining(['stream.started', 'stream.ended']));
    for (const d of deliveries) {
      const expected = `sha256=${createHmac('sha256', HOOK_SECRET).update(d.raw).digest('hex')}`;
      expect(d.headers['x-origin-signature']).toBe(expected);
      expect(d.headers['x-origin-event']).toBe((JSON.parse(d.raw) as { event: string }).event);
    }
    // each event came twice with the same delivery id: a 500, then the retry
    for (const d of delivered) expect(deliveries.filter((x) => x.raw.includes(d.id!)).map((x) => x.status)).toEqual([500, 200]);
    expect(delivered.find((d) => d.event === 'stream.started')).toMatchObject({ stream: 'ops' });
  }, 40_000);

  it('serves media only under a valid playback token, cache-friendly and capped at its expiry', async () => {
    const pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 40, gop: 60 });
    try {
      expect((await json(`${base}/api/tokens`, admin, 'POST')).status).toBe(400); // no body: a client error, not a 500
      const res = await fetch(`${base}/api/tokens`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ops', ttlSeconds: 600 }) });
      const t = (await res.json()) as { token: string; playbackUrl: string };
      expect(res.status).toBe(200);
      token = t.token;
      expect(t.playbackUrl).toBe(`${base}/live/ops/t/${token}/master.m3u8`);
      await waitFor('playable', async () => (await get(`${base}/live/ops/t/${token}/master.m3u8`)).status === 200, 30_000, 250);

      const plain = await json(`${base}/live/ops/master.m3u8`);
      expect(plain.status).toBe(403);
      expect(plain.body.message).toContain('needs a signed URL');
      const master = (await get(`${base}/live/ops/t/${token}/master.m3u8`)).text;
      const media = (await get(`${base}/live/ops/t/${token}/${master.split('\n').find((l) => l.endsWith('.m3u8'))}`));
      expect(media.status).toBe(200);
      const seg = parseMediaPlaylist(media.text).segments[0]!;
      const piece = await httpGet(`${base}/live/ops/t/${token}/360p/${seg.uri}`);
      expect(piece.status).toBe(200);
      const maxAge = Number(/max-age=(\d+)/.exec(String(piece.headers['cache-control']))![1]);
      expect(maxAge).toBeGreaterThan(500);
      expect(maxAge).toBeLessThanOrEqual(600);

      const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
      expect((await json(`${base}/live/ops/t/${tampered}/master.m3u8`)).body.message).toContain('not valid');
      expect((await json(`${base}/live/ops/t/${tampered}/360p/${seg.uri}`)).status).toBe(403);
      const otherStream = mintToken(PLAY_SECRET, 'other', Math.floor(Date.now() / 1000) + 600);
      expect((await json(`${base}/live/ops/t/${otherStream}/master.m3u8`)).status).toBe(403);
      const expired = mintToken(PLAY_SECRET, 'ops', Math.floor(Date.now() / 1000) - 5);
      const old = await json(`${base}/live/ops/t/${expired}/master.m3u8`);
      expect([old.status, old.body.message]).toEqual([403, 'the playback token has expired']);
      expect((await json(`${base}/live/ops/t/garbage/master.m3u8`)).status).toBe(403);
      // only the canonical form: the same expiry with a leading zero is not the signed token
      expect((await json(`${base}/live/ops/t/0${token}/master.m3u8`)).status).toBe(403);
      // playlists too are never cached past the token's life (a blocking reload's 6 s included)
      const short = mintToken(PLAY_SECRET, 'ops', Math.floor(Date.now() / 1000) + 4);
      const msn = parseMediaPlaylist(media.text).segments.at(-1)!.msn;
      const held = await httpGet(`${base}/live/ops/t/${short}/360p/index.m3u8?_HLS_msn=${msn}`);
      expect(held.status).toBe(200);
      expect(Number(/max-age=(\d+)/.exec(String(held.headers['cache-control']))![1])).toBeLessThanOrEqual(4);
    } finally {
      await pub.stop();
    }
  }, 60_000);

  it('kicks a live stream (ENDLIST) for an admin', async () => {
    await waitFor('the previous session ended', async () => (await json(`${base}/api/streams/ops`)).body.state !== 'live', 10_000, 100);
    const pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 40, gop: 60 });
    try {
      await waitFor('live', async () => (await json(`${base}/api/streams/ops`)).body.state === 'live', 30_000, 250);
      const kicked = await json(`${base}/api/streams/ops/kick`, admin, 'POST');
      expect(kicked.body).toMatchObject({ name: 'ops', kicked: true, state: 'ended' });
      const text = (await get(`${base}/live/ops/t/${token}/360p/index.m3u8`)).text;
      expect(text).toContain('#EXT-X-ENDLIST');
      expect((await json(`${base}/api/sessions`, admin)).body.sessions[0]).toMatchObject({ name: 'ops', state: 'ended', remoteAddress: null });
    } finally {
      await pub.stop();
    }
  }, 60_000);

  it('never shows the stream key in answers, playlists or logs', async () => {
    // (nor the startup banner: it prints a generated demo key only, never a configured one)
    expect(server.output()).not.toContain(KEY);
    const everything = [
      server.logs().map((l) => JSON.stringify(l)).join('\n'),
      (await get(`${base}/live/ops/t/${token}/360p/index.m3u8`)).text,
      (await get(`${base}/api/streams`)).text,
      (await get(`${base}/api/sessions`, { headers: admin })).text,
      (await get(`${base}/metrics`)).text,
    ].join('\n');
    expect(everything.split('\n').filter((l) => l.includes(KEY))).toEqual([]);
    expect(everything).not.toContain(ADMIN);
    expect(everything).not.toContain(HOOK_SECRET);
    expect(everything).not.toContain(PLAY_SECRET);
    // every line logged by a session names its stream
    const sessionLines = server.logs().filter((l) => typeof l.msg === 'string' && /^(ladder chosen|starting ffmpeg|publish accepted|stream ended|first playable master playlist)$/.test(l.msg as string));
    expect(sessionLines.length).toBeGreaterThan(3);
    for (const l of sessionLines) expect(l.stream).toBe('ops');
  });
});

describe('publish auth callback', () => {
  let authServer: ServerHandle;
  beforeAll(async () => {
    authServer = await startServer({ ORIGIN_PUBLISH_AUTH_URL: `${hook}/auth` });
  });
  afterAll(async () => {
    await authServer?.stop('SIGKILL');
  });

  it('allows a key the callback names a stream for, and refuses denied, slow and badly answered ones', async () => {
    const allowed = publish(`${authServer.rtmp}/live/sk_allow_0123456789`, { size: '640x360', seconds: 30, gop: 60 });
    const denied = publish(`${authServer.rtmp}/live/sk_deny_01234567890`, { size: '640x360', seconds: 30, gop: 60 });
    const slow = publish(`${authServer.rtmp}/live/sk_slow_01234567890`, { size: '640x360', seconds: 30, gop: 60 });
    const badName = publish(`${authServer.rtmp}/live/sk_badname_012345678`, { size: '640x360', seconds: 30, gop: 60 });
    try {
      await waitFor('authd live', async () => (await get(`${authServer.http}/live/authd/master.m3u8`)).status === 200, 30_000, 250);
      await waitFor('three refusals', () => authServer.logs().filter((l) => l.msg === 'publish refused').length >= 3, 10_000, 200);
      const reasons = authServer.logs().filter((l) => l.msg === 'publish refused').map((l) => String(l.reason)).sort();
      expect(reasons).toEqual([
        'publish auth callback answered 2xx without a valid stream name ({ "name": "[a-z0-9][a-z0-9_-]*" })',
        'publish auth callback did not answer within 2000 ms',
        'publish auth callback refused (HTTP 403)',
      ]);
      const streams = JSON.parse((await get(`${authServer.http}/api/streams`)).text) as { streams: Array<{ name: string }> };
      expect(streams.streams.map((s) => s.name)).toEqual(['authd']);
      // the admin routes are off without ORIGIN_ADMIN_TOKEN, whatever the client sends
      const off = await httpGet(`${authServer.http}/api/sessions`, { authorization: 'Bearer anything-at-all-12345' });
      expect(off.status).toBe(403);
      expect(authServer.output()).not.toContain('sk_allow_0123456789');
    } finally {
      await Promise.all([allowed.stop(), denied.stop(), slow.stop(), badName.stop()]);
    }
  }, 60_000);
});
