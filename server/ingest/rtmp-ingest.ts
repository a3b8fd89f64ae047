/**
 * RTMP ingest: the only file that knows node-media-server (NMS 4.x). It turns NMS sessions into
 * our `IngestPublish` and keeps NMS's quirks here (../shared/DESIGN.md, "Facts about the
 * dependencies"):
 * - We own the TCP listener and hand sockets to NMS, so a taken port is our coded error instead
 *   of NMS's `process.exit(1)`, and NMS opens no HTTP port and no store on disk.
 * - `postPublish` fires even after we closed a session in `prePublish`, and a second publisher on
 *   a live path fires `prePublish` too: we decide everything in `prePublish` and ignore the rest.
 * - NMS keeps a gone publisher for 30 s (`publishGraceMs`) before `donePublish`: we watch the
 *   publisher's socket instead, and set the grace to 0 (our session owns reconnect policy).
 * - The publish reaches ffmpeg as FLV through an in-process subscriber of the NMS broadcast,
 *   not by reading the stream back over RTMP: no second socket, no play path for outsiders, and
 *   the first frame arrives ~1 s sooner.
 * - NMS logs through `console`; its logger is routed to ours at debug level, keys masked.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createRequire } from 'node:module';
import NodeMediaServer, { type NmsSession, type NmsSubscriber } from 'node-media-server';
import type { Logger } from 'pino';
import { ERR_LISTEN } from '../errors.js';
import type { SourceInfo } from '../transcode/ladder.js';
import { avcConfigOf, flvTagTimestamp, isVideoFrameTag, KeyframeMeter } from './flv-tags.js';

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

/** Decides on a publish: null to accept or the reason to refuse, now or later (an auth callback). */
export type PublishHandler = (publish: IngestPublish) => string | null | Promise<string | null>;

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
  /** RTMPS: TLS-wrapped RTMP on its own port, when a certificate is configured. */
  tls?: { port: number; cert: Buffer; key: Buffer } | undefined;
}

const VIDEO_CODECS: Record<string, string> = { '7': 'h264', avc1: 'h264', '12': 'hevc', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
const AUDIO_CODECS: Record<string, string> = { '10': 'aac', mp4a: 'aac', '2': 'mp3', Opus: 'opus' };

/**
 * NMS allocates every incoming RTMP message at the length its header claims (up to 16 MiB) per
 * chunk stream, before a byte of it arrives: a stranger could make it allocate hundreds of MiB with
 * a few headers (measured with `npm run fuzz`: +570 MiB RSS in 12 s). A message over
 * MAX_MESSAGE_BYTES, or more than MAX_CONNECTION_BUFFER_BYTES of message buffers on one connection,
 * is refused instead: NMS's parser then returns an error and NMS ends that connection. 8 MiB is
 * several times the largest keyframe of a 4K stream at 40 Mbit/s.
 */
export const MAX_MESSAGE_BYTES = 8 * 2 ** 20;
const MAX_CONNECTION_BUFFER_BYTES = 12 * 2 ** 20;

interface NmsRtmpParser {
  parserPacket: { header: { length: number }; capacity: number };
  packetAlloc(): void;
  parserData(buffer: Buffer): string | null;
  loAllocated?: number;
  loRefused?: string;
}

function capNmsMessageSizes(): void {
  const require = createRequire(import.meta.url);
  const Rtmp = require('node-media-server/src/protocol/rtmp.js') as { prototype: NmsRtmpParser & { loCapped?: boolean } };
  const proto = Rtmp.prototype;
  if (proto.loCapped) return;
  proto.loCapped = true;
  const packetAlloc = proto.packetAlloc;
  const parserData = proto.parserData;
  proto.packetAlloc = function (this: NmsRtmpParser) {
    const packet = this.parserPacket;
    const length = packet.header.length;
    if (packet.capacity < length) {
      const total = (this.loAllocated ?? 0) + length - packet.capacity;
      if (length > MAX_MESSAGE_BYTES || total > MAX_CONNECTION_BUFFER_BYTES) {
        this.loRefused = `an RTMP message of ${length} bytes is over the limit`;
        throw new Error(this.loRefused); // out of NMS's parser; parserData below turns it into an error
      }
      this.loAllocated = total + 1024;
    }
    packetAlloc.call(this);
  };
  // An error (ours above, or NMS's parser choking on garbage) ends that connection only: NMS's
  // onData ends the socket when parserData returns one, where a throw would reach the process.
  proto.parserData = function (this: NmsRtmpParser, buffer: Buffer) {
    if (this.loRefused) return this.loRefused;
    try {
      return parserData.call(this, buffer);
    } catch (err) {
      this.loRefused ??= `unparsable RTMP data (${(err as Error).message})`;
      return this.loRefused;
    }
  };
}

/** Routes NMS's console logger into ours, at debug, with stream keys in paths masked. */
function routeNmsLogs(logger: Logger, mask: (s: string) => string): void {
  const require = createRequire(import.meta.url);
  const nmsLogger = require('node-media-server/src/core/logger.js') as { log: (m: string, level?: string) => void };
  nmsLogger.log = (message: string) => {
    const masked = String(message)
      .replace(/(\/[A-Za-z0-9_-]+\/)([A-Za-z0-9_-]+)/g, (_, app: string, key: string) => app + mask(key))
      .replace(/(name=)([^,\s]+)/g, (_, p: string, key: string) => p + mask(key));
    logger.debug({ component: 'nms' }, masked);
  };
}

/** The RTMP server. */
export class RtmpIngest {
  private readonly opts: IngestOptions;
  private readonly log: Logger;
  private nms: NodeMediaServer | undefined;
  private server: Server | undefined;
  private tlsServer: Server | undefined;
  private refusing = false;
  private subscriptions = 0;

  constructor(opts: IngestOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: 'ingest' });
  }

  /** Opens the RTMP port. */
  async start(): Promise<void> {
    routeNmsLogs(this.opts.logger, this.opts.mask);
    capNmsMessageSizes();
    // No rtmp/http sections: NMS opens no port of its own; we pass it our sockets.
    const nms = new NodeMediaServer({});
    nms.on('prePublish', (session) => this.prePublish(session));
    this.nms = nms;
    const accept = (socket: Socket) => {
      // NMS has no idle timeout of its own: a connection that never handshakes would stay forever.
      socket.setTimeout(this.opts.idleMs, () => {
        this.log.info({ remoteAddress: socket.remoteAddress, idleMs: this.opts.idleMs }, 'RTMP connection idle; closed');
        socket.destroy();
      });
      socket.on('error', () => socket.destroy());
      nms.rtmpServer.handleRequest(socket);
    };
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
    await this.nms?.stop();
  }

  private prePublish(session: NmsSession): void {
    const remoteAddress = session.socket?.remoteAddress ?? session.ip;
    const key = session.streamName;
    let decision: string | null | Promise<string | null>;
    if (this.refusing) decision = 'the server is shutting down';
    else if (session.streamApp !== RTMP_APP) decision = `unknown application "${session.streamApp}" (publish to rtmp://host:port/${RTMP_APP}/<stream key>)`;
    else decision = this.opts.onPublish(this.wrap(session, remoteAddress));
    const refuse = (reason: string | null) => {
      if (reason === null) return;
      this.log.warn({ remoteAddress, key: this.opts.mask(key), reason }, 'publish refused');
      session.close();
    };
    if (typeof decision === 'object' && decision !== null) {
      decision.then(refuse, (err: Error) => refuse(`publish decision failed: ${err.message}`));
    } else refuse(decision);
  }

  private wrap(session: NmsSession, remoteAddress: string): IngestPublish {
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
        // Our session decides about reconnects; NMS should let go of a closed publisher at once.
        broadcast.publishGraceMs = 0;
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
      kick: () => session.close(),
      release: () => {
        session.broadcast.donePublish(session);
        session.close();
      },
    };
  }
}
