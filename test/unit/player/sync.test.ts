import { describe, expect, it } from 'vitest';
import { clockOffset, steer, SYNC } from '../../../player/src/sync.js';

describe('keeping viewers in step (player/src/sync.ts)', () => {
  it('takes the server clock offset from the shortest round trip, at its middle', () => {
    // the client clock is 1500 ms fast: the server said 10_000 when the client read 11_500 ± RTT/2
    const samples = [
      { sentAt: 11_480, receivedAt: 11_560, serverNow: 10_020 }, // 80 ms round trip
      { sentAt: 11_495, receivedAt: 11_505, serverNow: 10_000 }, // 10 ms: this one
      { sentAt: 11_400, receivedAt: 11_700, serverNow: 9_950 },
    ];
    expect(clockOffset(samples)).toBe(-1500);
    expect(clockOffset([])).toBeUndefined();
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
