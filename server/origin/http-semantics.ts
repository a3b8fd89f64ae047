/**
 * HTTP semantics for pieces held in memory (pure): conditional requests (RFC 9110 13.1), single
 * byte ranges (RFC 9110 14) and content-coding negotiation. @fastify/static does this for files on
 * disk and @fastify/etag/@fastify/compress per response; our pieces never change, so validators
 * and compressed bodies are computed once per piece instead of once per request.
 */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { MediaPiece } from '../hls/rendition.js';

/** A requested byte range, inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a Range header against a body of `size` bytes: a range to send, 'unsatisfiable' (416), or
 * undefined to send the whole body (no header, another unit, several ranges, or a malformed one,
 * which RFC 9110 says to ignore).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

/** True when the client's cached copy is still good (If-None-Match, else If-Modified-Since). */
export function notModified(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, etag: string, lastModified: string): boolean {
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    return Number.isFinite(since) && Date.parse(lastModified) <= since;
  }
  return false;
}

/** The content coding to use for a client's Accept-Encoding: br, then gzip, else identity. */
export function pickEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  if (!acceptEncoding) return undefined;
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
    accepted.set(name!, q === undefined ? 1 : Number(q));
  }
  const ok = (c: string) => (accepted.get(c) ?? accepted.get('*') ?? 0) > 0;
  return ok('br') ? 'br' : ok('gzip') ? 'gzip' : undefined;
}

/** Compressed copies of a piece, made on first use and kept with the piece. */
const encoded = new WeakMap<MediaPiece, { br?: Buffer; gzip?: Buffer }>();

/** The piece's body in a content coding (computed once per piece), and its ETag for that coding. */
export function encodedBody(piece: MediaPiece, coding: 'br' | 'gzip'): { body: Buffer; etag: string } {
  let cache = encoded.get(piece);
  if (!cache) encoded.set(piece, (cache = {}));
  const body = (cache[coding] ??=
    coding === 'br'
      ? brotliCompressSync(piece.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: piece.body.length } })
      : gzipSync(piece.body, { level: 6 }));
  // A strong ETag names one representation: the compressed ones get their own.
  return { body, etag: `${piece.etag.slice(0, -1)}-${coding}"` };
}
