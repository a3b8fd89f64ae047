import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan, planToArgv } from '../../../server/transcode/ffmpeg-args.js';
import { buildLadder, passthroughProblem, UNKNOWN_SOURCE, type SourceInfo } from '../../../server/transcode/ladder.js';
import { loadProfiles } from '../../../server/transcode/profiles.js';

const profile = loadProfiles('transcode-profiles').get('passthrough')!;
const obs: SourceInfo = {
  ...UNKNOWN_SOURCE, videoCodec: 'h264', width: 1280, height: 720, fps: 30, videoKbps: 3000, audioCodec: 'aac',
  avcProfile: 100, avcLevel: 31, gopSeconds: 2, gopIntervals: 3,
};

describe('passthrough rung', () => {
  it('copies browser-playable H.264 whose keyframes fit the segments', () => {
    for (const gopSeconds of [2, 1, 0.5, 2.033]) expect(passthroughProblem({ ...obs, gopSeconds }, 2)).toBeUndefined();
    const ladder = buildLadder(profile, obs);
    expect(ladder.map((r) => [r.name, r.passthrough ?? false, r.width, r.height])).toEqual([['source', true, 1280, 720], ['360p', false, 640, 360]]);
    const source = ladder[0]!;
    expect(source).toMatchObject({ fps: 30, gop: 0, videoKbps: 3000, maxrateKbps: 3750, h264Profile: 'high', level: '3.1' });
    expect(source.partTarget).toBeCloseTo(0.2 + 0.002, 9); // 6 frames of ms-rounded timestamps
  });

  it.each([
    [{ gopSeconds: 8.333 }, "the source's keyframe interval is 8.33 s, which does not fit 2 s segments: set OBS Settings > Output > Streaming > Keyframe Interval to 2 s (or 1 s)"],
    [{ gopSeconds: 1.5 }, "keyframe interval is 1.50 s, which does not fit 2 s segments"],
    [{ gopSeconds: 3.6, gopIntervals: 0 }, 'keyframe interval is at least 3.60 s'],
    [{ gopSeconds: 0, gopIntervals: 0 }, 'keyframe interval is unknown'],
    [{ videoCodec: 'hevc' }, 'the source video is hevc, not H.264'],
    [{ avcProfile: 110 }, "the source's H.264 profile High 10 does not play in browsers (Baseline, Main or High do)"],
    [{ avcProfile: 0 }, 'the source sent no H.264 sequence header'],
  ])('re-encodes the rung at the source size when it cannot copy, and says why (%#)', (change, why) => {
    const source = { ...obs, ...change };
    expect(passthroughProblem(source, 2)).toContain(why);
    const ladder = buildLadder(profile, source);
    expect(ladder[0]).toMatchObject({ name: 'source', height: 720, width: 1280, fps: 30, gop: 60, videoKbps: 2500, maxrateKbps: 2800 });
    expect(ladder[0]!.passthrough).toBeUndefined();
  });

  it('copies the video and puts the encoded rungs\' keyframes on the source\'s', () => {
    const plan = buildFfmpegPlan(buildLadder(profile, obs), profile, (r) => `unix:/x/${r}.sock`);
    const [copy, small] = plan.outputs;
    expect(copy!.options.slice(0, 6)).toEqual(['-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy']);
    expect(small!.options.join(' ')).toContain('-force_key_frames source -g 120 -keyint_min 60 -sc_threshold 0');
    expect(plan.filterComplex).toBe('[0:v:0]split=1[s0];[s0]fps=30,scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v0]');
    // a ladder of the copy alone needs no filter graph at all
    const alone = buildFfmpegPlan(buildLadder({ ...profile, rungs: [profile.rungs[0]!] }, obs), profile, (r) => `unix:/x/${r}.sock`);
    expect(planToArgv(alone)).not.toContain('-filter_complex');
  });
});
