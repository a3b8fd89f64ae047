/**
 * Keeping viewers in step (pure; the watch page applies it). Every player steers its playback rate
 * so that `server now − PROGRAM-DATE-TIME of the frame on screen` stays at one target: PDT is
 * stamped by the server's clock at ingest, so players that agree on the server's time show the
 * same moment. A player learns the server's time from `/api/time` (the request with the shortest
 * round trip of a few, NTP's way: offset = server time − the middle of the round trip), so a
 * machine whose clock is off by seconds still agrees. The rate stays within 0.95–1.05 (inaudible);
 * far off (a join, a stall) it seeks instead, so that a stall does not push a viewer back for good.
 */

/** One clock sample: client time before and after the request, and the server's time in the answer (ms). */
export interface ClockSample {
  sentAt: number;
  receivedAt: number;
  serverNow: number;
}

/** server clock − client clock (ms), from the sample with the shortest round trip. */
export function clockOffset(samples: readonly ClockSample[]): number | undefined {
  const best = [...samples].sort((a, b) => a.receivedAt - a.sentAt - (b.receivedAt - b.sentAt))[0];
  return best ? best.serverNow - (best.sentAt + best.receivedAt) / 2 : undefined;
}

export const SYNC = {
  /** Slowest and fastest playback rate used to steer. */
  minRate: 0.95,
  maxRate: 1.05,
  /** Rate change per second of error (0.05 s late → 1.05). */
  gain: 1,
  /** Within this (s) of the target, play at 1. */
  deadband: 0.01,
  /** Beyond this (s) from the target, seek instead of steering. */
  seekBeyond: 1,
} as const;

/** What to do for a latency `error` (s, positive: behind the target): a rate, or a seek by that many seconds. */
export function steer(error: number): { rate: number } | { seekBy: number } {
  if (Math.abs(error) > SYNC.seekBeyond) return { seekBy: error };
  if (Math.abs(error) < SYNC.deadband) return { rate: 1 };
  return { rate: Math.min(SYNC.maxRate, Math.max(SYNC.minRate, 1 + error * SYNC.gain)) };
}
