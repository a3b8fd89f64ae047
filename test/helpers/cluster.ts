/**
 * The multi-node topology of deploy/ as native processes (Debian's redis-server, redis-sentinel,
 * haproxy and nginx): every process is tracked and killed by PID when the test file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, get, ROOT, startServer, track, waitFor, type ServerHandle } from './processes.js';
import { NGINX } from './nginx.js';

const BINARIES = { redis: '/usr/bin/redis-server', sentinel: '/usr/bin/redis-sentinel', haproxy: '/usr/sbin/haproxy' };

/** Why the cluster tests cannot run here, or undefined. With CI=true they must. */
export function clusterUnavailable(): string | undefined {
  const missing = Object.entries(BINARIES).filter(([, p]) => !existsSync(p)).map(([n]) => n);
  if (!missing.length) return undefined;
  const reason = `missing ${missing.join(', ')} (apt-get install -y redis-server redis-sentinel haproxy)`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires the cluster tests: ${reason}`);
  return reason;
}

/** A TCP port that accepts connections. */
async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A process with its output kept. */
export interface Proc {
  proc: ChildProcess;
  port: number;
  output(): string;
  kill(signal?: NodeJS.Signals): void;
}

function spawnTracked(cmd: string, args: string[], port: number): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return { proc, port, output: () => out, kill: (signal = 'SIGKILL') => void (proc.exitCode === null && proc.kill(signal)) };
}

/** redis-server on 127.0.0.1, no persistence (a restart loses every key, the hardest case). */
export async function startRedis(port?: number, replicaOf?: number): Promise<Proc> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'lo-redis-'));
  const r = spawnTracked(BINARIES.redis, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : [])], p);
  await waitFor(`redis-server on ${p}`, () => listening(p), 10_000);
  return r;
}

/** One redis-sentinel watching `masterPort` as "lo" (quorum 1, down after 1 s). */
export async function startSentinel(masterPort: number): Promise<Proc> {
  const p = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lo-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, `port ${p}
bind 127.0.0.1
dir ${dir}
sentinel monitor lo 127.0.0.1 ${masterPort} 1
sentinel down-after-milliseconds lo 1000
sentinel failover-timeout lo 5000
sentinel parallel-syncs lo 1
`);
  const s = spawnTracked(BINARIES.sentinel, [conf], p);
  await waitFor(`redis-sentinel on ${p}`, () => listening(p), 10_000);
  return s;
}

/**
 * deploy/haproxy.cfg itself, with its addresses made local: the bind on a free port and one
 * `server` line per node (RTMP port, health check on its HTTP port).
 */
export async function startHaproxy(nodes: Array<{ rtmpPort: number; httpPort: number }>): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lo-haproxy-'));
  const conf = join(dir, 'haproxy.cfg');
  const kit = readFileSync(join(ROOT, 'deploy', 'haproxy.cfg'), 'utf8');
  const servers = nodes.map((n, i) => `  server origin${i + 1} 127.0.0.1:${n.rtmpPort} port ${n.httpPort}`).join('\n');
  const local = kit
    .replace(/^  bind :1935$/m, `  bind 127.0.0.1:${port}`)
    .replace(/^(  server origin\d .*\n?)+/m, `${servers}\n`);
  if (!local.includes(`127.0.0.1:${port}`) || !local.includes(`127.0.0.1:${nodes[0]!.rtmpPort}`)) throw new Error('deploy/haproxy.cfg changed shape: update startHaproxy');
  writeFileSync(conf, local);
  const h = spawnTracked(BINARIES.haproxy, ['-db', '-f', conf], port);
  await waitFor('haproxy to listen', () => listening(port), 10_000);
  return h;
}

/**
 * deploy/nginx.conf itself (the shield), with local paths and addresses: one cache in front of every
 * node, the cache key with the LL-HLS directives, proxy_cache_lock, the next node tried when one is gone.
 */
export async function startShield(httpPorts: number[]): Promise<{ url: string; proc: ChildProcess; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lo-shield-'));
  const kit = readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const upstreams = httpPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n');
  const local = `${process.getuid?.() === 0 ? 'user root;\n' : ''}pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\n` + kit
    .replace(/^worker_processes auto;$/m, 'worker_processes 1;')
    .replace('/var/cache/nginx/hls', `${dir}/cache`)
    .replace(/^http \{$/m, `http {\n  proxy_temp_path ${dir}/tmp;\n  client_body_temp_path ${dir}/body;`)
    .replace(/^(    server origin\d:8000 .*\n?)+/m, `${upstreams}\n`)
    .replace(/^    listen 80;$/m, `    listen 127.0.0.1:${port};`);
  if (!local.includes(`listen 127.0.0.1:${port}`) || !local.includes(`127.0.0.1:${httpPorts[0]}`)) throw new Error('deploy/nginx.conf changed shape: update startShield');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, local);
  // its own process group, killed whole: a master killed alone leaves its cache manager and
  // workers behind (found: an nginx cache manager left running after a cluster test run)
  const proc = spawn(NGINX, ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: 'ignore', detached: true });
  track(proc, true);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('nginx to listen', async () => (await fetch(url).catch(() => null)) !== null, 10_000);
  return { url, proc, stop: () => proc.exitCode === null && proc.kill('SIGTERM') };
}

/** A node of the cluster: its own process group (kill -9 takes its ffmpeg too). */
export async function startNode(id: string, env: Record<string, string>): Promise<ServerHandle & { id: string; rtmpPort: number; httpPort: number }> {
  const node = await startServer({ ORIGIN_NODE_ID: id, ...env }, [], { group: true });
  return { ...node, id, rtmpPort: Number(new URL(node.rtmp).port), httpPort: Number(new URL(node.http).port) };
}

/** The node `/api/streams` of `http` says serves `name` live ('' when none). */
export async function ownerSeenBy(http: string, name: string): Promise<string> {
  const r = await get(`${http}/api/streams`).catch(() => undefined);
  if (!r || r.status !== 200) return '';
  const s = (JSON.parse(r.text) as { streams: Array<{ name: string; live: boolean; node: string | null }> }).streams.find((x) => x.name === name && x.live);
  return s?.node ?? '';
}
