/**
 * One fragmented MP4 from a recording's pieces, without re-encoding (pure: bytes in, bytes out).
 *
 * The file is the first init segment followed by every segment in order. A recording that spans
 * several encoder runs (a publisher reconnect, an ffmpeg restart) has a new init segment and a
 * decode timeline that starts again near 0 at each run: concatenated as is, players and ffprobe
 * see the later runs on top of the first (ffprobe reported 6 s for 12 s of media). So each later
 * run's fragments get their `tfdt` (base media decode time) moved to continue where the media
 * before them ended, per track, in the track's timescale. The rewrite keeps every size, so the
 * file's length, and any byte range, is known from the list before a byte is read.
 *
 * A run whose tracks differ from the first's (another codec or picture size) cannot share the first
 * init segment: the download stops before it (the HLS recording still plays it, after its
 * DISCONTINUITY).
 */
import { children, find, findAll, parseInit, parseMoof, type InitInfo } from '../hls/boxes.js';
import type { RecordedSegment } from './recording.js';

/** What must match for runs to share one init segment. */
export function trackSignature(info: InitInfo): string {
  return info.tracks.map((t) => `${t.id}:${t.kind}:${t.timescale}:${t.codec}:${t.width}x${t.height}`).join(',');
}

/** The first decode time of each track in a segment (its first moof). */
export function firstDecodeTimes(segment: Buffer, init: InitInfo): Map<number, number> {
  const out = new Map<number, number>();
  for (const box of children(segment, 0, segment.length)) {
    if (box.type !== 'moof') continue;
    for (const run of parseMoof(segment, box, init)) if (!out.has(run.trackId)) out.set(run.trackId, run.baseDecodeTime);
    if (out.size === init.tracks.length) break;
  }
  return out;
}

/**
 * A copy of `segment` with every track's tfdt moved by `shift[trackId]` (timescale units). tfdt
 * version 0 holds 32 bits: a value that no longer fits is an error (ffmpeg writes version 1).
 */
export function shiftDecodeTimes(segment: Buffer, shift: ReadonlyMap<number, number>): Buffer {
  const out = Buffer.from(segment);
  for (const moof of children(out, 0, out.length)) {
    if (moof.type !== 'moof') continue;
    for (const traf of findAll(out, moof, 'traf')) {
      const tfhd = find(out, traf, 'tfhd');
      const tfdt = find(out, traf, 'tfdt');
      if (!tfhd || !tfdt) continue;
      const by = shift.get(out.readUInt32BE(tfhd.payload + 4)) ?? 0;
      if (by === 0) continue;
      if (out[tfdt.payload] === 1) {
        const v = out.readBigUInt64BE(tfdt.payload + 4) + BigInt(by);
        out.writeBigUInt64BE(v < 0n ? 0n : v, tfdt.payload + 4);
      } else {
        const v = out.readUInt32BE(tfdt.payload + 4) + by;
        if (v > 0xffffffff) throw new RangeError('mp4: a 32-bit tfdt cannot hold the shifted decode time');
        out.writeUInt32BE(Math.max(0, v), tfdt.payload + 4);
      }
    }
  }
  return out;
}

/** One encoder run of a recording: its init segment and its segments. */
export interface DownloadRun {
  mapUri: string;
  segments: RecordedSegment[];
  /** Seconds of media before this run (sum of the earlier segments' durations). */
  startSeconds: number;
}

/** Splits a recording's segments into runs (a run changes with the init segment). */
export function runsOf(segments: readonly RecordedSegment[]): DownloadRun[] {
  const runs: DownloadRun[] = [];
  let seconds = 0;
  for (const s of segments) {
    const last = runs.at(-1);
    if (!last || last.mapUri !== s.mapUri) runs.push({ mapUri: s.mapUri, segments: [s], startSeconds: seconds });
    else last.segments.push(s);
    seconds += s.duration;
  }
  return runs;
}

/**
 * The shift that moves a run to `startSeconds` after the first run's start, per track:
 * first0 + startSeconds x timescale - firstK.
 */
export function runShift(init: InitInfo, first0: ReadonlyMap<number, number>, firstK: ReadonlyMap<number, number>, startSeconds: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of init.tracks) {
    const a = first0.get(t.id);
    const b = firstK.get(t.id);
    if (a === undefined || b === undefined) continue;
    out.set(t.id, a + Math.round(startSeconds * t.timescale) - b);
  }
  return out;
}

