import { describe, expect, it } from 'vitest';
import { loadProfiles, validateProfile } from '../../../server/transcode/profiles.js';

const good = {
  segmentSeconds: 2,
  rungs: [{ name: '360p', height: 360, videoBitrate: 700, maxrate: 800, bufsize: 800, audioBitrate: 64 }],
};

describe('transcode profiles', () => {
  it('loads every shipped profile', () => {
    const profiles = loadProfiles('transcode-profiles');
    expect([...profiles.keys()]).toEqual(['1080p', 'default', 'low-cpu', 'passthrough']);
    expect(profiles.get('default')!.rungs.map((r) => r.name)).toEqual(['720p', '480p', '360p']);
    for (const p of profiles.values()) expect(Object.isFrozen(p)).toBe(true);
  });

  it('fills defaults from the schema', () => {
    const p = validateProfile(good, 'x.json');
    expect(p).toMatchObject({ partSeconds: 0.2, partHoldBackParts: 2, playlistSize: 6, x264Preset: 'superfast', fps: 30 });
    expect(p.rungs[0]).toMatchObject({ h264Profile: 'high', level: '4.0' });
  });

  it.each([
    [{ ...good, rungs: [{ ...good.rungs[0], height: 361 }] }, 'transcode-profiles/x.json: rungs[0].height must be an even integer from 144 to 2160, got 361'],
    [{ ...good, rungs: [{ ...good.rungs[0], height: 100 }] }, 'rungs[0].height must be an even integer from 144 to 2160, got 100'],
    [{ ...good, rungs: [] }, 'rungs must be a list with at least 1 item(s)'],
    [{ ...good, x264Preset: 'placebo' }, 'x264Preset must be one of "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", got "placebo"'],
    [{ ...good, rungs: [{ ...good.rungs[0], maxrate: 500 }] }, 'rungs[0].maxrate must be ≥ videoBitrate (700)'],
    [{ ...good, bogus: 1 }, 'bogus is not a known setting'],
    // RFC 8216bis: PART-HOLD-BACK is at least 2 parts
    [{ ...good, partHoldBackParts: 1 }, 'x.json: partHoldBackParts must be an integer from 2 to 6, got 1'],
    [{ ...good, partHoldBackParts: 2.5 }, 'x.json: partHoldBackParts must be an integer from 2 to 6, got 2.5'],
    [{ ...good, rungs: [{ name: '360p' }] }, 'rungs[0].height is required'],
  ])('names the file, the field and what is allowed (%#)', (data, message) => {
    expect(() => validateProfile(data, 'transcode-profiles/x.json')).toThrow(message);
  });
});

describe('passthrough rungs in a profile', () => {
  const pass = { name: 'source', passthrough: true, videoBitrate: 2500, maxrate: 2800, bufsize: 2800, audioBitrate: 128 };
  it('takes a passthrough rung without a height', () => {
    expect(validateProfile({ ...good, rungs: [pass, good.rungs[0]] }, 'x.json').rungs[0]).toMatchObject({ passthrough: true });
  });
  it.each([
    [{ ...good, rungs: [{ ...pass, height: 720 }] }, "x.json: rungs[0].height must be left out of a passthrough rung (it has the source's size)"],
    [{ ...good, rungs: [pass, { ...pass, name: 'again' }] }, 'x.json: rungs: at most one rung may be passthrough'],
    [{ ...good, rungs: [{ ...pass, passthrough: false }] }, 'x.json: rungs[0].height is required (an even number from 144 to 2160) unless passthrough is true'],
    [{ ...good, rungs: [{ ...pass, passthrough: 'yes' }] }, 'x.json: rungs[0].passthrough must be true or false'],
  ])('refuses a bad passthrough rung with a message (%#)', (data, message) => {
    expect(() => validateProfile(data, 'x.json')).toThrow(message);
  });
});
