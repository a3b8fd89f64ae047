/**
 * What a recording is in the store, and the texts made from it (pure: no I/O).
 *
 * Layout (keys under ORIGIN_STORAGE_URL):
 *   catalog/<stream>/<epoch>.json                  the recording's manifest (listed by the API)
 *   media/<stream>/<epoch>/master.m3u8              the live master playlist, as served
 *   media/<stream>/<epoch>/<rendition>/<media name> init segments and segments, named as live
 *   media/<stream>/<epoch>/<rendition>/list-<k>.json segments 300k … 300k+299, in order
 *
 * One recording is one LiveSession: publisher reconnects and ffmpeg restarts inside the grace stay
 * one recording (a DISCONTINUITY, a new init segment); a new go-live is a new one. Segments are
 * written before the list that names them (Owncast's order), so a listed segment always exists.
 * The manifest is small and rewritten as the recording grows; the segment lists are cut in chunks
 * so a six-hour recording never rewrites more than one chunk per segment.
 */
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import { writeMediaPlaylist, type PlaylistSegment } from '../hls/playlist.js';
import type { SegmentListing } from '../hls/rendition.js';

/** Segments per list chunk: 10 minutes of 2 s segments. */
export const CHUNK_SEGMENTS = 300;

/** A recorded segment, as its list chunk keeps it. */
export interface RecordedSegment extends SegmentListing {
  bytes: number;
}

/** The manifest of one recording. */
export interface RecordingManifest {
  v: 1;
  id: string;
  stream: string;
  epoch: string;
  /** ms since epoch */
  startedAt: number;
  endedAt: number | null;
  /** Renditions in the master's order. */
  renditions: string[];
  /** Segments written per rendition (the list chunks hold them). */
  segments: Record<string, number>;
  /** Seconds of media of the first rendition. */
  durationSeconds: number;
  /** Bytes of every rendition's init segments and segments. */
  bytes: number;
  /** EXT-X-TARGETDURATION of the live playlists. */
  targetDuration: number;
  /** Why recording stopped early (the store failed, the server died), if it did. */
  stoppedEarly?: string;
  /** The server that writes it (`<hostname>-<httpPort>`). */
  writer?: string;
}

/** The recording ID: `<stream>-<epoch>` (an epoch has no '-', so the last '-' splits it). */
export function recordingId(stream: string, epoch: string): string {
  return `${stream}-${epoch}`;
}

/** JSON-schema pattern of a recording ID (route params). */
export const RECORDING_ID_PATTERN = `^${STREAM_NAME_PATTERN.slice(1, -1)}-[a-z0-9]{1,32}$`;

/** Splits a recording ID; undefined when it is not one. */
export function parseRecordingId(id: string): { stream: string; epoch: string } | undefined {
  if (!new RegExp(RECORDING_ID_PATTERN).test(id)) return undefined;
  const at = id.lastIndexOf('-');
  return { stream: id.slice(0, at), epoch: id.slice(at + 1) };
}

/** Store keys of one recording (or of a DVR window, which has no catalog entry). */
export const keys = {
  catalogPrefix: (stream?: string) => (stream ? `catalog/${stream}/` : 'catalog/'),
  manifest: (stream: string, epoch: string) => `catalog/${stream}/${epoch}.json`,
  media: (stream: string, epoch: string) => `media/${stream}/${epoch}/`,
  master: (stream: string, epoch: string) => `media/${stream}/${epoch}/master.m3u8`,
  piece: (stream: string, epoch: string, rendition: string, uri: string) => `media/${stream}/${epoch}/${rendition}/${uri}`,
  chunk: (stream: string, epoch: string, rendition: string, k: number) => `media/${stream}/${epoch}/${rendition}/list-${k}.json`,
};

/** The stream and epoch of a catalog key, or undefined for anything else. */
export function parseManifestKey(key: string): { stream: string; epoch: string } | undefined {
  const m = /^catalog\/([^/]+)\/([a-z0-9]{1,32})\.json$/.exec(key);
  if (!m || !new RegExp(STREAM_NAME_PATTERN).test(m[1]!)) return undefined;
  return { stream: m[1]!, epoch: m[2]! };
}

/** Reads a manifest written by `JSON.stringify`; undefined when it is not one of ours. */
export function parseManifest(text: string): RecordingManifest | undefined {
  try {
    const m = JSON.parse(text) as RecordingManifest;
    if (m?.v !== 1 || typeof m.id !== 'string' || !Array.isArray(m.renditions)) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

/** The chunk numbers a rendition with `count` segments has. */
export function chunkCount(count: number): number {
  return Math.ceil(count / CHUNK_SEGMENTS);
}

/**
 * The media playlist of a recording: `#EXT-X-PLAYLIST-TYPE:VOD` with ENDLIST once it ended, an
 * EVENT playlist (it only grows) while it is still being recorded.
 */
export function recordingPlaylist(manifest: RecordingManifest, segments: readonly RecordedSegment[]): string {
  const first = segments[0];
  const list: PlaylistSegment[] = segments.map((s, i) => ({
    uri: s.uri,
    duration: s.duration,
    programDateTime: s.programDateTime,
    // the first segment of a recording that continues an older numbering needs no discontinuity
    discontinuity: i > 0 && s.discontinuity,
    mapUri: s.mapUri,
  }));
  return writeMediaPlaylist({
    targetDuration: Math.max(manifest.targetDuration, ...segments.map((s) => Math.round(s.duration))),
    mediaSequence: first?.msn ?? 0,
    discontinuitySequence: 0,
    mapUri: first?.mapUri ?? '',
    segments: list,
    ended: manifest.endedAt !== null,
    playlistType: manifest.endedAt !== null ? 'VOD' : 'EVENT',
  });
}

/** One item of `GET /api/recordings`. */
export interface RecordingSummary {
  id: string;
  stream: string;
  startedAt: string;
  endedAt: string | null;
  durationSeconds: number;
  renditions: string[];
  bytes: number;
  playbackUrl: string;
  downloadUrl: string;
  stoppedEarly?: string;
}

/** The API's view of a manifest; URLs are relative to the server (or under `base`). */
export function summarize(m: RecordingManifest, base = ''): RecordingSummary {
  return {
    id: m.id,
    stream: m.stream,
    startedAt: new Date(m.startedAt).toISOString(),
    endedAt: m.endedAt === null ? null : new Date(m.endedAt).toISOString(),
    durationSeconds: Math.round(m.durationSeconds * 1000) / 1000,
    renditions: m.renditions,
    bytes: m.bytes,
    playbackUrl: `${base}/vod/${m.id}/master.m3u8`,
    downloadUrl: `${base}/vod/${m.id}/${m.renditions[0] ?? 'none'}.mp4`,
    ...(m.stoppedEarly ? { stoppedEarly: m.stoppedEarly } : {}),
  };
}
