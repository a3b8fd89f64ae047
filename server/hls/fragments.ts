/**
 * Splits ffmpeg's fragmented-MP4 byte stream into the init segment and fragments (pure: bytes in,
 * pieces out, no I/O). A piece is emitted only when all its bytes have arrived.
 */
import { children, parseInit, parseMoof, readBoxHeader, type InitInfo, type TrackInfo } from './boxes.js';

/** ftyp+moov: what a player needs before any fragment. */
export interface InitPiece {
  kind: 'init';
  data: Buffer;
  info: InitInfo;
  /** The track that carries the timeline: video if any, else the first track. */
  timeline: TrackInfo;
}

/** One moof+mdat: the unit of LL-HLS parts and the brick of segments. */
export interface Fragment {
  kind: 'fragment';
  data: Buffer;
  /** Decode time of the first sample on the timeline track, in seconds. */
  start: number;
  /** Duration on the timeline track, in seconds. */
  duration: number;
  /** Starts with a sync sample (IDR), so a segment or an INDEPENDENT part may start here. */
  independent: boolean;
  /**
   * Presentation minus decode time of the first sample, in seconds: > 0 for a copied source with
   * B-frames. A segment's PROGRAM-DATE-TIME is its first picture's presentation time, so that
   * renditions with and without B-frames that start on the same picture carry the same date.
   */
  presentationOffset: number;
}

/** Incremental reader: push bytes as they come from the socket, get whole pieces back. */
export class FragmentReader {
  private pending: Buffer = Buffer.alloc(0);
  private initBoxes: Buffer[] = [];
  private init: InitPiece | undefined;
  private moof: Buffer | undefined;

  /** Feeds bytes; returns the pieces they completed, in order. */
  push(chunk: Buffer): Array<InitPiece | Fragment> {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Array<InitPiece | Fragment> = [];
    let at = 0;
    for (;;) {
      const box = readBoxHeader(this.pending, at);
      if (!box) break;
      const bytes = this.pending.subarray(box.start, box.end);
      const piece = this.onBox(box.type, bytes);
      if (piece) out.push(piece);
      at = box.end;
    }
    // Keep only the incomplete tail; copy so the big buffer can be collected.
    this.pending = at === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(at));
    return out;
  }

  private onBox(type: string, bytes: Buffer): InitPiece | Fragment | undefined {
    switch (type) {
      case 'ftyp':
        this.initBoxes = [Buffer.from(bytes)];
        return undefined;
      case 'moov': {
        const data = Buffer.concat([...this.initBoxes, bytes]);
        const info = parseInit(data);
        const timeline = info.tracks.find((t) => t.kind === 'video') ?? info.tracks[0];
        if (!timeline) throw new Error('mp4: init segment has no track');
        this.init = { kind: 'init', data, info, timeline };
        return this.init;
      }
      case 'moof':
        this.moof = Buffer.from(bytes);
        return undefined;
      case 'mdat': {
        if (!this.moof || !this.init) return undefined;
        const moof = this.moof;
        this.moof = undefined;
        return this.fragment(moof, bytes);
      }
      default:
        // styp, sidx, free, and the mfra ffmpeg appends on a graceful stop: nothing to serve.
        return undefined;
    }
  }

  private fragment(moof: Buffer, mdat: Buffer): Fragment {
    const init = this.init!;
    const box = children(moof, 0, moof.length)[0]!;
    const runs = parseMoof(moof, box, init.info);
    const run = runs.find((r) => r.trackId === init.timeline.id);
    const ts = init.timeline.timescale;
    const independent = init.timeline.kind === 'video' ? (run?.startsWithSync ?? false) : true;
    return {
      kind: 'fragment',
      data: Buffer.concat([moof, mdat]),
      start: run ? run.baseDecodeTime / ts : 0,
      duration: run ? run.duration / ts : 0,
      independent,
      presentationOffset: run ? run.firstCompositionOffset / ts : 0,
    };
  }
}
