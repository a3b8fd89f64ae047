/**
 * Cuts fragments into segments (pure). A segment starts only at an independent fragment (an IDR
 * frame) and is cut as soon as it has reached the segment duration, so with the transcoder's
 * fixed GOP every segment lasts exactly `segmentSeconds`. Fragment boundaries stay in the result:
 * they become the LL-HLS parts.
 *
 * Where the next keyframe falls is known in advance for a rendition we encode (ffmpeg-args.ts
 * forces one at every segment boundary), so such a segment is closed by the fragment that
 * completes it (`closeAtBoundary`) instead of by the keyframe fragment that follows: it is listed
 * one part (~0.2 s) sooner, which for the first, one-part segment of a run is what makes the stream
 * playable that much sooner. Should the next fragment not be a keyframe after all, that is
 * counted (`boundaryMisses`), the fragment still starts the next segment (nothing is lost; that
 * one segment does not start with an IDR), and the rest of the run waits for keyframes as a copied
 * rung always does.
 */
import type { Fragment } from './fragments.js';

/** A completed run of fragments that forms one segment. */
export interface CutSegment {
  fragments: Fragment[];
  start: number;
  duration: number;
}

/** Half a frame at 60 fps: timestamps in different timescales round differently. */
const EPSILON = 1 / 120;

/** True when `fragment` must open a new segment after the current one has lasted `current` seconds. */
export function opensSegment(current: number, fragment: Pick<Fragment, 'independent'>, segmentSeconds: number): boolean {
  return fragment.independent && current >= segmentSeconds - EPSILON;
}

/** What one fragment did. */
export interface SegmenterStep {
  /** False when the fragment was dropped (no keyframe yet at the start of a run). */
  kept: boolean;
  /** The segment this fragment closed by opening the next one (a keyframe after a full segment). */
  closedBefore?: CutSegment;
  /** The segment this fragment completed (closeAtBoundary): the fragment is its last. */
  closedWith?: CutSegment;
}

/** Stateful cutter; feed fragments in order. */
export class Segmenter {
  private fragments: Fragment[] = [];
  private duration = 0;
  /** Fragments dropped because no keyframe had arrived yet. */
  dropped = 0;
  /** Times the fragment after a segment closed at its boundary was not a keyframe. */
  boundaryMisses = 0;
  private cuts = 0;
  private closedAtBoundary = false;

  /**
   * `early`: the first segments may be cut this early, each (at keyframes the encoder placed there;
   * ladder.ts earlySegments). `closeAtBoundary`: the encoder keys exactly at every cut (see above).
   */
  constructor(
    private readonly segmentSeconds: number,
    private readonly early: readonly number[] = [],
    private closeAtBoundary = false,
  ) {}

  /** Adds a fragment: whether it was kept, and the segment it closed, if any. */
  push(fragment: Fragment): SegmenterStep {
    let closedBefore: CutSegment | undefined;
    if (this.fragments.length === 0) {
      if (!fragment.independent && !this.closedAtBoundary) {
        this.dropped++; // a segment must start with an IDR (RFC 8216 / Apple authoring spec)
        return { kept: false };
      }
      if (!fragment.independent) {
        this.boundaryMisses++;
        this.closeAtBoundary = false;
      }
      this.closedAtBoundary = false;
      this.start(fragment);
    } else if (opensSegment(this.duration, fragment, this.target)) {
      this.cuts++;
      closedBefore = this.take();
      this.start(fragment);
    } else {
      this.fragments.push(fragment);
      this.duration += fragment.duration;
    }
    if (this.closeAtBoundary && this.duration >= this.target - EPSILON) {
      this.cuts++;
      this.closedAtBoundary = true;
      return { kept: true, closedBefore, closedWith: this.take() };
    }
    return { kept: true, closedBefore };
  }

  /** Duration of the segment being built: an early one, or a whole one. */
  private get target(): number {
    return this.early[this.cuts] ?? this.segmentSeconds;
  }

  /** Seconds of media in the segment being built (a source that stops sending keyframes grows it). */
  get openSeconds(): number {
    return this.duration;
  }

  /** The fragments of the segment being built (the LL-HLS parts of the next segment). */
  get open(): readonly Fragment[] {
    return this.fragments;
  }

  /** Ends the stream: the open fragments become the last (possibly short) segment. */
  flush(): CutSegment | undefined {
    return this.fragments.length ? this.take() : undefined;
  }

  private start(fragment: Fragment): void {
    this.fragments = [fragment];
    this.duration = fragment.duration;
  }

  private take(): CutSegment {
    const fragments = this.fragments;
    const seg = { fragments, start: fragments[0]!.start, duration: this.duration };
    this.fragments = [];
    this.duration = 0;
    return seg;
  }
}
