/**
 * Every change we make to node-media-server's behaviour, in one file, for the one version they
 * were written against (read against its source: src/session/rtmp_session.js,
 * src/protocol/rtmp.js, src/server/broadcast_server.js). On another version the server refuses to
 * start (ERR_NMS_VERSION) instead of running with patches that may no longer hold.
 *
 * What NMS 4.4.3 does that a public port cannot afford, and what we do instead:
 * - A refusal is `socket.end()`, a half-close: a client that ignores the FIN keeps sending, and
 *   `postPublish` makes the refused session the stream's publisher all the same, so its frames
 *   reach the broadcast (a refused second publisher's frames went into the live stream). Here NMS
 *   is never told of a publish before we accept it: frames that arrive while the key is checked
 *   are held (bounded) and replayed into the broadcast on acceptance, dropped otherwise, and a
 *   refused or kicked connection is destroyed, never half-closed.
 * - Every `publish` and `play` command of one connection is served, each a key check and an entry
 *   in NMS's global broadcast map that only the last one releases. Here: one publish per
 *   connection, and `play` is refused (this server serves HLS, never RTMP playback).
 * - A message header makes NMS allocate the length it claims (up to 16 MiB) before any byte of it
 *   arrives. Here: a small budget until the publish is accepted (commands are tiny), a larger one
 *   after (keyframes).
 * - NMS logs through `console`; its logger is routed to ours at debug level, keys masked.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { NmsSession } from 'node-media-server';
import { ERR_NMS_VERSION } from '../errors.js';

const require = createRequire(import.meta.url);

/** The node-media-server version these patches were written for and tested with. */
export const NMS_VERSION = '4.4.3';

/** Largest RTMP message once a publish is accepted: several times a 4K keyframe at 40 Mbit/s. */
export const MAX_MESSAGE_BYTES = 8 * 2 ** 20;
/** Message buffers one accepted publisher may hold (NMS keeps one per chunk stream). */
const MAX_CONNECTION_BUFFER_BYTES = 12 * 2 ** 20;
/** Before acceptance only commands and a few early frames arrive: per message and in total. */
export const PRE_ACCEPT_MESSAGE_BYTES = 64 * 1024;
const PRE_ACCEPT_BUFFER_BYTES = 256 * 1024;
/** Media a publisher may send while its key is checked (an auth callback takes up to 2 s). */
export const MAX_PENDING_BYTES = 4 * 2 ** 20;

/** Fails loudly when the installed NMS is not the one these patches were read against. */
export function checkNmsVersion(installed = (require('node-media-server/package.json') as { version: string }).version): void {
  if (installed !== NMS_VERSION) {
    throw new ERR_NMS_VERSION(installed, NMS_VERSION);
  }
}

interface RtmpPacketLike {
  header: { length: number };
  capacity: number;
}

/** The part of NMS's RTMP parser (src/protocol/rtmp.js) the patches touch. */
interface NmsRtmpParser {
  parserPacket: RtmpPacketLike;
  packetAlloc(): void;
  parserData(buffer: Buffer): string | null;
  onPublish(message: unknown): void;
  onPlay(message: unknown): void;
  /** Bytes of message buffers this connection holds (ours). */
  loAllocated?: number;
  /** Set once the connection is refused: the parser stops at the next message. */
  loRefused?: string;
  /** Budgets of this connection (ours): pre-accept until the publish is accepted. */
  loMessageLimit?: number;
  loBufferLimit?: number;
}

let parserPatched = false;

/** Caps what one message header can make NMS allocate; a refused parser stops at the next message. */
function patchParser(): void {
  if (parserPatched) return;
  parserPatched = true;
  const Rtmp = require('node-media-server/src/protocol/rtmp.js') as { prototype: NmsRtmpParser };
  const proto = Rtmp.prototype;
  const packetAlloc = proto.packetAlloc;
  const parserData = proto.parserData;
  proto.packetAlloc = function (this: NmsRtmpParser) {
    if (this.loRefused) throw new Error(this.loRefused);
    const packet = this.parserPacket;
    const length = packet.header.length;
    if (packet.capacity < length) {
      const total = (this.loAllocated ?? 0) + length - packet.capacity;
      const messageLimit = this.loMessageLimit ?? PRE_ACCEPT_MESSAGE_BYTES;
      const bufferLimit = this.loBufferLimit ?? PRE_ACCEPT_BUFFER_BYTES;
      if (length > messageLimit || total > bufferLimit) {
        this.loRefused = `oversize: an RTMP message of ${length} bytes is over the limit of ${messageLimit} bytes${this.loMessageLimit ? '' : ' before the publish is accepted'}`;
        throw new Error(this.loRefused); // out of NMS's parser; parserData below turns it into an error
      }
      this.loAllocated = total + 1024;
    }
    packetAlloc.call(this);
  };
  // An error (ours above, or NMS's parser choking on garbage) ends that connection only.
  proto.parserData = function (this: NmsRtmpParser, buffer: Buffer) {
    if (this.loRefused) return this.loRefused;
    try {
      return parserData.call(this, buffer);
    } catch (err) {
      this.loRefused ??= `protocol: unparsable RTMP data (${(err as Error).message})`;
      return this.loRefused;
    }
  };
}

let logsRouted = false;

/** Routes NMS's console logger into `log` (debug), with stream keys in paths masked. */
export function routeNmsLogs(log: (message: string) => void, mask: (s: string) => string): void {
  if (logsRouted) return;
  logsRouted = true;
  const nmsLogger = require('node-media-server/src/core/logger.js') as { log: (m: string, level?: string) => void };
  nmsLogger.log = (message: string) => {
    log(String(message)
      .replace(/(\/[A-Za-z0-9_-]+\/)([A-Za-z0-9_-]+)/g, (_, app: string, key: string) => app + mask(key))
      .replace(/(name=)([^,\s]+)/g, (_, p: string, key: string) => p + mask(key)));
  };
}

/** Applies the process-wide patches (idempotent). Call after `checkNmsVersion`. */
export function applyNmsPatches(): void {
  patchParser();
}

/** What the ingest decides for a connection's publish. */
export interface PublishVerdict {
  accept(): void;
  refuse(reason: string): void;
}

/** The ingest's side of one guarded connection. */
export interface GuardedHooks {
  /** The connection's (only) publish: the session knows its app and key; answer through `verdict`. */
  onPublish(session: NmsSession, verdict: PublishVerdict): void;
  /** The connection was refused for `reason` (`kind` is a refusal reason label); it is destroyed right after. */
  onRefused(kind: 'play' | 'second_publish' | 'oversize' | 'protocol' | 'pending_overflow' | 'duplicate', reason: string): void;
  /** The publish was accepted by NMS: the session is the stream's publisher now. */
  onAccepted(): void;
}

/** An RTMP connection with our rules; `session` is NMS's. */
export interface GuardedSession {
  readonly session: NmsSession;
  /** Whether the publish was accepted (frames reach the broadcast only then). */
  readonly accepted: boolean;
  /** Destroys the connection (refused, kicked, deadline): never a half-close. */
  destroy(): void;
  /** Frees the stream's publisher slot in NMS at once and destroys the connection (takeover). */
  release(): void;
}

interface AvPacketLike {
  data?: Buffer;
  size?: number;
}

interface NmsRtmpSession extends NmsSession {
  rtmp: NmsRtmpParser;
  isPublisher: boolean;
  run(): void;
  onPush: () => void;
  onPacket: (packet: AvPacketLike) => void;
  onData: (data: Buffer) => void;
  broadcast: NmsSession['broadcast'] & {
    postPublish(session: NmsSession): string | null;
    broadcastMessage(packet: AvPacketLike): void;
  };
}

/**
 * Starts NMS's RTMP session on `socket` with our rules (instead of NMS's `handleRequest`, which
 * would start it with its own). Instance properties shadow NMS's before `run()` binds them.
 */
export function openGuardedSession(socket: Socket, hooks: GuardedHooks): GuardedSession {
  const RtmpSession = require('node-media-server/src/session/rtmp_session.js') as new (socket: Socket) => NmsRtmpSession;
  const Context = require('node-media-server/src/core/context.js') as { sessions: Map<string, unknown> };
  const session = new RtmpSession(socket);
  const rtmp = session.rtmp;
  let state: 'connected' | 'deciding' | 'accepted' | 'closed' = 'connected';
  let published = false;
  let pending: AvPacketLike[] = [];
  let pendingBytes = 0;

  const destroy = () => {
    if (state === 'closed' && socket.destroyed) return;
    if (state !== 'accepted') state = 'closed';
    rtmp.loRefused ??= 'closed by the server';
    pending = [];
    socket.destroy();
  };
  const refuse = (kind: Parameters<GuardedHooks['onRefused']>[0], reason: string) => {
    if (socket.destroyed) return;
    hooks.onRefused(kind, reason);
    state = 'closed';
    destroy();
  };

  // NMS's own close paths (its errors, BaseSession.close) half-close: destroy instead.
  session.close = destroy;
  rtmp.onPlay = () => refuse('play', 'RTMP playback is not served here; watch over HLS at /live/<name>/master.m3u8');
  const onPublish = rtmp.onPublish;
  rtmp.onPublish = function (this: NmsRtmpParser, message: unknown) {
    if (published) return refuse('second_publish', 'one publish per connection');
    published = true;
    onPublish.call(this, message);
  };
  // NMS would make this session the publisher before we decided; we decide first.
  session.onPush = () => {
    state = 'deciding';
    hooks.onPublish(session, {
      accept: () => {
        if (state !== 'deciding' || socket.destroyed) return;
        const err = session.broadcast.postPublish(session);
        if (err !== null) return refuse('duplicate', err);
        state = 'accepted';
        session.isPublisher = true;
        rtmp.loMessageLimit = MAX_MESSAGE_BYTES;
        rtmp.loBufferLimit = MAX_CONNECTION_BUFFER_BYTES;
        // Our session owns reconnect policy; NMS should let go of a closed publisher at once.
        session.broadcast.publishGraceMs = 0;
        hooks.onAccepted();
        const held = pending;
        pending = [];
        for (const packet of held) session.broadcast.broadcastMessage(packet);
      },
      refuse: () => {
        state = 'closed';
        destroy();
      },
    });
  };
  session.onPacket = (packet) => {
    if (socket.destroyed) return;
    if (state === 'accepted') return session.broadcast.broadcastMessage(packet);
    if (state !== 'deciding') return;
    pendingBytes += packet.size ?? packet.data?.length ?? 0;
    if (pendingBytes > MAX_PENDING_BYTES) return refuse('pending_overflow', `sent over ${MAX_PENDING_BYTES} bytes of media before its key was checked`);
    pending.push(packet);
  };
  session.onData = (data) => {
    if (socket.destroyed) return;
    const err = rtmp.parserData(data);
    if (err === null) return;
    if (socket.destroyed) return; // refused by one of the hooks above, already counted
    refuse(err.startsWith('oversize') ? 'oversize' : 'protocol', err);
  };
  session.run();
  Context.sessions.set(session.id, session);
  socket.once('close', () => Context.sessions.delete(session.id));
  return {
    session,
    get accepted() {
      return state === 'accepted';
    },
    destroy,
    release: () => {
      if (state === 'accepted') session.broadcast.donePublish(session);
      destroy();
    },
  };
}
