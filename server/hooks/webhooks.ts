/**
 * Webhooks: stream.started, stream.ended and stream.failed POSTed as JSON to every
 * ORIGIN_WEBHOOK_URLS entry, signed, retried with backoff, never in the way of ingest (delivery
 * runs on its own promises; a slow or dead receiver only delays its own later attempts).
 *
 * Signature (like GitHub's and Stripe's): `X-Origin-Signature: sha256=<hex HMAC-SHA256 of the raw
 * body>` with ORIGIN_WEBHOOK_SECRET; the body carries `id` and `at`, so a receiver can drop replays
 * and duplicates (a retried delivery keeps its id).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StreamEvent, type StreamEventMap, type StreamEvents } from '../events.js';

/** Delays before the 2nd, 3rd, … attempt: 5 attempts over ~15 s. */
export const RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000, 8000];
/** One attempt waits this long for an answer. */
const ATTEMPT_TIMEOUT_MS = 5000;
/** Deliveries in flight at most; more are dropped with a warning (memory stays bounded). */
const MAX_IN_FLIGHT = 1000;

/** The signature header value for `body`. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Options of the sender. */
export interface WebhookOptions {
  urls: readonly string[];
  secret: string | undefined;
  logger: Logger;
  /** Delays between attempts (tests shorten them). */
  retryDelaysMs?: readonly number[];
}

const FORWARDED = [StreamEvent.Started, StreamEvent.Ended, StreamEvent.Failed] as const;

/** Subscribes to the events; returns the function that stops (pending retries are dropped). */
export function startWebhooks(events: StreamEvents, opts: WebhookOptions): () => void {
  const log = opts.logger.child({ component: 'webhooks' });
  const delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
  let inFlight = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      t.unref();
      timers.add(t);
    });

  async function deliver(url: string, event: string, body: string, id: string): Promise<void> {
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'live-origin-webhook',
      'x-origin-event': event,
      'x-origin-delivery': id,
      ...(opts.secret ? { 'x-origin-signature': signBody(opts.secret, body) } : {}),
    };
    for (let attempt = 0; attempt <= delays.length && !stopped; attempt++) {
      if (attempt > 0) await wait(delays[attempt - 1]!);
      if (stopped) return;
      try {
        // redirect 'manual': a redirect is an answer (not 2xx: retried, then given up), never followed.
        const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS), redirect: 'manual' });
        await res.body?.cancel();
        if (res.ok) {
          log.debug({ url, event, id, attempt }, 'webhook delivered');
          return;
        }
        log.warn({ url, event, id, attempt, status: res.status }, 'webhook refused; retrying');
      } catch (err) {
        log.warn({ url, event, id, attempt, error: (err as Error).message }, 'webhook failed; retrying');
      }
    }
    if (!stopped) log.error({ url, event, id, attempts: delays.length + 1 }, 'webhook given up');
  }

  function send<E extends (typeof FORWARDED)[number]>(event: E, payload: StreamEventMap[E]): void {
    const { name, at, ...details } = payload;
    const id = randomUUID();
    const body = JSON.stringify({ id, event, stream: name, at: new Date(at).toISOString(), ...details });
    for (const url of opts.urls) {
      if (inFlight >= MAX_IN_FLIGHT) {
        log.warn({ url, event }, 'webhook dropped: too many deliveries pending');
        continue;
      }
      inFlight++;
      void deliver(url, event, body, id).finally(() => inFlight--);
    }
  }

  const off = FORWARDED.map((e) => events.on(e, (p) => send(e, p)));
  return () => {
    stopped = true;
    off.forEach((o) => o());
    for (const t of timers) clearTimeout(t);
  };
}
