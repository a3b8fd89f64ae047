/**
 * One ffmpeg per stream. The ONLY file that imports fluent-ffmpeg (archived upstream: keeping it
 * here keeps it replaceable). Owns the child process and the unix sockets its outputs connect to.
 *
 * Input: the publish as FLV on ffmpeg's stdin. Ending stdin is the graceful stop (ffmpeg flushes
 * its encoders, writes the last fragments and exits 0); stdin also closes when our process dies,
 * even by SIGKILL, so ffmpeg cannot outlive the server.
 * Outputs: one fragmented MP4 per rendition to `unix:<runDir>/<id>.sock`, a socket we listen on
 * (fluent-ffmpeg spawns with stdin/stdout/stderr only, so extra pipe fds are not available).
 * Every output is always read: one undrained output would block all renditions.
 */
import { createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import { buildFfmpegPlan, planToArgv, type FfmpegPlan } from './ffmpeg-args.js';
import type { Rendition } from './ladder.js';
import type { Profile } from './profile-schema.js';

/** How a run of ffmpeg ended. */
export interface TranscoderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when we asked it to stop. */
  requested: boolean;
  /** The last lines ffmpeg wrote to stderr. */
  stderr: string[];
}

/** What a transcoder needs. */
export interface TranscoderOptions {
  ffmpegPath: string;
  /** Directory for the output sockets (short: unix socket paths are limited to 107 bytes). */
  runDir: string;
  /** Unique per run; names the sockets. */
  id: string;
  ladder: readonly Rendition[];
  profile: Profile;
  logger: Logger;
  /** Receives each rendition's fMP4 bytes in order. */
  onOutput: (rendition: string, chunk: Buffer) => void;
  /** Where ffmpeg keeps the stream's thumbnail JPEG up to date (none without). */
  thumbnailFile?: string;
}

const STDERR_LINES = 30;
/** A graceful stop that takes longer than this is a hung ffmpeg: it is killed. */
const STOP_TIMEOUT_MS = 3000;

/**
 * fluent-ffmpeg checks, before each run, that the formats and encoders it is asked for exist, by
 * running `ffmpeg -formats` and `ffmpeg -encoders` once per process and caching the answers. Left
 * to the first publish, those two runs cost that stream ~0.5 s before its ffmpeg even starts
 * (measured on this 2-core machine); asked at startup, in the background, nobody waits for them.
 * A failure here is only logged: the first run reports the same problem to its stream.
 */
export function warmUpFfmpeg(ffmpegPath: string): Promise<void> {
  const cmd = ffmpeg().setFfmpegPath(ffmpegPath);
  return new Promise<void>((resolve, reject) =>
    cmd.availableFormats((err) => (err ? reject(err) : cmd.availableEncoders((err2) => (err2 ? reject(err2) : resolve())))),
  );
}

/** The plan as a fluent-ffmpeg command (multi-argument options: a single string with one space would be split). */
export function buildCommand(plan: FfmpegPlan, ffmpegPath: string, input: Readable): ffmpeg.FfmpegCommand {
  const cmd = ffmpeg().setFfmpegPath(ffmpegPath).input(input).inputOptions(plan.inputOptions);
  if (plan.filterComplex) cmd.complexFilter(plan.filterComplex);
  for (const o of [...plan.outputs, ...(plan.thumbnail ? [plan.thumbnail] : [])]) cmd.output(o.target).outputOptions(o.options);
  return cmd;
}

let transcoders = 0;

/** Longest socket path a transcoder makes under `runDir` (main.ts checks it against the limit at start). */
export function longestSocketPath(runDir: string): string {
  return join(runDir, `${Number.MAX_SAFE_INTEGER.toString(36)}-99.sock`);
}

/** Bytes of a publish ffmpeg may leave unread before the run is given up (ffmpeg slower than real time). */
export const MAX_INPUT_BACKLOG_BYTES = 64 * 2 ** 20;

/** A running ffmpeg. */
export class Transcoder {
  readonly plan: FfmpegPlan;
  /** Resolves once ffmpeg has exited and every output socket has been read to its end. */
  readonly exited: Promise<TranscoderExit>;
  private readonly opts: TranscoderOptions;
  private readonly input = new PassThrough({ highWaterMark: 1 << 20 });
  private readonly servers: Server[] = [];
  private readonly stderr: string[] = [];
  private command: ffmpeg.FfmpegCommand | undefined;
  private requested = false;
  private resolveExit!: (exit: TranscoderExit) => void;
  private openOutputs = 0;
  private exitInfo: Omit<TranscoderExit, 'stderr' | 'requested'> | undefined;
  private spawnedAt = 0;
  /** Pid of the child once spawned. */
  pid: number | undefined;

  constructor(opts: TranscoderOptions) {
    this.opts = opts;
    this.plan = buildFfmpegPlan(opts.ladder, opts.profile, (r) => `unix:${this.socketPath(r)}`, opts.thumbnailFile);
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /**
   * Short and independent of stream and rendition names: a unix socket path is cut at 107 bytes,
   * and `<name>-<epoch>-<run>-<rendition>.sock` went past it for names over ~58 characters.
   */
  private socketPath(rendition: string): string {
    return join(this.opts.runDir, `${this.socketId}-${this.opts.ladder.findIndex((r) => r.name === rendition)}.sock`);
  }
  private readonly socketId = (++transcoders).toString(36);

  /** Opens the output sockets, then spawns ffmpeg. */
  async start(): Promise<void> {
    for (const r of this.opts.ladder) {
      const path = this.socketPath(r.name);
      await rm(path, { force: true });
      const server = createServer((conn) => {
        this.openOutputs++;
        this.opts.logger.debug({ rendition: r.name, msSinceSpawn: Date.now() - this.spawnedAt }, 'ffmpeg output connected');
        conn.on('data', (chunk: Buffer) => this.opts.onOutput(r.name, chunk));
        conn.on('error', (err) => this.opts.logger.debug({ err, rendition: r.name }, 'output socket error'));
        conn.on('close', () => {
          this.openOutputs--;
          this.maybeResolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      this.servers.push(server);
    }

    const cmd = buildCommand(this.plan, this.opts.ffmpegPath, this.input);
    cmd.on('start', () => {
      const proc = (cmd as unknown as { ffmpegProc: import('node:child_process').ChildProcess }).ffmpegProc;
      this.pid = proc.pid;
      this.spawnedAt = Date.now();
      this.opts.logger.info({ pid: proc.pid }, 'ffmpeg started');
      this.opts.logger.debug({ argv: planToArgv(this.plan) }, 'ffmpeg arguments');
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.maybeResolve();
      });
    });
    cmd.on('stderr', (line: string) => {
      this.stderr.push(line);
      if (this.stderr.length > STDERR_LINES) this.stderr.shift();
    });
    // fluent-ffmpeg reports a non-zero exit as 'error'; the 'exit' handler above already has it.
    cmd.on('error', (err: Error) => {
      if (!this.exitInfo && !this.pid) {
        // failed before spawning (e.g. the binary vanished)
        this.stderr.push(err.message);
        this.exitInfo = { code: null, signal: null };
        this.maybeResolve();
      }
    });
    this.command = cmd;
    cmd.run();
  }

  /**
   * Feeds FLV bytes of the publish. The publisher sends in real time whatever ffmpeg does: when
   * ffmpeg falls behind, the bytes wait here, so the wait is bounded (MAX_INPUT_BACKLOG_BYTES, tens
   * of seconds of video): past it the run is killed with a note the exit hint turns into the cause.
   */
  write(chunk: Buffer): void {
    if (this.input.writableEnded || this.overrun) return;
    if (this.backlog + chunk.length > MAX_INPUT_BACKLOG_BYTES) {
      this.overrun = true;
      this.stderr.push(`[live-origin] ffmpeg fell behind: over ${MAX_INPUT_BACKLOG_BYTES / 2 ** 20} MiB of input unread (slower than real time)`);
      this.kill();
      return;
    }
    this.input.write(chunk);
  }
  private overrun = false;

  /** Bytes received from the publisher that ffmpeg has not read yet. */
  get backlog(): number {
    return this.input.writableLength + this.input.readableLength;
  }

  /** Graceful stop: end of input, ffmpeg drains and exits; killed if it has not after 3 s. */
  async stop(): Promise<TranscoderExit> {
    this.requested = true;
    this.input.end();
    const timer = setTimeout(() => this.kill(), STOP_TIMEOUT_MS);
    timer.unref();
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Adds a line of ours to the crash report (why the session killed this run). */
  note(line: string): void {
    this.stderr.push(line);
  }

  /** Kills ffmpeg at once (not a requested stop: the session treats it as a failure). */
  kill(): void {
    this.command?.kill('SIGKILL');
    // output sockets of a killed process close; make sure we do not wait on a half-open one
    setTimeout(() => this.finish(), 500).unref();
  }

  private maybeResolve(): void {
    if (this.exitInfo && this.openOutputs <= 0) this.finish();
  }

  private finish(): void {
    for (const s of this.servers.splice(0)) {
      s.close();
    }
    for (const r of this.opts.ladder) void rm(this.socketPath(r.name), { force: true });
    this.resolveExit({ ...(this.exitInfo ?? { code: null, signal: 'SIGKILL' }), requested: this.requested, stderr: [...this.stderr] });
  }
}
