/**
 * Real processes for integration tests: the built server, ffmpeg publishers, ffprobe. Every child
 * is tracked and killed by PID when the test file ends, also when a test fails.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const children = new Set<ChildProcess>();
export const ROOT = new URL('../..', import.meta.url).pathname;

/** Kills every child this test file started (by PID; called from afterAll and on exit). */
export function killAll(): void {
  for (const c of children) {
    // a process group leader (startServer's `group`) takes its ffmpeg children with it
    if (groups.has(c) && c.pid) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  children.clear();
}
/** Children started as the leader of their own process group. */
const groups = new WeakSet<ChildProcess>();

/** Tracks a child started elsewhere (redis, haproxy…) so killAll ends it too. */
export function track(child: ChildProcess, group = false): void {
  children.add(child);
  if (group) groups.add(child);
}
process.once('exit', killAll);

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Sleeps. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time is up (then throws with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** A running server. */
export interface ServerHandle {
  proc: ChildProcess;
  http: string;
  rtmp: string;
  /** rtmps://127.0.0.1:<port> (listening only when the server has a certificate). */
  rtmps: string;
  /** Everything it printed (stdout + stderr). */
  output(): string;
  /** JSON log lines. */
  logs(): Array<Record<string, unknown>>;
  /** Exit code once exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node dist/server/main.js` with env; resolves when both ports listen. */
export async function startServer(env: Record<string, string> = {}, args: string[] = [], opts: { group?: boolean } = {}): Promise<ServerHandle> {
  // (ports given in env are kept: a node restarted on its ports)
  const rtmpPort = env.ORIGIN_RTMP_PORT ? Number(env.ORIGIN_RTMP_PORT) : await freePort();
  const httpPort = env.ORIGIN_HTTP_PORT ? Number(env.ORIGIN_HTTP_PORT) : await freePort();
  const rtmpsPort = await freePort();
  const media = mkdtempSync(join(tmpdir(), 'lo-test-media-'));
  const proc = spawn(process.execPath, ['dist/server/main.js', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ORIGIN_HOST: '127.0.0.1',
      ORIGIN_RTMP_PORT: String(rtmpPort),
      ORIGIN_HTTP_PORT: String(httpPort),
      ORIGIN_RTMPS_PORT: String(rtmpsPort),
      ORIGIN_MEDIA_DIR: media,
      // lets the suite run against another ffmpeg (e.g. the @ffmpeg-installer one)
      ...(process.env.FFMPEG_PATH ? { FFMPEG_PATH: process.env.FFMPEG_PATH } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // group: its own process group, so a test can kill -9 the node with its ffmpeg children, as a crash of the machine would
    detached: opts.group === true,
  });
  track(proc, opts.group === true);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const handle: ServerHandle = {
    proc,
    http: `http://127.0.0.1:${httpPort}`,
    rtmp: `rtmp://127.0.0.1:${rtmpPort}`,
    rtmps: `rtmps://127.0.0.1:${rtmpsPort}`,
    output: () => out,
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
  await Promise.race([
    waitFor('server to listen', () => out.includes('live-origin is running'), 20_000),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before listening:\n${out}`);
    }),
  ]);
  return handle;
}

/** Runs the server to completion (for startup errors): exit code and output. */
export async function runServer(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, ['dist/server/main.js', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ORIGIN_MEDIA_DIR: mkdtempSync(join(tmpdir(), 'lo-test-media-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  // a server that started instead of failing is stopped
  return { code, output };
}

/** A publisher: ffmpeg sending testsrc2 + sine over RTMP in real time. */
export interface Publisher {
  proc: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * x264 settings of the publisher: `zerolatency` (fast, no B-frames), or `obs` as OBS's x264 sends
 * by default (veryfast, High profile, 2 B-frames).
 */
const PUBLISH_ENCODERS = {
  zerolatency: ['-preset', 'ultrafast', '-tune', 'zerolatency'],
  obs: ['-preset', 'veryfast', '-profile:v', 'high', '-bf', '2'],
};

/** Starts ffmpeg publishing `seconds` of 1280x720@30 test picture and a sine tone (OBS-like 8 s GOP by default). */
export function publish(url: string, opts: { seconds?: number; size?: string; fps?: number; gop?: number; encoder?: keyof typeof PUBLISH_ENCODERS; keyframesUntil?: number } = {}): Publisher {
  const { seconds = 60, size = '1280x720', fps = 30, gop = 250, encoder = 'zerolatency' } = opts;
  // keyframesUntil: a source that stops sending keyframes after that many seconds (every `gop` frames before)
  const keyframes = opts.keyframesUntil === undefined
    ? ['-g', String(gop)]
    : ['-g', '100000', '-sc_threshold', '0', '-force_key_frames', `expr:lt(t,${opts.keyframesUntil})*gte(t,n_forced*${gop / fps})`];
  const proc = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds),
      '-c:v', 'libx264', ...PUBLISH_ENCODERS[encoder], ...keyframes, '-b:v', '2500k', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '128k',
      '-f', 'flv', url,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(proc);
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    exited,
    output: () => out,
    stop: async () => {
      // SIGINT makes ffmpeg close the RTMP connection cleanly, like OBS's "Stop Streaming"
      if (proc.exitCode === null) proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** ffprobe of a file: its streams. */
export async function probe(bytes: Buffer): Promise<Array<Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), 'lo-probe-'));
  const file = join(dir, 'piece.mp4');
  writeFileSync(file, bytes);
  const { stdout } = await run(process.env.FFPROBE_PATH ?? 'ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: Array<Record<string, unknown>> }).streams;
}

/** ffprobe of a file: video frames' key flags and timestamps. */
export async function probeVideoFrames(bytes: Buffer): Promise<Array<{ key: boolean; pts: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'lo-probe-'));
  const file = join(dir, 'piece.mp4');
  writeFileSync(file, bytes);
  const { stdout } = await run(process.env.FFPROBE_PATH ?? 'ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'json', file,
  ]);
  const packets = (JSON.parse(stdout) as { packets: Array<{ pts_time: string; flags: string }> }).packets;
  return packets.map((p) => ({ key: p.flags.startsWith('K'), pts: Number(p.pts_time) }));
}

/** Direct children of a pid that are ffmpeg (from /proc). */
export function ffmpegChildren(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirProc()) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && stat.includes('(ffmpeg)')) out.push(Number(entry));
    } catch {
      // process ended meanwhile
    }
  }
  return out;
}

function readdirProc(): string[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e));
}

/** GET as text/bytes with status and headers. */
export async function get(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Buffer; text: string }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

/** Writes a file and returns its path (for config files). */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lo-test-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/**
 * GET with node:http, sending exactly the given headers: fetch adds `Cache-Control: no-cache` to
 * conditional requests (Fetch spec), which turns a 304 into a 200 at a standards-following server.
 */
export function httpGet(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Source settings of an OBS-like publisher (they may change between two connections). */
export interface SourceSettings {
  size: string;
  fps: number;
  gop: number;
}

/**
 * A publisher that behaves like OBS: when its connection ends for any reason other than `close()`,
 * it connects again by itself after `reconnectMs` (OBS's default retry delay is 2 s... 10 s; we
 * use 2 s). Faults are injected as they happen in the field: `drop()` kills the publishing
 * process with SIGKILL (no RTMP close), `cut()` destroys its TCP connection with `ss -K` (as a
 * network fault does), `stopClean()` is "Stop Streaming" followed by an automatic start again.
 */
export class ObsPublisher {
  settings: SourceSettings;
  reconnectMs: number;
  /** False: a connection that ends stays ended (a stuck or abandoned OBS). */
  reconnect = true;
  private current: Publisher | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Connections made so far. */
  connections = 0;

  constructor(private readonly url: string, settings: SourceSettings, reconnectMs = 2000) {
    this.settings = settings;
    this.reconnectMs = reconnectMs;
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    this.connections++;
    const pub = publish(this.url, { seconds: 3600, ...this.settings });
    this.current = pub;
    void pub.exited.then(() => {
      if (this.current !== pub || this.closed || !this.reconnect) return;
      this.timer = setTimeout(() => this.connect(), this.reconnectMs);
    });
  }

  /** pid of the publishing ffmpeg right now. */
  get pid(): number | undefined {
    const p = this.current?.proc;
    return p && p.exitCode === null && p.signalCode === null ? p.pid : undefined;
  }

  /** True while a publishing process runs. */
  get connected(): boolean {
    return this.pid !== undefined;
  }

  /** The publishing process dies (kill -9): the server sees the TCP connection close, no RTMP close. */
  drop(): void {
    const pid = this.pid;
    if (!pid) throw new Error('ObsPublisher.drop: not connected');
    process.kill(pid, 'SIGKILL');
  }

  /**
   * The network cuts the connection: `ss -K` destroys this publisher's socket (the server gets a
   * reset); the publishing process then fails on its next write, exits, and reconnects.
   */
  cut(rtmpPort: number): void {
    const pid = this.pid;
    if (!pid) throw new Error('ObsPublisher.cut: not connected');
    const lines = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${rtmpPort}`], { encoding: 'utf8' }).split('\n');
    const mine = lines.find((l) => l.includes(`pid=${pid},`));
    const local = mine?.trim().split(/\s+/)[2];
    if (!local) throw new Error(`ObsPublisher.cut: no connection of pid ${pid} to port ${rtmpPort} in:\n${lines.join('\n')}`);
    // (root only, and a kernel with CONFIG_INET_DIAG_DESTROY; Debian's has it)
    execFileSync('ss', ['-K', '-tn', 'src', local, 'dst', `127.0.0.1:${rtmpPort}`], { stdio: 'ignore' });
    const still = execFileSync('ss', ['-tnH', 'state', 'established', 'src', local, 'dst', `127.0.0.1:${rtmpPort}`], { encoding: 'utf8' }).trim();
    if (still) throw new Error(`ObsPublisher.cut: ss -K left ${local} connected (it needs root and a kernel with CONFIG_INET_DIAG_DESTROY)`);
  }

  /** "Stop Streaming" (a clean RTMP close); it starts again after `reconnectMs`, with `next` settings if given. */
  async stopClean(next?: Partial<SourceSettings>): Promise<void> {
    const pub = this.current;
    if (next) this.settings = { ...this.settings, ...next };
    await pub?.stop();
  }

  /** Stops for good. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.current?.stop();
  }
}
