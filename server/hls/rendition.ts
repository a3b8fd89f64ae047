/**
 * The live window of one rendition, in memory: init segment, parts, segments, playlist text, and
 * the waiters of blocking requests. Everything a client can fetch is complete and never changes
 * once listed; waiters wake on this window's changes, never by polling.
 */
import { createHash } from 'node:crypto';
import type { Fragment, InitPiece } from './fragments.js';
import { Segmenter, type CutSegment } from './segmenter.js';
import { earlySegments } from '../transcode/ladder.js';
import { skippableSegments, writeMediaPlaylist, type PlaylistPart, type RenditionReport } from './playlist.js';
import { satisfies, type BlockingRequest, type LiveEdge } from './blocking.js';
import { initName, parseMediaName, partName, segmentName } from './media-names.js';

/** A body served from memory with its validators computed once. */
export interface MediaPiece {
  body: Buffer;
  etag: string;
  lastModified: string;
}

/** A published part (one fragment). */
export interface Part extends PlaylistPart {
  /** Global part ID: counts across segments, so a preload hint stays valid across a boundary. */
  id: number;
  msn: number;
  index: number;
  piece: MediaPiece;
}

/** Where a segment stands in its playlist: what the live window, the DVR archive and a recording's list all keep. */
export interface SegmentListing {
  msn: number;
  uri: string;
  duration: number;
  programDateTime: number;
  discontinuity: boolean;
  /** URI of its init segment. */
  mapUri: string;
}

/** A published segment. */
export interface Segment extends SegmentListing {
  parts: Part[];
  piece: MediaPiece;
  /** The store holds it (set when the sink's upload succeeded): it may stay listed in the DVR window after leaving memory. */
  stored?: boolean;
}

/** A segment that left memory but stays listed in the DVR window; its bytes are in the store. */
export interface ArchivedSegment extends SegmentListing {
  /** The validators it was served with from memory, so the store's copy answers the same. */
  etag: string;
  lastModified: string;
}

/** Where published pieces go besides memory (the recorder, server/record/). */
export interface RenditionSink {
  /** A new init segment (one per encoder run). */
  init(uri: string, body: Buffer): void;
  /** A closed segment; resolves true once the store holds it. */
  segment(segment: Segment): Promise<boolean>;
}

/**
 * Where a later session of a stream goes on: next media sequence number and part ID, and the
 * discontinuities so far (so EXT-X-DISCONTINUITY-SEQUENCE goes on too, also on another node).
 */
export interface ContinueFrom {
  msn: number;
  partId: number;
  discontinuities?: number;
}

/** Settings of a window. */
export interface RenditionOptions {
  name: string;
  /** Unique per publish; part of every URI so a CDN never sees a name twice. */
  epoch: string;
  segmentSeconds: number;
  /** Longest part (PART-TARGET), from the ladder. */
  partTarget: number;
  /** PART-HOLD-BACK in parts; also the length of the second early segment (ladder.ts earlySegments). */
  partHoldBackParts: number;
  /**
   * Every segment boundary (early cuts included) is a keyframe the encoder was told to put there
   * (ffmpeg-args.ts), so a segment may close on its own last part (segmenter.ts).
   */
  keyedAtBoundaries?: boolean;
  playlistSize: number;
  /** Segments kept fetchable after they leave the playlist, for a CDN still fetching them. */
  graceSegments: number;
  /**
   * Wall-clock ms at which media time 0 reached the server (the first frame at ingest), so that
   * EXT-X-PROGRAM-DATE-TIME is glass-to-server time, not glass-to-server-plus-transcode.
   */
  anchor?: () => number | undefined;
  /**
   * Where the numbering starts: a new session of a stream name that was live before goes on from
   * the old one's media sequence and part IDs, so a player or CDN never sees them go back.
   */
  continueFrom?: ContinueFrom;
  /** Reports of the sibling renditions, for EXT-X-RENDITION-REPORT. */
  reports?: () => RenditionReport[];
  /** Where segments are kept beyond memory (recording, DVR). */
  sink?: RenditionSink;
  /**
   * ORIGIN_DVR_SECONDS: the playlist reaches this far back; segments that left memory stay listed
   * while the sink's store holds them (0: the live window only).
   */
  dvrSeconds?: number;
  now?: () => number;
}

/**
 * Finished segments whose parts are listed (plus the open one): the last ones within two segment
 * durations of the newest (at least the newest); enough for PART-HOLD-BACK and a level switch,
 * and with the open segment's parts never more than 3 target durations from the end (RFC 8216bis
 * 4.4.4.9). Counted in seconds, not segments: through the short early segments of a run
 * (ladder.ts earlySegments) the first segment's parts must stay listed, or hls.js stops loading
 * parts there (the first listed part is its measure).
 */
const PART_LISTED_SEGMENTS = 2;

/** Index of the first of `listed` whose parts a live playlist lists: see PART_LISTED_SEGMENTS. */
export function firstWithParts(listed: ReadonlyArray<{ duration: number }>, segmentSeconds: number): number {
  let i = listed.length;
  let seconds = 0;
  while (i > 0 && (i === listed.length || seconds + listed[i - 1]!.duration <= PART_LISTED_SEGMENTS * segmentSeconds + 1e-3)) seconds += listed[--i]!.duration;
  return i;
}

/** Makes a piece: the strong ETag is a hash of the bytes' identity (epoch, name, size), computed once. */
export function makePiece(body: Buffer, id: string, now: number): MediaPiece {
  const etag = `"${createHash('sha1').update(id).update(String(body.length)).digest('base64url').slice(0, 22)}"`;
  return { body, etag, lastModified: new Date(now).toUTCString() };
}

interface Waiter {
  ready: () => boolean;
  wake: () => void;
}

/** One rendition's window. */
export class RenditionWindow {
  readonly name: string;
  private readonly opts: RenditionOptions;
  private segmenter: Segmenter;
  private readonly now: () => number;
  private init: InitPiece | undefined;
  /** Init segments still referenced (by retained segments or the current run), by URI. */
  private readonly inits = new Map<string, MediaPiece>();
  /** Encoder runs so far: each new run (restart, reconnect) gets a new init URI and a discontinuity. */
  private generation = 0;
  private pendingDiscontinuity = false;
  private discontinuities = 0;
  private retained = 0;
  private segments: Segment[] = [];
  /** DVR: segments that left memory, in the store, oldest first (contiguous with `segments`). */
  private archive: ArchivedSegment[] = [];
  /** Validators of every init segment this window made (the DVR window may list one no longer in memory). */
  private readonly initMeta = new Map<string, Pick<MediaPiece, 'etag' | 'lastModified'>>();
  private openParts: Part[] = [];
  private openStart = 0;
  private nextMsn = 0;
  private nextPartId = 0;
  private wallAtZero: number | undefined;
  private ended = false;
  private version = 0;
  private cached: { version: number; full?: MediaPiece; skip?: MediaPiece } = { version: -1 };
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<() => void>();
  /** Segments cut by this window (for metrics; never goes back). */
  segmentsPublished = 0;
  /** Wall-clock ms when the newest segment was listed (0 before any). */
  newestSegmentAt = 0;
  /** Seconds of media added (all fragments), for the transcoder's speed. */
  mediaSeconds = 0;

  constructor(opts: RenditionOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.segmenter = this.newSegmenter();
    this.now = opts.now ?? Date.now;
    if (opts.continueFrom) {
      this.nextMsn = opts.continueFrom.msn;
      this.nextPartId = opts.continueFrom.partId;
      this.discontinuities = opts.continueFrom.discontinuities ?? 0;
      this.pendingDiscontinuity = true;
    }
  }

  /** A cutter for one encoder run (the early cuts start again with every run). */
  private newSegmenter(): Segmenter {
    const o = this.opts;
    return new Segmenter(o.segmentSeconds, earlySegments(o.segmentSeconds, o.partTarget, o.partHoldBackParts), o.keyedAtBoundaries ?? false);
  }

  /** The next media sequence number and part ID (where a later session of this stream goes on). */
  get nextNumbers(): Required<ContinueFrom> {
    return { msn: this.nextMsn, partId: this.nextPartId, discontinuities: this.discontinuities };
  }

  /** URI of the current run's init segment (relative to the media playlist). */
  get initUri(): string {
    return initName(this.opts.epoch, this.generation);
  }

  /** Bytes of media this window holds (segments in the playlist and in the CDN grace, inits). */
  get retainedBytes(): number {
    let inits = 0;
    for (const p of this.inits.values()) inits += p.body.length;
    return this.retained + inits + this.openParts.reduce((sum, p) => sum + p.piece.body.length, 0);
  }

  /** URI of a part by its global ID. */
  partUri(id: number): string {
    return partName(this.opts.epoch, id);
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

  /** The live edge for blocking requests and rendition reports. */
  /** Seconds of media in the open segment (normally under the segment duration). */
  get openSeconds(): number {
    return this.segmenter.openSeconds;
  }

  get edge(): LiveEdge {
    const newest = this.segments.at(-1);
    return {
      openMsn: this.nextMsn,
      openParts: this.openParts.length,
      previousParts: newest && newest.msn === this.nextMsn - 1 ? newest.parts.length : 0,
      ended: this.ended,
    };
  }

  /** The newest part: LAST-MSN and LAST-PART of a rendition report. */
  get lastPart(): { lastMsn: number; lastPart: number } {
    if (this.openParts.length || this.segments.length === 0) return { lastMsn: this.nextMsn, lastPart: Math.max(0, this.openParts.length - 1) };
    const last = this.segments.at(-1)!;
    return { lastMsn: last.msn, lastPart: Math.max(0, last.parts.length - 1) };
  }

  /** Stores the init segment (ftyp+moov) from ffmpeg. */
  setInit(init: InitPiece): void {
    this.init = init;
    const piece = makePiece(init.data, `${this.opts.epoch}/${this.name}/${this.initUri}`, this.now());
    this.inits.set(this.initUri, piece);
    this.initMeta.set(this.initUri, { etag: piece.etag, lastModified: piece.lastModified });
    this.opts.sink?.init(this.initUri, init.data);
    this.changed();
  }

  /**
   * Adds one fragment from ffmpeg: it is published as a part at once, and closes a segment when it
   * opens the next (a keyframe after a full segment) or, for a rendition we encode, when it ends
   * exactly where the encoder keys the next (segmenter.ts, closeAtBoundary).
   */
  addFragment(fragment: Fragment): void {
    if (this.ended) return;
    this.mediaSeconds += fragment.duration;
    this.wallAtZero ??= this.opts.anchor?.() ?? this.now() - fragment.start * 1000;
    const step = this.segmenter.push(fragment);
    // (no change is announced between closing a segment and adding the part that opened the next:
    // a playlist never shows a finished segment whose next part is known but not listed)
    if (step.closedBefore) this.publishSegment(step.closedBefore);
    if (!step.kept) {
      if (step.closedBefore) this.changed();
      return; // dropped: no keyframe yet
    }
    if (this.openParts.length === 0) this.openStart = fragment.start;
    const id = this.nextPartId++;
    const uri = this.partUri(id);
    this.openParts.push({
      id,
      msn: this.nextMsn,
      index: this.openParts.length,
      uri,
      duration: fragment.duration,
      independent: fragment.independent,
      piece: makePiece(fragment.data, `${this.opts.epoch}/${this.name}/${uri}`, this.now()),
    });
    if (step.closedWith) this.publishSegment(step.closedWith);
    this.changed();
  }

  /** Times a segment was closed at its boundary and the next fragment was no keyframe (segmenter.ts). */
  get boundaryMisses(): number {
    return this.segmenter.boundaryMisses;
  }

  /**
   * The encoder run ended (crash, restart, publisher reconnect): the open parts become a last,
   * possibly short, segment; the next run's first segment is marked EXT-X-DISCONTINUITY and gets
   * its own init segment. Media sequence numbers and part IDs go on counting (skipping the hinted ID).
   */
  discontinue(): void {
    // Nothing since the last call (the session may cut a run off before its ffmpeg has exited).
    if (this.ended || (!this.init && this.openParts.length === 0 && this.segmenter.open.length === 0)) return;
    const last = this.segmenter.flush();
    if (last) this.publishSegment(last);
    this.segmenter = this.newSegmenter();
    this.openParts = [];
    // The part the old run's preload hint announced will never exist in that run: retire its ID.
    // Were the new run's first part to take it, a player that preloaded the hint (Shaka does)
    // would append new-run media under the old init and timeline, and stall for good. A request
    // held for it ends now with a 404 (isNextPart turns false); hls.js and Shaka both go on.
    if (this.nextPartId > 0) this.nextPartId++;
    if (this.inits.size > 0 || this.segments.length > 0) {
      this.generation++;
      this.pendingDiscontinuity = true;
    }
    this.init = undefined;
    this.wallAtZero = undefined;
    this.changed();
  }

  /** The publish ended: the open parts become the last segment and ENDLIST is written. */
  end(): void {
    if (this.ended) return;
    const last = this.segmenter.flush();
    if (last) this.publishSegment(last);
    this.openParts = [];
    this.ended = true;
    this.changed();
  }

  /** The media playlist (a delta update with `skip`), or undefined before the first segment. */
  playlist(skip = false): MediaPiece | undefined {
    if (this.inits.size === 0 || (this.segments.length === 0 && !this.ended)) return undefined;
    if (this.cached.version !== this.version) this.cached = { version: this.version };
    const key = skip ? 'skip' : 'full';
    return (this.cached[key] ??= this.render(skip));
  }

  /**
   * Segments the playlist lists: the live window, or with DVR every segment in memory and in the
   * archive, as far back as the DVR seconds reach (never fewer than the live window).
   */
  private get playlistSegments(): ReadonlyArray<ArchivedSegment | Segment> {
    const dvr = this.opts.dvrSeconds ?? 0;
    if (dvr <= 0) return this.listed;
    const all: Array<ArchivedSegment | Segment> = [...this.archive, ...this.segments];
    let from = all.length;
    let seconds = 0;
    while (from > 0 && (seconds < dvr || all.length - from < this.opts.playlistSize)) seconds += all[--from]!.duration;
    return all.slice(from);
  }

  private render(skip: boolean): MediaPiece {
    const listed = this.playlistSegments;
    const live = !this.ended;
    const canSkipUntil = 6 * this.opts.segmentSeconds;
    const openDuration = this.openParts.reduce((s, p) => s + p.duration, 0);
    const withParts = live ? firstWithParts(listed, this.opts.segmentSeconds) : listed.length;
    const text = writeMediaPlaylist({
      targetDuration: Math.ceil(this.opts.segmentSeconds),
      mediaSequence: listed[0]?.msn ?? this.nextMsn,
      // EXT-X-DISCONTINUITY-SEQUENCE: the discontinuities that have left the playlist.
      discontinuitySequence: this.discontinuities - listed.filter((s) => s.discontinuity).length,
      mapUri: this.initUri,
      segments: listed.map((s, i) => ({ ...s, parts: i >= withParts && live && 'parts' in s ? s.parts : undefined })),
      skipped: skip && live ? skippableSegments(listed, openDuration, canSkipUntil) : 0,
      ended: this.ended,
      ll: live
        ? {
            partTarget: this.opts.partTarget,
            partHoldBack: this.opts.partHoldBackParts * this.opts.partTarget,
            canSkipUntil,
            openParts: this.openParts,
            openProgramDateTime: this.openParts.length ? (this.wallAtZero ?? 0) + this.openStart * 1000 : undefined,
            openDiscontinuity: this.pendingDiscontinuity,
            preloadHint: this.partUri(this.nextPartId),
            reports: this.opts.reports?.() ?? [],
          }
        : undefined,
    });
    return makePiece(Buffer.from(text), `${this.opts.epoch}/${this.name}/${text}`, this.now());
  }

  /** A fetchable file of this rendition: init, part, or segment (listed or in the CDN grace). */
  file(uri: string): MediaPiece | undefined {
    const name = parseMediaName(uri);
    if (!name || name.epoch !== this.opts.epoch) return undefined;
    switch (name.kind) {
      case 'init':
        return this.inits.get(uri);
      case 'part':
        return (this.openParts.find((p) => p.id === name.partId) ?? this.findPart(name.partId))?.piece;
      case 'segment':
        return this.segments.find((s) => s.msn === name.msn)?.piece;
    }
  }

  /**
   * A piece that left memory but that the DVR window still lists (a segment, or the init segment
   * of one): its validators, so the route can answer it from the store; undefined otherwise.
   */
  stored(uri: string): Pick<MediaPiece, 'etag' | 'lastModified'> | undefined {
    const name = parseMediaName(uri);
    if (!name || name.epoch !== this.opts.epoch || this.archive.length === 0) return undefined;
    if (name.kind === 'segment') return this.archive.find((a) => a.msn === name.msn);
    if (name.kind === 'init' && this.archive.some((a) => a.mapUri === uri)) return this.initMeta.get(uri);
    return undefined;
  }

  /** True when `uri` names the part the preload hint announces (it may be held until it exists). */
  isNextPart(uri: string): boolean {
    return !this.ended && this.partIdOf(uri) === this.nextPartId;
  }

  /** Resolves true once `ready()` holds (checked after every change), false after `timeoutMs`. */
  waitUntil(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => done(false);
      const waiter: Waiter = { ready, wake: () => done(true) };
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Waits for a blocking playlist request to be satisfiable. */
  waitForEdge(req: BlockingRequest, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.waitUntil(() => satisfies(req, this.edge), timeoutMs, signal);
  }

  /** Held requests right now (for tests and metrics). */
  get waiting(): number {
    return this.waiters.size;
  }

  private partIdOf(uri: string): number | undefined {
    const name = parseMediaName(uri);
    return name?.kind === 'part' && name.epoch === this.opts.epoch ? name.partId : undefined;
  }

  private findPart(id: number): Part | undefined {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const parts = this.segments[i]!.parts;
      if (parts.length && parts[0]!.id <= id) return parts.find((p) => p.id === id);
    }
    return undefined;
  }

  private publishSegment(cut: CutSegment): void {
    const msn = this.nextMsn++;
    const uri = segmentName(this.opts.epoch, msn);
    const body = Buffer.concat(cut.fragments.map((f) => f.data));
    // The parts become views into the segment's bytes: the same content, stored once.
    let at = 0;
    const parts = this.openParts.map((p) => {
      const view = body.subarray(at, at + p.piece.body.length);
      at += p.piece.body.length;
      return { ...p, piece: { ...p.piece, body: view } };
    });
    this.openParts = [];
    const segment: Segment = {
      msn,
      uri,
      duration: cut.duration,
      programDateTime: (this.wallAtZero ?? this.now()) + (cut.start + cut.fragments[0]!.presentationOffset) * 1000,
      discontinuity: this.pendingDiscontinuity,
      mapUri: this.initUri,
      parts,
      piece: makePiece(body, `${this.opts.epoch}/${this.name}/${uri}`, this.now()),
    };
    this.segments.push(segment);
    if (this.opts.sink) {
      // off the media path: the upload's outcome only decides whether the DVR window may keep it
      void this.opts.sink.segment(segment).then((ok) => { segment.stored = ok; }, () => { segment.stored = false; });
    }
    if (this.pendingDiscontinuity) this.discontinuities++;
    this.pendingDiscontinuity = false;
    this.segmentsPublished++;
    this.newestSegmentAt = this.now();
    this.retained += body.length;
    const keep = this.opts.playlistSize + this.opts.graceSegments;
    if (this.segments.length > keep) {
      for (const gone of this.segments.splice(0, this.segments.length - keep)) {
        this.retained -= gone.piece.body.length;
        this.toArchive(gone);
      }
      // drop init segments no retained segment (nor the current run) refers to any more
      const used = new Set([this.initUri, ...this.segments.map((s) => s.mapUri)]);
      for (const uri of this.inits.keys()) if (!used.has(uri)) this.inits.delete(uri);
    }
  }

  /**
   * DVR: a segment leaving memory stays listed if the store holds it; one that is not stored (an
   * upload failed or is late) cuts the archive there, since a playlist cannot skip a number.
   */
  private toArchive(gone: Segment): void {
    const dvr = this.opts.dvrSeconds ?? 0;
    if (dvr <= 0) return;
    if (!gone.stored) {
      this.archive = [];
      return;
    }
    const { msn, uri, duration, programDateTime, discontinuity, mapUri } = gone;
    this.archive.push({ msn, uri, duration, programDateTime, discontinuity, mapUri, etag: gone.piece.etag, lastModified: gone.piece.lastModified });
    let seconds = this.archive.reduce((s, a) => s + a.duration, 0) + this.segments.reduce((s, a) => s + a.duration, 0);
    while (this.archive.length && seconds - this.archive[0]!.duration >= dvr) seconds -= this.archive.shift()!.duration;
  }

  /** Calls `listener` after every change (new part, segment, end); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.version++;
    for (const w of [...this.waiters]) if (w.ready()) w.wake();
    for (const l of [...this.listeners]) l();
  }
}
