/**
 * The HLS routes a CDN pulls: master and media playlists (with LL-HLS blocking reload and delta
 * updates), init segments, parts and segments, answered from the packager's memory (no disk read
 * per request). Params are validated by schema, so `..`, encoded dots, slashes or NUL never reach
 * anything (400), and a miss is a JSON 404.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import type { SessionManager } from '../session/manager.js';
import type { LiveSession } from '../session/live-session.js';
import type { MediaPiece, RenditionWindow } from '../hls/rendition.js';
import { decide, satisfies } from '../hls/blocking.js';
import { MEDIA_FILE_PATTERN, parseMediaName } from '../hls/media-names.js';
import { ERR_BAD_DIRECTIVE, ERR_HOLD_TIMEOUT, ERR_NOT_FOUND, ERR_STORAGE_READ, ERR_STREAM_NOT_FOUND, ERR_STREAM_NOT_READY } from '../errors.js';
import { checkPlaybackAccess } from './playback-token.js';
import { sendPiece } from './send-piece.js';
import { CACHE_CONTROL } from './cache-policy.js';
import { readFile } from 'node:fs/promises';
import type { HeldRequests } from './held-requests.js';
import type { Cluster } from '../cluster/cluster.js';
import { HOP_HEADER, type PeerProxy } from '../cluster/peer-proxy.js';

const Name = Type.String({ pattern: STREAM_NAME_PATTERN });
const RenditionName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' });
/** Every name the packager writes (hls/media-names.ts owns the forms: init per run, segment, part). */
const FileName = Type.String({ pattern: MEDIA_FILE_PATTERN });
/** LL-HLS delivery directives (RFC 8216bis 6.2.5); other query parameters are ignored. */
const Directives = Type.Object({
  _HLS_msn: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12 })),
  _HLS_part: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e6 })),
  _HLS_skip: Type.Optional(Type.Union([Type.Literal('YES'), Type.Literal('v2')])),
});

/** The media routes plugin. `segmentSeconds` bounds how long a blocking request is held (3 target durations). */
export const mediaRoutes: FastifyPluginAsync<{
  sessions: SessionManager;
  playbackSecret?: string | undefined;
  held: HeldRequests;
  /** Cluster mode: a stream served by another node is asked of it (byte-identical answers). */
  cluster?: Cluster | undefined;
  peers?: PeerProxy | undefined;
}> = async (app, { sessions, playbackSecret, held, cluster, peers }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  /** The node to ask for `name` (its playlists, or its pieces of `epoch`), when it is not this one. */
  // (a request from another node is answered here, never forwarded again: no loop while two registries disagree)
  // (a stream this node packages is first settled: after this node did not run for a while, its
  // lease is confirmed before it answers from memory; see Cluster.settle)
  const remoteFor = async (req: { headers: Record<string, unknown> }, name: string, epoch?: string) => {
    if (!cluster || !peers || req.headers[HOP_HEADER] !== undefined) return undefined;
    const settling = cluster.settle(name);
    if (settling) await settling;
    return cluster.servingUrl(name, epoch, (e) => sessions.withEpoch(name, e)?.epoch === e);
  };

  // (the call sites skip the await on a single node: `cluster && (await remoteFor(...))` costs no
  // turn of the microtask queue per request, a few per cent of bench:serve)
  const checkAccess = (params: { name: string; token?: string }) => checkPlaybackAccess(playbackSecret, params.name, params.token);
  /**
   * DVR: a piece that left memory but that the playlist still lists comes from the store, with the
   * validators it had in memory (one URL, one ETag, wherever the bytes are).
   */
  const fromStore = async (session: LiveSession, window: RenditionWindow, rendition: string, uri: string): Promise<MediaPiece | undefined> => {
    const meta = window.stored(uri);
    if (!meta || !session.archive) return undefined;
    let body: Buffer | undefined;
    try {
      body = await session.archive.read(rendition, uri);
    } catch {
      throw new ERR_STORAGE_READ(`${rendition}/${uri}`);
    }
    return body && { body, ...meta };
  };
  const Token = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/]+$' });

  const sessionOf = (name: string) => {
    const s = sessions.get(name);
    if (!s) throw new ERR_STREAM_NOT_FOUND(name);
    return s;
  };
  /** The window of a rendition; `session` is the one whose playlists (or, by epoch, pieces) are asked for. */
  const windowOf = (name: string, rendition: string, session: LiveSession | undefined) => {
    if (!session) throw new ERR_STREAM_NOT_FOUND(name);
    const window = session.packager?.renditions.get(rendition);
    if (!window) {
      if (session.state === 'starting' && !session.packager) throw new ERR_STREAM_NOT_READY(name);
      throw new ERR_NOT_FOUND(`rendition ${rendition}`);
    }
    return { session, window };
  };

  api.get('/live/:name/thumbnail.jpg', { schema: { params: Type.Object({ name: Name }) } }, async (req, reply) => {
    const remote = cluster && (await remoteFor(req, req.params.name));
    if (remote) return peers!.forward(req, reply, remote);
    const session = sessionOf(req.params.name);
    // Not the media hot path: a small file ffmpeg rewrites every 10 s, read when asked.
    const jpeg = session.isLive ? await readFile(session.thumbnailFile).catch(() => undefined) : undefined;
    if (!jpeg) throw new ERR_NOT_FOUND(`thumbnail of ${req.params.name}`);
    return reply.header('cache-control', CACHE_CONTROL.thumbnail).type('image/jpeg').send(jpeg);
  });

  // The same routes plain and under a playback token; checkAccess allows one of the two.
  const tokenParam = { token: Type.Optional(Token) };
  for (const prefix of ['/live/:name', '/live/:name/t/:token']) {
    api.get(`${prefix}/master.m3u8`, { schema: { params: Type.Object({ name: Name, ...tokenParam }) } }, async (req, reply) => {
      const maxAge = checkAccess(req.params);
      const remote = cluster && (await remoteFor(req, req.params.name));
      if (remote) return peers!.forward(req, reply, remote);
      sessionOf(req.params.name);
      const master = sessions.playlistsOf(req.params.name)?.packager?.master();
      if (!master) throw new ERR_STREAM_NOT_READY(req.params.name);
      return sendPiece(req, reply, master, 'playlist', maxAge);
    });

    api.get(
      `${prefix}/:rendition/index.m3u8`,
      { schema: { params: Type.Object({ name: Name, rendition: RenditionName, ...tokenParam }), querystring: Directives } },
      async (req, reply) => {
        const maxAge = checkAccess(req.params);
        const remote = cluster && (await remoteFor(req, req.params.name));
        if (remote) return peers!.forward(req, reply, remote);
        const { session, window } = windowOf(req.params.name, req.params.rendition, sessions.playlistsOf(req.params.name));
        const { _HLS_msn: msn, _HLS_part: part, _HLS_skip: skip } = req.query;
        const holdMs = 3 * session.targetDuration * 1000;
        if (part !== undefined && msn === undefined) throw new ERR_BAD_DIRECTIVE('_HLS_part needs _HLS_msn');
        if (msn !== undefined) {
          const decision = decide({ msn, part }, window.edge);
          if (decision.kind === 'reject') throw new ERR_BAD_DIRECTIVE(decision.reason);
          if (decision.kind === 'hold') {
            const outcome = await held.hold(req, reply, window, () => satisfies({ msn, part }, window.edge), holdMs);
            if (outcome !== 'ready') {
              reply.header('retry-after', String(session.targetDuration));
              throw new ERR_HOLD_TIMEOUT(`_HLS_msn=${msn}${part !== undefined ? ` _HLS_part=${part}` : ''}${outcome === 'gone' ? ' (the client left)' : ''}`);
            }
            // a node that did not run while the request was held may have lost the stream meanwhile
            const moved = cluster && (await remoteFor(req, req.params.name));
            if (moved) return peers!.forward(req, reply, moved);
          }
        }
        const playlist = window.playlist(skip !== undefined);
        if (!playlist) throw new ERR_STREAM_NOT_READY(req.params.name);
        return sendPiece(req, reply, playlist, window.isEnded ? 'endedPlaylist' : msn !== undefined ? 'blockingPlaylist' : 'playlist', maxAge);
      },
    );

    api.get(
      `${prefix}/:rendition/:file`,
      { schema: { params: Type.Object({ name: Name, rendition: RenditionName, file: FileName, ...tokenParam }) } },
      async (req, reply) => {
        const maxAge = checkAccess(req.params);
        const uri = req.params.file;
        const epoch = parseMediaName(uri)?.epoch;
        const remote = cluster && (await remoteFor(req, req.params.name, epoch ?? ''));
        if (remote) return peers!.forward(req, reply, remote);
        const { session, window } = windowOf(req.params.name, req.params.rendition, sessions.withEpoch(req.params.name, epoch));
        let piece = window.file(uri);
        // The part the preload hint announces is held until ffmpeg has written it (LL-HLS).
        if (!piece && window.isNextPart(uri)) {
          // (the hint is retired when the run ends: isNextPart turns false and the answer is a 404)
          const outcome = await held.hold(req, reply, window, () => window.file(uri) !== undefined || !window.isNextPart(uri), 3 * session.targetDuration * 1000);
          piece = window.file(uri);
          if (outcome !== 'ready') {
            reply.header('retry-after', String(session.targetDuration));
            throw new ERR_HOLD_TIMEOUT(uri);
          }
        }
        if (!piece) piece = await fromStore(session, window, req.params.rendition, uri);
        if (!piece) throw new ERR_NOT_FOUND(`${req.params.rendition}/${uri}`);
        return sendPiece(req, reply, piece, 'media', maxAge);
      },
    );
  }
};
