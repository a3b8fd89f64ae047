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
   * 250: each reconnect costs the server (and wrk, and a CDN) a handshake, and at 100 that was
   * ~13 % of the playlist rate in bench:serve; but the cap is also what one pipelined burst can make
   * the server parse and route in one go. The hostile-client bar's 5000 pipelined blocking reloads
   * each second pushed /healthz to 49 ms at 100, 72 ms at 250 and 120 ms at 1000 (nginx's
   * keepalive_requests), with RSS +36-71 MiB and no trend below 1000 (../shared/acceptance/bars/hardening).
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
  maxRequestsPerConnection: 250,
};
