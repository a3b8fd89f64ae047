/**
 * Keeping viewers in step (pure; the watch page applies it). Every player steers its playback rate
 * so that `server now − PROGRAM-DATE-TIME of the frame on screen` stays at one target: PDT is
 * stamped by the server's clock at ingest, so players that agree on the server's time show the
 * same moment. A player learns the server's time from `/api/time` (a few requests, see clockOffset),
 * so a machine whose clock is off by seconds still agrees. The rate stays within 0.95–1.05 (inaudible);
 * far off (a join, a stall) it seeks instead, so that a stall does not push a viewer back for good.
 */

/** One clock sample: client time before and after the request, and the server's time in the answer (ms). */
export interface ClockSample {
  sentAt: number;
  receivedAt: number;
  serverNow: number;
}

/**
 * server clock − client clock (ms). Each sample bounds it: the server read its clock somewhere
 * between our send and our receive, so the offset lies in [serverNow − receivedAt, serverNow − sentAt];
 * all samples together bound it to the intersection. Within that interval we take the value closest
 * to 0, i.e. we correct the local clock only by as much as the samples prove it wrong: a machine
 * kept right by NTP stays exact even when its path is lopsided (a slow link that delays only the
 * answers puts NTP's midpoint estimate RTT/2 off — 50 ms behind an emulated 100 ms link, measured
 * in test/browser/sync.test.ts), and a clock that is seconds off is corrected to within one loopback
 * or LAN round trip. If the samples disagree (the client clock stepped between them), NTP's
 * estimate from the shortest round trip is used.
 */
export function clockOffset(samples: readonly ClockSample[]): number | undefined {
  if (samples.length === 0) return undefined;
  const low = Math.max(...samples.map((s) => s.serverNow - s.receivedAt));
  const high = Math.min(...samples.map((s) => s.serverNow - s.sentAt));
  if (low <= high) return Math.min(high, Math.max(low, 0));
  const best = [...samples].sort((a, b) => a.receivedAt - a.sentAt - (b.receivedAt - b.sentAt))[0]!;
  return best.serverNow - (best.sentAt + best.receivedAt) / 2;
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
  /**
   * How far (s) the newest part in the playlist lags the live moment PROGRAM-DATE-TIME counts
   * from (ingest): the encode and the part's own length; the page asks hls.js to start this much
   * closer to the newest part than its target (measured: now − PDT − hls.latency ≈ 0.1-0.2 s).
   */
  edgeLag: 0.15,
} as const;

/** What to do for a latency `error` (s, positive: behind the target): a rate, or a seek by that many seconds. */
export function steer(error: number): { rate: number } | { seekBy: number } {
  if (Math.abs(error) > SYNC.seekBeyond) return { seekBy: error };
  if (Math.abs(error) < SYNC.deadband) return { rate: 1 };
  return { rate: Math.min(SYNC.maxRate, Math.max(SYNC.minRate, 1 + error * SYNC.gain)) };
}
