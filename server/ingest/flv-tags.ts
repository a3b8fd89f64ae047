/**
 * What an FLV tag says about the source (pure): frames, keyframes, timestamps, and the H.264
 * profile and level from the AVC sequence header. NMS hands every subscriber one whole tag per
 * `sendBuffer` (11-byte tag header, then the body); the FLV header (`FLV\x01…`) comes first and
 * is no tag. Layout: FLV spec v10.1, E.4.1 (tag header), E.4.3 (video tag), and ISO/IEC 14496-15
 * 5.2.4.1 (AVCDecoderConfigurationRecord).
 */

/** True for a video tag that carries a frame: for AVC, packet type 1 (NALUs), not 0 (sequence header). */
export function isVideoFrameTag(tag: Buffer): boolean {
  if (tag.length < 13 || tag[0] !== 9) return false;
  const codecId = tag[11]! & 0x0f;
  return codecId !== 7 || tag[12] === 1;
}

/** True for a video frame tag whose frame type is 1 (a keyframe: an IDR for AVC). */
export function isKeyframeTag(tag: Buffer): boolean {
  return isVideoFrameTag(tag) && tag[11]! >> 4 === 1;
}

/** The timestamp of a tag in ms: 24 bits plus an 8-bit extension. */
export function flvTagTimestamp(tag: Buffer): number {
  return ((tag[7]! << 24) | (tag[4]! << 16) | (tag[5]! << 8) | tag[6]!) >>> 0;
}

/** profile_idc, constraint flags and level_idc of an AVC sequence header tag, or undefined for any other tag. */
export function avcConfigOf(tag: Buffer): { profile: number; constraints: number; level: number } | undefined {
  // tag header (11) + frame type/codec (1) + AVCPacketType (1) + composition time (3) = 16; then
  // configurationVersion (1), AVCProfileIndication, profile_compatibility, AVCLevelIndication.
  if (tag.length < 20 || tag[0] !== 9 || (tag[11]! & 0x0f) !== 7 || tag[12] !== 0 || tag[16] !== 1) return undefined;
  return { profile: tag[17]!, constraints: tag[18]!, level: tag[19]! };
}

/**
 * H.264 profiles every browser's MSE decodes (8-bit 4:2:0): Baseline (66, with Constrained
 * Baseline), Main (77) and High (100). High 10 (110), 4:2:2 (122) and 4:4:4 (244) do not play.
 */
export const BROWSER_AVC_PROFILES: Readonly<Record<number, string>> = Object.freeze({ 66: 'Baseline', 77: 'Main', 100: 'High' });

/** A readable name for profile_idc (for messages). */
export function avcProfileName(profile: number): string {
  const names: Record<number, string> = { ...BROWSER_AVC_PROFILES, 88: 'Extended', 110: 'High 10', 122: 'High 4:2:2', 244: 'High 4:4:4' };
  return names[profile] ?? `profile_idc ${profile}`;
}

/**
 * Measures the source's keyframe interval (GOP) from the frames' own timestamps, so frames
 * delivered in a burst (NMS's GOP cache) measure the same as live ones.
 */
export class KeyframeMeter {
  private lastKeyTs: number | undefined;
  private newestTs: number | undefined;
  private longest = 0;
  /** Complete keyframe-to-keyframe intervals seen. */
  intervals = 0;

  /** Feeds one tag (any kind; only video frames count). */
  observe(tag: Buffer): void {
    if (!isVideoFrameTag(tag)) return;
    const ts = flvTagTimestamp(tag);
    // A second subscription replays the GOP cache: frames that are not newer were seen already.
    if (this.newestTs !== undefined && ts <= this.newestTs) return;
    this.newestTs = ts;
    if (!isKeyframeTag(tag)) return;
    if (this.lastKeyTs !== undefined) {
      this.longest = Math.max(this.longest, ts - this.lastKeyTs);
      this.intervals++;
    }
    this.lastKeyTs = ts;
  }

  /**
   * The longest keyframe interval in seconds, counting the open one (time since the last keyframe):
   * a lower bound while no second keyframe came. 0 before any keyframe.
   */
  get gopSeconds(): number {
    if (this.lastKeyTs === undefined || this.newestTs === undefined) return 0;
    return Math.max(this.longest, this.newestTs - this.lastKeyTs) / 1000;
  }
}
