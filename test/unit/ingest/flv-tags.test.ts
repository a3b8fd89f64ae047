import { describe, expect, it } from 'vitest';
import { avcConfigOf, flvTagTimestamp, isKeyframeTag, isVideoFrameTag, KeyframeMeter } from '../../../server/ingest/flv-tags.js';

/** An FLV tag as NMS hands it to a subscriber: 11-byte header, then the body. */
function tag(type: number, ts: number, body: number[]): Buffer {
  const b = Buffer.alloc(11 + body.length);
  b[0] = type;
  b.writeUIntBE(body.length, 1, 3);
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  b[7] = ts >>> 24;
  Buffer.from(body).copy(b, 11);
  return b;
}
const frame = (ts: number, key: boolean) => tag(9, ts, [key ? 0x17 : 0x27, 1, 0, 0, 0, 0xaa]);
// AVC sequence header: version 1, profile_idc 100 (High), compat 0, level_idc 31 (3.1)
const seqHeader = tag(9, 0, [0x17, 0, 0, 0, 0, 1, 100, 0, 31, 0xff]);

describe('FLV tags', () => {
  it('tells frames, keyframes, sequence headers and timestamps apart', () => {
    expect(isVideoFrameTag(frame(0, true))).toBe(true);
    expect(isKeyframeTag(frame(0, true))).toBe(true);
    expect(isKeyframeTag(frame(33, false))).toBe(false);
    expect(isVideoFrameTag(seqHeader)).toBe(false);
    expect(isVideoFrameTag(tag(8, 0, [0xaf, 1, 0]))).toBe(false);
    expect(flvTagTimestamp(frame(0x1234567, false))).toBe(0x1234567);
    expect(avcConfigOf(seqHeader)).toEqual({ profile: 100, constraints: 0, level: 31 });
    expect(avcConfigOf(frame(0, true))).toBeUndefined();
    expect(avcConfigOf(Buffer.from('FLV\x01\x05'))).toBeUndefined();
  });

  it('measures the keyframe interval from timestamps, also across a GOP-cache replay', () => {
    const m = new KeyframeMeter();
    expect(m.gopSeconds).toBe(0);
    for (let i = 0; i <= 60; i++) m.observe(frame(1000 + i * 33, i % 60 === 0));
    expect(m.intervals).toBe(1);
    expect(m.gopSeconds).toBeCloseTo(1.98, 3);
    // a second subscription gets the cached GOP again: no new interval, no change
    for (let i = 60; i <= 65; i++) m.observe(frame(1000 + i * 33, i % 60 === 0));
    expect(m.intervals).toBe(1);
    // a long GOP shows while it is still open (a lower bound)
    for (let i = 66; i <= 400; i++) m.observe(frame(1000 + i * 33, false));
    expect(m.intervals).toBe(1);
    expect(m.gopSeconds).toBeCloseTo((400 - 60) * 0.033, 3);
  });
});
