/**
 * The multi-node topology of deploy/ as native processes (Debian's redis-server, redis-sentinel,
 * haproxy and nginx): every process is tracked and killed by PID when the test file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, get, startServer, track, waitFor, type ServerHandle } from './processes.js';
import { startNginx } from './nginx.js';

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

/** haproxy as in deploy/haproxy.cfg: RTMP in TCP mode (leastconn, health-checked on /readyz). */
export async function startHaproxy(nodes: Array<{ rtmpPort: number; httpPort: number }>): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lo-haproxy-'));
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, `global
  maxconn 2000
defaults
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch
frontend rtmp
  mode tcp
  bind 127.0.0.1:${port}
  default_backend rtmp_nodes
backend rtmp_nodes
  mode tcp
  balance leastconn
  option httpchk GET /readyz
${nodes.map((n, i) => `  server n${i + 1} 127.0.0.1:${n.rtmpPort} check port ${n.httpPort} inter 500 fall 2 rise 2`).join('\n')}
`);
  const h = spawnTracked(BINARIES.haproxy, ['-db', '-f', conf], port);
  await waitFor('haproxy to listen', () => listening(port), 10_000);
  return h;
}

/**
 * nginx as the shield of deploy/nginx.conf: one cache in front of every node, the cache key with
 * the LL-HLS directives (the full request URI), proxy_cache_lock, and the next node tried when one
 * does not answer.
 */
export async function startShield(httpPorts: number[]): Promise<{ url: string; proc: ChildProcess; stop: () => void }> {
  const n = await startNginx((port, dir) => `
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=hls:10m max_size=1g inactive=10m use_temp_path=off;
  upstream origins {
${httpPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origins;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502;
      proxy_connect_timeout 1s;
      proxy_cache hls;
      proxy_cache_key $request_uri;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_cache_lock_age 10s;
      proxy_read_timeout 10s;
      add_header X-Cache $upstream_cache_status always;
    }
  }`);
  track(n.proc);
  return n;
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
