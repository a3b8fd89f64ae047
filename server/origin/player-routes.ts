/**
 * The bundled web player: its pages and assets, built by `npm run build` into dist/player
 * (hls.js from node_modules is bundled in; nothing is fetched from elsewhere).
 */
import { existsSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { STREAM_NAME_PATTERN } from '../config/schema.js';
import { CACHE_CONTROL } from './cache-policy.js';

/** The player plugin; `root` is the built player directory. */
export const playerRoutes: FastifyPluginAsync<{ root: string }> = async (app, { root }) => {
  if (!existsSync(root)) {
    app.log.warn({ root }, 'player not built (run npm run build); pages will answer 404');
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/assets/',
    // Asset names are not content-hashed: revalidate with ETag instead of caching for a year.
    cacheControl: false,
    setHeaders: (res) => res.setHeader('cache-control', CACHE_CONTROL.page),
  });
  const page = (file: string) => async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', CACHE_CONTROL.page).sendFile(file);
  app.get('/', page('index.html'));
  const params = { schema: { params: Type.Object({ name: Type.String({ pattern: STREAM_NAME_PATTERN }) }) } };
  app.withTypeProvider<TypeBoxTypeProvider>().get('/watch/:name', params, page('watch.html'));
  // A minimal page for iframes: the watch page, which drops everything but the player on /embed/.
  app.withTypeProvider<TypeBoxTypeProvider>().get('/embed/:name', params, page('watch.html'));
};
