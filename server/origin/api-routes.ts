/**
 * The JSON API: the list of streams for the player and for operators, and the health check.
 * Names only, never keys.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { SessionManager } from '../session/manager.js';
import { cacheHeaders } from './cache-policy.js';

/** Base URL for links in API answers: ORIGIN_PUBLIC_URL, else what the client used to reach us. */
export function baseUrl(publicUrl: string | undefined, req: Pick<FastifyRequest, 'protocol' | 'host'>): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/** The API plugin. */
export const apiRoutes: FastifyPluginAsync<{ sessions: SessionManager; publicUrl: string | undefined }> = async (
  app,
  { sessions, publicUrl },
) => {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(cacheHeaders('api'));
    return payload;
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

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
        restarts: s.restarts,
        memoryBytes: s.memoryBytes,
        ...(s.lastFailure ? { lastFailure: s.lastFailure } : {}),
      })),
    };
  });
};
