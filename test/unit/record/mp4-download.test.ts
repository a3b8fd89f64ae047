// One MP4 from two encoder runs (real fMP4 from ffmpeg, checked with ffprobe): concatenated as is
// the second run lies on top of the first; with the later run's tfdt moved it continues after it.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { children, parseInit } from '../../../server/hls/boxes.js';
import { firstDecodeTimes, runShift, runsOf, shiftDecodeTimes, trackSignature } from '../../../server/record/mp4-download.js';
import type { RecordedSegment } from '../../../server/record/recording.js';

/** 4 s of 320x240 video + audio as fragmented MP4, as our ffmpeg writes it. */
function fmp4(): { init: Buffer; fragments: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'lo-mp4dl-'));
  const file = join(dir, 'a.mp4');
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine', '-t', '4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', file]);
  expect(r.status).toBe(0);
  const b = readFileSync(file);
  const boxes = children(b, 0, b.length);
  const pick = (types: string[]) => Buffer.concat(boxes.filter((x) => types.includes(x.type)).map((x) => b.subarray(x.start, x.end)));
  return { init: pick(['ftyp', 'moov']), fragments: pick(['moof', 'mdat']) };
}

function duration(bytes: Buffer): number {
  const file = join(mkdtempSync(join(tmpdir(), 'lo-mp4dl-')), 'out.mp4');
  writeFileSync(file, bytes);
  return Number(spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).stdout);
}

describe('download of a recording with two runs', () => {
  it('moves the second run after the first, per track, without changing a size', () => {
    const { init, fragments } = fmp4();
    const info = parseInit(init);
    expect(trackSignature(info)).toMatch(/^1:video:\d+:avc1\.[0-9a-f]{6}:320x240,2:audio:\d+:mp4a\.40\.2:0x0$/);
    expect(duration(Buffer.concat([init, fragments, fragments]))).toBeLessThan(4.2); // the bug this fixes
    const first = firstDecodeTimes(fragments, info);
    const shift = runShift(info, first, first, 4);
    const moved = shiftDecodeTimes(fragments, shift);
    expect(moved.length).toBe(fragments.length);
    expect([...firstDecodeTimes(moved, info).values()]).toEqual(info.tracks.map((t) => (first.get(t.id) ?? 0) + 4 * t.timescale));
    const d = duration(Buffer.concat([init, fragments, moved]));
    expect(d).toBeGreaterThan(7.9);
    expect(d).toBeLessThan(8.2);
  });

  it('groups segments into runs by init segment, with each run\'s start in seconds', () => {
    const s = (msn: number, mapUri: string, duration: number): RecordedSegment => ({ msn, uri: `e-${msn}.m4s`, duration, programDateTime: 0, discontinuity: false, mapUri, bytes: 1 });
    const runs = runsOf([s(0, 'a', 2), s(1, 'a', 1.5), s(2, 'b', 2), s(3, 'b', 2), s(4, 'c', 1)]);
    expect(runs.map((r) => [r.mapUri, r.segments.length, r.startSeconds])).toEqual([['a', 2, 0], ['b', 2, 3.5], ['c', 1, 7.5]]);
  });
});
