/**
 * Cuts fragments into segments (pure). A segment starts only at an independent fragment (an IDR
 * frame) and is cut as soon as it has reached the segment duration, so with the transcoder's
 * fixed GOP every segment lasts exactly `segmentSeconds`. Fragment boundaries stay in the result:
 * they become the LL-HLS parts.
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

/** Stateful cutter; feed fragments in order. */
export class Segmenter {
  private fragments: Fragment[] = [];
  private duration = 0;
  /** Fragments dropped because no keyframe had arrived yet. */
  dropped = 0;
  private cuts = 0;

  /** `early`: the first segments may be cut this early, each (at keyframes the encoder placed there; ladder.ts earlySegments). */
  constructor(
    private readonly segmentSeconds: number,
    private readonly early: readonly number[] = [],
  ) {}

  /** Adds a fragment; returns the segment it completed, if any. */
  push(fragment: Fragment): CutSegment | undefined {
    if (this.fragments.length === 0) {
      if (!fragment.independent) {
        this.dropped++; // a segment must start with an IDR (RFC 8216 / Apple authoring spec)
        return undefined;
      }
      this.start(fragment);
      return undefined;
    }
    if (opensSegment(this.duration, fragment, this.early[this.cuts] ?? this.segmentSeconds)) {
      this.cuts++;
      const done = this.take();
      this.start(fragment);
      return done;
    }
    this.fragments.push(fragment);
    this.duration += fragment.duration;
    return undefined;
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
