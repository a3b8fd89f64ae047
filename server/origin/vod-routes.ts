/**
 * Past broadcasts, served from the store: `/vod/<id>/master.m3u8`, its media playlists (VOD once
 * the recording ended, EVENT while it grows), its pieces (the same names, bytes and ETags as live),
 * and `/vod/<id>/<rendition>.mp4`, the rendition as one fragmented MP4 streamed piece by piece with
 * byte ranges (record/mp4-download.ts). Plus the recordings API: `GET /api/recordings` and the
 * admin's `DELETE /api/recordings/:id`. With signed playback the same token as the stream's live
 * URLs is needed (`/vod/<id>/t/<token>/…`).
 */
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import { makePiece } from '../hls/rendition.js';
import { MEDIA_FILE_PATTERN, parseMediaName } from '../hls/media-names.js';
import { parseInit } from '../hls/boxes.js';
import { ERR_NOT_FOUND, ERR_RECORDING_NOT_FOUND, ERR_STORAGE_READ } from '../errors.js';
import type { Recordings } from '../record/recorder.js';
import { RECORDING_ID_PATTERN, recordingPlaylist, summarize, type RecordedSegment, type RecordingManifest } from '../record/recording.js';
import { firstDecodeTimes, runShift, runsOf, shiftDecodeTimes, trackSignature } from '../record/mp4-download.js';
import { CONTENT_TYPE, cacheHeaders } from './cache-policy.js';
import { checkPlaybackAccess } from './playback-token.js';
import { sendPiece } from './send-piece.js';
import { notModified, parseRange } from './http-semantics.js';
import { baseUrl, requireAdmin } from './api-routes.js';

/** What the plugin needs. */
export interface VodOptions {
  recordings: Recordings;
  playbackSecret: string | undefined;
  adminToken: string | undefined;
  publicUrl: string | undefined;
  logger: Logger;
}

const Id = Type.String({ pattern: RECORDING_ID_PATTERN, description: 'recording ID: <stream>-<epoch>' });
const RenditionName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' });
const Download = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}\\.mp4$' });
const Token = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/]+$' });

const RecordingSchema = Type.Object({
  id: Type.String(),
  stream: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  durationSeconds: Type.Number(),
  renditions: Type.Array(Type.String()),
  bytes: Type.Integer(),
  playbackUrl: Type.String(),
  downloadUrl: Type.String(),
  stoppedEarly: Type.Optional(Type.String({ description: 'why recording stopped before the stream ended (the store failed)' })),
});

/** A plan of the download: the pieces in order, each with its size and how to shift it. */
interface DownloadPlan {
  init: Buffer;
  pieces: Array<{ uri: string; bytes: number; shift: Map<number, number> | undefined }>;
  total: number;
  omittedRuns: number;
}

/** The VOD plugin. */
export const vodRoutes: FastifyPluginAsync<VodOptions> = async (app, opts) => {
  const { recordings } = opts;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  const read = async (m: RecordingManifest, rendition: string, uri: string): Promise<Buffer | undefined> => {
    try {
      return await recordings.read(m.stream, m.epoch, rendition, uri);
    } catch (e) {
      opts.logger.warn({ err: String(e), recording: m.id, uri }, 'store read failed');
      throw new ERR_STORAGE_READ(`${rendition}/${uri}`);
    }
  };
  const manifestOf = async (id: string, token: string | undefined) => {
    let m: RecordingManifest | undefined;
    try {
      m = await recordings.manifest(id);
    } catch {
      throw new ERR_STORAGE_READ('recording list');
    }
    if (!m) throw new ERR_RECORDING_NOT_FOUND(id);
    return { m, maxAge: checkPlaybackAccess(opts.playbackSecret, m.stream, token) };
  };
  const segmentsOf = async (m: RecordingManifest, rendition: string): Promise<RecordedSegment[]> => {
    if (!m.renditions.includes(rendition)) throw new ERR_NOT_FOUND(`rendition ${rendition} of recording ${m.id}`);
    try {
      return await recordings.segments(m, rendition);
    } catch {
      throw new ERR_STORAGE_READ(`${rendition} list`);
    }
  };
  const playlistKind = (m: RecordingManifest) => (m.endedAt === null ? 'playlist' : 'recording');

  for (const prefix of ['/vod/:id', '/vod/:id/t/:token']) {
    const tokenParam = { token: Type.Optional(Token) };
    api.get(`${prefix}/master.m3u8`, { schema: { params: Type.Object({ id: Id, ...tokenParam }) } }, async (req, reply) => {
      const { m, maxAge } = await manifestOf(req.params.id, req.params.token);
      const text = await recordings.master(m).catch(() => {
        throw new ERR_STORAGE_READ('master playlist');
      });
      if (!text) throw new ERR_NOT_FOUND(`master playlist of recording ${m.id} (it never became playable)`);
      reply.header('content-type', CONTENT_TYPE.playlist);
      return sendPiece(req, reply, makePiece(text, `${m.id}/master/${text.length}`, m.startedAt), playlistKind(m), maxAge);
    });

    api.get(`${prefix}/:rendition/index.m3u8`, { schema: { params: Type.Object({ id: Id, rendition: RenditionName, ...tokenParam }) } }, async (req, reply) => {
      const { m, maxAge } = await manifestOf(req.params.id, req.params.token);
      const segments = await segmentsOf(m, req.params.rendition);
      const text = Buffer.from(recordingPlaylist(m, segments));
      reply.header('content-type', CONTENT_TYPE.playlist);
      return sendPiece(req, reply, makePiece(text, `${m.id}/${req.params.rendition}/${text.toString()}`, m.endedAt ?? Date.now()), playlistKind(m), maxAge);
    });

    api.get(`${prefix}/:rendition/:file`, { schema: { params: Type.Object({ id: Id, rendition: RenditionName, file: Type.String({ pattern: MEDIA_FILE_PATTERN }), ...tokenParam }) } }, async (req, reply) => {
      const { m, maxAge } = await manifestOf(req.params.id, req.params.token);
      const name = parseMediaName(req.params.file);
      if (!m.renditions.includes(req.params.rendition) || name?.epoch !== m.epoch || name.kind === 'part') {
        throw new ERR_NOT_FOUND(`${req.params.rendition}/${req.params.file} of recording ${m.id}`);
      }
      const body = await read(m, req.params.rendition, req.params.file);
      if (!body) throw new ERR_NOT_FOUND(`${req.params.rendition}/${req.params.file} of recording ${m.id}`);
      // the validators the piece had live (hls/rendition.ts makePiece: epoch, rendition, name, size)
      const piece = makePiece(body, `${m.epoch}/${req.params.rendition}/${req.params.file}`, m.startedAt);
      return sendPiece(req, reply, piece, 'media', maxAge);
    });

    api.get(`${prefix}/:download`, { schema: { params: Type.Object({ id: Id, download: Download, ...tokenParam }) } }, async (req, reply) => {
      const { m, maxAge } = await manifestOf(req.params.id, req.params.token);
      const rendition = req.params.download.slice(0, -'.mp4'.length);
      const segments = await segmentsOf(m, rendition);
      if (!segments.length) throw new ERR_NOT_FOUND(`segments of ${rendition} in recording ${m.id}`);
      const plan = await planDownload(m, rendition, segments, read);
      return sendDownload(req, reply, m, rendition, plan, read, maxAge);
    });
  }

  api.get(
    '/api/recordings',
    {
      schema: {
        tags: ['recordings'],
        summary: 'Past broadcasts (and the ones being recorded), oldest first',
        querystring: Type.Object({ stream: Type.Optional(Type.String({ pattern: STREAM_NAME_PATTERN })) }),
        response: { 200: Type.Object({ recordings: Type.Array(RecordingSchema) }) },
      },
    },
    async (req, reply) => {
      let list: RecordingManifest[];
      try {
        list = await recordings.list(req.query.stream);
      } catch {
        throw new ERR_STORAGE_READ('recording list');
      }
      const base = baseUrl(opts.publicUrl, req);
      reply.header('cache-control', 'no-store');
      return { recordings: list.map((m) => summarize(m, base)) };
    },
  );

  api.delete(
    '/api/recordings/:id',
    {
      onRequest: async (req) => requireAdmin(req, opts.adminToken),
      schema: {
        tags: ['admin'], security: [{ bearer: [] }], summary: 'Deletes a recording (its manifest, then its media)',
        params: Type.Object({ id: Id }),
        response: { 200: Type.Object({ deleted: Type.String() }) },
      },
    },
    async (req, reply) => {
      let ok: boolean;
      try {
        ok = await recordings.delete(req.params.id);
      } catch {
        throw new ERR_STORAGE_READ('delete');
      }
      if (!ok) throw new ERR_RECORDING_NOT_FOUND(req.params.id);
      reply.header('cache-control', 'no-store');
      return { deleted: req.params.id };
    },
  );
};

type Reader = (m: RecordingManifest, rendition: string, uri: string) => Promise<Buffer | undefined>;

/** Reads the first init and the first segment of every run to know each run's shift. */
async function planDownload(m: RecordingManifest, rendition: string, segments: RecordedSegment[], read: Reader): Promise<DownloadPlan> {
  const runs = runsOf(segments);
  const init = await read(m, rendition, runs[0]!.mapUri);
  if (!init) throw new ERR_NOT_FOUND(`init segment of ${rendition} in recording ${m.id}`);
  const info = parseInit(init);
  const signature = trackSignature(info);
  const firstSeg0 = await read(m, rendition, runs[0]!.segments[0]!.uri);
  if (!firstSeg0) throw new ERR_NOT_FOUND(`first segment of ${rendition} in recording ${m.id}`);
  const first0 = firstDecodeTimes(firstSeg0, info);
  const pieces: DownloadPlan['pieces'] = [];
  let omittedRuns = 0;
  for (const [k, run] of runs.entries()) {
    let shift: Map<number, number> | undefined;
    if (k > 0) {
      const runInit = await read(m, rendition, run.mapUri);
      const runInfo = runInit && parseInit(runInit);
      const firstSeg = await read(m, rendition, run.segments[0]!.uri);
      if (!runInfo || !firstSeg || trackSignature(runInfo) !== signature) {
        // another codec or picture size cannot share the first init segment (see mp4-download.ts)
        omittedRuns = runs.length - k;
        break;
      }
      shift = runShift(info, first0, firstDecodeTimes(firstSeg, runInfo), run.startSeconds);
    }
    for (const s of run.segments) pieces.push({ uri: s.uri, bytes: s.bytes, shift });
  }
  return { init, pieces, total: init.length + pieces.reduce((n, p) => n + p.bytes, 0), omittedRuns };
}

/** Streams the planned file (or the asked byte range of it). */
function sendDownload(req: FastifyRequest, reply: FastifyReply, m: RecordingManifest, rendition: string, plan: DownloadPlan, read: Reader, maxAge: number | undefined): FastifyReply {
  const etag = `"${createHash('sha1').update(`${m.id}/${rendition}/${plan.pieces.length}/${plan.total}`).digest('base64url').slice(0, 22)}"`;
  const lastModified = new Date(m.endedAt ?? Date.now()).toUTCString();
  reply.headers(cacheHeaders(m.endedAt === null ? 'playlist' : 'recording', maxAge));
  reply.header('content-type', CONTENT_TYPE.media).header('accept-ranges', 'bytes').header('etag', etag).header('last-modified', lastModified);
  reply.header('content-disposition', `attachment; filename="${m.id}-${rendition}.mp4"`);
  if (plan.omittedRuns) reply.header('x-origin-omitted-runs', String(plan.omittedRuns));
  if (notModified(req.headers['if-none-match'], req.headers['if-modified-since'], etag, lastModified)) return reply.code(304).send();
  const ifRange = req.headers['if-range'];
  const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, plan.total) : undefined;
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${plan.total}`).header('content-type', CONTENT_TYPE.json)
      .send({ error: 'Range Not Satisfiable', code: 'ERR_RANGE', message: `the file has ${plan.total} bytes` });
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : plan.total - 1;
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${plan.total}`);
  reply.header('content-length', String(end - start + 1));
  if (req.method === 'HEAD') return reply.send();
  async function* body(): AsyncGenerator<Buffer> {
    let at = 0;
    const pieces: Array<{ size: number; load: () => Promise<Buffer> }> = [
      { size: plan.init.length, load: async () => plan.init },
      ...plan.pieces.map((p) => ({
        size: p.bytes,
        load: async () => {
          const b = await read(m, rendition, p.uri);
          if (!b || b.length !== p.bytes) throw new Error(`recording ${m.id}: ${rendition}/${p.uri} is missing or changed in the store`);
          return p.shift ? shiftDecodeTimes(b, p.shift) : b;
        },
      })),
    ];
    for (const p of pieces) {
      const from = at;
      at += p.size;
      if (at <= start) continue;
      if (from > end) break;
      const b = await p.load();
      yield b.subarray(Math.max(0, start - from), Math.min(p.size, end - from + 1));
    }
  }
  // a store failure mid-body can only cut the connection (the status is sent): the client sees a short file
  return reply.send(Readable.from(body()));
}
