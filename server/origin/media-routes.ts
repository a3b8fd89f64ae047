/**
 * The HLS routes a CDN pulls: master and media playlists, init segments and segments, answered
 * from the packager's memory (no disk read per request). Params are validated by schema, so `..`,
 * encoded dots, slashes or NUL never reach anything (400), and a miss is a JSON 404.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import type { SessionManager } from '../session/manager.js';
import type { MediaPiece } from '../hls/rendition.js';
import { ERR_NOT_FOUND, ERR_STREAM_NOT_FOUND, ERR_STREAM_NOT_READY } from '../errors.js';
import { cacheHeaders } from './cache-policy.js';

const Name = Type.String({ pattern: STREAM_NAME_PATTERN });
const RenditionName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' });
/** init-<epoch>.mp4 or <epoch>-<msn>.m4s (see hls/rendition.ts). */
const FileName = Type.String({ pattern: '^(init-[a-z0-9]{1,32}\\.mp4|[a-z0-9]{1,32}-[0-9]{1,12}\\.m4s)$' });

/** Sends a piece from memory with its precomputed validators. */
function sendPiece(reply: FastifyReply, piece: MediaPiece, kind: 'playlist' | 'media'): FastifyReply {
  return reply
    .headers(cacheHeaders(kind))
    .header('etag', piece.etag)
    .header('last-modified', piece.lastModified)
    .send(piece.body);
}

/** The media routes plugin. */
export const mediaRoutes: FastifyPluginAsync<{ sessions: SessionManager }> = async (app, { sessions }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  const sessionOf = (name: string) => {
    const s = sessions.get(name);
    if (!s) throw new ERR_STREAM_NOT_FOUND(name);
    return s;
  };

  api.get('/live/:name/master.m3u8', { schema: { params: Type.Object({ name: Name }) } }, async (req, reply) => {
    const master = sessionOf(req.params.name).packager?.master();
    if (!master) throw new ERR_STREAM_NOT_READY(req.params.name);
    return sendPiece(reply, master, 'playlist');
  });

  api.get(
    '/live/:name/:rendition/index.m3u8',
    { schema: { params: Type.Object({ name: Name, rendition: RenditionName }) } },
    async (req, reply) => {
      const window = sessionOf(req.params.name).packager?.renditions.get(req.params.rendition);
      if (!window) throw new ERR_NOT_FOUND(`rendition ${req.params.rendition}`);
      const playlist = window.playlist();
      if (!playlist) throw new ERR_STREAM_NOT_READY(req.params.name);
      return sendPiece(reply, playlist, 'playlist');
    },
  );

  api.get(
    '/live/:name/:rendition/:file',
    { schema: { params: Type.Object({ name: Name, rendition: RenditionName, file: FileName }) } },
    async (req, reply) => {
      const window = sessionOf(req.params.name).packager?.renditions.get(req.params.rendition);
      const piece = window?.file(req.params.file);
      if (!piece) throw new ERR_NOT_FOUND(`${req.params.rendition}/${req.params.file}`);
      return sendPiece(reply, piece, 'media');
    },
  );
};
