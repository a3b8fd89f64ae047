/**
 * What to tell an operator when ffmpeg exits unexpectedly (pure): ffmpeg's last stderr lines and
 * the source's codec turned into one line that names the fix.
 */
import { OBS_KEYFRAME_SETTING, type SourceInfo } from './ladder.js';

/** A hint for a transcoder exit, from what ffmpeg said. */
export function exitHint(stderr: readonly string[], source: SourceInfo): string {
  const text = stderr.join('\n');
  if (/hevc|h265|av1|Decoder \(codec \w+\) not found|unsupported codec|Video codec \d+ is not implemented/i.test(text) || (source.videoCodec && source.videoCodec !== 'h264')) {
    return `the source video codec (${source.videoCodec || 'unknown'}) cannot be decoded here: in OBS set Settings > Output > Encoder to an H.264 encoder (x264, NVENC H.264)`;
  }
  if (/Invalid data found|Error while decoding|non-existing PPS/i.test(text)) return 'the publisher sent damaged or incomplete video; check the encoder settings and the network';
  if (/Cannot allocate memory|Resource temporarily unavailable/i.test(text)) return 'the machine ran out of memory or processes';
  if (/passthrough: no keyframe from the source/.test(text)) return `the source stopped sending keyframes: set ${OBS_KEYFRAME_SETTING} to 2 s (or use a profile without a passthrough rung)`;
  if (/fell behind: over/.test(text)) return 'ffmpeg transcodes slower than real time on this machine: use a lighter profile (fewer or smaller rungs, a faster preset) or fewer streams per machine';
  if (/stalled/.test(text)) return 'ffmpeg stopped producing output while input kept arriving; the machine may be overloaded';
  return 'see the ffmpeg output above';
}
