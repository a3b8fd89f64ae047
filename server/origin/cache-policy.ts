/**
 * The cache policy, in one place, for every response (../shared/DESIGN.md principle 8).
 * A CDN in front of this origin caches exactly what these headers allow.
 */

/** Content types by what is served. */
export const CONTENT_TYPE = {
  playlist: 'application/vnd.apple.mpegurl',
  media: 'video/mp4',
  json: 'application/json; charset=utf-8',
} as const;

/** Cache-Control by what is served. */
export const CACHE_CONTROL = {
  /** A live playlist changes every segment; 1 s is at most half the 2 s target duration. */
  playlist: 'public, max-age=1',
  /**
   * A playlist with ENDLIST is final only until the streamer goes live again under the same name
   * after the reconnect grace, at the same URL. It was 30 s: a viewer whose player restarted on the
   * comeback got the ended playlist again from the browser's own cache and replayed the last run
   * as VOD, 10 s behind live (seen in the fault matrix), and a CDN would do the same to every new
   * viewer. 1 s, as live: a CDN still serves the late viewers of an ended stream from one fetch a second.
   */
  endedPlaylist: 'public, max-age=1',
  /**
   * A playlist answered to a blocking request (`_HLS_msn`): it contains segment/part N, which stays
   * true, so a CDN may serve it to every player asking for N (they coalesce); 3 target durations.
   */
  blockingPlaylist: 'public, max-age=6',
  /** Segment, part and init URIs are unique per publish and never change once listed. */
  media: 'public, max-age=31536000, immutable',
  /** A miss on a media path may be an upcoming segment: a CDN must forget it quickly. */
  mediaMiss: 'public, max-age=1',
  /** API answers are per moment, never cached. */
  api: 'no-store',
  /** A stream's thumbnail is rewritten every 10 s. */
  thumbnail: 'public, max-age=5',
  /**
   * A finished recording's playlists and its download never change; a day (they go only when the
   * recording is deleted, and a CDN purge or the day's end takes care of that).
   */
  recording: 'public, max-age=86400',
  /** The player's pages may change on deploy; revalidate. */
  page: 'public, max-age=60',
} as const;

/** Every kind of response the origin gives. */
export type ResponseKind = 'playlist' | 'endedPlaylist' | 'blockingPlaylist' | 'media' | 'mediaMiss' | 'api' | 'page' | 'recording';

/**
 * The headers of a response kind. `maxAgeCap`: a signed URL's seconds left, so that no cache keeps
 * an answer for a token past its expiry (immutable media then says so for that long only).
 */
export function cacheHeaders(kind: ResponseKind, maxAgeCap?: number): Record<string, string> {
  let cacheControl: string = CACHE_CONTROL[kind];
  if (maxAgeCap !== undefined) {
    cacheControl = cacheControl.replace(/max-age=(\d+)/, (_, age: string) => `max-age=${Math.min(Number(age), maxAgeCap)}`);
  }
  const headers: Record<string, string> = { 'cache-control': cacheControl };
  if (kind === 'playlist' || kind === 'endedPlaylist' || kind === 'blockingPlaylist') headers['content-type'] = CONTENT_TYPE.playlist;
  else if (kind === 'media') headers['content-type'] = CONTENT_TYPE.media;
  return headers;
}
