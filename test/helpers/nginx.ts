/**
 * Debian's nginx as a CDN stand-in: a caching reverse proxy in front of the origin that honours
 * the origin's Cache-Control, keys on the full URI (LL-HLS directives included) and coalesces
 * concurrent misses (proxy_cache_lock), as CDNs do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, track, waitFor } from './processes.js';

/** Where Debian puts nginx. */
export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

/** Why nginx tests cannot run here, or undefined. With CI=true they must. */
export function nginxUnavailable(): string | undefined {
  if (existsSync(NGINX)) return undefined;
  const reason = `no nginx at ${NGINX} (apt-get install -y nginx-light)`;
  if (process.env.CI === 'true') throw new Error(`CI=true requires the proxy tests: ${reason}`);
  return reason;
}

/** Starts Debian's nginx (one worker) with `server` as its server block; kills it by PID on stop. */
export async function startNginx(server: (port: number, dir: string) => string): Promise<{ url: string; proc: ChildProcess; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lo-nginx-'));
  const conf = join(dir, 'nginx.conf');
  // As root, nginx's workers would run as nobody and could not read our 0700 temp dirs.
  writeFileSync(conf, `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 2048; }
http {
  access_log off;
  proxy_temp_path ${dir}/tmp;
  client_body_temp_path ${dir}/body;
${server(port, dir)}
}
`);
  // its own process group, tracked: killAll ends master, worker and cache manager together even
  // when a test fails before stop (a master killed alone leaves its cache manager behind)
  const proc = spawn(NGINX, ['-c', conf, '-p', dir, '-g', 'daemon off;'], { stdio: 'ignore', detached: true });
  track(proc, true);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('nginx to listen', async () => (await fetch(url).catch(() => null)) !== null, 10_000);
  return { url, proc, stop: () => proc.exitCode === null && proc.kill('SIGTERM') };
}

/** Starts a caching proxy to `origin`. */
export function startCachingProxy(origin: string): ReturnType<typeof startNginx> {
  return startNginx((port, dir) => `
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=hls:10m max_size=1g inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${origin};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hls;
      proxy_cache_key $request_uri;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_cache_lock_age 10s;
      proxy_read_timeout 15s;
      add_header X-Cache $upstream_cache_status always;
    }
  }`);
}
