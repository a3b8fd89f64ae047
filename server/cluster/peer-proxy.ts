/**
 * Answers a request for a stream that another node owns by asking that node (the only file that
 * talks HTTP to peers; undici). Two of undici's interceptors do what a shield cache would:
 * - `deduplicate`: one upstream request per URL in flight, however many viewers of this node ask
 *   (N blocking reloads for the same `_HLS_msn`/`_HLS_part`, N fetches of a new part, cost one);
 * - `cache` over a bounded `MemoryCacheStore`: pieces are `immutable` for a year, so each is pulled
 *   from the owner once per node; playlists are asked with `no-store` and never kept (a live
 *   playlist is only ever as fresh as the owner's).
 * The owner's status, body and validators pass through unchanged, so a piece has the same bytes,
 * ETag and Cache-Control whichever node answers. A peer that does not answer is a miss: 503 with
 * Retry-After and the short miss caching, never a 5xx with internals.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, cacheStores, interceptors, type Dispatcher } from 'undici';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { cacheHeaders } from '../origin/cache-policy.js';
import { pickEncoding } from '../origin/http-semantics.js';

/** Headers of the owner's answer that are the content's (passed through as they are). */
const PASSED = ['content-type', 'etag', 'last-modified', 'cache-control', 'content-encoding', 'vary', 'retry-after', 'accept-ranges', 'content-range', 'x-origin-omitted-runs'];
/** Request headers that change the answer (forwarded; the rest are this hop's). */
const FORWARDED = ['range', 'if-range', 'authorization'];

/**
 * Marks a request one node makes of another: the receiving node answers it from its own memory and
 * never forwards it again, so two nodes whose registries disagree for a moment cannot loop.
 */
export const HOP_HEADER = 'x-origin-hop';

/** Counts, for /metrics and the benchmark. */
export interface PeerProxyStats {
  /** Requests answered by asking a peer (cache hits and coalesced followers included). */
  requests: number;
  /** Body bytes that really came over the network from peers (undici's diagnostics channel: after the cache and the coalescing). */
  upstreamBytes: number;
  /** Requests that really went to a peer. */
  upstreamRequests: number;
  failures: number;
}

/** The proxy to peers. */
export class PeerProxy {
  private readonly agent: Dispatcher;
  private readonly log: Logger;
  readonly stats: PeerProxyStats = { requests: 0, upstreamBytes: 0, upstreamRequests: 0, failures: 0 };
  private readonly ours = new WeakSet<object>();
  private readonly onCreate = (m: unknown) => {
    const { request } = m as { request: { headers: string[] | string } };
    const h = request.headers;
    if (Array.isArray(h) ? h.some((v, i) => i % 2 === 0 && v.toLowerCase() === HOP_HEADER) : String(h).toLowerCase().includes(`${HOP_HEADER}:`)) {
      this.ours.add(request);
      this.stats.upstreamRequests++;
    }
  };
  private readonly onChunk = (m: unknown) => {
    const { request, chunk } = m as { request: object; chunk: Buffer };
    if (this.ours.has(request)) this.stats.upstreamBytes += chunk.length;
  };

  /**
   * `holdTimeoutMs`: longest a peer may hold a blocking request (above the owner's own hold of 3
   * target durations, so the owner's 503 + Retry-After reaches the viewer rather than our timeout).
   */
  constructor(opts: { logger: Logger; cacheBytes?: number; holdTimeoutMs?: number }) {
    this.log = opts.logger.child({ component: 'peers' });
    const store = new cacheStores.MemoryCacheStore({ maxSize: opts.cacheBytes ?? 64 * 2 ** 20, maxEntrySize: 16 * 2 ** 20, maxCount: 4096 });
    this.agent = new Agent({
      connections: 64,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.holdTimeoutMs ?? 25_000,
      bodyTimeout: 15_000,
      connectTimeout: 2000,
    }).compose(interceptors.cache({ store, methods: ['GET'], type: 'shared' }), interceptors.deduplicate({ methods: ['GET'] }));
    subscribe('undici:request:create', this.onCreate);
    subscribe('undici:request:bodyChunkReceived', this.onChunk);
  }

  /** Forwards `req` to the peer at `base` and answers with what it said. */
  async forward(req: FastifyRequest, reply: FastifyReply, base: string): Promise<FastifyReply> {
    this.stats.requests++;
    const path = req.url;
    const headers: Record<string, string> = { [HOP_HEADER]: '1' };
    for (const h of FORWARDED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    // the encoding this node would have chosen: one key per encoding, not per client's header spelling
    const coding = pickEncoding(req.headers['accept-encoding']);
    headers['accept-encoding'] = coding ?? 'identity';
    const playlist = path.includes('.m3u8') || path.startsWith('/api/');
    if (playlist || headers.range) headers['cache-control'] = 'no-store';
    let status: number;
    let upHeaders: Record<string, string | string[] | undefined>;
    let body: Buffer;
    try {
      const res = await this.agent.request({ origin: base, path, method: 'GET', headers, signal: undefined });
      status = res.statusCode;
      upHeaders = res.headers;
      body = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      this.stats.failures++;
      this.log.warn({ peer: base, path: path.slice(0, 200), err: (err as Error).message }, 'peer did not answer; answering a miss');
      return reply.code(503).headers(cacheHeaders('mediaMiss')).header('retry-after', '1')
        .send({ error: 'Service Unavailable', code: 'ERR_OWNER_UNREACHABLE', message: 'the node serving this stream did not answer; retry' });
    }
    for (const h of PASSED) {
      const v = upHeaders[h];
      if (v !== undefined) reply.header(h, v);
    }
    // conditional requests are answered here from the full answer (so they share its fetch)
    const etag = upHeaders.etag;
    const inm = req.headers['if-none-match'];
    if (status === 200 && typeof etag === 'string' && typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
      return reply.code(304).send();
    }
    return reply.code(status).send(body);
  }

  async close(): Promise<void> {
    unsubscribe('undici:request:create', this.onCreate);
    unsubscribe('undici:request:bodyChunkReceived', this.onChunk);
    await this.agent.close();
  }
}
