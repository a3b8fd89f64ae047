/**
 * Profile + what the source is -> the renditions to encode (pure).
 * Rungs taller than the source are dropped, never upscaled (at least one rung stays), and the
 * frame rate never exceeds the source's.
 */
import type { Profile } from './profile-schema.js';

/** What we know of the incoming stream (from the RTMP metadata); zero means unknown. */
export interface SourceInfo {
  videoCodec: string;
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  audioCodec: string;
}

/** One rendition as it will be encoded. */
export interface Rendition {
  name: string;
  /** Output height; width follows the source aspect (0 = let ffmpeg derive it, even). */
  height: number;
  width: number;
  fps: number;
  /** GOP in frames: fps x segment seconds, so every segment starts with a keyframe. */
  gop: number;
  /**
   * Longest part (fragment) ffmpeg writes: it closes a fragment at the first frame at or past
   * partSeconds, so a part lasts partSeconds rounded up to whole frames (24 fps: 5 frames, 0.2083 s).
   */
  partTarget: number;
  videoKbps: number;
  maxrateKbps: number;
  bufsizeKbit: number;
  audioKbps: number;
  h264Profile: 'baseline' | 'main' | 'high';
  level: string;
}

/** Even width for `height` at the source's aspect ratio, or 0 when the source size is unknown. */
export function widthFor(height: number, source: Pick<SourceInfo, 'width' | 'height'>): number {
  if (!source.width || !source.height) return 0;
  return Math.max(2, Math.round((source.width * height) / source.height / 2) * 2);
}

/** partSeconds rounded up to whole frames at `fps`. */
export function partTargetFor(partSeconds: number, fps: number): number {
  return Math.ceil(partSeconds * fps - 1e-6) / fps;
}

/** Builds the ladder for one publish. */
export function buildLadder(profile: Profile, source: SourceInfo): Rendition[] {
  let rungs = profile.rungs.filter((r) => !source.height || r.height <= source.height);
  // Never upscale, but keep at least one rung: the smallest, at the source height when smaller still.
  if (rungs.length === 0) {
    const smallest = [...profile.rungs].sort((a, b) => a.height - b.height)[0]!;
    rungs = [{ ...smallest, height: Math.max(2, Math.floor(source.height / 2) * 2) }];
  }
  return rungs.map((r) => {
    let fps = r.fps ? Math.min(r.fps, profile.fps) : profile.fps;
    if (source.fps > 0) fps = Math.min(fps, Math.round(source.fps));
    return {
      name: r.name,
      height: r.height,
      width: widthFor(r.height, source),
      fps,
      gop: Math.round(fps * profile.segmentSeconds),
      partTarget: partTargetFor(profile.partSeconds, fps),
      videoKbps: r.videoBitrate,
      maxrateKbps: r.maxrate,
      bufsizeKbit: r.bufsize,
      audioKbps: r.audioBitrate,
      h264Profile: r.h264Profile,
      level: r.level,
    };
  });
}

/** An unknown source: every rung is kept at the profile's frame rate. */
export const UNKNOWN_SOURCE: SourceInfo = Object.freeze({ videoCodec: '', width: 0, height: 0, fps: 0, videoKbps: 0, audioCodec: '' });
