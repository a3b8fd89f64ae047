/**
 * RTMP ingest: the only file that uses node-media-server (NMS 4.x) besides nms-patches.ts, which
 * holds every change to NMS's behaviour. It turns NMS sessions into our `IngestPublish` and keeps
 * NMS's quirks here (../shared/DESIGN.md, "Facts about the dependencies"):
 * - We own the TCP listener and start NMS's session on each socket ourselves, so a taken port is
 *   our coded error instead of NMS's `process.exit(1)`, NMS opens no HTTP port and no store on
 *   disk, and every connection passes the door policy (rtmp-guard.ts) first: caps in total and per
 *   address, a deadline to publish, addresses that keep guessing keys refused for a while.
 * - We decide a publish before NMS hears of it (nms-patches.ts): NMS's own `prePublish` event comes
 *   after it made the session the publisher.
 * - NMS keeps a gone publisher for 30 s (`publishGraceMs`) before `donePublish`: we watch the
 *   publisher's socket instead, and set the grace to 0 (our session owns reconnect policy).
 * - The publish reaches ffmpeg as FLV through an in-process subscriber of the NMS broadcast,
 *   not by reading the stream back over RTMP: no second socket, no play path for outsiders, and
 *   the first frame arrives ~1 s sooner.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import NodeMediaServer, { type NmsSession, type NmsSubscriber } from 'node-media-server';
import type { Logger } from 'pino';
import { ERR_LISTEN } from '../errors.js';
import type { SourceInfo } from '../transcode/ladder.js';
import { avcConfigOf, flvTagTimestamp, isVideoFrameTag, KeyframeMeter } from './flv-tags.js';
import { applyNmsPatches, checkNmsVersion, openGuardedSession, routeNmsLogs, type GuardedSession, type PublishVerdict } from './nms-patches.js';
import { RtmpGuard, type GuardLimits, type RefusalReason } from './rtmp-guard.js';

export { MAX_MESSAGE_BYTES } from './nms-patches.js';

/** The RTMP application publishers must use: rtmp://host:port/live/<key>. */
export const RTMP_APP = 'live';

/** A publish attempt, as the rest of the server sees it. */
export interface IngestPublish {
  /** NMS session id. */
  readonly id: string;
  /** The secret stream key (never log it unmasked). */
  readonly key: string;
  readonly remoteAddress: string;
  /** What the RTMP metadata says of the source (zeros until it has arrived). */
  info(): SourceInfo;
  /**
   * FLV bytes and video frames this publish delivered live to its subscriptions so far (a GOP-cache
   * replay to a new subscription is not counted again).
   */
  received(): { bytes: number; frames: number };
  /**
   * Delivers the publish as an FLV byte stream: the FLV header, metadata, sequence headers and
   * NMS's cache of the current GOP first (so a new ffmpeg can start at once), then live tags.
   */
  pipeFlv(write: (chunk: Buffer) => void): FlvSubscription;
  /** Called once when the publisher's connection closes. */
  onClose(listener: () => void): void;
  /** Disconnects the publisher. */
  kick(): void;
  /**
   * Disconnects the publisher and makes NMS forget it at once, so that another publisher may take
   * its path in the same tick (takeover: NMS would refuse the newcomer while the old one is known).
   */
  release(): void;
}

/** One reader of a publish's FLV. */
export interface FlvSubscription {
  close(): void;
  /**
   * Wall-clock ms at which this subscription's first video frame reached the server, from the
   * frames' own timestamps (so GOP-cache frames, delivered at once, do not move it): the moment
   * media time 0 of the ffmpeg reading it happened at the ingest. Undefined before a frame.
   */
  anchor(): number | undefined;
  /** Wall-clock ms of the newest tag (a publisher that stops sending is not ffmpeg's fault). */
  lastTagAt(): number;
}

/** A refusal: its reason, and whether it was a wrong stream key (counted per address, then banned). */
export type Refusal = string | { reason: string; wrongKey: true };
/** Decides on a publish: null to accept or the refusal, now or later (an auth callback). */
export type PublishHandler = (publish: IngestPublish) => Refusal | null | Promise<Refusal | null>;

/** Listener settings. */
export interface IngestOptions {
  port: number;
  host: string;
  logger: Logger;
  onPublish: PublishHandler;
  /** Masks a secret for logs. */
  mask: (secret: string) => string;
  /** A connection that sends nothing this long is closed (slowloris, dead peers, idle scanners). */
  idleMs: number;
  /** A connection must have its publish accepted this long after it connected. */
  publishTimeoutMs: number;
  /** Connection caps and the wrong-key ban. */
  limits: GuardLimits;
  /** RTMPS: TLS-wrapped RTMP on its own port, when a certificate is configured. */
  tls?: { port: number; cert: Buffer; key: Buffer } | undefined;
}

const VIDEO_CODECS: Record<string, string> = { '7': 'h264', avc1: 'h264', '12': 'hevc', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
const AUDIO_CODECS: Record<string, string> = { '10': 'aac', mp4a: 'aac', '2': 'mp3', Opus: 'opus' };

/** The RTMP server. */
export class RtmpIngest {
  private readonly opts: IngestOptions;
  private readonly log: Logger;
  private nms: NodeMediaServer | undefined;
  private server: Server | undefined;
  private tlsServer: Server | undefined;
  private refusing = false;
  private subscriptions = 0;
  private readonly guard: RtmpGuard;
  private readonly sockets = new Set<Socket>();
  private stopSweep: () => void = () => {};

  constructor(opts: IngestOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'ingest' });
    this.guard = new RtmpGuard(opts.limits);
  }

  /** Opens the RTMP port. */
  async start(): Promise<void> {
    checkNmsVersion();
    applyNmsPatches();
    routeNmsLogs((m) => this.opts.logger.debug({ component: 'nms' }, m), this.opts.mask);
    // No rtmp/http sections: NMS opens no port of its own; we start its sessions on our sockets.
    this.nms = new NodeMediaServer({});
    const sweep = setInterval(() => this.guard.sweep(Date.now()), 60_000);
    sweep.unref();
    this.stopSweep = () => clearInterval(sweep);
    const accept = (socket: Socket) => this.accept(socket);
    this.server = await this.listen(createServer(accept), 'RTMP', this.opts.port);
    const tls = this.opts.tls;
    if (tls) {
      // RTMPS (OBS: rtmps://host:port/live): the same ingest behind TLS. A failed TLS handshake
      // only ends that connection.
      const tlsServer = createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: this.opts.idleMs }, accept);
      tlsServer.on('tlsClientError', (err, socket) => {
        this.log.debug({ remoteAddress: socket.remoteAddress, error: err.message }, 'RTMPS handshake failed');
        socket.destroy();
      });
      this.tlsServer = await this.listen(tlsServer, 'RTMPS', tls.port);
    }
  }

  /** Refusals by reason since start (`origin_rtmp_refused_total{reason}`). */
  refusals(): ReadonlyMap<RefusalReason, number> {
    return this.guard.refusals();
  }

  /** RTMP connections open now. */
  get connections(): number {
    return this.guard.connections;
  }

  /** One new connection: the door policy, then NMS's session with our rules, under two clocks. */
  private accept(socket: Socket): void {
    const ip = socket.remoteAddress ?? 'unknown';
    socket.on('error', () => socket.destroy());
    const admission = this.guard.admit(ip, Date.now());
    if (!admission.ok) {
      this.refused(ip, admission.reason, admission.detail);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    // A connection must publish (and be accepted) in time: a stranger cannot hold a slot by
    // handshaking and waiting, or by trickling a byte before each idle timeout.
    const deadline = setTimeout(() => {
      this.refused(ip, 'publish_timeout', `no accepted publish within ${this.opts.publishTimeoutMs / 1000} s of connecting (ORIGIN_RTMP_PUBLISH_TIMEOUT)`);
      socket.destroy();
    }, this.opts.publishTimeoutMs);
    socket.once('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(socket);
      this.guard.closed(ip, Date.now());
    });
    // NMS has no idle timeout of its own: a connection that never handshakes would stay forever.
    socket.setTimeout(this.opts.idleMs, () => {
      this.refused(ip, 'idle', `sent nothing for ${this.opts.idleMs / 1000} s (ORIGIN_RTMP_IDLE_TIMEOUT)`);
      socket.destroy();
    });
    let guarded: GuardedSession | undefined;
    guarded = openGuardedSession(socket, {
      onPublish: (session, verdict) => this.decide(session, guarded!, ip, verdict, () => clearTimeout(deadline)),
      onRefused: (kind, reason) => this.refused(ip, kind === 'duplicate' ? 'refused' : kind, reason),
      onAccepted: () => clearTimeout(deadline),
    });
  }

  /** Counts a refusal, and tells the operator about the address at most once a minute. */
  private refused(ip: string, reason: RefusalReason, detail: string): void {
    this.log.debug({ remoteAddress: ip, reason, detail }, 'RTMP connection closed by the door policy');
    const suspicion = this.guard.refused(ip, reason, Date.now());
    if (suspicion) {
      this.log.warn(
        { remoteAddress: ip, count: suspicion.refusals, reasons: suspicion.reasons, bannedSeconds: Math.ceil(suspicion.bannedForMs / 1000) },
        `suspicious RTMP activity from ${ip}: ${suspicion.refusals} connection(s) turned away since the last report${suspicion.bannedForMs ? `, address banned for ${Math.ceil(suspicion.bannedForMs / 1000)} s` : ''}`,
      );
    }
  }

  private async listen<S extends Server>(server: S, what: string, port: number): Promise<S> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ERR_LISTEN(what, port, err.code === 'EADDRINUSE' ? 'the port is in use by another process' : err.message)),
      );
      server.listen(port, this.opts.host, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err }, `${what} listener error`));
    return server;
  }

  /** The bound RTMPS port, if RTMPS is on. */
  get tlsPort(): number | undefined {
    const addr = this.tlsServer?.address();
    return typeof addr === 'object' && addr ? addr.port : undefined;
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : this.opts.port;
  }

  /** Stops accepting publishers (shutdown), keeping live ones until `close`. */
  refuseNewPublishers(): void {
    this.refusing = true;
    this.server?.close();
    this.tlsServer?.close();
  }

  /** Closes the listener and every RTMP connection. */
  async close(): Promise<void> {
    this.refuseNewPublishers();
    this.stopSweep();
    for (const socket of this.sockets) socket.destroy();
    await this.nms?.stop();
  }

  /** The connection's publish: our checks, then the handler's decision (maybe later: an auth callback). */
  private decide(session: NmsSession, guarded: GuardedSession, remoteAddress: string, verdict: PublishVerdict, decided: () => void): void {
    const key = session.streamName;
    let decision: Refusal | null | Promise<Refusal | null>;
    if (this.refusing) decision = 'the server is shutting down';
    else if (session.streamApp !== RTMP_APP) decision = `unknown application "${session.streamApp}" (publish to rtmp://host:port/${RTMP_APP}/<stream key>)`;
    else decision = this.opts.onPublish(this.wrap(session, guarded, remoteAddress));
    const settle = (refusal: Refusal | null) => {
      if (refusal === null) return verdict.accept();
      const wrongKey = typeof refusal === 'object';
      const reason = wrongKey ? refusal.reason : refusal;
      // Back off before answering an address that keeps trying wrong keys (then the guard bans it):
      // the refusal counts at once (towards the ban), the answer comes after the delay.
      const delay = wrongKey ? this.guard.wrongKeyDelayMs(remoteAddress, Date.now()) : 0;
      decided();
      this.log.warn({ remoteAddress, key: this.opts.mask(key), reason, ...(delay ? { answeredAfterMs: delay } : {}) }, 'publish refused');
      this.refused(remoteAddress, this.refusing ? 'shutting_down' : wrongKey ? 'wrong_key' : 'refused', reason);
      if (delay > 0) setTimeout(() => verdict.refuse(reason), delay).unref();
      else verdict.refuse(reason);
    };
    if (decision instanceof Promise) decision.then(settle, (err: Error) => settle(`publish decision failed: ${err.message}`));
    else settle(decision);
  }

  private wrap(session: NmsSession, guarded: GuardedSession, remoteAddress: string): IngestPublish {
    // What the tags say of the source (the metadata cannot tell the H.264 profile or the GOP).
    const meter = new KeyframeMeter();
    let avc: ReturnType<typeof avcConfigOf>;
    const received = { bytes: 0, frames: 0 };
    return {
      id: session.id,
      key: session.streamName,
      remoteAddress,
      info: () => ({
        videoCodec: VIDEO_CODECS[String(session.videoCodec)] ?? (session.videoCodec ? String(session.videoCodec) : ''),
        width: Number(session.videoWidth) || 0,
        height: Number(session.videoHeight) || 0,
        fps: Number(session.videoFramerate) || 0,
        videoKbps: Number(session.videoDatarate) || 0,
        audioCodec: AUDIO_CODECS[String(session.audioCodec)] ?? (session.audioCodec ? String(session.audioCodec) : ''),
        avcProfile: avc?.profile ?? 0,
        avcLevel: avc?.level ?? 0,
        gopSeconds: meter.gopSeconds,
        gopIntervals: meter.intervals,
      }),
      received: () => ({ ...received }),
      pipeFlv: (write) => {
        const broadcast = session.broadcast;
        // An empty ip marks an internal subscriber: NMS emits no play events and asks no auth.
        let firstTs: number | undefined;
        let anchor: number | undefined;
        let lastTagAt = Date.now();
        // NMS replays its cached header and GOP inside postPlay, synchronously: not new arrivals.
        let replaying = true;
        const subscriber: NmsSubscriber = {
          id: `transcoder-${session.id}-${++this.subscriptions}`,
          ip: '',
          protocol: 'flv',
          endTime: 0,
          sendBuffer: (tag) => {
            lastTagAt = Date.now();
            meter.observe(tag);
            avc = avcConfigOf(tag) ?? avc;
            if (isVideoFrameTag(tag)) {
              const ts = flvTagTimestamp(tag);
              firstTs ??= ts;
              // the earliest "arrival minus media time" is when media time 0 was live here
              const candidate = lastTagAt - (ts - firstTs);
              if (anchor === undefined || candidate < anchor) anchor = candidate;
            }
            if (!replaying) {
              received.bytes += tag.length;
              if (isVideoFrameTag(tag)) received.frames++;
            }
            write(tag);
          },
        };
        const err = broadcast.postPlay(subscriber);
        replaying = false;
        if (err) throw new Error(`ingest: cannot subscribe to the publish: ${err}`);
        return { close: () => broadcast.donePlay(subscriber), anchor: () => anchor, lastTagAt: () => lastTagAt };
      },
      onClose: (listener) => {
        if (session.socket.destroyed) queueMicrotask(listener);
        else session.socket.once('close', listener);
      },
      kick: () => guarded.destroy(),
      release: () => guarded.release(),
    };
  }
}
