/**
 * When to restart a failed ffmpeg, and when to give up (pure). Backoff 0.5, 1, 2, 4 ... 30 s
 * (the first restart within 1 s); a run that stayed healthy for a minute resets it; more than
 * MAX_FAILURES failures within WINDOW_MS mark the stream failed.
 */

/** Failures within the window that make a stream failed. */
export const MAX_FAILURES = 5;
/** The window for counting failures. */
export const WINDOW_MS = 2 * 60_000;
/** A run this long was healthy: the backoff starts over. */
export const HEALTHY_MS = 60_000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Counts failures and gives the next delay. */
export class RestartPolicy {
  private times: number[] = [];

  /** Failures that count right now. */
  get failures(): number {
    return this.times.length;
  }

  /**
   * Records a failure of a run that lasted `ranMs`; returns the delay before the next start, or
   * undefined when the stream should be marked failed.
   */
  failure(now: number, ranMs: number): number | undefined {
    if (ranMs >= HEALTHY_MS) this.times = [];
    this.times = this.times.filter((t) => now - t < WINDOW_MS);
    this.times.push(now);
    if (this.times.length > MAX_FAILURES) return undefined;
    return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.times.length - 1));
  }
}
