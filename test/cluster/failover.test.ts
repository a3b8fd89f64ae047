/**
 * Cluster mode end to end, with the deploy/ topology as native processes: Redis, three nodes,
 * haproxy in front of their RTMP ports, nginx (the shield) in front of their HTTP ports. A
 * publisher that reconnects like OBS publishes through haproxy; a strict crawler and two hls.js
 * players (one watching throughout, one joining after each fault) watch through nginx, while the
 * owner is killed with -9, drained, SIGSTOPped past its lease, and Redis itself is killed and
 * restarted. Per fault the test prints the longest stall, the listed URLs that failed and the
 * seconds until the stream was back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { Redis } from 'ioredis';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, killAll, ObsPublisher, publish, sleep, waitFor, type ServerHandle } from '../helpers/processes.js';
import { clusterUnavailable, ownerSeenBy, startHaproxy, startNode, startRedis, startShield, type Proc } from '../helpers/cluster.js';
import { nginxUnavailable } from '../helpers/nginx.js';
import { browserUnavailable, launch } from '../helpers/browser.js';
import { longestStall, openPlayer, waitPlaying, type WatchedPlayer } from '../helpers/players.js';
import { crawl, type CrawlReport } from '../helpers/crawler.js';

const skip = clusterUnavailable() ?? nginxUnavailable() ?? browserUnavailable();
const KEY = 'clusterkey-0123456789';
const ADMIN = 'admin-token-cluster-0123456789';
const NAME = 'clu';
type Node = Awaited<ReturnType<typeof startNode>>;

describe.skipIf(skip)('cluster: three nodes on Redis behind haproxy and an nginx shield', () => {
  let redis: Proc;
  const nodes = new Map<string, Node>();
  let haproxy: Proc;
  let shield: Awaited<ReturnType<typeof startShield>>;
  let obs: ObsPublisher;
  let browser: BrowserContext;
  let watcher: WatchedPlayer;
  let crawler: ReturnType<typeof crawl>;
  let report: CrawlReport;
  /** Fault by fault: what a viewer saw. */
  const faults: Array<{ fault: string; backAfterS: number; stallS: number; failedUrls: string[] }> = [];
  /** Epochs of sessions on nodes killed with -9: only their pieces may fail. */
  const killedEpochs = new Set<string>();
  let handOvers = 0;
  /** From the SIGSTOP to a few seconds after the SIGCONT (what a frozen node costs, see failuresSince). */
  let frozen: [number, number] = [0, 0];
  /** Epochs of every session that stopped on its node (killed, drained, stopped): the part its last preload hint announced answers 404. */
  const goneEpochs = new Set<string>();

  const env = (extra: Record<string, string> = {}) => ({
    ORIGIN_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`,
    ORIGIN_ADMIN_TOKEN: ADMIN,
    ORIGIN_DRAIN_SECONDS: '3',
    ORIGIN_RECONNECT_GRACE: '15',
    ORIGIN_LOG_LEVEL: 'debug',
    ...extra,
  });
  const owner = async (): Promise<Node> => {
    for (const n of nodes.values()) {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
      const id = await ownerSeenBy(n.http, NAME);
      if (id && nodes.get(id)) return nodes.get(id)!;
    }
    throw new Error('no node names an owner');
  };
  const others = (not: Node) => [...nodes.values()].filter((n) => n !== not && n.proc.exitCode === null && n.proc.signalCode === null);
  /** The epoch of the session a node serves (from its playlist's segment names). */
  const epochOf = async (n: Node): Promise<string> => {
    const master = await get(`${n.http}/live/${NAME}/master.m3u8`);
    const variant = master.text.split('\n').find((l) => l.endsWith('/index.m3u8'))!;
    const pl = await get(`${n.http}/live/${NAME}/${variant}`);
    return /^([a-z0-9]+)-\d+\.m4s$/m.exec(pl.text)![1]!;
  };
  /** Waits until every live node names a new owner (not `old`); seconds it took. */
  const newOwner = async (old: string, t0: number, timeoutMs = 25_000): Promise<{ node: Node; seconds: number }> => {
    let seen: string[] = [];
    const node = await waitFor(`a new owner instead of ${old}`, async () => {
      seen = await Promise.all([...nodes.values()].filter((n) => n.id !== old && n.proc.exitCode === null && n.proc.signalCode === null).map((n) => ownerSeenBy(n.http, NAME)));
      return seen.length > 0 && seen.every((s) => s && s !== old && s === seen[0]) ? nodes.get(seen[0]!) : undefined;
    }, timeoutMs, 100).catch(async (err: Error) => {
      const r = new Redis(redis.port, '127.0.0.1');
      const registry = await r.hgetall('lo:streams').finally(() => r.disconnect());
      throw new Error(`${err.message}; the other nodes name: ${JSON.stringify(seen)}; Redis has ${JSON.stringify(registry).slice(0, 400)}`);
    });
    return { node, seconds: (Date.now() - t0) / 1000 };
  };
  /** Playlists advance through the shield again (a new MSN after `t0`). */
  const advancing = async () => {
    const master = await waitFor('master via the shield', async () => {
      const m = await get(`${shield.url}/live/${NAME}/master.m3u8`);
      return m.status === 200 ? m : undefined;
    }, 20_000);
    const variant = master.text.split('\n').find((l) => l.endsWith('/index.m3u8'))!;
    const msn = async () => {
      const r = await get(`${shield.url}/live/${NAME}/${variant}`);
      if (r.status !== 200) return -1;
      const m = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(r.text);
      const segs = r.text.split('\n').filter((l) => l.endsWith('.m4s') && !l.startsWith('#')).length;
      return m ? Number(m[1]) + segs : -1;
    };
    const first = await waitFor('a playlist', async () => ((await msn()) >= 0 ? msn() : undefined), 20_000);
    await waitFor('the playlist to advance', async () => (await msn()) > first, 20_000, 250);
  };
  /** Violations since `from`, minus what a kill -9 may cost (pieces of the killed session, playlists while no node serves the stream). */
  const failuresSince = (from: number, allow: { ownerGap?: boolean; stoppedNode?: boolean; stoppedEpoch?: string } = {}) =>
    report.violations.slice(from).filter((v) => {
      // a node woken from a freeze confirms its lease before it answers for the stream (so no stale
      // playlist: CI once saw MEDIA-SEQUENCE go back 24 -> 17), but a request for the part its own
      // preload hint announced, held across the freeze, ends 404 when that run is retired
      if (allow.stoppedEpoch && /answered 404: \S*-p\d+\.m4s /.test(v)) return false;
      if ([...killedEpochs].some((e) => v.includes(`/${e}-`) || v.includes(`init-${e}`))) return false;
      // no node serves the stream between a kill -9 and the next owner being playable: a short-cached 503
      if (allow.ownerGap && /answered 503: .*\.m3u8 .*ERR_OWNER_UNREACHABLE/.test(v)) return false;
      // nginx has no active health check: a stopped node holds its requests until proxy_read_timeout
      if (allow.stoppedNode && /answered 50[24]: [\s\S]*nginx/.test(v)) return false;
      return true;
    });
  /** Per rendition: discontinuities since the stream began (DISCONTINUITY-SEQUENCE + the tags listed). */
  let discontinuitiesAtStart: Record<string, number> = {};
  const discontinuitiesSoFar = async (): Promise<Record<string, number>> => {
    const master = await get(`${shield.url}/live/${NAME}/master.m3u8`);
    const out: Record<string, number> = {};
    for (const variant of master.text.split('\n').filter((l) => l.endsWith('/index.m3u8'))) {
      const pl = await get(`${shield.url}/live/${NAME}/${variant}`);
      expect(pl.status).toBe(200);
      const seq = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(pl.text)?.[1] ?? 0);
      out[variant.split('/')[0]!] = seq + (pl.text.match(/^#EXT-X-DISCONTINUITY$/gm) ?? []).length;
    }
    return out;
  };
  /** A viewer who joins now plays through the shield (its own page, closed after). */
  const lateViewerPlays = async () => {
    const late = await openPlayer(browser, 'bundled', shield.url, NAME);
    try {
      await waitPlaying(late, 3, 25_000);
      expect(late.problems.filter((p) => !/held request timed out/.test(p.what))).toEqual([]);
    } finally {
      await late.close();
    }
  };

  beforeAll(async () => {
    redis = await startRedis();
    for (const id of ['node1', 'node2', 'node3']) nodes.set(id, await startNode(id, env()));
    haproxy = await startHaproxy([...nodes.values()]);
    shield = await startShield([...nodes.values()].map((n) => n.httpPort));
    browser = await launch();
  }, 60_000);

  /** Every node's log so far (the ones replaced by a restart too), kept for a failed run. */
  const logs: string[] = [];
  const keepLog = (n: Node) => logs.push(`===== ${n.id} (pid ${n.proc.pid})\n${n.output()}`);

  afterAll(async () => {
    for (const n of nodes.values()) keepLog(n);
    const dir = mkdtempSync(join(tmpdir(), 'lo-cluster-logs-'));
    writeFileSync(join(dir, 'nodes.log'), logs.join('\n'));
    console.log(`cluster node logs: ${dir}/nodes.log`);
    await obs?.close().catch(() => {});
    await browser?.close().catch(() => {});
    shield?.stop();
    killAll();
    console.log('cluster faults:', JSON.stringify(faults, null, 1));
  });

  it('goes live through haproxy; every node answers a piece with the same bytes, ETag and Cache-Control', async () => {
    obs = new ObsPublisher(`rtmp://127.0.0.1:${haproxy.port}/live/${KEY}`, { size: '640x360', fps: 30, gop: 60 }, 2000);
    await advancing();
    const o = await owner();
    for (const n of nodes.values()) expect(await ownerSeenBy(n.http, NAME)).toBe(o.id);
    const master = await get(`${o.http}/live/${NAME}/master.m3u8`);
    const variant = master.text.split('\n').find((l) => l.endsWith('/index.m3u8'))!;
    const rendition = variant.split('/')[0]!;
    const pl = await get(`${o.http}/live/${NAME}/${variant}`);
    const seg = pl.text.split('\n').filter((l) => l.endsWith('.m4s') && !l.startsWith('#')).at(-1)!;
    const answers = await Promise.all([...nodes.values()].map((n) => get(`${n.http}/live/${NAME}/${rendition}/${seg}`)));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.headers.get('etag')).toBe(answers[0]!.headers.get('etag'));
      expect(a.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(Buffer.compare(a.body, answers[0]!.body)).toBe(0);
    }
    // the master too (a playlist: same bytes from every node)
    const masters = await Promise.all([...nodes.values()].map((n) => get(`${n.http}/live/${NAME}/master.m3u8`)));
    for (const m of masters) expect([m.status, m.text, m.headers.get('etag')]).toEqual([200, masters[0]!.text, masters[0]!.headers.get('etag')]);
    // the node list, admin only
    const cl = await get(`${o.http}/api/cluster`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(cl.status).toBe(200);
    const body = JSON.parse(cl.text) as { nodes: Array<{ id: string; ready: boolean; streams: number; url: string }> };
    expect(body.nodes.map((n) => [n.id, n.ready])).toEqual([['node1', true], ['node2', true], ['node3', true]]);
    expect(body.nodes.find((n) => n.id === o.id)!.streams).toBe(1);
    expect((await get(`${o.http}/api/cluster`)).status).toBe(401);
    expect((await get(`${o.http}/readyz`)).status).toBe(200);

    discontinuitiesAtStart = await discontinuitiesSoFar();
    expect(Object.keys(discontinuitiesAtStart).length).toBeGreaterThan(0);
    crawler = crawl(`${shield.url}/live/${NAME}`);
    report = crawler.report;
    watcher = await openPlayer(browser, 'bundled', shield.url, NAME);
    await waitPlaying(watcher, 3, 25_000);
  }, 90_000);

  it('refuses a second publisher on another node, cluster-wide; the owner stays', async () => {
    const o = await owner();
    const other = others(o)[0]!;
    const dup = publish(`${other.rtmp}/live/${KEY}`, { seconds: 20, size: '320x180' });
    const code = await Promise.race([dup.exited, sleep(12_000).then(() => 'still running')]);
    expect(code).not.toBe('still running');
    expect(other.output().split('\n').some((l) => l.includes('publisher refused (cluster)') && l.includes(`already live on node ${o.id}`))).toBe(true);
    for (const n of nodes.values()) expect(await ownerSeenBy(n.http, NAME)).toBe(o.id);
  }, 30_000);

  it('kill -9 of the owner: the publisher comes back through haproxy and another node goes on numbering', async () => {
    const o = await owner();
    killedEpochs.add(await epochOf(o));
    goneEpochs.add(await epochOf(o));
    const from = report.violations.length;
    const t0 = Date.now();
    process.kill(-o.proc.pid!, 'SIGKILL');
    const { node, seconds } = await newOwner(o.id, t0);
    handOvers++;
    await advancing();
    const back = (Date.now() - t0) / 1000;
    await sleep(8000);
    const stall = longestStall(await watcher.samples(t0), t0, Date.now());
    faults.push({ fault: `kill -9 ${o.id} -> ${node.id} (owner after ${seconds.toFixed(1)} s)`, backAfterS: back, stallS: stall, failedUrls: report.violations.slice(from) });
    expect(failuresSince(from, { ownerGap: true })).toEqual([]);
    // the watcher plays on, and a viewer who joins now plays too
    await waitPlaying(watcher, 2, 15_000);
    await lateViewerPlays();
    // the killed node comes back on its ports (a rolling restart's "start" half)
    keepLog(o);
    nodes.set(o.id, await startNode(o.id, env({ ORIGIN_HTTP_PORT: String(o.httpPort), ORIGIN_RTMP_PORT: String(o.rtmpPort) })));
  }, 120_000);

  it('drain (SIGTERM): readyz 503, the stream moves to another node without an ENDLIST, the node exits 0', async () => {
    const o = await owner();
    goneEpochs.add(await epochOf(o));
    const from = report.violations.length;
    const t0 = Date.now();
    o.proc.kill('SIGTERM');
    await waitFor('readyz 503 while draining', async () => (await get(`${o.http}/readyz`).catch(() => ({ status: 0 }))).status === 503, 5000, 50);
    const { node, seconds } = await newOwner(o.id, t0);
    handOvers++;
    expect(await o.exited).toBe(0);
    expect(o.output()).toMatch(/stream handed over \(no ENDLIST/);
    await advancing();
    const back = (Date.now() - t0) / 1000;
    await sleep(5000);
    const stall = longestStall(await watcher.samples(t0), t0, Date.now());
    faults.push({ fault: `drain ${o.id} -> ${node.id} (owner after ${seconds.toFixed(1)} s)`, backAfterS: back, stallS: stall, failedUrls: report.violations.slice(from) });
    expect(failuresSince(from)).toEqual([]);
    await waitPlaying(watcher, 2, 15_000);
    await lateViewerPlays();
    keepLog(o);
    nodes.set(o.id, await startNode(o.id, env({ ORIGIN_HTTP_PORT: String(o.httpPort), ORIGIN_RTMP_PORT: String(o.rtmpPort) })));
  }, 120_000);

  it('an owner stopped (SIGSTOP) past its lease loses the stream and gives it up when it runs again', async () => {
    const o = await owner();
    const stoppedEpoch = await epochOf(o);
    goneEpochs.add(stoppedEpoch);
    const from = report.violations.length;
    const t0 = Date.now();
    process.kill(-o.proc.pid!, 'SIGSTOP');
    try {
      // OBS times out on a server that stopped answering and reconnects (haproxy sends it elsewhere)
      await sleep(1500);
      obs.drop();
      const { node, seconds } = await newOwner(o.id, t0);
      handOvers++;
      await advancing();
      const back = (Date.now() - t0) / 1000;
      faults.push({ fault: `SIGSTOP ${o.id} -> ${node.id} (owner after ${seconds.toFixed(1)} s)`, backAfterS: back, stallS: -1, failedUrls: [] });
    } finally {
      process.kill(-o.proc.pid!, 'SIGCONT');
    }
    await waitFor('the stopped node to give the stream up', () => /lease lost: another node owns the stream now/.test(o.output()), 10_000);
    await waitFor('the stopped node to name the new owner', async () => (await ownerSeenBy(o.http, NAME)) !== o.id, 10_000);
    await sleep(4000);
    frozen = [t0, Date.now()];
    const f = faults.at(-1)!;
    f.stallS = longestStall(await watcher.samples(t0), t0, Date.now());
    f.failedUrls = report.violations.slice(from);
    expect(failuresSince(from, { ownerGap: true, stoppedNode: true, stoppedEpoch })).toEqual([]);
    await waitPlaying(watcher, 2, 15_000);
    await lateViewerPlays();
  }, 120_000);

  it('Redis killed and restarted empty: the stream plays on, lease and registry come back by themselves', async () => {
    const o = await owner();
    const from = report.violations.length;
    const t0 = Date.now();
    redis.kill('SIGKILL');
    await sleep(3000);
    // every node says it cannot take publishers, and still serves
    for (const n of others(o).concat(o)) expect((await get(`${n.http}/readyz`)).status).toBe(503);
    await advancing();
    redis = await startRedis(redis.port);
    const r = new Redis(redis.port, '127.0.0.1');
    try {
      await waitFor('the lease back in Redis', async () => (await r.get(`lo:owner:${NAME}`))?.startsWith(`${o.id}|`), 10_000, 200);
      await waitFor('the registry back', async () => (await r.hget('lo:streams', NAME)) !== null, 10_000, 200);
    } finally {
      r.disconnect();
    }
    for (const n of nodes.values()) await waitFor(`readyz of ${n.id}`, async () => (await get(`${n.http}/readyz`)).status === 200, 10_000, 200);
    expect(o.output()).toMatch(/Redis connection lost: local streams go on/);
    await waitFor('the other nodes to name the owner again', async () => (await Promise.all(others(o).map((n) => ownerSeenBy(n.http, NAME)))).every((id) => id === o.id), 5000);
    await sleep(3000);
    const stall = longestStall(await watcher.samples(t0), t0, Date.now());
    faults.push({ fault: `Redis restarted (owner ${o.id} kept it)`, backAfterS: 0, stallS: stall, failedUrls: report.violations.slice(from) });
    expect(failuresSince(from)).toEqual([]);
    expect(stall).toBeLessThan(1.5);
  }, 60_000);

  it('over every fault: MEDIA-SEQUENCE never went back, no ENDLIST, one DISCONTINUITY per hand-over', async () => {
    const r = await crawler.stop();
    expect(r.violations.filter((v) => /media sequence went back|bytes changed/.test(v))).toEqual([]);
    expect([...r.endlists]).toEqual([]);
    // every discontinuity the stream had since the start, counted by the playlist itself: the ones
    // that left (EXT-X-DISCONTINUITY-SEQUENCE, carried from node to node) plus the ones listed
    const after = await discontinuitiesSoFar();
    for (const [rendition, n] of Object.entries(after)) expect([rendition, n - (discontinuitiesAtStart[rendition] ?? NaN)]).toEqual([rendition, handOvers]);
    // and the crawler never saw more than one marked segment per hand-over
    for (const [rendition, marked] of r.discontinuitySegments) expect(marked.size, rendition).toBeLessThanOrEqual(handOvers);
    expect(r.polls).toBeGreaterThan(50);
    // allowed: held requests that timed out (503), playlists while no node served the stream, pieces
    // of a node killed with -9, and the one part each stopped session's last preload hint announced
    // (retired with its run: 404)
    const hinted = (what: string) => [...goneEpochs].some((e) => new RegExp(`^part 404 .*/${e}-p\\d+\\.m4s$`).test(what));
    const killed = (what: string) => [...killedEpochs].some((e) => what.includes(`/${e}-`) || what.includes(`init-${e}`));
    const whileFrozen = (p: { t: number; what: string }) => p.t >= frozen[0] && p.t <= frozen[1] && /^(HTTP 50[24] |part 404 )/.test(p.what);
    expect(watcher.problems.filter((p) => !/held request timed out|HTTP 503 .*\.m3u8/.test(p.what) && !hinted(p.what) && !killed(p.what) && !whileFrozen(p))).toEqual([]);
  });
});
