/**
 * A rate over a sliding window from samples of a growing total (pure): bytes received -> bit
 * rate, frames -> frame rate, media seconds produced -> transcoder speed. Sampled once a second by
 * the session, read by the API and /metrics (so several scrapers see the same value).
 */
export class RateMeter {
  private samples: Array<{ at: number; total: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  /** Records the total at `at` (ms). */
  sample(at: number, total: number): void {
    this.samples.push({ at, total });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
  }

  /** Units per second over the window; 0 with fewer than two samples. */
  get perSecond(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at <= first.at) return 0;
    return ((last.total - first.total) * 1000) / (last.at - first.at);
  }

  /** Forgets the history (a new encoder run starts from zero). */
  reset(): void {
    this.samples = [];
  }
}
