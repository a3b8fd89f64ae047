/**
 * Cluster mode through Redis Sentinel (Debian's redis-sentinel): a master, a replica and one
 * sentinel; two nodes find the master by ORIGIN_REDIS_SENTINELS + ORIGIN_REDIS_MASTER_NAME. The
 * master is killed with -9 while a stream is live: the stream keeps playing on its owner and
 * through the other node, the sentinel promotes the replica, the nodes follow it by themselves,
 * the lease is renewed on the new master, and a duplicate publisher is still refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { get, killAll, ObsPublisher, publish, sleep, waitFor } from '../helpers/processes.js';
import { clusterUnavailable, ownerSeenBy, startNode, startRedis, startSentinel, type Proc } from '../helpers/cluster.js';

const skip = clusterUnavailable();
const KEY = 'sentinelkey-0123456789';
const NAME = 'sen';

describe.skipIf(skip)('cluster: Redis Sentinel fails the master over while a stream is live', () => {
  let master: Proc;
  let replica: Proc;
  let sentinel: Proc;
  let a: Awaited<ReturnType<typeof startNode>>;
  let b: Awaited<ReturnType<typeof startNode>>;
  let obs: ObsPublisher;

  /** The newest segment number of the stream's first rendition as node `http` serves it. */
  const newestMsn = async (http: string): Promise<number> => {
    const m = await get(`${http}/live/${NAME}/master.m3u8`);
    if (m.status !== 200) return -1;
    const variant = m.text.split('\n').find((l) => l.endsWith('/index.m3u8'))!;
    const pl = await get(`${http}/live/${NAME}/${variant}`);
    const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl.text);
    return pl.status === 200 && seq ? Number(seq[1]) + pl.text.split('\n').filter((l) => l.endsWith('.m4s') && !l.startsWith('#')).length : -1;
  };

  beforeAll(async () => {
    master = await startRedis();
    replica = await startRedis(undefined, master.port);
    sentinel = await startSentinel(master.port);
    const env = {
      ORIGIN_REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`,
      ORIGIN_REDIS_MASTER_NAME: 'lo',
      ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`,
    };
    a = await startNode('a', env);
    b = await startNode('b', env);
    await waitFor('both nodes ready', async () => (await get(`${a.http}/readyz`)).status === 200 && (await get(`${b.http}/readyz`)).status === 200, 15_000);
  }, 60_000);

  afterAll(async () => {
    await obs?.close().catch(() => {});
    killAll();
  });

  /** The owner's count of answers on `route` (its Prometheus counter). */
  const answered = async (http: string, route: string): Promise<number> => {
    const text = (await get(`${http}/metrics`)).text;
    return text.split('\n').filter((l) => l.startsWith(`origin_http_requests_total{route="${route}",method="GET"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };

  it('N viewers of a remote stream on one node cost its owner one request per URL', async () => {
    // node b's event stream tells of a stream published on node a (Redis pub/sub)
    const sse = new AbortController();
    let events = '';
    const reading = fetch(`${b.http}/api/events`, { signal: sse.signal }).then(async (res) => {
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        events += Buffer.from(value).toString();
      }
    }).catch(() => {});
    await waitFor('the event stream open', () => events.startsWith('retry:'), 5000);
    obs = new ObsPublisher(`${a.rtmp}/live/${KEY}`, { size: '320x180', fps: 30, gop: 60 }, 2000);
    await waitFor('the stream through node b', async () => (await newestMsn(b.http)) > 0, 30_000);
    expect(await ownerSeenBy(b.http, NAME)).toBe('a');
    await waitFor('stream.started and stream.ready on node b', () => /event: stream\.started\ndata: \{"name":"sen"/.test(events) && /event: stream\.ready\ndata: \{"name":"sen"/.test(events), 5000);
    sse.abort();
    await reading;
    const master = await get(`${b.http}/live/${NAME}/master.m3u8`);
    const variant = master.text.split('\n').find((l) => l.endsWith('/index.m3u8'))!;
    const rendition = variant.split('/')[0]!;
    const PIECE = '/live/:name/:rendition/:file';
    const PLAYLIST = '/live/:name/:rendition/index.m3u8';
    // 30 viewers ask node b for the newest segment at once, then 30 more: the owner answers once
    const pl = await get(`${a.http}/live/${NAME}/${variant}`);
    const seg = pl.text.split('\n').filter((l) => l.endsWith('.m4s') && !l.startsWith('#')).at(-1)!;
    const pieces0 = await answered(a.http, PIECE);
    const first = await Promise.all(Array.from({ length: 30 }, () => get(`${b.http}/live/${NAME}/${rendition}/${seg}`)));
    const again = await Promise.all(Array.from({ length: 30 }, () => get(`${b.http}/live/${NAME}/${rendition}/${seg}`)));
    expect(new Set([...first, ...again].map((r) => `${r.status} ${r.headers.get('etag')} ${r.body.length}`)).size).toBe(1);
    expect(first[0]!.status).toBe(200);
    expect((await answered(a.http, PIECE)) - pieces0).toBe(1);
    // 20 blocking reloads for the next segment, held together: one held request at the owner
    const next = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl.text)![1]!;
    const msn = Number(next) + pl.text.split('\n').filter((l) => l.endsWith('.m4s') && !l.startsWith('#')).length + 1;
    const playlists0 = await answered(a.http, PLAYLIST);
    const held = await Promise.all(Array.from({ length: 20 }, () => get(`${b.http}/live/${NAME}/${variant}?_HLS_msn=${msn}`)));
    expect(new Set(held.map((r) => `${r.status} ${r.text.length}`)).size).toBe(1);
    expect(held[0]!.status).toBe(200);
    expect(held[0]!.text).toContain(`-${msn}.m4s`);
    expect((await answered(a.http, PLAYLIST)) - playlists0).toBe(1);
    // the node answers a conditional request itself from the owner's validators
    const etag = first[0]!.headers.get('etag')!;
    expect((await get(`${b.http}/live/${NAME}/${rendition}/${seg}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  }, 60_000);

  it('keeps the stream, the lease and the refusal of a duplicate across the failover', async () => {

    const t0 = Date.now();
    master.kill('SIGKILL');
    // while Redis has no master, both nodes keep serving: the owner from memory, the other by its registry copy
    const before = await newestMsn(b.http);
    await waitFor('the playlist to advance through node b without a Redis master', async () => (await newestMsn(b.http)) > before, 10_000, 250);
    const promoted = new Redis(replica.port, '127.0.0.1');
    try {
      await waitFor('the sentinel to promote the replica', async () => (await promoted.info('replication')).includes('role:master'), 20_000, 250);
      // the owner's lease is renewed on the new master
      await waitFor('the lease on the new master', async () => (await promoted.get(`lo:owner:${NAME}`))?.startsWith('a|'), 15_000, 250);
      const ttl = await promoted.pttl(`lo:owner:${NAME}`);
      expect(ttl).toBeGreaterThan(0);
    } finally {
      promoted.disconnect();
    }
    for (const n of [a, b]) await waitFor(`readyz of node ${n.id} after the failover`, async () => (await get(`${n.http}/readyz`)).status === 200, 15_000, 250);
    console.log(`sentinel failover: nodes ready again ${((Date.now() - t0) / 1000).toFixed(1)} s after the master was killed`);
    expect(a.output()).toMatch(/Redis connection lost: local streams go on/);

    // a second publisher on node b is still refused: the lease holds on the new master
    const dup = publish(`${b.rtmp}/live/${KEY}`, { seconds: 20, size: '320x180' });
    const code = await Promise.race([dup.exited, sleep(12_000).then(() => 'still running')]);
    expect(code).not.toBe('still running');
    expect(b.output().split('\n').some((l) => l.includes('publisher refused (cluster)') && l.includes('already live on node a'))).toBe(true);
    // and the stream never stopped on its owner
    const now = await newestMsn(a.http);
    await waitFor('the owner to go on', async () => (await newestMsn(a.http)) > now, 10_000, 250);
    expect(a.output()).not.toMatch(/lease lost/);
  }, 120_000);
});
