/**
 * Held requests (LL-HLS blocking playlist reloads and preload-hint parts) are the one thing a
 * client can make the origin keep for seconds at no cost to itself: 5000 pipelined blocking
 * reloads a second held 6 s each pushed /healthz to 285 ms and RSS up by 170 MiB, and a waiter
 * outlived its client by 6 s. Here every hold has a bound per rendition and per server (past it:
 * 503 + Retry-After at once, the player retries), and ends the moment its client disconnects.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERR_TOO_MANY_HELD } from '../errors.js';

/** Something requests wait on (a rendition window). */
export interface Waitable {
  readonly name: string;
  waitUntil(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
}

export interface HoldLimits {
  /** Requests held at once for one rendition. */
  perRendition: number;
  /** Requests held at once on this server. */
  total: number;
}

/** How a hold ended: what it waited for is there, the time ran out, or the client left. */
export type HoldOutcome = 'ready' | 'timeout' | 'gone';

export class HeldRequests {
  private held = 0;
  private readonly perWindow = new WeakMap<Waitable, number>();
  /** Holds refused because a cap was reached (for /metrics). */
  refused = 0;

  constructor(private readonly limits: HoldLimits) {}

  /** Requests held right now. */
  get count(): number {
    return this.held;
  }

  /**
   * Holds `req` until `ready()` or `timeoutMs`; throws ERR_TOO_MANY_HELD (503) past a cap. The
   * wait ends early when the client disconnects (the waiter and its timer are gone at once).
   */
  async hold(req: FastifyRequest, reply: FastifyReply, window: Waitable, ready: () => boolean, timeoutMs: number): Promise<HoldOutcome> {
    if (ready()) return 'ready';
    const mine = this.perWindow.get(window) ?? 0;
    if (this.held >= this.limits.total || mine >= this.limits.perRendition) {
      this.refused++;
      reply.header('retry-after', '1');
      throw new ERR_TOO_MANY_HELD(this.held >= this.limits.total ? `${this.held} requests are held on this server` : `${mine} requests are held for rendition ${window.name}`);
    }
    const abort = new AbortController();
    const gone = () => {
      if (!reply.sent) abort.abort();
    };
    req.raw.once('close', gone);
    this.held++;
    this.perWindow.set(window, mine + 1);
    try {
      const ok = await window.waitUntil(ready, timeoutMs, abort.signal);
      return ok ? 'ready' : abort.signal.aborted ? 'gone' : 'timeout';
    } finally {
      this.held--;
      this.perWindow.set(window, (this.perWindow.get(window) ?? 1) - 1);
      req.raw.off('close', gone);
    }
  }
}
