/**
 * Playlist text (pure). RFC 8216 (HLS) section 4; version 7 because segments are fMP4 with
 * EXT-X-MAP (section 7). Windows in, text out; golden-tested.
 */

/** A segment as a playlist lists it. */
export interface PlaylistSegment {
  uri: string;
  duration: number;
  /** Wall-clock time of the first sample, ms since epoch. */
  programDateTime: number;
  discontinuity: boolean;
}

/** Everything a media playlist says. */
export interface MediaPlaylistInput {
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  mapUri: string;
  segments: readonly PlaylistSegment[];
  ended: boolean;
}

/** A variant stream of the master playlist. */
export interface Variant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  width: number;
  height: number;
  frameRate: number;
}

/** Media playlist text. */
export function writeMediaPlaylist(p: MediaPlaylistInput): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${p.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`,
  ];
  if (p.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-MAP:URI="${p.mapUri}"`);
  for (const s of p.segments) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    lines.push(`#EXTINF:${s.duration.toFixed(5)},`, s.uri);
  }
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** Master playlist text; variants in the order given. */
export function writeMasterPlaylist(variants: readonly Variant[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of variants) {
    const attrs = [
      `BANDWIDTH=${Math.round(v.bandwidth)}`,
      `AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`,
      `CODECS="${v.codecs}"`,
    ];
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  return `${lines.join('\n')}\n`;
}
