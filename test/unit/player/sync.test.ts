import { describe, expect, it } from 'vitest';
import { clockOffset, steer, SYNC } from '../../../player/src/sync.js';

describe('keeping viewers in step (player/src/sync.ts)', () => {
  it('corrects the client clock only by what the samples prove: the bound of their intersection closest to 0', () => {
    // the client clock is 1500 ms fast: each sample bounds the offset to [serverNow − receivedAt, serverNow − sentAt]
    const samples = [
      { sentAt: 11_480, receivedAt: 11_560, serverNow: 10_020 }, // [−1540, −1460]
      { sentAt: 11_495, receivedAt: 11_505, serverNow: 10_000 }, // [−1505, −1495]: the tightest
      { sentAt: 11_400, receivedAt: 11_700, serverNow: 9_950 }, //  [−1750, −1450]
    ];
    expect(clockOffset(samples)).toBe(-1495);
    // two samples that each leave ±40 ms narrow it together: [−1510, −1490] ∩ [−1530, −1502] = [−1510, −1502]
    expect(clockOffset([
      { sentAt: 11_490, receivedAt: 11_510, serverNow: 10_000 },
      { sentAt: 12_002, receivedAt: 12_030, serverNow: 10_500 },
    ])).toBe(-1502);
    expect(clockOffset([])).toBeUndefined();
  });

  it('leaves a right clock alone behind a lopsided link, where the middle of the round trip would be 50 ms off', () => {
    // correct client clock; the answers (not the requests) are delayed by 100 ms, as Chromium's emulated latency does
    const samples = [1000, 2000, 3000].map((t) => ({ sentAt: t, receivedAt: t + 102, serverNow: t + 1 }));
    expect(clockOffset(samples)).toBe(0);
    // a client 30 ms slow on such a link: within the bound, so it is left alone too (the samples cannot tell)
    expect(clockOffset(samples.map((s) => ({ ...s, serverNow: s.serverNow + 30 })))).toBe(0);
    // but one 150 ms slow is outside every bound: corrected to the nearest bound, [49, 151] → 49
    expect(clockOffset(samples.map((s) => ({ ...s, serverNow: s.serverNow + 150 })))).toBe(49);
  });

  it('falls back to the shortest round trip when the samples disagree (the client clock stepped)', () => {
    const samples = [
      { sentAt: 1000, receivedAt: 1010, serverNow: 2005 }, // offset ≈ 1000
      { sentAt: 5000, receivedAt: 5020, serverNow: 5010 }, // offset ≈ 0: the clock was stepped in between
    ];
    expect(clockOffset(samples)).toBe(1000);
  });

  it('steers the rate within 0.95-1.05, plays at 1 near the target, and seeks when far off', () => {
    expect(steer(0)).toEqual({ rate: 1 });
    expect(steer(0.005)).toEqual({ rate: 1 });
    expect(steer(0.02)).toEqual({ rate: 1 + 0.02 * SYNC.gain });
    expect(steer(0.5)).toEqual({ rate: SYNC.maxRate });
    expect(steer(-0.5)).toEqual({ rate: SYNC.minRate });
    expect(steer(3)).toEqual({ seekBy: 3 }); // after a stall: jump, do not stay behind
    expect(steer(-2)).toEqual({ seekBy: -2 });
  });
});
