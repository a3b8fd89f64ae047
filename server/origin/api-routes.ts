/**
 * The JSON API: the list of streams for the player and for operators, and the health check.
 * Names only, never keys.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SessionManager } from '../session/manager.js';
import { StreamEvent, type StreamEvents } from '../events.js';
import { cacheHeaders } from './cache-policy.js';

/** Base URL for links in API answers: ORIGIN_PUBLIC_URL, else what the client used to reach us. */
export function baseUrl(publicUrl: string | undefined, req: Pick<FastifyRequest, 'protocol' | 'host'>): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/** The API plugin. */
export const apiRoutes: FastifyPluginAsync<{ sessions: SessionManager; publicUrl: string | undefined; events: StreamEvents }> = async (
  app,
  { sessions, publicUrl, events },
) => {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(cacheHeaders('api'));
    return payload;
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Server-sent events: the directory page updates when a stream starts or ends, without polling.
  // (SSE over a WebSocket: one-way is all it needs, it passes proxies as plain HTTP, and the
  // browser's EventSource reconnects by itself.)
  const open = new Set<import('node:http').ServerResponse>();
  app.get('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    });
    res.write('retry: 2000\n\n');
    const unsubscribe = Object.values(StreamEvent).map((event) =>
      events.on(event, (payload) => res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`)),
    );
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    open.add(res);
    req.raw.once('close', () => {
      unsubscribe.forEach((off) => off());
      clearInterval(ping);
      open.delete(res);
    });
  });
  // End event streams on shutdown, or the server would wait for them to close.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get('/api/streams', async (req) => {
    const base = baseUrl(publicUrl, req);
    return {
      streams: sessions.list().map((s) => ({
        name: s.name,
        live: s.isLive,
        state: s.state,
        startedAt: new Date(s.startedAt).toISOString(),
        endedAt: s.endedAt ? new Date(s.endedAt).toISOString() : null,
        profile: s.profileName,
        playbackUrl: `${base}/live/${s.name}/master.m3u8`,
        watchUrl: `${base}/watch/${s.name}`,
        renditions: s.packager?.summary() ?? [],
        // what arrived and what is encoded from it (source-aware: no upscaling, no frame-rate raise)
        source: s.source ?? null,
        ladder: s.ladder,
        restarts: s.restarts,
        memoryBytes: s.memoryBytes,
        ...(s.lastFailure ? { lastFailure: s.lastFailure } : {}),
      })),
    };
  });
};
