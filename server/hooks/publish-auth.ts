/**
 * The publish auth callback (nginx-rtmp's on_publish, SRS's on_publish hook): with
 * ORIGIN_PUBLISH_AUTH_URL set, every publish is POSTed as `{ "key", "ip" }` and allowed only when
 * the answer is 2xx within 2 s with JSON `{ "name": "<public stream name>" }` (optionally
 * `"profile"`). Anything else refuses: another status, a timeout, a body that is not such JSON.
 */
import { Value } from '@sinclair/typebox/value';
import { Type } from '@sinclair/typebox';
import { STREAM_NAME_PATTERN } from '../config/schema.js';

/** How long the callback may take. */
export const PUBLISH_AUTH_TIMEOUT_MS = 2000;

const Answer = Type.Object({
  name: Type.String({ pattern: STREAM_NAME_PATTERN }),
  profile: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$' })),
});

/** What the callback decided. */
/** `denied`: the callback said no (HTTP 4xx): a wrong key, counted against the address. */
export type PublishAuthResult = { allowed: true; name: string; profile?: string } | { allowed: false; reason: string; denied?: true };

/** Asks `url` about a publish. Never throws. */
export async function askPublishAuth(url: string, publish: { key: string; ip: string }, timeoutMs = PUBLISH_AUTH_TIMEOUT_MS): Promise<PublishAuthResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'live-origin-publish-auth' },
      body: JSON.stringify(publish),
      signal: AbortSignal.timeout(timeoutMs),
      // Never follow a redirect: a 307/308 would re-send the stream key to wherever it points.
      redirect: 'manual',
    });
  } catch (err) {
    const e = err as Error;
    return { allowed: false, reason: e.name === 'TimeoutError' ? `publish auth callback did not answer within ${timeoutMs} ms` : `publish auth callback unreachable (${e.message})` };
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 300 && res.status < 400) return { allowed: false, reason: `publish auth callback answered a redirect (HTTP ${res.status}); callbacks never follow redirects: configure the final URL` };
  if (res.status >= 400 && res.status < 500) return { allowed: false, reason: `publish auth callback refused (HTTP ${res.status})`, denied: true };
  if (!res.ok) return { allowed: false, reason: `publish auth callback refused (HTTP ${res.status})` };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { allowed: false, reason: 'publish auth callback answered 2xx without JSON { "name": … }' };
  }
  if (!Value.Check(Answer, body)) return { allowed: false, reason: 'publish auth callback answered 2xx without a valid stream name ({ "name": "[a-z0-9][a-z0-9_-]*" })' };
  return { allowed: true, name: body.name, ...(body.profile ? { profile: body.profile } : {}) };
}
