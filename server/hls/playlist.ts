/**
 * Playlist text (pure). RFC 8216 and its Low-Latency extensions (draft-pantos-hls-rfc8216bis:
 * EXT-X-PART, EXT-X-PART-INF, EXT-X-SERVER-CONTROL, EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT,
 * EXT-X-SKIP). Version 7 for plain fMP4 playlists, 9 when LL tags (delta updates) may appear.
 * Windows in, text out; golden-tested.
 */

/** A part as a playlist lists it. */
export interface PlaylistPart {
  uri: string;
  duration: number;
  independent: boolean;
}

/** A segment as a playlist lists it. */
export interface PlaylistSegment {
  uri: string;
  duration: number;
  /** Wall-clock time of the first sample, ms since epoch. */
  programDateTime: number;
  discontinuity: boolean;
  /** Its init segment (EXT-X-MAP); written again whenever it changes (after a discontinuity). */
  mapUri?: string;
  /** Its parts, listed before the EXTINF (only for the last few segments). */
  parts?: readonly PlaylistPart[];
}

/** Where a sibling rendition is (EXT-X-RENDITION-REPORT). */
export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart: number;
}

/** The low-latency part of a media playlist. */
export interface LowLatencyInput {
  partTarget: number;
  partHoldBack: number;
  canSkipUntil: number;
  /** Parts of the segment being built (after the last EXTINF). */
  openParts: readonly PlaylistPart[];
  /** PDT of the segment being built. */
  openProgramDateTime: number | undefined;
  /** The segment being built follows a discontinuity (a new encoder run). */
  openDiscontinuity?: boolean;
  /** URI of the next part (EXT-X-PRELOAD-HINT); absent once the stream ended. */
  preloadHint: string | undefined;
  reports: readonly RenditionReport[];
}

/** Everything a media playlist says. */
export interface MediaPlaylistInput {
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  /** Init segment of the segment being built (and of segments that name none). */
  mapUri: string;
  segments: readonly PlaylistSegment[];
  /** Segments at the start replaced by EXT-X-SKIP (delta update), 0 for a full playlist. */
  skipped?: number;
  ended: boolean;
  /** EXT-X-PLAYLIST-TYPE of a recording: VOD (complete) or EVENT (still growing); absent for live. */
  playlistType?: 'VOD' | 'EVENT';
  ll?: LowLatencyInput;
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

const num = (x: number) => x.toFixed(5);

function partLine(p: PlaylistPart): string {
  return `#EXT-X-PART:DURATION=${num(p.duration)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`;
}

/** Media playlist text. */
export function writeMediaPlaylist(p: MediaPlaylistInput): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${p.ll ? 9 : 7}`, `#EXT-X-TARGETDURATION:${p.targetDuration}`];
  if (p.ll) {
    lines.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${num(p.ll.partHoldBack)},CAN-SKIP-UNTIL=${num(p.ll.canSkipUntil)}`,
      `#EXT-X-PART-INF:PART-TARGET=${num(p.ll.partTarget)}`,
    );
  }
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`);
  if (p.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  if (p.playlistType) lines.push(`#EXT-X-PLAYLIST-TYPE:${p.playlistType}`);
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  const skipped = p.skipped ?? 0;
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  // EXT-X-MAP before the first segment and again whenever the init segment changes.
  let map: string | undefined;
  const useMap = (uri: string) => {
    if (uri !== map) lines.push(`#EXT-X-MAP:URI="${uri}"`);
    map = uri;
  };
  for (const s of p.segments.slice(skipped)) {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    useMap(s.mapUri ?? p.mapUri);
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    for (const part of s.parts ?? []) lines.push(partLine(part));
    lines.push(`#EXTINF:${num(s.duration)},`, s.uri);
  }
  if (p.ll) {
    if (p.ll.openParts.length) {
      if (p.ll.openDiscontinuity) lines.push('#EXT-X-DISCONTINUITY');
      useMap(p.mapUri);
      if (p.ll.openProgramDateTime !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(p.ll.openProgramDateTime).toISOString()}`);
    }
    for (const part of p.ll.openParts) lines.push(partLine(part));
    if (p.ll.preloadHint) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${p.ll.preloadHint}"`);
    for (const r of p.ll.reports) lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  }
  if (map === undefined) lines.push(`#EXT-X-MAP:URI="${p.mapUri}"`);
  if (p.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** How many leading segments a delta update may skip: those that end more than `canSkipUntil` s before the live edge. */
export function skippableSegments(segments: readonly Pick<PlaylistSegment, 'duration'>[], openDuration: number, canSkipUntil: number): number {
  let fromEnd = openDuration;
  let keep = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    if (fromEnd >= canSkipUntil) break;
    fromEnd += segments[i]!.duration;
    keep++;
  }
  return segments.length - keep;
}

/**
 * The variants in the order a master lists them: the middle picture by BANDWIDTH first (the lower
 * middle of an even count), then the others as given. A player starts on the first one: Safari by
 * design, and hls.js whenever its default estimate (500 kbit/s) fits no variant, as with any ladder
 * whose lowest rung is above it. With the top rung first, plain hls.js on a 3 Mbit/s, 100 ms link
 * started at 720p, stalled, and sat 8.2 s behind; with 480p first, 1.7 s with no stall, and on a
 * fast link it climbs to the top within seconds (BENCHMARKS.md, bench:parts). An audio-only
 * variant is never first.
 */
export function startOrder<V extends Pick<Variant, 'bandwidth' | 'height'>>(variants: readonly V[]): V[] {
  const pictures = variants.filter((v) => v.height > 0).sort((a, b) => b.bandwidth - a.bandwidth);
  const start = pictures[Math.floor(pictures.length / 2)];
  return start ? [start, ...variants.filter((v) => v !== start)] : [...variants];
}

/** Master playlist text; variants in the order given (see startOrder). */
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
