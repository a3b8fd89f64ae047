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
  /** AAC only: no picture (then width, height, fps, gop and the video bitrates are 0). */
  audioOnly?: boolean;
}

/** Slack on an audio-only rung's PART-TARGET for millisecond-rounded source timestamps. */
const AUDIO_PART_SLACK = 0.002;

/** AAC frames per second: 1024 samples each. */
const aacFramesPerSecond = (sampleRate: number) => sampleRate / 1024;

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
  const video = rungs.map((r): Rendition => {
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
  // The audio-only rung needs audio: a source without it (as far as the metadata says) gets none,
  // or its output would hold no stream and ffmpeg would refuse to start.
  const a = profile.audioOnly;
  if (!a || !source.audioCodec) return video;
  return [
    ...video,
    {
      name: a.name,
      height: 0,
      width: 0,
      fps: 0,
      gop: 0,
      // ffmpeg closes an audio fragment at the first AAC frame at or past partSeconds (48 kHz: 10
      // frames, 0.2133 s); AAC timestamps from an RTMP source carry FLV's millisecond rounding, so
      // a part may be 0.2 ms longer: 2 ms of slack keeps every part within PART-TARGET.
      partTarget: partTargetFor(profile.partSeconds, aacFramesPerSecond(profile.audioSampleRate)) + AUDIO_PART_SLACK,
      videoKbps: 0,
      maxrateKbps: 0,
      bufsizeKbit: 0,
      audioKbps: a.audioBitrate,
      h264Profile: 'main',
      level: '',
      audioOnly: true,
    },
  ];
}

/** An unknown source: every rung is kept at the profile's frame rate. */
export const UNKNOWN_SOURCE: SourceInfo = Object.freeze({ videoCodec: '', width: 0, height: 0, fps: 0, videoKbps: 0, audioCodec: '' });
