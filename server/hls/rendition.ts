/**
 * The live window of one rendition, in memory: init segment, published segments, the playlist
 * text. Everything a client can fetch is complete and never changes once listed.
 */
import { createHash } from 'node:crypto';
import type { Fragment, InitPiece } from './fragments.js';
import { Segmenter, type CutSegment } from './segmenter.js';
import { writeMediaPlaylist } from './playlist.js';

/** A body served from memory with its validators computed once. */
export interface MediaPiece {
  body: Buffer;
  etag: string;
  lastModified: string;
}

/** A published segment. */
export interface Segment {
  msn: number;
  uri: string;
  duration: number;
  programDateTime: number;
  discontinuity: boolean;
  /** Fragment boundaries, kept for LL-HLS parts. */
  fragmentDurations: number[];
  piece: MediaPiece;
}

/** Settings of a window. */
export interface RenditionOptions {
  name: string;
  /** Unique per publish; part of every URI so a CDN never sees a name twice. */
  epoch: string;
  segmentSeconds: number;
  playlistSize: number;
  /** Segments kept fetchable after they leave the playlist, for a CDN still fetching them. */
  graceSegments: number;
  now?: () => number;
}

/** Makes a piece: the strong ETag is a hash of the bytes' identity (epoch, name, size), computed once. */
export function makePiece(body: Buffer, id: string, now: number): MediaPiece {
  const etag = `"${createHash('sha1').update(id).update(String(body.length)).digest('base64url').slice(0, 22)}"`;
  return { body, etag, lastModified: new Date(now).toUTCString() };
}

/** One rendition's window. */
export class RenditionWindow {
  readonly name: string;
  private readonly opts: RenditionOptions;
  private readonly segmenter: Segmenter;
  private readonly now: () => number;
  private init: InitPiece | undefined;
  private initPiece: MediaPiece | undefined;
  private segments: Segment[] = [];
  private nextMsn = 0;
  private wallAtZero: number | undefined;
  private ended = false;
  private playlistPiece: MediaPiece | undefined;
  private bytes = 0;
  private seconds = 0;
  private listeners = new Set<() => void>();

  constructor(opts: RenditionOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.segmenter = new Segmenter(opts.segmentSeconds);
    this.now = opts.now ?? Date.now;
  }

  /** URI of the init segment (relative to the media playlist). */
  get initUri(): string {
    return `init-${this.opts.epoch}.mp4`;
  }

  /** The init segment and what it says about the tracks, once received. */
  get initInfo(): InitPiece | undefined {
    return this.init;
  }

  /** True once ENDLIST is written. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Segments currently listed. */
  get listed(): readonly Segment[] {
    return this.segments.slice(-this.opts.playlistSize);
  }

  /** Average bitrate measured over everything published (bit/s), 0 before the first segment. */
  get measuredBitrate(): number {
    return this.seconds > 0 ? (this.bytes * 8) / this.seconds : 0;
  }

  /** Stores the init segment (ftyp+moov) from ffmpeg. */
  setInit(init: InitPiece): void {
    this.init = init;
    this.initPiece = makePiece(init.data, `${this.opts.epoch}/${this.name}/init`, this.now());
    this.changed();
  }

  /** Adds one fragment from ffmpeg. */
  addFragment(fragment: Fragment): void {
    if (this.ended) return;
    if (this.wallAtZero === undefined) this.wallAtZero = this.now() - fragment.start * 1000;
    const done = this.segmenter.push(fragment);
    if (done) this.publish(done);
  }

  /** The publish ended: the open fragments become the last segment and ENDLIST is written. */
  end(): void {
    if (this.ended) return;
    const last = this.segmenter.flush();
    if (last) this.publish(last);
    this.ended = true;
    this.changed();
  }

  /** The media playlist, or undefined before the first segment. */
  playlist(): MediaPiece | undefined {
    if (!this.initPiece || (this.segments.length === 0 && !this.ended)) return undefined;
    if (!this.playlistPiece) {
      const listed = this.listed;
      const text = writeMediaPlaylist({
        targetDuration: Math.ceil(this.opts.segmentSeconds),
        mediaSequence: listed[0]?.msn ?? this.nextMsn,
        discontinuitySequence: 0,
        mapUri: this.initUri,
        segments: listed,
        ended: this.ended,
      });
      const body = Buffer.from(text);
      this.playlistPiece = makePiece(body, `${this.opts.epoch}/${this.name}/${text}`, this.now());
    }
    return this.playlistPiece;
  }

  /** A fetchable file of this rendition (init or segment, listed or in the CDN grace). */
  file(uri: string): MediaPiece | undefined {
    if (uri === this.initUri) return this.initPiece;
    return this.segments.find((s) => s.uri === uri)?.piece;
  }

  /** Calls `listener` after every change (new segment, end); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish(cut: CutSegment): void {
    const msn = this.nextMsn++;
    const uri = `${this.opts.epoch}-${msn}.m4s`;
    const body = Buffer.concat(cut.fragments.map((f) => f.data));
    this.segments.push({
      msn,
      uri,
      duration: cut.duration,
      programDateTime: (this.wallAtZero ?? this.now()) + cut.start * 1000,
      discontinuity: false,
      fragmentDurations: cut.fragments.map((f) => f.duration),
      piece: makePiece(body, `${this.opts.epoch}/${this.name}/${uri}`, this.now()),
    });
    this.bytes += body.length;
    this.seconds += cut.duration;
    const keep = this.opts.playlistSize + this.opts.graceSegments;
    if (this.segments.length > keep) this.segments.splice(0, this.segments.length - keep);
    this.changed();
  }

  private changed(): void {
    this.playlistPiece = undefined;
    for (const l of this.listeners) l();
  }
}
