import { PassThrough } from 'node:stream';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan, planToArgv } from '../../../server/transcode/ffmpeg-args.js';
import { buildLadder, earlyKeyframes, earlySegments, fragmentMicros, partTargetFor, plausibleSource, UNKNOWN_SOURCE } from '../../../server/transcode/ladder.js';
import { loadProfiles } from '../../../server/transcode/profiles.js';
import { buildCommand } from '../../../server/transcode/transcoder.js';

const profiles = loadProfiles('transcode-profiles');
const source720 = { ...UNKNOWN_SOURCE, videoCodec: 'h264', width: 1280, height: 720, fps: 30, videoKbps: 2500, audioCodec: 'aac' };

describe('ffmpeg arguments for the default profile (golden)', () => {
  const profile = profiles.get('default')!;
  const plan = buildFfmpegPlan(buildLadder(profile, source720), profile, (r) => `unix:/run/lo/${r}.sock`, '/run/lo/studio.jpg');
  const argv = planToArgv(plan);

  it('matches the golden argument list', () => {
    const golden = new URL('golden/default.argv.txt', import.meta.url);
    const text = `${argv.join('\n')}\n`;
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, text); // review the diff before committing
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  it('forces a keyframe every 2 s at a constant 30 fps with no scene-cut keyframes and no lookahead', () => {
    for (const o of plan.outputs) {
      const opt = (name: string) => o.options[o.options.indexOf(name) + 1];
      expect(opt('-g')).toBe('60');
      expect(opt('-keyint_min')).toBe('60');
      expect(opt('-sc_threshold')).toBe('0');
      expect(opt('-tune')).toBe('zerolatency');
      expect(opt('-movflags')).toBe('frag_keyframe+empty_moov+default_base_moof');
      expect(opt('-frag_duration')).toBe('199000'); // 1 ms under 6 frames at 30 fps
    }
    expect(plan.filterComplex).toContain('split=4'); // 3 renditions + the thumbnail
    expect(plan.filterComplex.match(/fps=30,/g)).toHaveLength(3);
  });

  it('is exactly what fluent-ffmpeg passes to ffmpeg', () => {
    const cmd = buildCommand(plan, 'ffmpeg', new PassThrough()) as unknown as { _getArguments(): string[] };
    // fluent-ffmpeg adds -y when it thinks an output is a file; everything else must be ours, in order
    expect(cmd._getArguments().filter((a) => a !== '-y')).toEqual(argv);
  });

  it('adds an AAC-only output for an audio-only rung, when the source has audio', () => {
    const lowCpu = profiles.get('low-cpu')!;
    const ladder = buildLadder(lowCpu, source720);
    expect(ladder.map((r) => [r.name, r.audioOnly ?? false])).toEqual([['480p', false], ['240p', false], ['audio', true]]);
    expect(ladder[2]!.partTarget).toBeCloseTo(10 / 46.875 + 0.002, 9); // 10 AAC frames at 48 kHz, plus slack
    const p = buildFfmpegPlan(ladder, lowCpu, (r) => `unix:/x/${r}.sock`);
    expect(p.filterComplex).toContain('split=2'); // no picture branch for the audio rung
    expect(p.outputs[2]!.options.slice(0, 7)).toEqual(['-map', '0:a:0', '-vn', '-c:a', 'aac', '-b:a', '64k']);
    expect(buildLadder(lowCpu, { ...source720, audioCodec: '' }).map((r) => r.name)).toEqual(['480p', '240p']);
  });

  it('never upscales and never raises the frame rate above the source', () => {
    const ladder = buildLadder(profile, { ...source720, width: 854, height: 480, fps: 25 });
    expect(ladder.map((r) => [r.name, r.width, r.height, r.fps, r.gop])).toEqual([
      ['480p', 854, 480, 25, 50],
      ['360p', 640, 360, 25, 50],
    ]);
    const tiny = buildLadder(profile, { ...source720, width: 320, height: 240 });
    expect(tiny.map((r) => [r.name, r.width, r.height])).toEqual([['360p', 320, 240]]);
    expect(buildLadder(profile, UNKNOWN_SOURCE).map((r) => r.width)).toEqual([0, 0, 0]);
  });
});

describe('the publisher metadata is believed only within reason', () => {
  const profile = loadProfiles('transcode-profiles').get('default')!;
  it('a declared 16384x720 or 1000 fps source does not set rung widths or the frame rate', () => {
    const wide = buildLadder(profile, { ...source720, width: 16384, height: 720, fps: 1000 });
    for (const r of wide) {
      expect(r.width).toBe(0); // ffmpeg derives it from the decoded frames (-2)
      expect(r.fps).toBe(profile.fps);
    }
    // and the heights keep the profile's rungs (an unknown size is not upscaled from)
    expect(wide.map((r) => r.height)).toEqual(buildLadder(profile, UNKNOWN_SOURCE).map((r) => r.height));
  });
  it('keeps a plausible source as it is: 1080x1920 portrait at 60 fps', () => {
    expect(plausibleSource({ ...source720, width: 1080, height: 1920, fps: 60 })).toMatchObject({ width: 1080, height: 1920, fps: 60 });
    expect(plausibleSource({ ...source720, width: 7680, height: 4320 })).toMatchObject({ width: 7680, height: 4320 });
    expect(plausibleSource({ ...source720, width: 4000, height: 900 })).toMatchObject({ width: 0, height: 0 }); // wider than 4:1
    expect(plausibleSource({ ...source720, width: 8, height: 8 })).toMatchObject({ width: 0, height: 0 });
    expect(plausibleSource({ ...source720, fps: -5 }).fps).toBe(0);
  });
});

describe('the fragment length ffmpeg is given', () => {
  it('lets the video frame that completes a part close it, also with whole-millisecond (FLV) timestamps', () => {
    const at30 = fragmentMicros({ fps: 30 }, 0.1333, 48000);
    // ffmpeg closes the fragment before the first packet at least this far past its start
    expect(at30).toBeLessThanOrEqual(133_000); // 4 frames of a copied FLV source: 133 or 134 ms
    expect(at30).toBeGreaterThan(100_000); // not after 3 frames
    expect(at30).toBeGreaterThan(128_000); // nor on the 6 AAC frames (48 kHz) inside the part
    expect(fragmentMicros({ fps: 24 }, 0.2, 48000)).toBe(207_333); // 5 frames at 24 fps, 1 ms under
    // an audio-only rung: 7 AAC frames (149.3 ms) at 48 kHz, 6 (139.3 ms) at 44.1 kHz
    expect(fragmentMicros({ fps: 0, audioOnly: true }, 0.1333, 48000)).toBe(148_333);
    expect(fragmentMicros({ fps: 0, audioOnly: true }, 0.1333, 44100)).toBe(Math.round((6 * 1024 / 44100) * 1e6) - 1000);
  });
});

describe('the first segments of an encoder run', () => {
  it('are one part, then PART-HOLD-BACK, in whole frames, each at most half a segment, keyed on those frames', () => {
    expect(earlySegments(2, partTargetFor(0.2, 30), 3).map((d) => +d.toFixed(6))).toEqual([0.2, 0.6]);
    expect(earlySegments(2, partTargetFor(0.2, 30), 2).map((d) => +d.toFixed(6))).toEqual([0.2, 0.4]);
    expect(earlyKeyframes(2, partTargetFor(0.2, 30), 3, 30)).toEqual([6, 24]);
    expect(earlyKeyframes(2, partTargetFor(0.2, 30), 2, 30)).toEqual([6, 18]);
    // 24 fps: a part is 5 frames (0.2083 s)
    expect(earlyKeyframes(2, partTargetFor(0.2, 24), 3, 24)).toEqual([5, 20]);
    // short segments: half of one at most
    expect(earlySegments(1, partTargetFor(0.2, 30), 3).map((d) => +d.toFixed(6))).toEqual([0.2, 0.5]);
    expect(earlySegments(2, 1, 3)).toEqual([1, 1]);
    const profile = profiles.get('default')!;
    const argv = planToArgv(buildFfmpegPlan(buildLadder(profile, source720), profile, (r) => `unix:/run/lo/${r}.sock`));
    const keyed = 'expr:eq(n,6)+eq(n,18)';
    expect(argv.filter((a) => a.startsWith('expr:eq(n,'))).toEqual([keyed, keyed, keyed]);
  });
});
