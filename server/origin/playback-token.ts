/**
 * Signed playback tokens (pure). A token sits in the path, `/live/<name>/t/<expiry>.<signature>/…`,
 * so every playlist and segment below it shares it through relative URIs, and a CDN caches one
 * entry per segment per token (a query string would be stripped or fragment the cache, depending
 * on the CDN). The signature is HMAC-SHA256 over "<name>/<expiry>" with ORIGIN_PLAYBACK_SECRET,
 * base64url; expiry is Unix seconds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

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
