/**
 * The Fastify app: media routes, API, player. Errors become JSON with a status that matches
 * who is at fault: a client's mistake is 4xx, never 500, and a 5xx body never leaks internals.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { SessionManager } from '../session/manager.js';
import type { StreamEvents } from '../events.js';
import { mediaRoutes } from './media-routes.js';
import { vodRoutes } from './vod-routes.js';
import type { Recordings } from '../record/recorder.js';
import { apiRoutes } from './api-routes.js';
import { playerRoutes } from './player-routes.js';
import { cacheHeaders } from './cache-policy.js';
import { addCors } from './cors.js';
import fastifySwagger from '@fastify/swagger';
import { Gauge } from 'prom-client';
import { createMetrics, type RtmpDoorStats } from './metrics.js';
import { HeldRequests } from './held-requests.js';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-limits.js';
import type { Cluster } from '../cluster/cluster.js';
import type { PeerProxy } from '../cluster/peer-proxy.js';

/** What the app serves from. */
export interface OriginOptions {
  logger: Logger;
  sessions: SessionManager;
  events: StreamEvents;
  publicUrl: string | undefined;
  playerRoot: string;
  /** With a certificate: HTTPS with HTTP/2 (HTTP/1.1 still allowed for old clients and CDNs). */
  tls?: { cert: Buffer; key: Buffer };
  /** Admin bearer token (ORIGIN_ADMIN_TOKEN); admin routes are off without it. */
  adminToken?: string;
  /** Signed playback secret (ORIGIN_PLAYBACK_SECRET); media needs a token in the path with it. */
  playbackSecret?: string;
  /** The RTMP port's door: refusals by reason and open connections, for /metrics. */
  rtmp?: RtmpDoorStats;
  /** Caps and timeouts (DEFAULT_HTTP_LIMITS for what is not given). */
  limits?: Partial<HttpLimits>;
  /** ORIGIN_SYNC_LATENCY: the bundled player's default wall-clock target (off when undefined). */
  syncLatencySeconds?: number | undefined;
  /** Recordings in the store: /vod/… and /api/recordings (absent: those routes are not there). */
  recordings?: Recordings | undefined;
  /** Cluster mode: the registry and the proxy to the other nodes. */
  cluster?: Cluster | undefined;
  peers?: PeerProxy | undefined;
}

const MAX_ECHO = 200;
/** 503s that are the protocol or a cap, not a failure: sent with their own message, not logged as errors. */
const OVERLOAD_CODES = new Set(['ERR_HOLD_TIMEOUT', 'ERR_TOO_MANY_HELD', 'ERR_TOO_MANY_STREAMS', 'ERR_STORAGE_READ']);


/** Builds (does not listen) the origin app. */
export async function buildOrigin(opts: OriginOptions): Promise<FastifyInstance> {
  // HTTP/2 multiplexes LL-HLS's held playlist and part requests on one connection instead of
  // eating into a browser's 6 HTTP/1.1 connections per host. (Typed as the HTTP/1 app: the
  // routes only use what both servers offer.)
  const limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const transport = (opts.tls
    ? {
        http2: true,
        http2SessionTimeout: limits.keepAliveSeconds * 1000,
        https: { allowHTTP1: true, cert: opts.tls.cert, key: opts.tls.key, settings: { maxConcurrentStreams: limits.http2MaxStreams } },
      }
    : // Node checks the request timeout every connectionsCheckingInterval (30 s by default): a 10 s
      // timeout would then cut a slow sender off after 30-40 s.
      { http: { connectionsCheckingInterval: 1000 } }) as object;
  // (HTTP/1.1 over TLS shares the HTTP/2 server, where Node has no per-connection request cap;
  // there maxConcurrentStreams bounds a connection instead.)
  const app = Fastify({
    ...transport,
    // Fastify's defaults are 0 (none): a client could take minutes to send its headers.
    requestTimeout: limits.requestTimeoutSeconds * 1000,
    keepAliveTimeout: limits.keepAliveSeconds * 1000,
    loggerInstance: opts.logger.child({ component: 'http' }),
    // A busy origin must not log every segment request at info; onResponse logs at debug.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 256, ignoreDuplicateSlashes: false },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  if (!opts.tls) {
    app.server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
    // A client that pipelines past the cap without waiting for the `Connection: close` is not a
    // player: its connection goes, so Node stops parsing (and answering) the rest of its requests.
    app.server.on('dropRequest', (_req: unknown, socket: import('node:stream').Duplex) => socket.destroy());
  }

  // CORS for players on other origins: simple GETs, and preflights for Range requests.
  addCors(app);
  // Metrics: every answer counted by route pattern (bounded labels), status and bytes.
  const held = new HeldRequests({ perRendition: limits.maxHeldPerRendition, total: limits.maxHeld });
  const metrics = createMetrics(opts.sessions, opts.rtmp, held);
  for (const m of opts.recordings?.metrics ?? []) metrics.register.registerMetric(m);
  const peerStats = opts.peers?.stats;
  if (peerStats) {
    // cluster: what this node asked of the other nodes (each piece once, whatever its viewer count)
    new Gauge({ name: 'origin_peer_requests', help: 'Requests answered by asking another node (since start)', registers: [metrics.register], collect() { this.set(peerStats.requests); } });
    new Gauge({ name: 'origin_peer_upstream_requests', help: 'Requests that went to another node (after coalescing and the piece cache; since start)', registers: [metrics.register], collect() { this.set(peerStats.upstreamRequests); } });
    new Gauge({ name: 'origin_peer_upstream_bytes', help: 'Body bytes received from other nodes (after coalescing and the piece cache; since start)', registers: [metrics.register], collect() { this.set(peerStats.upstreamBytes); } });
    new Gauge({ name: 'origin_peer_failures', help: 'Requests to another node that got no answer (since start)', registers: [metrics.register], collect() { this.set(peerStats.failures); } });
  }
  // (a callback hook, not an async one: no promise per request)
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const bodyless = req.method === 'HEAD' || reply.statusCode === 304;
    const sent = bodyless ? 0 : Number(reply.getHeader('content-length') ?? 0);
    metrics.observeHttp(route, req.method, reply.statusCode, sent, reply.elapsedTime / 1000);
    done();
  });
  // The OpenAPI document is made from the route schemas (served by apiRoutes at /api/openapi.json).
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'live-origin', version: '0.1.0', description: 'Live HLS origin: streams, operations and admin API' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ORIGIN_ADMIN_TOKEN' } } },
    },
    hideUntagged: true,
  });
  // Per-request logs only at debug (a busy origin must not flood its logs); the hook is not even
  // installed otherwise, to keep the hot path short.
  if (opts.logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    });
  }

  app.setErrorHandler((err: FastifyError, req, reply) => {
    // A miss on a media path may be an upcoming segment: a CDN must not remember it for long.
    if (req.url.startsWith('/live/') || req.url.startsWith('/vod/')) reply.headers(cacheHeaders('mediaMiss'));
    if (err.validation) {
      return reply.code(400).send({ error: 'Bad Request', code: 'ERR_BAD_REQUEST', message: `invalid ${err.validationContext ?? 'request'}: ${err.message}`.slice(0, 300) });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    // A held request that timed out is the protocol working (503 + Retry-After), not a failure;
    // a cap reached is the server protecting itself, said as such.
    if (status === 503 && OVERLOAD_CODES.has(err.code)) {
      return reply.code(503).send({ error: STATUS_CODES[503], code: err.code, message: err.message });
    }
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: 'Internal Server Error', code: 'ERR_INTERNAL', message: 'internal error' });
    }
    return reply.code(status).send({ error: STATUS_CODES[status] ?? 'Error', code: err.code, message: err.message.slice(0, 300) });
  });

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/live/') || req.url.startsWith('/vod/')) reply.headers(cacheHeaders('mediaMiss'));
    reply.code(404).send({ error: 'Not Found', code: 'ERR_NOT_FOUND', message: `no route for ${req.method} ${req.url.slice(0, MAX_ECHO)}` });
  });

  // CONNECT is not routed by Fastify; without this Node just drops the socket.
  app.server.on('connect', (_req: unknown, socket: import('node:stream').Duplex) => {
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  await app.register(mediaRoutes, { sessions: opts.sessions, playbackSecret: opts.playbackSecret, held, cluster: opts.cluster, peers: opts.peers });
  await app.register(apiRoutes, {
    sessions: opts.sessions, publicUrl: opts.publicUrl, events: opts.events, metrics, adminToken: opts.adminToken, playbackSecret: opts.playbackSecret,
    sse: { max: limits.sseMax, maxPerIp: limits.sseMaxPerIp, lifetimeMs: limits.sseLifetimeSeconds * 1000 },
    syncLatencySeconds: opts.syncLatencySeconds,
    cluster: opts.cluster, peers: opts.peers,
  });
  if (opts.recordings) {
    await app.register(vodRoutes, { recordings: opts.recordings, playbackSecret: opts.playbackSecret, adminToken: opts.adminToken, publicUrl: opts.publicUrl, logger: opts.logger });
  }
  await app.register(playerRoutes, { root: opts.playerRoot });
  return app;
}
