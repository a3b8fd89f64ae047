/**
 * The packager of one stream: a RenditionWindow per rendition, fed by ffmpeg's byte streams,
 * and the master playlist over them (memory only; the origin reads from here).
 */
import { FragmentReader } from './fragments.js';
import { makePiece, RenditionWindow, type ContinueFrom, type MediaPiece, type RenditionSink } from './rendition.js';
import { startOrder, writeMasterPlaylist, type RenditionReport, type Variant } from './playlist.js';
import type { Rendition } from '../transcode/ladder.js';

/** fMP4 container overhead over the elementary streams (moof/trun/mdat headers), measured ~2-4 %. */
const CONTAINER_OVERHEAD = 1.05;

/** Settings shared by the renditions of one stream. */
export interface PackagerOptions {
  epoch: string;
  segmentSeconds: number;
  /** PART-HOLD-BACK in parts (the profile's partHoldBackParts). */
  partHoldBackParts: number;
  playlistSize: number;
  graceSegments: number;
  /** Wall-clock ms at which media time 0 reached the server. */
  anchor?: () => number | undefined;
  /** Numbering to go on from (a previous session of the same stream). */
  continueFrom?: ContinueFrom | undefined;
  /** Recording and DVR: a sink per rendition and how far back the playlists reach. */
  archive?: { sink(rendition: string): RenditionSink; dvrSeconds: number };
}

/** Peak and average bandwidth of a rendition for the master playlist (bit/s). */
export function variantBandwidth(r: Rendition): { bandwidth: number; averageBandwidth: number } {
  return {
    bandwidth: (r.maxrateKbps + r.audioKbps) * 1000 * CONTAINER_OVERHEAD,
    averageBandwidth: (r.videoKbps + r.audioKbps) * 1000 * CONTAINER_OVERHEAD,
  };
}

/** The highest bit rate of the segments listed (bit/s), 0 without any. */
export function peakBitrate(segments: ReadonlyArray<{ duration: number; piece: { body: Buffer } }>): number {
  return Math.max(0, ...segments.filter((s) => s.duration > 0).map((s) => (s.piece.body.length * 8) / s.duration));
}

/** All renditions of one stream. */
export class StreamPackager {
  readonly renditions: ReadonlyMap<string, RenditionWindow>;
  private readonly ladder: readonly Rendition[];
  private readonly epoch: string;
  private masterPiece: MediaPiece | undefined;

  constructor(ladder: readonly Rendition[], opts: PackagerOptions) {
    this.ladder = ladder;
    this.epoch = opts.epoch;
    const renditions = new Map<string, RenditionWindow>();
    // Beside a copied rung the encoder keys where the source does (ffmpeg-args.ts), not at our
    // cuts; audio fragments are all independent.
    const copying = ladder.some((r) => r.passthrough);
    for (const r of ladder) {
      const window: RenditionWindow = new RenditionWindow({
        name: r.name,
        epoch: opts.epoch,
        segmentSeconds: opts.segmentSeconds,
        partTarget: r.partTarget,
        partHoldBackParts: opts.partHoldBackParts,
        keyedAtBoundaries: r.audioOnly || !copying,
        playlistSize: opts.playlistSize,
        graceSegments: opts.graceSegments,
        anchor: opts.anchor,
        continueFrom: opts.continueFrom,
        sink: opts.archive?.sink(r.name),
        dvrSeconds: opts.archive?.dvrSeconds,
        // EXT-X-RENDITION-REPORT: where every sibling is, so a player switching level can ask
        // the new playlist for the right part at once.
        reports: (): RenditionReport[] =>
          [...renditions.values()]
            .filter((w) => w !== window && !w.isEnded)
            .map((w) => ({ uri: `../${w.name}/index.m3u8`, ...w.lastPart })),
      });
      renditions.set(r.name, window);
    }
    this.renditions = renditions;
  }

  /** A reader that turns one rendition's fMP4 bytes into pieces of its window. */
  input(rendition: string): (chunk: Buffer) => void {
    const window = this.renditions.get(rendition);
    if (!window) throw new Error(`packager: unknown rendition ${rendition}`);
    const reader = new FragmentReader();
    return (chunk) => {
      for (const piece of reader.push(chunk)) {
        if (piece.kind === 'init') window.setInit(piece);
        else window.addFragment(piece);
      }
    };
  }

  /** The encoder run ended: every rendition closes its open segment; the next run follows a discontinuity. */
  discontinue(): void {
    for (const r of this.renditions.values()) r.discontinue();
  }

  /** Where a next session of this stream should go on numbering: past every rendition's numbers. */
  get nextNumbers(): Required<ContinueFrom> {
    const all = [...this.renditions.values()].map((w) => w.nextNumbers);
    return {
      msn: Math.max(...all.map((n) => n.msn)),
      partId: Math.max(...all.map((n) => n.partId)),
      discontinuities: Math.max(...all.map((n) => n.discontinuities)),
    };
  }

  /** Ends every rendition (ENDLIST). */
  end(): void {
    for (const r of this.renditions.values()) r.end();
  }

  /** True once every rendition has its init segment and a first segment. */
  get ready(): boolean {
    return [...this.renditions.values()].every((r) => r.initInfo !== undefined && r.playlist() !== undefined);
  }

  /** The master playlist, once every rendition is ready (its CODECS and RESOLUTION come from the real init segments). */
  master(): MediaPiece | undefined {
    if (this.masterPiece) return this.masterPiece;
    if (!this.ready) return undefined;
    const variants: Variant[] = this.ladder.map((r) => {
      const init = this.renditions.get(r.name)!.initInfo!;
      const video = init.info.tracks.find((t) => t.kind === 'video');
      const codecs = init.info.tracks.filter((t) => t.kind !== 'other').map((t) => t.codec).join(',');
      const declared = variantBandwidth(r);
      return {
        uri: `${r.name}/index.m3u8`,
        // A copied rung's declared bitrate is only what the publisher's metadata claims: the peak
        // of what actually arrived counts too (BANDWIDTH must not be below any segment's rate).
        bandwidth: Math.max(declared.bandwidth, peakBitrate(this.renditions.get(r.name)!.listed)),
        averageBandwidth: declared.averageBandwidth,
        codecs,
        width: video?.width ?? 0,
        height: video?.height ?? 0,
        frameRate: video ? r.fps : 0,
      };
    });
    const text = writeMasterPlaylist(startOrder(variants));
    this.masterPiece = makePiece(Buffer.from(text), `${this.epoch}/master/${text}`, Date.now());
    return this.masterPiece;
  }

  /** Rendition summaries for the API. */
  summary(): Array<{ name: string; width: number; height: number; bandwidth: number }> {
    return this.ladder.map((r) => {
      const video = this.renditions.get(r.name)?.initInfo?.info.tracks.find((t) => t.kind === 'video');
      return { name: r.name, width: video?.width ?? r.width, height: video?.height ?? r.height, bandwidth: Math.round(variantBandwidth(r).bandwidth) };
    });
  }
}
