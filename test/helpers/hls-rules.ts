/**
 * A small LL-HLS media playlist parser and rule checker (RFC 8216bis, Apple's LL-HLS rules), used
 * by unit tests on our own output and by integration tests on live playlists.
 */

export interface ParsedPart {
  uri: string;
  duration: number;
  independent: boolean;
}

export interface ParsedSegment {
  msn: number;
  uri: string;
  duration: number;
  parts: ParsedPart[];
  programDateTime?: number;
  /** Preceded by EXT-X-DISCONTINUITY. */
  discontinuity?: boolean;
  /** The EXT-X-MAP URI in force for it. */
  map?: string;
}

export interface ParsedPlaylist {
  version: number;
  targetDuration: number;
  mediaSequence: number;
  partTarget?: number;
  serverControl: Record<string, string>;
  segments: ParsedSegment[];
  openParts: ParsedPart[];
  preloadHint?: string;
  reports: Array<{ uri: string; lastMsn: number; lastPart: number }>;
  skipped: number;
  ended: boolean;
  /** The open parts follow an EXT-X-DISCONTINUITY (a new run whose first segment is not complete). */
  openDiscontinuity: boolean;
  /** The EXT-X-MAP URI in force at the end (the open parts'). */
  map?: string;
}

function attrs(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

/** Parses a media playlist. */
export function parseMediaPlaylist(text: string): ParsedPlaylist {
  if (!text.startsWith('#EXTM3U\n')) throw new Error(`not a playlist: ${text.slice(0, 120)}`);
  const p: ParsedPlaylist = { version: 0, targetDuration: 0, mediaSequence: 0, serverControl: {}, segments: [], openParts: [], reports: [], skipped: 0, ended: false, openDiscontinuity: false };
  let parts: ParsedPart[] = [];
  let discontinuity = false;
  let map: string | undefined;
  let duration = 0;
  let pdt: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-VERSION:')) p.version = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) p.targetDuration = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) p.mediaSequence = Number(line.split(':')[1]);
    else if (line.startsWith('#EXT-X-PART-INF:')) p.partTarget = Number(attrs(line)['PART-TARGET']);
    else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) p.serverControl = attrs(line);
    else if (line.startsWith('#EXT-X-SKIP:')) p.skipped = Number(attrs(line)['SKIPPED-SEGMENTS']);
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line.startsWith('#EXT-X-MAP:')) map = attrs(line).URI;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(line.indexOf(':') + 1));
    else if (line.startsWith('#EXT-X-PART:')) {
      const a = attrs(line);
      parts.push({ uri: a.URI!, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES' });
    } else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) p.preloadHint = attrs(line).URI;
    else if (line.startsWith('#EXT-X-RENDITION-REPORT:')) {
      const a = attrs(line);
      p.reports.push({ uri: a.URI!, lastMsn: Number(a['LAST-MSN']), lastPart: Number(a['LAST-PART']) });
    } else if (line === '#EXT-X-ENDLIST') p.ended = true;
    else if (line && !line.startsWith('#')) {
      p.segments.push({ msn: p.mediaSequence + p.skipped + p.segments.length, uri: line, duration, parts, programDateTime: pdt, discontinuity, map });
      parts = [];
      pdt = undefined;
      discontinuity = false;
    }
  }
  p.openParts = parts;
  p.openDiscontinuity = discontinuity;
  p.map = map;
  return p;
}

/** Global part ID from a part URI `<epoch>-p<id>.m4s`. */
export function partId(uri: string): number {
  return Number(/-p(\d+)\.m4s$/.exec(uri)?.[1] ?? NaN);
}

/** Every rule violation of a live LL-HLS playlist, as readable strings (empty = valid). */
export function lowLatencyViolations(p: ParsedPlaylist): string[] {
  const v: string[] = [];
  const pt = p.partTarget;
  if (pt === undefined) return ['no EXT-X-PART-INF'];
  const sc = p.serverControl;
  if (sc['CAN-BLOCK-RELOAD'] !== 'YES') v.push('CAN-BLOCK-RELOAD is not YES');
  // RFC 8216bis: MUST be at least 2 x PART-TARGET (it recommends 3, the profiles' default; a profile may set 2: profile-schema.ts)
  if (!(Number(sc['PART-HOLD-BACK']) >= 2 * pt - 1e-9)) v.push(`PART-HOLD-BACK ${sc['PART-HOLD-BACK']} < 2 x PART-TARGET ${pt}`);
  if (Math.abs(Number(sc['CAN-SKIP-UNTIL']) - 6 * p.targetDuration) > 1e-9) v.push(`CAN-SKIP-UNTIL ${sc['CAN-SKIP-UNTIL']} is not 6 x target`);
  if (!p.ended && !p.preloadHint) v.push('no EXT-X-PRELOAD-HINT');
  for (const s of p.segments) {
    // RFC 8216 4.3.3.1: each EXTINF, rounded to the nearest integer, is at most the target duration
    if (Math.round(s.duration) > p.targetDuration) v.push(`segment ${s.uri} lasts ${s.duration} > target ${p.targetDuration}`);
  }
  const withParts = [...p.segments.filter((s) => s.parts.length).map((s) => s.parts), p.openParts];
  const allParts = withParts.flat();
  withParts.forEach((parts, si) => {
    const closed = si < withParts.length - 1;
    parts.forEach((part, i) => {
      if (part.duration > pt + 1e-9) v.push(`part ${part.uri} lasts ${part.duration} > PART-TARGET ${pt}`);
      const last = closed && i === parts.length - 1;
      if (!last && part.duration < 0.85 * pt - 1e-9) v.push(`part ${part.uri} lasts ${part.duration} < 85 % of PART-TARGET`);
    });
    if (parts.length && closed && !parts[0]!.independent) v.push(`segment's first part ${parts[0]!.uri} is not INDEPENDENT`);
  });
  // parts of listed segments add up to the segment
  for (const s of p.segments) {
    if (s.parts.length) {
      const sum = s.parts.reduce((a, b) => a + b.duration, 0);
      if (Math.abs(sum - s.duration) > 0.002) v.push(`parts of ${s.uri} sum to ${sum.toFixed(3)}, EXTINF says ${s.duration}`);
    }
  }
  // global IDs: consecutive across segment boundaries, the hint is the next one
  for (let i = 1; i < allParts.length; i++) {
    if (partId(allParts[i]!.uri) !== partId(allParts[i - 1]!.uri) + 1) v.push(`part IDs jump from ${allParts[i - 1]!.uri} to ${allParts[i]!.uri}`);
  }
  if (p.preloadHint && allParts.length && partId(p.preloadHint) !== partId(allParts.at(-1)!.uri) + 1) v.push(`preload hint ${p.preloadHint} is not the next part`);
  // parts only for the last few segments
  const firstWithParts = p.segments.findIndex((s) => s.parts.length);
  if (firstWithParts >= 0 && p.segments.slice(firstWithParts).some((s) => !s.parts.length)) v.push('a segment after the first with parts has none');
  // RFC 8216bis 4.4.4.9: EXT-X-PART tags SHOULD be removed once more than 3 target durations from
  // the end of the playlist (the open segment's parts included)
  let fromEnd = p.openParts.reduce((a, b) => a + b.duration, 0);
  for (const s of [...p.segments].reverse()) {
    fromEnd += s.duration;
    if (s.parts.length && fromEnd > 3 * p.targetDuration + 1e-3) v.push(`parts of ${s.uri} listed ${fromEnd.toFixed(3)} s from the end (> 3 target durations)`);
  }
  return v;
}
