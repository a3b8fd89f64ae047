/**
 * The JSON API: the list of streams for the player and for operators, one stream's details, the
 * health check, Prometheus metrics, and the admin routes (kick, sessions, playback tokens) behind
 * a bearer token. Names only, never keys. Route schemas (TypeBox) validate input and make the
 * OpenAPI document at /api/openapi.json (@fastify/swagger).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import '@fastify/swagger'; // types: route schema tags/security and app.swagger()
import type { SessionManager } from '../session/manager.js';
import type { LiveSession } from '../session/live-session.js';
import { StreamEvent, type StreamEvents } from '../events.js';
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import { ERR_ADMIN_DISABLED, ERR_PLAYBACK_FORBIDDEN, ERR_STREAM_NOT_FOUND, ERR_TOO_MANY_STREAMS, ERR_TOO_MANY_STREAMS_PER_IP, ERR_UNAUTHORIZED } from '../errors.js';
import { cacheHeaders } from './cache-policy.js';
import type { OriginMetrics } from './metrics.js';
import { MAX_TOKEN_SECONDS, mintToken } from './playback-token.js';
import { streamSummary } from '../session/summary.js';
import type { Cluster } from '../cluster/cluster.js';
import { HOP_HEADER, type PeerProxy } from '../cluster/peer-proxy.js';

/** What the API plugin needs. */
export interface ApiOptions {
  sessions: SessionManager;
  publicUrl: string | undefined;
  events: StreamEvents;
  metrics: OriginMetrics;
  /** Bearer token of the admin routes; without it they answer 403 (off, never open). */
  adminToken: string | undefined;
  /** Signed playback secret: URLs in answers then carry a token only when one is minted. */
  playbackSecret: string | undefined;
  /** /api/events caps: streams per server and per address, and each one's lifetime. */
  sse: { max: number; maxPerIp: number; lifetimeMs: number };
  /** ORIGIN_SYNC_LATENCY, told to players by /api/time. */
  syncLatencySeconds?: number | undefined;
  /** Cluster mode: streams of other nodes are listed, their events relayed, their details asked of them. */
  cluster?: Cluster | undefined;
  peers?: PeerProxy | undefined;
}

const Name = Type.String({ pattern: STREAM_NAME_PATTERN, description: 'public stream name' });
const ADMIN = { tags: ['admin'], security: [{ bearer: [] }] };

/**
 * What `/api/streams` answers, alike on a single node and on every node of a cluster. (Objects stay
 * open: what a stream carries besides these fields, e.g. its ladder, is passed through as it is.)
 */
const StreamList = Type.Object({
  streams: Type.Array(Type.Object({
    name: Type.String(),
    live: Type.Boolean(),
    node: Type.Union([Type.String(), Type.Null()], { description: 'the cluster node serving it (null on a single node)' }),
    state: Type.Optional(Type.String({ description: 'starting, live, reconnecting, ended or failed' })),
    startedAt: Type.Optional(Type.String()),
    endedAt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    profile: Type.Optional(Type.String()),
    playbackUrl: Type.String(),
    watchUrl: Type.String(),
    renditions: Type.Optional(Type.Array(Type.Object({ name: Type.String(), width: Type.Number(), height: Type.Number(), bandwidth: Type.Number() }))),
  }, { additionalProperties: true })),
});
/** An error answer. */
const ErrorBody = Type.Object({ error: Type.String(), code: Type.String(), message: Type.String() });
/** What `/api/cluster` answers. */
const ClusterNodes = Type.Object({
  node: Type.String({ description: 'the node that answered' }),
  redis: Type.Union([Type.Literal('up'), Type.Literal('unreachable')]),
  nodes: Type.Array(Type.Object({ id: Type.String(), url: Type.String(), ready: Type.Boolean(), streams: Type.Integer(), lastSeen: Type.String() })),
});

/** sha256 both sides so timingSafeEqual compares equal lengths and leaks nothing about the token's length. */
function sameToken(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Why the request may not use the admin routes, or undefined when it carries the admin bearer token. */
function adminProblem(req: Pick<FastifyRequest, 'headers'>, adminToken: string | undefined): Error | undefined {
  if (!adminToken) return new ERR_ADMIN_DISABLED();
  const m = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return new ERR_UNAUTHORIZED('this route needs "Authorization: Bearer <ORIGIN_ADMIN_TOKEN>"');
  return sameToken(m[1]!, adminToken) ? undefined : new ERR_UNAUTHORIZED('wrong admin token');
}

/** Throws unless the request carries the admin bearer token. */
export function requireAdmin(req: Pick<FastifyRequest, 'headers'>, adminToken: string | undefined): void {
  const problem = adminProblem(req, adminToken);
  if (problem) throw problem;
}

/** Base URL for links in API answers: ORIGIN_PUBLIC_URL, else what the client used to reach us. */
export function baseUrl(publicUrl: string | undefined, req: Pick<FastifyRequest, 'protocol' | 'host'>): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/** The API plugin. */
export const apiRoutes: FastifyPluginAsync<ApiOptions> = async (app, opts) => {
  const { sessions, publicUrl, events, metrics, adminToken, cluster, peers } = opts;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(cacheHeaders('api'));
    return payload;
  });
  // 401 says how to authenticate (RFC 6750).
  app.addHook('onError', async (_req, reply, err) => {
    if ((err as { code?: string }).code === 'ERR_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer realm="live-origin admin"');
  });

  // Admin routes check the token first (onRequest), before their input is even validated.
  const adminGuard = async (req: FastifyRequest) => requireAdmin(req, adminToken);

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));

  // Readiness for a load balancer: 503 from the shutdown signal on (while /healthz stays 200 and
  // playlists are still served), so no new publisher or viewer is sent here during the drain.
  app.get('/readyz', { schema: { tags: ['operations'], summary: 'Readiness: 200 while this node takes publishers, 503 while draining' } }, async (_req, reply) => {
    if (!sessions.accepting) {
      return reply.code(503).header('retry-after', '5').send({ status: 'draining', code: 'ERR_DRAINING', message: 'this node is shutting down; publish to another node' });
    }
    if (cluster && !cluster.redisUp) {
      return reply.code(503).header('retry-after', '2').send({ status: 'no-redis', code: 'ERR_REDIS_UNAVAILABLE', message: 'this node cannot reach the cluster\'s Redis, so it cannot fence a publish; publish to another node' });
    }
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    reply.type(metrics.register.contentType);
    return metrics.register.metrics();
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // The server's clock in ms (a Date header has whole seconds): players that steer to a wall-clock
  // target (player/src/sync.ts) correct their own clock by it, and learn the default target.
  app.get('/api/time', { schema: { tags: ['streams'], summary: 'The server clock (ms) and the default sync target of the bundled player' } }, async () => ({
    now: Date.now(),
    syncLatency: opts.syncLatencySeconds ?? null,
  }));

  // Server-sent events: the directory page updates when a stream starts or ends, without polling.
  // (SSE over a WebSocket: one-way is all it needs, it passes proxies as plain HTTP, and the
  // browser's EventSource reconnects by itself.)
  const open = new Set<import('node:http').ServerResponse>();
  const perIp = new Map<string, number>();
  const { sse } = opts;
  app.get('/api/events', { schema: { tags: ['streams'], summary: 'Server-sent events: stream.started, stream.ready, stream.ended, stream.failed' } }, (req, reply) => {
    // Each stream is a socket and a listener for as long as the client likes: capped per server and
    // per address, and ended after a lifetime (EventSource reconnects by itself, `retry` below).
    const ip = req.ip;
    // A refused stream's connection goes too (HTTP/1.1): 5000 refused attempts left 5000 idle
    // keep-alive sockets behind, ~60 MiB.
    if (req.raw.httpVersionMajor === 1 && (open.size >= sse.max || (perIp.get(ip) ?? 0) >= sse.maxPerIp)) reply.header('connection', 'close');
    if (open.size >= sse.max) {
      reply.header('retry-after', '30');
      throw new ERR_TOO_MANY_STREAMS(`the server has ${open.size} event streams open (ORIGIN_SSE_MAX); retry later`);
    }
    const mine = perIp.get(ip) ?? 0;
    if (mine >= sse.maxPerIp) {
      reply.header('retry-after', '30');
      throw new ERR_TOO_MANY_STREAMS_PER_IP(`${mine} event streams are open from this address (ORIGIN_SSE_MAX_PER_IP)`);
    }
    perIp.set(ip, mine + 1);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      // HTTP/1.1: the connection is the stream's; when its lifetime ends, both go (HTTP/2 forbids the header)
      ...(req.raw.httpVersionMajor === 1 ? { connection: 'close' } : {}),
    });
    res.write('retry: 2000\n\n');
    // (in cluster mode also the events of streams on other nodes)
    const unsubscribe = Object.values(StreamEvent).flatMap((event) =>
      [events, ...(cluster ? [cluster.remoteEvents] : [])].map((source) =>
        source.on(event, (payload) => res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`)),
      ),
    );
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const lifetime = setTimeout(() => res.end(), sse.lifetimeMs);
    open.add(res);
    req.raw.once('close', () => {
      unsubscribe.forEach((off) => off());
      clearInterval(ping);
      clearTimeout(lifetime);
      open.delete(res);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n > 0) perIp.set(ip, n);
      else perIp.delete(ip);
    });
  });
  // End event streams on shutdown, or the server would wait for them to close.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  /** A stream with its URLs; `node`: the cluster node serving it (this one for a local stream). */
  const summary = (s: LiveSession, base: string, admin: boolean) => withUrls({ ...streamSummary(s, admin), node: cluster?.nodeId ?? null }, base);
  const withUrls = <T extends { name: string }>(x: T, base: string) => ({
    ...x,
    playbackUrl: `${base}/live/${x.name}/master.m3u8`,
    watchUrl: `${base}/watch/${x.name}`,
  });
  const find = (name: string) => {
    const s = sessions.get(name);
    if (!s) throw new ERR_STREAM_NOT_FOUND(name);
    return s;
  };

  app.get('/api/streams', { schema: { tags: ['streams'], summary: 'Every live and recently ended stream (in cluster mode: of every node)', response: { 200: StreamList } } }, async (req) => {
    const base = baseUrl(publicUrl, req);
    const admin = adminProblem(req, adminToken) === undefined;
    const local = sessions.list().map((s) => summary(s, base, admin));
    // cluster: every other node's streams (a local copy that is not live yields to the live owner)
    const remote = (cluster?.remoteStreams() ?? []).map((e) => withUrls({ ...e.summary, name: e.name, live: e.live, node: e.node }, base));
    const names = new Set(remote.map((r) => r.name));
    return { streams: [...local.filter((l) => l.live || !names.has(l.name)), ...remote.filter((r) => !local.some((l) => l.name === r.name && l.live))] };
  });

  app.get('/api/cluster', { onRequest: adminGuard, schema: { ...ADMIN, summary: 'The nodes of the cluster: id, url, ready, streams, lastSeen', response: { 200: ClusterNodes, 404: ErrorBody } } }, async (_req, reply) => {
    if (!cluster) return reply.code(404).send({ error: 'Not Found', code: 'ERR_NOT_CLUSTERED', message: 'this node runs alone (set ORIGIN_REDIS_URL for cluster mode)' });
    return {
      node: cluster.nodeId,
      redis: cluster.redisUp ? 'up' : 'unreachable',
      nodes: cluster.nodeList().map((n) => ({ ...n, lastSeen: new Date(n.lastSeen).toISOString() })),
    };
  });

  api.get(
    '/api/streams/:name',
    { schema: { tags: ['streams'], summary: 'One stream: ingest, ladder, transcoder', params: Type.Object({ name: Name }) } },
    async (req, reply) => {
      // cluster: a stream live on another node is described by that node
      const remote = cluster?.remoteEntry(req.params.name);
      if (remote && peers && !sessions.get(req.params.name)?.isLive && req.headers[HOP_HEADER] === undefined) return peers.forward(req, reply, remote.url);
      const s = find(req.params.name);
      // the publisher's address is for operators only
      const admin = adminProblem(req, adminToken) === undefined;
      return {
        ...summary(s, baseUrl(publicUrl, req), admin),
        ingest: {
          connected: s.remoteAddress !== undefined,
          connectedAt: s.publisherSince ? new Date(s.publisherSince).toISOString() : null,
          remoteAddress: admin ? s.remoteAddress ?? null : s.remoteAddress ? '(admin only)' : null,
          videoCodec: s.source?.videoCodec ?? null,
          width: s.source?.width ?? null,
          height: s.source?.height ?? null,
          fps: s.source?.fps ?? null,
          measuredBitrateKbps: Math.round((s.rates.bytes.perSecond * 8) / 1000),
          measuredFps: Math.round(s.rates.frames.perSecond * 100) / 100,
          bytesReceived: s.ingestBytes,
        },
        transcoder: {
          running: s.transcoding,
          pid: admin ? s.transcoderPid ?? null : s.transcoderPid ? '(admin only)' : null,
          speed: Math.round(s.rates.speed.perSecond * 100) / 100,
          restarts: s.restarts,
        },
      };
    },
  );

  api.post(
    '/api/streams/:name/kick',
    { onRequest: adminGuard, schema: { ...ADMIN, summary: 'Disconnect the publisher and end the stream (ENDLIST)', params: Type.Object({ name: Name }) } },
    async (req) => {
      const s = find(req.params.name);
      const wasLive = s.isLive;
      await s.end('kicked by an operator');
      req.log.warn({ stream: s.name, wasLive }, 'stream kicked by an operator');
      return { name: s.name, kicked: wasLive, state: s.state };
    },
  );

  app.get('/api/sessions', { onRequest: adminGuard, schema: { ...ADMIN, summary: 'Publisher sessions with their addresses' } }, async () => {
    return {
      sessions: sessions.list().map((s) => ({
        name: s.name,
        state: s.state,
        epoch: s.epoch,
        startedAt: new Date(s.startedAt).toISOString(),
        remoteAddress: s.remoteAddress ?? null,
        publisherSince: s.publisherSince ? new Date(s.publisherSince).toISOString() : null,
        bytesReceived: s.ingestBytes,
        restarts: s.restarts,
        transcoderPid: s.transcoderPid ?? null,
      })),
    };
  });

  api.post(
    '/api/tokens',
    {
      onRequest: adminGuard,
      schema: {
        ...ADMIN,
        summary: 'Mint a signed playback token (ORIGIN_PLAYBACK_SECRET)',
        body: Type.Object({ name: Name, ttlSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: MAX_TOKEN_SECONDS, default: 3600 })) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      if (!opts.playbackSecret) throw new ERR_PLAYBACK_FORBIDDEN('signed playback is off: set ORIGIN_PLAYBACK_SECRET to mint tokens');
      const expiry = Math.floor(Date.now() / 1000) + (req.body.ttlSeconds ?? 3600);
      const token = mintToken(opts.playbackSecret, req.body.name, expiry);
      const base = baseUrl(publicUrl, req);
      return {
        name: req.body.name,
        token,
        expiresAt: new Date(expiry * 1000).toISOString(),
        playbackUrl: `${base}/live/${req.body.name}/t/${token}/master.m3u8`,
        watchUrl: `${base}/watch/${req.body.name}?token=${token}`,
      };
    },
  );
};
