/**
 * What HTTP clients may hold of the origin, with defaults (pure data: config/schema.ts takes its
 * defaults from here, app.ts applies them). Each bound is a setting; see the README's table.
 */

/** Bounds on what HTTP clients can hold (defaults: DEFAULT_HTTP_LIMITS). */
export interface HttpLimits {
  /** Blocking reloads and preload-hint parts held at once, per rendition and per server. */
  maxHeldPerRendition: number;
  maxHeld: number;
  /** /api/events streams at once, per server and per address, and how long one lasts (s). */
  sseMax: number;
  sseMaxPerIp: number;
  sseLifetimeSeconds: number;
  /** Time to receive a whole request (headers included): slow senders are cut off (s). */
  requestTimeoutSeconds: number;
  /** An idle keep-alive connection is closed after this (s); above a CDN's own (nginx: 60 s). */
  keepAliveSeconds: number;
  /** HTTP/2 streams at once per connection. */
  http2MaxStreams: number;
  /**
   * Requests one HTTP/1.1 connection may make; the last answer says `Connection: close`, and a
   * client that pipelines past it loses the connection, its requests never reaching the routes.
   * 1000 as nginx's `keepalive_requests`: at 100, wrk (and a CDN) reconnecting after every 100th
   * answer cost ~13 % of the playlist rate in bench:serve. What it bounds is per connection (a
   * pipelined request costs ~50 us of event loop; 1000 on one connection each second, 5 %); the
   * held-request caps bound what many connections can hold.
   */
  maxRequestsPerConnection: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxHeldPerRendition: 1000,
  maxHeld: 4000,
  sseMax: 1000,
  sseMaxPerIp: 20,
  sseLifetimeSeconds: 600,
  requestTimeoutSeconds: 10,
  keepAliveSeconds: 72,
  http2MaxStreams: 128,
  maxRequestsPerConnection: 1000,
};
