/**
 * A LiveSession is the unit of work (MediaMTX muxer.go): one live stream, across publisher
 * reconnects and ffmpeg restarts. It owns its packager (the playlists, which never restart), the
 * current encoder run (one ffmpeg reading the current publish), its logger and its timers; one
 * idempotent `end(reason)` stops all.
 *
 * Its states and the moves between them are in session-state.ts (one transition function over a
 * table); the state is read-only from outside.
 *
 * Every new encoder run (restart after a crash or a stall, or a publisher that came back) continues
 * the same playlists after an EXT-X-DISCONTINUITY.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FlvSubscription, IngestPublish } from '../ingest/rtmp-ingest.js';
import { StreamPackager } from '../hls/packager.js';
import type { ContinueFrom } from '../hls/rendition.js';
import { buildLadder, passthroughProblem, UNKNOWN_SOURCE, type Rendition, type SourceInfo } from '../transcode/ladder.js';
import type { Profile } from '../transcode/profile-schema.js';
import { Transcoder, type TranscoderExit, type TranscoderOptions } from '../transcode/transcoder.js';
import { exitHint } from '../transcode/exit-hint.js';
import { StreamEvent, type StreamEvents } from '../events.js';
import { ERR_TRANSCODER_EXITED } from '../errors.js';
import { RestartPolicy } from './restart-policy.js';
import type { Recordings, SessionRecorder } from '../record/recorder.js';
import { RateMeter } from './rate-meter.js';
import { isLiveState, transition, type SessionEvent, type SessionState } from './session-state.js';

export type { SessionState } from './session-state.js';

/** What the session needs of an encoder run (the real one is transcode/transcoder.ts). */
export interface TranscoderRun {
  readonly exited: Promise<TranscoderExit>;
  readonly pid: number | undefined;
  start(): Promise<void>;
  write(chunk: Buffer): void;
  stop(): Promise<TranscoderExit>;
  kill(): void;
  /** Adds a line of ours to the crash report (why the session killed the run). */
  note(line: string): void;
}

/** What a session needs from the server. */
export interface SessionDeps {
  ffmpegPath: string;
  runDir: string;
  logger: Logger;
  events: StreamEvents;
  /** How long a dropped publisher may come back and continue the playlists. */
  reconnectGraceMs: number;
  /** Recording and the DVR window (absent: neither is configured). */
  recordings?: Recordings | undefined;
  /** Makes an encoder run (default: a real ffmpeg); tests pass a fake. */
  createTranscoder?: (opts: TranscoderOptions) => TranscoderRun;
}

/** Longest wait for the RTMP metadata (source size and frame rate) before starting ffmpeg anyway. */
const METADATA_WAIT_MS = 1000;
/**
 * With a passthrough rung the first run also waits for the source's keyframe interval (two
 * keyframes, or more than a segment without one): at most this long past a segment's duration.
 */
const GOP_WAIT_EXTRA_MS = 1500;
/** Segments kept fetchable after leaving the playlist: a CDN may still be fetching them. */
const CDN_GRACE_SEGMENTS = 6;
/** A run that produces nothing for this many segment durations while input arrives is stalled. */
const STALL_SEGMENTS = 3;
/** A copied rung's open segment may pass the target by this much before the run is given up (s). */
const PASSTHROUGH_OVERRUN_S = 0.2;

/** The last failure, for the API and the logs. */
export interface SessionFailure {
  at: string;
  code: number | null;
  signal: string | null;
  stderr: string[];
  hint: string;
  message: string;
}

/** One FLV subscription to a publish and what arrived before its ffmpeg ran. */
interface Feed {
  subscription?: FlvSubscription;
  chunks: Buffer[];
}

/** One encoder run: an ffmpeg reading one publish through one feed. */
interface Run {
  transcoder: TranscoderRun;
  feed: Feed;
  subscription: FlvSubscription;
  startedAt: number;
  lastOutputAt: number;
  /** The session gave this run up: its further output is not listed. */
  cutOff: boolean;
}

/** One live stream. */
export class LiveSession {
  readonly name: string;
  readonly profileName: string;
  /** Unique per session; in every media URI. */
  readonly epoch: string;
  readonly startedAt: number;
  private current: SessionState = 'starting';
  endedAt: number | undefined;
  endReason: string | undefined;
  ladder: readonly Rendition[] = [];
  /** What the RTMP metadata said of the source when the ladder was chosen. */
  source: SourceInfo | undefined;
  packager: StreamPackager | undefined;
  /** Writes this session's pieces to the store (recording, DVR), when configured. */
  archive: SessionRecorder | undefined;
  /** ffmpeg runs started after the first (crashes, stalls, reconnects). */
  restarts = 0;
  lastFailure: SessionFailure | undefined;
  /** FLV bytes and video frames of the publishes before the current one (the ingest counts each). */
  private receivedBefore = { bytes: 0, frames: 0 };
  /** Measured once a second over the last 5 s: ingest bytes/s, frames/s, and media seconds encoded per second. */
  readonly rates = { bytes: new RateMeter(), frames: new RateMeter(), speed: new RateMeter() };
  /** When the current publisher connected. */
  publisherSince: number | undefined;
  private publish: IngestPublish | undefined;
  private run: Run | undefined;
  private readonly profile: Profile;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private readonly policy = new RestartPolicy();
  private ending: Promise<void> | undefined;
  /** A feed whose ffmpeg has not started yet. */
  private pending: Feed | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private watchdog: NodeJS.Timeout | undefined;
  private runs = 0;

  private readonly continueFrom: ContinueFrom | undefined;

  /** A ladder to keep (cluster: the stream's last owner's renditions), instead of one chosen from the source. */
  private readonly keptLadder: readonly Rendition[] | undefined;

  /**
   * `continueFrom`: the numbering of the previous session of this name, to go on from; `ladder`:
   * its renditions when it went on at another node (the same master, the same URLs).
   */
  constructor(name: string, profileName: string, profile: Profile, deps: SessionDeps, continueFrom?: ContinueFrom, ladder?: readonly Rendition[]) {
    this.continueFrom = continueFrom;
    this.keptLadder = ladder;
    this.name = name;
    this.profileName = profileName;
    this.profile = profile;
    this.deps = deps;
    this.startedAt = Date.now();
    this.epoch = `${this.startedAt.toString(36)}${randomBytes(2).toString('hex')}`;
    this.log = deps.logger.child({ stream: name });
  }

  /** Where the session is in its life (moves only through session-state.ts). */
  get state(): SessionState {
    return this.current;
  }

  private move(event: SessionEvent): void {
    const from = this.current;
    this.current = transition(from, event);
    if (this.current !== from) this.log.debug({ from, to: this.current, event }, 'session state');
  }

  /** True while a publisher is (or may come back) on this stream. */
  get isLive(): boolean {
    return isLiveState(this.current);
  }

  /** FLV bytes received from publishers so far. */
  get ingestBytes(): number {
    return this.receivedBefore.bytes + (this.publish?.received().bytes ?? 0);
  }

  /** Video frames received from publishers so far. */
  get ingestFrames(): number {
    return this.receivedBefore.frames + (this.publish?.received().frames ?? 0);
  }

  /** Adds a publish that is no longer current to the totals. */
  private countFinished(publish: IngestPublish): void {
    const r = publish.received();
    this.receivedBefore = { bytes: this.receivedBefore.bytes + r.bytes, frames: this.receivedBefore.frames + r.frames };
  }

  /** EXT-X-TARGETDURATION of this stream's playlists, in seconds. */
  get targetDuration(): number {
    return Math.ceil(this.profile.segmentSeconds);
  }

  /** The stream's thumbnail JPEG, kept up to date by ffmpeg (may not exist yet). */
  get thumbnailFile(): string {
    return join(this.deps.runDir, `${this.name}-${this.epoch}.jpg`);
  }

  /** Media bytes held in memory. */
  get memoryBytes(): number {
    return [...(this.packager?.renditions.values() ?? [])].reduce((sum, w) => sum + w.retainedBytes, 0);
  }

  /**
   * Takes a publish: the first one, one that comes back within the grace, or (takeover policy)
   * one that replaces the current publisher. The playlists go on.
   */
  attach(publish: IngestPublish): void {
    const previous = this.publish;
    this.publish = publish;
    this.publisherSince = Date.now();
    this.clearTimers();
    if (previous) {
      this.countFinished(previous);
      this.move('publisherReplaced');
      this.log.warn({ remoteAddress: publish.remoteAddress, previous: previous.remoteAddress }, 'publisher taken over');
      previous.release();
    }
    this.log.info({ remoteAddress: publish.remoteAddress, profile: this.profileName, reconnect: this.packager !== undefined }, 'publish accepted');
    // (master() stays cached once made: a packager between runs has no init yet but was playable)
    if (this.current === 'reconnecting') this.move(this.packager?.master() ? 'publisherBack' : 'publisherBackUnplayed');
    if (!previous && this.runs === 0) this.deps.events.emit(StreamEvent.Started, { name: this.name, at: this.startedAt });
    publish.onClose(() => void this.onPublisherGone(publish));
    void this.replaceRun('publisher connected');
  }

  private async onPublisherGone(publish: IngestPublish): Promise<void> {
    if (publish !== this.publish || !this.isLive) return;
    this.publish = undefined;
    this.countFinished(publish);
    // Reconnecting at once, not after ffmpeg has finished: OBS may be back before that, and the
    // manager hands a publisher back only to a reconnecting session.
    this.move('publisherLost');
    this.log.info({ graceMs: this.deps.reconnectGraceMs }, 'publisher gone; waiting for it to come back');
    this.after(this.deps.reconnectGraceMs, () => void this.end('publisher did not come back', 'graceOver'));
    await this.stopRun();
  }

  /** Stops the current run (if any) and starts one on the current publish. */
  private async replaceRun(why: string): Promise<void> {
    await this.stopRun();
    if (!this.publish || !this.isLive) return;
    const publish = this.publish;
    // Subscribe now so nothing is missed (NMS replays the current GOP to a new subscriber, so a
    // restarted ffmpeg starts at once); ffmpeg starts once the metadata names the source (first
    // run only: later runs keep the ladder, so the rendition names and URLs stay).
    const feed: Feed = { chunks: [] };
    this.pending = feed;
    feed.subscription = publish.pipeFlv((chunk) => {
      if (this.run?.feed === feed) this.run.transcoder.write(chunk);
      else if (this.pending === feed) {
        feed.chunks.push(chunk);
        if (feed.subscription && this.sourceKnown(publish.info())) this.startRun(publish, why);
      }
    });
    if (this.packager || this.keptLadder || this.sourceKnown(publish.info())) this.startRun(publish, why);
    else this.after(this.sourceWaitMs, () => this.startRun(publish, why));
  }

  private get hasPassthrough(): boolean {
    return this.profile.rungs.some((r) => r.passthrough);
  }

  private get sourceWaitMs(): number {
    return this.hasPassthrough ? this.profile.segmentSeconds * 1000 + GOP_WAIT_EXTRA_MS : METADATA_WAIT_MS;
  }

  /**
   * Enough is known of the source to choose the ladder: the metadata has come, and for a
   * passthrough rung the keyframe interval is measured or known to be too long. The tags that
   * arrive meanwhile are kept and handed to ffmpeg, so waiting loses nothing.
   */
  private sourceKnown(info: SourceInfo): boolean {
    if (info.height <= 0) return false;
    return !this.hasPassthrough || info.gopIntervals > 0 || info.gopSeconds > this.profile.segmentSeconds + 0.1;
  }

  private startRun(publish: IngestPublish, why: string): void {
    const feed = this.pending;
    const subscription = feed?.subscription;
    if (!feed || !subscription || this.run || publish !== this.publish || !this.isLive) return;
    this.pending = undefined;
    if (!this.packager) this.createPackager(publish.info());
    const packager = this.packager!;
    const inputs = new Map(this.ladder.map((r) => [r.name, packager.input(r.name)]));
    const runNo = this.runs++;
    if (runNo > 0) this.restarts++;
    const create = this.deps.createTranscoder ?? ((opts: TranscoderOptions) => new Transcoder(opts));
    const transcoder = create({
      ffmpegPath: this.deps.ffmpegPath,
      runDir: this.deps.runDir,
      id: `${this.name}-${this.epoch}-${runNo}`,
      ladder: this.ladder,
      profile: this.profile,
      logger: this.log,
      thumbnailFile: this.thumbnailFile,
      onOutput: (rendition, chunk) => {
        if (run.cutOff) return; // given up (a source without keyframes): nothing more of it is listed
        if (this.run?.transcoder === transcoder) this.run.lastOutputAt = Date.now();
        try {
          inputs.get(rendition)!(chunk);
        } catch (err) {
          this.log.error({ err, rendition }, 'packager could not read ffmpeg output; restarting ffmpeg');
          transcoder.kill();
        }
      },
    });
    const run: Run = { transcoder, feed, subscription, startedAt: Date.now(), lastOutputAt: Date.now(), cutOff: false };
    this.run = run;
    // The input buffers until ffmpeg runs: hand over what arrived so far, in order, before any new chunk.
    for (const chunk of feed.chunks.splice(0)) transcoder.write(chunk);
    this.log.info({ run: runNo, why }, 'starting ffmpeg');
    void transcoder.exited.then((exit) => this.onRunExit(run, exit));
    transcoder.start().catch((err: Error) => {
      this.log.error({ err }, 'cannot start ffmpeg');
      transcoder.kill();
    });
    this.startWatchdog();
  }

  private createPackager(source: SourceInfo): void {
    this.source = source;
    this.ladder = this.keptLadder ?? buildLadder(this.profile, source);
    const copied = this.profile.rungs.find((r) => r.passthrough);
    const problem = copied && passthroughProblem(source, this.profile.segmentSeconds);
    if (copied && problem) this.log.warn({ rung: copied.name, problem }, `passthrough rung "${copied.name}" is re-encoded: ${problem}`);
    this.log.info({ source, ladder: this.ladder.map((r) => `${r.name}:${r.width || '?'}x${r.height}@${r.fps}`), continueFrom: this.continueFrom }, 'ladder chosen');
    const archive = this.deps.recordings?.forSession({
      name: this.name, epoch: this.epoch, startedAt: this.startedAt, targetDuration: this.targetDuration, segmentSeconds: this.profile.segmentSeconds,
    });
    this.archive = archive;
    const packager = new StreamPackager(this.ladder, {
      epoch: this.epoch,
      segmentSeconds: this.profile.segmentSeconds,
      playlistSize: this.profile.playlistSize,
      partHoldBackParts: this.profile.partHoldBackParts,
      graceSegments: CDN_GRACE_SEGMENTS,
      // ffmpeg's output timeline starts at its first input frame: pin it to when that frame was live here.
      anchor: () => this.run?.subscription.anchor(),
      continueFrom: this.continueFrom,
      archive: archive && { sink: (rendition) => archive.sink(rendition), dvrSeconds: archive.dvrSeconds },
    });
    this.packager = packager;
    // A copied (passthrough) rung is cut at the source's keyframes only: a source that stops
    // sending them would grow one segment without end. Checked at every part, the run is given up
    // once the open segment passes the target by PASSTHROUGH_OVERRUN_S, so that the segment it
    // leaves still rounds to the TARGETDURATION (stricter than the 2x an issue allowed); restarts
    // that meet it again end in `failed`, with the OBS setting as the hint.
    for (const r of this.ladder.filter((l) => l.passthrough)) {
      const w = packager.renditions.get(r.name)!;
      w.onChange(() => {
        const run = this.run;
        if (!run || run.cutOff || w.openSeconds <= this.profile.segmentSeconds + PASSTHROUGH_OVERRUN_S) return;
        run.cutOff = true;
        this.log.warn({ rendition: r.name, openSeconds: w.openSeconds }, 'passthrough: the source sent no keyframe in time; stopping the run');
        run.transcoder.note(`[live-origin] passthrough: no keyframe from the source for over ${w.openSeconds.toFixed(1)} s (segments of ${this.profile.segmentSeconds} s must each start with one)`);
        packager.discontinue();
        run.transcoder.kill();
      });
    }
    // Start-up timeline at debug level (ORIGIN_LOG_LEVEL=debug): where the time to the first
    // playable master goes, per rendition (publish accepted -> first frame in -> init -> parts -> segment).
    for (const w of this.log.isLevelEnabled('debug') ? packager.renditions.values() : []) {
      const seen = new Set<string>();
      const stop = w.onChange(() => {
        const step = !w.initInfo ? undefined : w.segmentsPublished > 0 ? 'first segment' : w.edge.openParts > 0 ? `part ${w.edge.openParts}` : 'init segment';
        if (!step || seen.has(step)) return;
        seen.add(step);
        const anchor = this.run?.subscription.anchor();
        this.log.debug({ rendition: w.name, msSincePublish: Date.now() - this.startedAt, msSinceFirstFrame: anchor === undefined ? null : Date.now() - anchor }, `start-up: ${step}`);
        if (step === 'first segment') stop();
      });
    }
    const stopWatching = [...packager.renditions.values()].map((w) =>
      w.onChange(() => {
        if (this.current === 'starting' && packager.ready) {
          // Made now and kept: between two encoder runs no rendition has an init segment, and the
          // master must stay servable then (and tell a reconnect that the stream was playable).
          const master = packager.master();
          if (master) this.archive?.setMaster(master.body.toString());
          this.move('playable');
          const ms = Date.now() - this.startedAt;
          this.log.info({ msSincePublish: ms }, 'first playable master playlist');
          this.deps.events.emit(StreamEvent.Ready, { name: this.name, at: Date.now(), msSincePublish: ms });
          stopWatching.forEach((s) => s());
        }
      }),
    );
  }

  /** Watches the current run for a stall: no output for 3 segment durations while input arrives. */
  private startWatchdog(): void {
    if (this.watchdog) return;
    const limit = STALL_SEGMENTS * this.profile.segmentSeconds * 1000;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      this.sampleRates(now);
      const run = this.run;
      if (!run) return;
      const inputFresh = now - run.subscription.lastTagAt() < limit;
      if (inputFresh && now - run.lastOutputAt > limit && now - run.startedAt > limit) {
        this.log.warn({ silentMs: now - run.lastOutputAt, pid: run.transcoder.pid }, 'ffmpeg stalled: no output while input arrives; killing it');
        run.transcoder.note('[live-origin] ffmpeg stalled: no output while input kept arriving');
        run.transcoder.kill();
      }
    }, 1000);
    this.watchdog.unref();
  }

  private sampleRates(now: number): void {
    this.rates.bytes.sample(now, this.ingestBytes);
    this.rates.frames.sample(now, this.ingestFrames);
    const timeline = this.packager?.renditions.get(this.ladder[0]?.name ?? '');
    this.rates.speed.sample(now, timeline?.mediaSeconds ?? 0);
  }

  /** Where the publisher connects from (undefined while none is connected). */
  get remoteAddress(): string | undefined {
    return this.isLive ? this.publish?.remoteAddress : undefined;
  }

  /** pid of the running ffmpeg, if one runs. */
  get transcoderPid(): number | undefined {
    return this.run?.transcoder.pid;
  }

  /** True while an ffmpeg runs for this stream. */
  get transcoding(): boolean {
    return this.run !== undefined;
  }

  private onRunExit(run: Run, exit: TranscoderExit): void {
    run.subscription.close();
    if (this.run === run) this.run = undefined;
    // (the encoder was told to key at every cut: a miss means ffmpeg-args and segmenter disagree)
    const missed = [...(this.packager?.renditions.values() ?? [])].filter((w) => w.boundaryMisses > 0).map((w) => w.name);
    if (missed.length) this.log.warn({ renditions: missed }, 'a segment was closed on its last part but the next fragment was no keyframe; those renditions cut at keyframes for the rest of that run');
    this.packager?.discontinue();
    if (exit.requested || !this.isLive) return;
    const source = this.publish?.info() ?? UNKNOWN_SOURCE;
    const err = new ERR_TRANSCODER_EXITED(
      exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`,
      exit.stderr.slice(-10).join('\n') || '(nothing)',
      exitHint(exit.stderr, source),
    );
    this.lastFailure = {
      at: new Date().toISOString(),
      code: exit.code,
      signal: exit.signal,
      stderr: exit.stderr.slice(-10),
      hint: exitHint(exit.stderr, source),
      message: err.message,
    };
    this.log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderr.slice(-10), hint: this.lastFailure.hint }, 'ffmpeg exited unexpectedly');
    const delay = this.policy.failure(Date.now(), Date.now() - run.startedAt);
    if (delay === undefined) {
      // the log keeps ffmpeg's lines; events (SSE, webhooks) go outside: how it ended and the fix only
      void this.fail(err.message, `ffmpeg exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}; ${this.lastFailure.hint}`);
      return;
    }
    this.log.warn({ inMs: delay, failures: this.policy.failures }, 'restarting ffmpeg');
    this.after(delay, () => void this.replaceRun('restart after failure'));
  }

  /** Ends a live stream as failed for a reason of the server's (e.g. its memory limit). */
  giveUp(reason: string): Promise<void> {
    return this.fail(reason, reason);
  }

  private async fail(message: string, publicReason: string): Promise<void> {
    if (!this.isLive) return;
    this.log.error({ failures: this.policy.failures }, `stream failed: ${message}`);
    await this.end('transcoder failed', 'giveUp');
    this.deps.events.emit(StreamEvent.Failed, { name: this.name, at: Date.now(), error: publicReason });
  }

  private async stopRun(): Promise<void> {
    this.pending?.subscription?.close();
    this.pending = undefined;
    const run = this.run;
    if (!run) return;
    run.subscription.close();
    await run.transcoder.stop();
  }

  /**
   * Stops everything once: input, ffmpeg (gracefully), then ENDLIST on every playlist. `event` says
   * why (a kick or shutdown, the grace running out, ffmpeg failing too often).
   */
  end(reason: string, event: 'stop' | 'graceOver' | 'giveUp' = 'stop'): Promise<void> {
    return this.finish(reason, event, true);
  }

  /**
   * Cluster mode: the stream goes on at another node (this one drains, or lost its lease). Stops
   * input and ffmpeg like `end`, but writes no ENDLIST and sends no `stream.ended`: viewers and
   * webhooks see one stream that continues, and the publisher is disconnected so it reconnects
   * to the node that takes over.
   */
  handOver(reason: string): Promise<void> {
    this.handedOver = true;
    return this.finish(reason, 'stop', false);
  }

  /** True once the stream was handed over to another node (it was not ended). */
  handedOver = false;

  private finish(reason: string, event: 'stop' | 'graceOver' | 'giveUp', endlist: boolean): Promise<void> {
    if (!this.ending && !this.isLive) return Promise.resolve();
    this.ending ??= (async () => {
      this.clearTimers();
      clearInterval(this.watchdog);
      this.move(event);
      // the publisher first when handing over: it reconnects elsewhere while ffmpeg stops here
      if (!endlist) this.publish?.kick();
      await this.stopRun();
      if (endlist) this.packager?.end();
      // the last segment is queued by now; the recorder finishes in the background
      void this.archive?.end();
      this.endedAt = Date.now();
      this.endReason = reason;
      // A publisher is of no use once its stream has ended (or failed): OBS reconnects by itself
      // and gets a fresh session.
      this.publish?.kick();
      this.log.info({ reason, restarts: this.restarts }, endlist ? 'stream ended' : 'stream handed over (no ENDLIST: it goes on at another node)');
      await rm(this.thumbnailFile, { force: true });
      if (endlist) this.deps.events.emit(StreamEvent.Ended, { name: this.name, at: this.endedAt, reason });
    })();
    return this.ending;
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
