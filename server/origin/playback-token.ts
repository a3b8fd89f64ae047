/**
 * Signed playback tokens (pure). A token sits in the path, `/live/<name>/t/<expiry>.<signature>/…`,
 * so every playlist and segment below it shares it through relative URIs, and a CDN caches one
 * entry per segment per token (a query string would be stripped or fragment the cache, depending
 * on the CDN). The signature is HMAC-SHA256 over "<name>/<expiry>" with ORIGIN_PLAYBACK_SECRET,
 * base64url; expiry is Unix seconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ERR_NOT_FOUND, ERR_PLAYBACK_FORBIDDEN } from '../errors.js';

/** Longest lifetime a token may be minted with: one week. */
export const MAX_TOKEN_SECONDS = 7 * 24 * 3600;

function signature(secret: string, name: string, expiry: number): string {
  return createHmac('sha256', secret).update(`${name}/${expiry}`).digest('base64url');
}

/** A token for `name` valid until `expiry` (Unix seconds). */
export function mintToken(secret: string, name: string, expiry: number): string {
  return `${expiry}.${signature(secret, name, expiry)}`;
}

/** Why a token is refused, or undefined when it is good for `name` at `nowSeconds`. */
export function tokenProblem(secret: string, name: string, token: string, nowSeconds: number): 'invalid' | 'expired' | undefined {
  // Only the form mintToken writes: no leading zeros (`0<expiry>` parsed to the same number and
  // passed as a second spelling of the same token: a second cache key for a CDN, and a lie).
  const m = /^([1-9]\d{0,11})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return 'invalid';
  const expiry = Number(m[1]);
  const want = Buffer.from(signature(secret, name, expiry));
  const got = Buffer.from(m[2]!);
  if (!timingSafeEqual(want, got)) return 'invalid';
  return expiry <= nowSeconds ? 'expired' : undefined;
}

/** Seconds until the token in `token` expires (for capping cache lifetimes); 0 when unreadable. */
export function tokenSecondsLeft(token: string, nowSeconds: number): number {
  const expiry = Number(token.split('.')[0]);
  return Number.isFinite(expiry) ? Math.max(0, Math.floor(expiry - nowSeconds)) : 0;
}

/**
 * Signed playback at a route: with a secret, media is served only under .../t/<token>/ and a cached
 * copy must not outlive the token; without one, only the plain paths exist. Returns the seconds a
 * response may be cached at most (undefined: no cap); throws the coded error otherwise.
 */
export function checkPlaybackAccess(secret: string | undefined, name: string, token: string | undefined, nowSeconds = Date.now() / 1000): number | undefined {
  if (!secret) {
    if (token !== undefined) throw new ERR_NOT_FOUND('signed playback is off on this server; drop /t/<token> from the URL');
    return undefined;
  }
  if (token === undefined) throw new ERR_PLAYBACK_FORBIDDEN(`stream "${name}" needs a signed URL: /live/${name}/t/<token>/…`);
  const problem = tokenProblem(secret, name, token, nowSeconds);
  if (problem === 'expired') throw new ERR_PLAYBACK_FORBIDDEN('the playback token has expired');
  if (problem) throw new ERR_PLAYBACK_FORBIDDEN(`the playback token is not valid for stream "${name}"`);
  return tokenSecondsLeft(token, nowSeconds);
}
