/**
 * Profile + what the source is -> the renditions to encode (pure).
 * Rungs taller than the source are dropped, never upscaled (at least one rung stays), and the
 * frame rate never exceeds the source's. A passthrough rung copies the source's H.264 when a
 * browser can play it and its keyframes fall on segment boundaries; otherwise it is re-encoded at
 * the source's size, and `passthroughProblem` says why (the session logs it with the OBS fix).
 */
import type { Profile, Rung } from './profile-schema.js';
import { avcProfileName, BROWSER_AVC_PROFILES } from '../ingest/flv-tags.js';

/** What we know of the incoming stream (from the RTMP metadata); zero means unknown. */
export interface SourceInfo {
  videoCodec: string;
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  audioCodec: string;
  /** H.264 profile_idc and level_idc from the sequence header (0 = not seen). */
  avcProfile: number;
  avcLevel: number;
  /** Longest keyframe interval measured, counting the open one (0 = no keyframe yet). */
  gopSeconds: number;
  /** Complete keyframe intervals behind gopSeconds (0: it is only a lower bound). */
  gopIntervals: number;
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
  /**
   * The source's video, copied (gop 0: the source's keyframes cut the segments; the bitrates are
   * the source's declared ones). The other video rungs then place their keyframes on the source's.
   */
  passthrough?: boolean;
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

/**
 * ffmpeg's `-frag_duration` (us) for a rendition: its mp4 muxer closes a fragment before the
 * first packet at least this far past the fragment's start, so this is 1 ms under the
 * frame-exact part. A copied rung keeps the FLV source's whole-millisecond timestamps: at 30 fps
 * 4 frames span 133 or 134 ms, and a threshold of 133.3 ms made every other part 5 frames (0.166 s,
 * past PART-TARGET). 1 ms under is still past the frame before (100 ms), and past the audio
 * frames that fit in the part (6 AAC frames at 48 kHz, 128 ms), so the video frame still decides.
 */
export function fragmentMicros(r: Pick<Rendition, 'audioOnly' | 'fps'>, partSeconds: number, audioSampleRate: number): number {
  const fps = r.audioOnly ? aacFramesPerSecond(audioSampleRate) : r.fps;
  return Math.round(partTargetFor(partSeconds, fps) * 1_000_000) - 1000;
}

/**
 * Durations of the first segments of every encoder run (publish, reconnect, restart): one part,
 * then PART-HOLD-BACK (`holdBackParts` parts: 2 by default), each at most half a segment; whole segments after them. The
 * encoders key a frame at each cut (ffmpeg-args.ts) and the segmenter cuts there. The master is
 * playable once every rendition has a first segment, so a short one makes a stream playable sooner
 * (hls.js will not start on a playlist without a segment). Which short segments, was measured
 * (a viewer waiting on the watch page, 5 runs each, stalls in the 5 s after the first frame):
 *
 *   [1]              first frame 2.13-2.49 s, 5/5 stalled (0.08-1.14 s)
 *   [0.6]            first frame 1.73-1.87 s, 5/5 stalled 1.0-1.4 s
 *   [0.6, 0.2 x 3]   first frame 1.78-2.07 s, 6/20 stalled 0.07-0.34 s
 *   [0.6, 0.6]       first frame 1.70-1.94 s, 1/10 stalled (17 ms)
 *   [0.4, 0.6]       first frame 1.53-1.64 s, 0/5
 *   [0.2, 0.6]       first frame 1.36-1.42 s (one 1.81 s), 0/5; late joiners at 5 moments in the
 *                    first 4 s: one stall of 78 ms
 *
 * (from the publisher's spawn; it connects ~0.35 s later; PART-HOLD-BACK was 3 parts then, and the
 * second early segment 0.6 s. With 2 parts, [0.2, 0.4]: see BENCHMARKS.md, npm run bench:latency). Why a whole segment right after the
 * first one stalls: hls.js 1.7 keeps loading parts after a segment it parsed only while `end of the
 * first listed part + duration of the open segment's parts <= end of that segment`
 * (base-stream-controller.ts shouldLoadParts); with 0.6 s complete and a 2 s segment open, that
 * fails once the open segment has 2 parts, and hls.js waits for the whole 2 s segment. A 0.6 s
 * segment after the first keeps the open segment short until 0.8 s are complete, and a player
 * that starts PART-HOLD-BACK behind the edge then passes the test. One-part segments in a row
 * made hls.js re-load the parts of a segment it already had (a loop until the next playlist).
 */
export function earlySegments(segmentSeconds: number, partTarget: number, holdBackParts: number): number[] {
  return [Math.min(partTarget, segmentSeconds / 2), Math.min(holdBackParts * partTarget, segmentSeconds / 2)];
}

/** The frames (0-based, at `fps`) an encoder run keys for earlySegments: each early cut. */
export function earlyKeyframes(segmentSeconds: number, partTarget: number, holdBackParts: number, fps: number): number[] {
  let total = 0;
  return earlySegments(segmentSeconds, partTarget, holdBackParts).map((d) => Math.round((total += d) * fps));
}

/** Slack on a copied rung's PART-TARGET: the source's timestamps are whole milliseconds (FLV). */
const PASSTHROUGH_PART_SLACK = 0.002;
/**
 * A copied rung's peak over its declared (metadata) bitrate until segments are measured: OBS's CBR
 * stays within this per segment. The master playlist takes the larger of this and the measured peak.
 */
export const PASSTHROUGH_PEAK = 1.25;
/** Height a passthrough rung is re-encoded at when the source does not say its size. */
const FALLBACK_HEIGHT = 720;

/** Where OBS sets the keyframe interval (Settings, Output mode "Advanced"; 0 = auto is ~8 s). */
export const OBS_KEYFRAME_SETTING = 'OBS Settings > Output > Streaming > Keyframe Interval';

/**
 * Why the source cannot be copied into segments of `segmentSeconds`, or undefined when it can:
 * H.264 in a profile browsers play, and keyframes so that every segment (cut at the first
 * keyframe at or past segmentSeconds) lasts at most segmentSeconds plus one frame.
 */
export function passthroughProblem(source: SourceInfo, segmentSeconds: number): string | undefined {
  if (source.videoCodec !== 'h264') return `the source video is ${source.videoCodec || 'of unknown codec'}, not H.264`;
  if (!source.width || !source.height) return 'the source did not declare a plausible frame size';
  if (!BROWSER_AVC_PROFILES[source.avcProfile]) {
    return source.avcProfile ? `the source's H.264 profile ${avcProfileName(source.avcProfile)} does not play in browsers (Baseline, Main or High do)` : 'the source sent no H.264 sequence header';
  }
  const frame = source.fps > 0 ? 1 / source.fps : 1 / 30;
  const gop = source.gopSeconds;
  const longest = gop > 0 ? Math.ceil((segmentSeconds - frame / 2) / gop) * gop : Infinity;
  if (longest > segmentSeconds + frame + 0.001) {
    const said = gop > 0 ? `${source.gopIntervals ? '' : 'at least '}${gop.toFixed(2)} s` : 'unknown';
    return `the source's keyframe interval is ${said}, which does not fit ${segmentSeconds} s segments: set ${OBS_KEYFRAME_SETTING} to ${segmentSeconds} s (or 1 s)`;
  }
  return undefined;
}

/** A passthrough rung as a rendition: copied, or re-encoded at the source's size when it cannot be. */
function passthroughRendition(r: Rung, profile: Profile, source: SourceInfo, copy: boolean): Rendition {
  if (!copy) {
    const height = source.height > 0 ? Math.floor(source.height / 2) * 2 : FALLBACK_HEIGHT;
    return encodedRendition({ ...r, height }, profile, source);
  }
  const fps = source.fps > 0 ? source.fps : profile.fps;
  const videoKbps = source.videoKbps > 0 ? Math.round(source.videoKbps) : r.videoBitrate;
  const names: Record<number, Rendition['h264Profile']> = { 66: 'baseline', 77: 'main', 100: 'high' };
  return {
    name: r.name,
    height: source.height,
    width: source.width,
    fps,
    gop: 0,
    partTarget: partTargetFor(profile.partSeconds, fps) + PASSTHROUGH_PART_SLACK,
    videoKbps,
    maxrateKbps: Math.round(videoKbps * PASSTHROUGH_PEAK),
    bufsizeKbit: 0,
    audioKbps: r.audioBitrate,
    h264Profile: names[source.avcProfile] ?? 'high',
    level: (source.avcLevel / 10).toFixed(1),
    passthrough: true,
  };
}

function encodedRendition(r: Rung & { height: number }, profile: Profile, source: SourceInfo): Rendition {
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
}

/** Largest frame side, widest aspect (either way) and highest frame rate a publisher's metadata is believed for. */
export const PLAUSIBLE = { maxSide: 8192, maxAspect: 4, maxFps: 120 } as const;

/**
 * The publisher's metadata is the publisher's word: a declared 16384x720 made 16384-wide rungs.
 * A size or frame rate outside what a camera or OBS sends counts as unknown (0): the rungs then
 * take the profile's frame rate and let ffmpeg derive widths from the frames it actually decodes.
 */
export function plausibleSource(source: SourceInfo): SourceInfo {
  const { width: w, height: h, fps } = source;
  const sizeOk = w >= 16 && h >= 16 && w <= PLAUSIBLE.maxSide && h <= PLAUSIBLE.maxSide && w / h <= PLAUSIBLE.maxAspect && h / w <= PLAUSIBLE.maxAspect;
  const fpsOk = fps > 0 && fps <= PLAUSIBLE.maxFps;
  return { ...source, width: sizeOk ? Math.round(w) : 0, height: sizeOk ? Math.round(h) : 0, fps: fpsOk ? fps : 0 };
}

/** Builds the ladder for one publish (from what is plausible of the publisher's metadata). */
export function buildLadder(profile: Profile, declared: SourceInfo): Rendition[] {
  const source = plausibleSource(declared);
  const copy = passthroughProblem(source, profile.segmentSeconds) === undefined;
  const fits = (r: Rung) => r.passthrough || !source.height || r.height! <= source.height;
  let rungs = profile.rungs.filter(fits);
  // Never upscale, but keep at least one rung: the smallest, at the source height when smaller still.
  if (rungs.length === 0) {
    const smallest = [...profile.rungs].sort((a, b) => a.height! - b.height!)[0]!;
    rungs = [{ ...smallest, height: Math.max(2, Math.floor(source.height / 2) * 2) }];
  }
  const video = rungs.map((r): Rendition =>
    r.passthrough ? passthroughRendition(r, profile, source, copy) : encodedRendition({ ...r, height: r.height! }, profile, source),
  );
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
export const UNKNOWN_SOURCE: SourceInfo = Object.freeze({
  videoCodec: '', width: 0, height: 0, fps: 0, videoKbps: 0, audioCodec: '', avcProfile: 0, avcLevel: 0, gopSeconds: 0, gopIntervals: 0,
});
