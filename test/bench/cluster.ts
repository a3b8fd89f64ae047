/**
 * `npm run bench:cluster`: what the proxy hop costs. Redis and three nodes (native processes), one
 * stream published to node1 (the `passthrough` profile: the source copied + 360p, the lightest
 * ladder, so that the 2 cores are left to serving), and simulated LL-HLS viewers
 * (test/bench/viewer-load.ts: blocking reloads + part fetches) spread evenly over the three nodes,
 * in one process per node, at the same time. Reports per node the part fetch median / p95 and, for
 * the two nodes that do not own the stream, the bytes they pulled from the owner (undici's
 * diagnostics channel: what really crossed the network, after coalescing and the piece cache)
 * against the stream's own part bytes in the same time. Writes the table to BENCHMARKS.md.
 * Bounded: 2 runs (150, 300 viewers) × 25 s.
 */
import { cpus, totalmem } from 'node:os';
import { get, killAll, publish, sleep, waitFor } from '../helpers/processes.js';
import { ownerSeenBy, startNode, startRedis } from '../helpers/cluster.js';
import { viewerLoad } from './load.js';
import { writeBenchSection } from './benchmarks-file.js';

const NAME = 'bench';
const KEY = 'sk_cluster_bench_0123456789';
const RUNS = [150, 300];
const SECONDS = 25;

const metric = async (http: string, name: string): Promise<number> => {
  const line = (await get(`${http}/metrics`)).text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

const load = (base: string, viewers: number) => viewerLoad(base, viewers, SECONDS);

const rows: string[] = [];
try {
  const redis = await startRedis();
  const env = { ORIGIN_REDIS_URL: `redis://127.0.0.1:${redis.port}`, ORIGIN_STREAM_KEYS: `${NAME}:${KEY}`, ORIGIN_PROFILE: 'passthrough', ORIGIN_HTTP_MAX_HELD_PER_RENDITION: '10000', ORIGIN_HTTP_MAX_HELD: '20000' };
  const nodes = [await startNode('node1', env), await startNode('node2', env), await startNode('node3', env)];
  publish(`${nodes[0]!.rtmp}/live/${KEY}`, { seconds: RUNS.length * (SECONDS + 15) + 60, gop: 60, encoder: 'obs' });
  for (const n of nodes) await waitFor(`the stream on ${n.id}`, async () => (await get(`${n.http}/live/${NAME}/master.m3u8`)).text.split('index.m3u8').length >= 3, 60_000, 500);
  if ((await ownerSeenBy(nodes[2]!.http, NAME)) !== 'node1') throw new Error('node1 does not own the stream');
  await sleep(4000);
  for (const total of RUNS) {
    const before = await Promise.all(nodes.map((n) => metric(n.http, 'origin_peer_upstream_bytes')));
    const results = await Promise.all(nodes.map((n) => load(`${n.http}/live/${NAME}`, total / nodes.length)));
    const after = await Promise.all(nodes.map((n) => metric(n.http, 'origin_peer_upstream_bytes')));
    const own = Math.max(...results.map((r) => r.streamPartBytes));
    nodes.forEach((n, i) => {
      const r = results[i]!;
      const pulled = after[i]! - before[i]!;
      rows.push(`| ${total} | ${n.id}${i === 0 ? ' (owner)' : ''} | ${total / nodes.length} | ${r.parts} | ${r.partMedianMs} | ${r.partP95Ms} | ${Object.keys(r.errors).length ? JSON.stringify(r.errors) : 'none'} | ${i === 0 ? '–' : `${(pulled / 2 ** 20).toFixed(1)} MiB = ${(pulled / own).toFixed(2)}×`} |`);
    });
    console.log(rows.slice(-3).join('\n'));
    await sleep(3000);
  }
} finally {
  killAll();
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}`;
const section = `## Cluster: the proxy hop (\`npm run bench:cluster\`)

${new Date().toISOString().slice(0, 10)}, ${machine}. Redis + 3 nodes on this one machine, one stream (passthrough profile: the
720p30 source copied + 360p) published to node1; simulated LL-HLS viewers (blocking reloads + part fetches,
renditions spread evenly) split evenly over the three nodes, each third in its own load process, for ${SECONDS} s.
"pulled from the owner" is what crossed the network from node1 to that node (undici's diagnostics channel, after
coalescing and the piece cache), against the stream's own part bytes in the same time (the most one viewer of
each rendition fetched, summed): it includes the coalesced blocking playlists. Everything (3 nodes, 2 ffmpeg,
3 load generators) shares the 2 cores, so compare the rows of one run with each other, not with other tables.

| viewers (total) | node | viewers here | parts fetched | part median ms | part p95 ms | errors | pulled from the owner |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
writeBenchSection('## Cluster: the proxy hop', section);
console.log(section);
