/**
 * A LiveSession is the unit of work (MediaMTX muxer.go): one publish of one stream. It owns its
 * transcoder, its packager, its logger and its timers; one idempotent `end(reason)` stops all.
 *
 * starting -> live (master playable) -> ended | failed
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { IngestPublish } from '../ingest/rtmp-ingest.js';
import { StreamPackager } from '../hls/packager.js';
import { buildLadder, type Rendition, type SourceInfo } from '../transcode/ladder.js';
import type { Profile } from '../transcode/profile-schema.js';
import { Transcoder, type TranscoderExit } from '../transcode/transcoder.js';
import { StreamEvent, type StreamEvents } from '../events.js';
import { ERR_TRANSCODER_EXITED } from '../errors.js';

/** Where a session is in its life. */
export type SessionState = 'starting' | 'live' | 'ended' | 'failed';

/** What a session needs from the server. */
export interface SessionDeps {
  ffmpegPath: string;
  runDir: string;
  logger: Logger;
  events: StreamEvents;
}

/** Longest wait for the RTMP metadata (source size and frame rate) before starting ffmpeg anyway. */
const METADATA_WAIT_MS = 1000;
/** Segments kept fetchable after leaving the playlist: a CDN may still be fetching them. */
const CDN_GRACE_SEGMENTS = 6;

/** A hint for a transcoder exit, from what ffmpeg said. */
export function exitHint(stderr: readonly string[], source: SourceInfo): string {
  const text = stderr.join('\n');
  if (/hevc|h265|av1|Decoder \(codec \w+\) not found|unsupported codec|Video codec \d+ is not implemented/i.test(text) || (source.videoCodec && source.videoCodec !== 'h264')) {
    return `the source video codec (${source.videoCodec || 'unknown'}) cannot be decoded here: in OBS set Settings > Output > Encoder to an H.264 encoder (x264, NVENC H.264)`;
  }
  if (/Invalid data found|Error while decoding|non-existing PPS/i.test(text)) return 'the publisher sent damaged or incomplete video; check the encoder settings and the network';
  if (/Cannot allocate memory|Resource temporarily unavailable/i.test(text)) return 'the machine ran out of memory or processes';
  return 'see the ffmpeg output above';
}

/** One publish. */
export class LiveSession {
  readonly name: string;
  readonly profileName: string;
  /** Unique per publish; in every media URI. */
  readonly epoch: string;
  readonly startedAt: number;
  readonly remoteAddress: string;
  state: SessionState = 'starting';
  endedAt: number | undefined;
  endReason: string | undefined;
  ladder: readonly Rendition[] = [];
  packager: StreamPackager | undefined;
  private transcoder: Transcoder | undefined;
  private readonly publish: IngestPublish;
  private readonly profile: Profile;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;
  private ending: Promise<void> | undefined;
  private buffered: Buffer[] = [];
  private metadataTimer: NodeJS.Timeout | undefined;

  constructor(name: string, profileName: string, profile: Profile, publish: IngestPublish, deps: SessionDeps) {
    this.name = name;
    this.profileName = profileName;
    this.profile = profile;
    this.publish = publish;
    this.deps = deps;
    this.startedAt = Date.now();
    this.remoteAddress = publish.remoteAddress;
    this.epoch = `${this.startedAt.toString(36)}${randomBytes(2).toString('hex')}`;
    this.log = deps.logger.child({ stream: name });
  }

  /** Subscribes to the publish; ffmpeg starts as soon as the source metadata is known. */
  start(): void {
    this.log.info({ remoteAddress: this.remoteAddress, profile: this.profileName }, 'publish accepted');
    this.deps.events.emit(StreamEvent.Started, { name: this.name, at: this.startedAt });
    this.publish.onClose(() => void this.end('publisher disconnected'));
    this.unsubscribe = this.publish.pipeFlv((chunk) => {
      if (this.transcoder) this.transcoder.write(chunk);
      else {
        this.buffered.push(chunk);
        if (this.publish.info().height > 0) this.startTranscoder();
      }
    });
    this.metadataTimer = setTimeout(() => this.startTranscoder(), METADATA_WAIT_MS);
  }

  private startTranscoder(): void {
    if (this.transcoder || this.state !== 'starting') return;
    clearTimeout(this.metadataTimer);
    const source = this.publish.info();
    this.ladder = buildLadder(this.profile, source);
    this.log.info({ source, ladder: this.ladder.map((r) => `${r.name}:${r.width || '?'}x${r.height}@${r.fps}`) }, 'ladder chosen');
    const packager = new StreamPackager(this.ladder, {
      epoch: this.epoch,
      segmentSeconds: this.profile.segmentSeconds,
      playlistSize: this.profile.playlistSize,
      graceSegments: CDN_GRACE_SEGMENTS,
      // ffmpeg's output timeline starts at the first input frame: pin it to when that frame arrived.
      anchor: () => this.publish.firstFrameAt(),
    });
    this.packager = packager;
    const inputs = new Map(this.ladder.map((r) => [r.name, packager.input(r.name)]));
    const stopWatching = [...packager.renditions.values()].map((w) =>
      w.onChange(() => {
        this.log.debug({ rendition: w.name, segments: w.listed.length, ms: Date.now() - this.startedAt }, 'rendition changed');
        if (this.state === 'starting' && packager.ready) {
          this.state = 'live';
          const ms = Date.now() - this.startedAt;
          this.log.info({ msSincePublish: ms }, 'first playable master playlist');
          this.deps.events.emit(StreamEvent.Ready, { name: this.name, at: Date.now(), msSincePublish: ms });
          stopWatching.forEach((s) => s());
        }
      }),
    );
    const transcoder = new Transcoder({
      ffmpegPath: this.deps.ffmpegPath,
      runDir: this.deps.runDir,
      id: `${this.name}-${this.epoch}`,
      ladder: this.ladder,
      profile: this.profile,
      logger: this.log,
      onOutput: (rendition, chunk) => {
        try {
          inputs.get(rendition)!(chunk);
        } catch (err) {
          this.log.error({ err, rendition }, 'packager could not read ffmpeg output');
          void this.fail(`packager error on ${rendition}: ${(err as Error).message}`);
        }
      },
    });
    this.transcoder = transcoder;
    // The input buffers until ffmpeg runs: hand over what arrived so far, in order, before any new chunk.
    for (const chunk of this.buffered.splice(0)) transcoder.write(chunk);
    transcoder.exited.then((exit) => this.onTranscoderExit(exit));
    transcoder.start().catch((err: Error) => void this.fail(`cannot start ffmpeg: ${err.message}`));
  }

  private onTranscoderExit(exit: TranscoderExit): void {
    if (exit.requested) return;
    const err = new ERR_TRANSCODER_EXITED(
      exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`,
      exit.stderr.slice(-10).join('\n') || '(nothing)',
      exitHint(exit.stderr, this.publish.info()),
    );
    this.log.error({ code: exit.code, signal: exit.signal, stderr: exit.stderr.slice(-10) }, err.message);
    void this.fail(err.message);
  }

  private async fail(message: string): Promise<void> {
    if (this.state === 'ended' || this.state === 'failed') return;
    await this.end('transcoder failed');
    this.state = 'failed';
    this.deps.events.emit(StreamEvent.Failed, { name: this.name, at: Date.now(), error: message });
    // The publisher is of no use without a transcoder; OBS reconnects by itself and gets a fresh session.
    this.publish.kick();
  }

  /** Stops everything once: input, ffmpeg (gracefully), then ENDLIST on every playlist. */
  end(reason: string): Promise<void> {
    this.ending ??= (async () => {
      clearTimeout(this.metadataTimer);
      this.unsubscribe?.();
      this.buffered = [];
      const exit = await this.transcoder?.stop();
      this.packager?.end();
      this.endedAt = Date.now();
      this.endReason = reason;
      if (this.state !== 'failed') this.state = 'ended';
      this.log.info({ reason, ffmpegExit: exit ? { code: exit.code, signal: exit.signal } : undefined }, 'stream ended');
      this.deps.events.emit(StreamEvent.Ended, { name: this.name, at: this.endedAt, reason });
    })();
    return this.ending;
  }

  /** Disconnects the publisher (which ends the session). */
  kick(): void {
    this.publish.kick();
  }

  /** EXT-X-TARGETDURATION of this stream's playlists, in seconds. */
  get targetDuration(): number {
    return Math.ceil(this.profile.segmentSeconds);
  }

  /** Pid of the running ffmpeg, if any. */
  get transcoderPid(): number | undefined {
    return this.transcoder?.pid;
  }
}
