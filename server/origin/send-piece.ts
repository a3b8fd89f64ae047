/**
 * Answers a piece (playlist or media) with its precomputed validators and HTTP semantics: shared by
 * the live routes (memory) and the recording routes (store), so both answer alike.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MediaPiece } from '../hls/rendition.js';
import { CONTENT_TYPE, cacheHeaders, type ResponseKind } from './cache-policy.js';
import { encodedBody, notModified, parseRange, pickEncoding } from './http-semantics.js';

/**
 * Sends a piece from memory with its precomputed validators: 304 for a cached copy, a compressed
 * copy of a playlist when asked (made once per piece), a byte range of a media piece.
 */
export function sendPiece(req: FastifyRequest, reply: FastifyReply, piece: MediaPiece, kind: ResponseKind, maxAgeCap?: number): FastifyReply {
  reply.headers(cacheHeaders(kind, maxAgeCap)).header('last-modified', piece.lastModified);
  let body = piece.body;
  let etag = piece.etag;
  const isPlaylist = kind !== 'media';
  if (isPlaylist) {
    reply.header('vary', 'Accept-Encoding');
    const coding = pickEncoding(req.headers['accept-encoding']);
    if (coding) {
      ({ body, etag } = encodedBody(piece, coding));
      reply.header('content-encoding', coding);
    }
  } else {
    reply.header('accept-ranges', 'bytes');
  }
  reply.header('etag', etag);
  if (notModified(req.headers['if-none-match'], req.headers['if-modified-since'], etag, piece.lastModified)) {
    return reply.code(304).send();
  }
  if (!isPlaylist) {
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, body.length) : undefined;
    if (range === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${body.length}`).header('content-type', CONTENT_TYPE.json)
        .send({ error: 'Range Not Satisfiable', code: 'ERR_RANGE', message: `the piece has ${body.length} bytes` });
    }
    if (range) {
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${body.length}`);
      body = body.subarray(range.start, range.end + 1);
    }
  }
  return reply.send(body);
}

