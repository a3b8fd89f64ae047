/**
 * Every coded error of the origin, in one place (the pattern of fastify's lib/errors.js).
 * HTTP errors carry their status; startup errors carry the process exit code in `exitCode`.
 */
import createError from '@fastify/error';

/** Exit codes of the server process; documented in the README. */
export const EXIT = {
  ok: 0,
  /** Invalid configuration or transcode profile. */
  config: 2,
  /** ffmpeg missing or not working. */
  ffmpeg: 3,
  /** A port could not be opened. */
  listen: 4,
  /** An installed dependency is not the version the server's patches were written for. */
  dependency: 5,
  /** The recording store (ORIGIN_STORAGE_URL) cannot be written. */
  storage: 6,
} as const;

/** A media path or stream that does not exist (404; a CDN may remember it for 1 s only). */
export const ERR_NOT_FOUND = createError<[string]>('ERR_NOT_FOUND', 'Not found: %s', 404);

/** A stream name that is not live and never was since start (404). */
export const ERR_STREAM_NOT_FOUND = createError<[string]>('ERR_STREAM_NOT_FOUND', 'Stream "%s" not found', 404);

/** The stream exists but its first segments are not ready yet (404, retry soon). */
export const ERR_STREAM_NOT_READY = createError<[string]>(
  'ERR_STREAM_NOT_READY',
  'Stream "%s" is starting; its playlists appear within a few seconds',
  404,
);

/** An LL-HLS delivery directive the server cannot honour (400). */
export const ERR_BAD_DIRECTIVE = createError<[string]>('ERR_BAD_DIRECTIVE', 'Bad delivery directive: %s', 400);

/** A blocking request held for 3 target durations without the awaited part or segment (503, Retry-After). */
export const ERR_HOLD_TIMEOUT = createError<[string]>('ERR_HOLD_TIMEOUT', 'Not available in time: %s; retry', 503);

/** Too many requests are held (blocking reloads, preload-hint parts): 503 + Retry-After, at once. */
export const ERR_TOO_MANY_HELD = createError<[string]>('ERR_TOO_MANY_HELD', 'Too many waiting requests (%s); retry in a second', 503);

/** Too many event streams (/api/events) on the server (503) or from one address (429). */
export const ERR_TOO_MANY_STREAMS = createError<[string]>('ERR_TOO_MANY_STREAMS', '%s', 503);
export const ERR_TOO_MANY_STREAMS_PER_IP = createError<[string]>('ERR_TOO_MANY_STREAMS_PER_IP', '%s', 429);

/** The admin API is off (no ORIGIN_ADMIN_TOKEN): never open. */
export const ERR_ADMIN_DISABLED = createError('ERR_ADMIN_DISABLED', 'The admin API is off: set ORIGIN_ADMIN_TOKEN to use it', 403);

/** No or a wrong bearer token on an admin route. */
export const ERR_UNAUTHORIZED = createError<[string]>('ERR_UNAUTHORIZED', '%s', 401);

/** Signed playback: the media path lacks a token, or it is wrong or expired. */
export const ERR_PLAYBACK_FORBIDDEN = createError<[string]>('ERR_PLAYBACK_FORBIDDEN', '%s', 403);

/** A configuration value failed validation; the message names the key and what is allowed. */
export const ERR_CONFIG_INVALID = createError<[string]>('ERR_CONFIG_INVALID', '%s', 500);

/** A transcode profile failed validation; the message names the file and the field. */
export const ERR_PROFILE_INVALID = createError<[string]>('ERR_PROFILE_INVALID', '%s', 500);

/** No usable ffmpeg binary was found or it did not run. */
export const ERR_FFMPEG_UNAVAILABLE = createError<[string]>('ERR_FFMPEG_UNAVAILABLE', '%s', 500);

/** A port is taken or not allowed. */
export const ERR_LISTEN = createError<[string, number, string]>('ERR_LISTEN', 'Cannot listen for %s on port %d: %s', 500);

/** The transcoder exited unexpectedly; the message carries the exit code, the last stderr lines and a hint. */
export const ERR_TRANSCODER_EXITED = createError<[string, string, string]>(
  'ERR_TRANSCODER_EXITED',
  'ffmpeg exited with %s; last output:\n%s\nhint: %s',
  500,
);

/** A session was asked to make a move its state table does not allow (a bug, never a client's doing). */
export const ERR_SESSION_TRANSITION = createError<[string, string]>('ERR_SESSION_TRANSITION', 'Session event "%s" is not allowed in state "%s"', 500);

/** node-media-server is not the version server/ingest/nms-patches.ts was written against. */
export const ERR_NMS_VERSION = createError<[string, string]>(
  'ERR_NMS_VERSION',
  'node-media-server %s is installed, but server/ingest/nms-patches.ts was written for %s: run `npm ci` (package-lock.json pins it), or re-read the patches against the new version',
  500,
);

/** The recording store cannot be written at startup (exit 6). */
export const ERR_STORAGE_UNAVAILABLE = createError<[string, string]>('ERR_STORAGE_UNAVAILABLE', 'The recording store %s cannot be written: %s', 500);

/** A recording that does not exist (404). */
export const ERR_RECORDING_NOT_FOUND = createError<[string]>('ERR_RECORDING_NOT_FOUND', 'Recording "%s" not found', 404);

/** The store answered with an error while serving a stored piece (503: the client may retry; no internals). */
export const ERR_STORAGE_READ = createError<[string]>('ERR_STORAGE_READ', 'The recording store could not be read (%s); retry', 503);

/** A coded startup error: has an exit code for main.ts. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'ERR_CONFIG_INVALID' || code === 'ERR_PROFILE_INVALID') return EXIT.config;
  if (code === 'ERR_FFMPEG_UNAVAILABLE') return EXIT.ffmpeg;
  if (code === 'ERR_LISTEN') return EXIT.listen;
  if (code === 'ERR_NMS_VERSION') return EXIT.dependency;
  if (code === 'ERR_STORAGE_UNAVAILABLE') return EXIT.storage;
  return 1;
}
