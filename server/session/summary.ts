/**
 * A stream as the API shows it (pure over a LiveSession): what `/api/streams` lists on the node
 * that owns it and, through the cluster registry, on every other node. URLs are added by the route
 * (they depend on the request's host or ORIGIN_PUBLIC_URL).
 */
import type { LiveSession } from './live-session.js';

/**
 * A failure as the public sees it: when, how ffmpeg ended and what to change. ffmpeg's own lines
 * (internal paths, the pid, the machine) and the full message are for an admin (and the logs).
 */
function failureFor(f: NonNullable<LiveSession['lastFailure']>, admin: boolean) {
  return admin ? f : { at: f.at, code: f.code, signal: f.signal, hint: f.hint };
}

/** The summary of one stream. */
export function streamSummary(s: LiveSession, admin: boolean) {
  return {
    name: s.name,
    live: s.isLive,
    state: s.state,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: s.endedAt ? new Date(s.endedAt).toISOString() : null,
    profile: s.profileName,
    renditions: s.packager?.summary() ?? [],
    // what arrived and what is encoded from it (source-aware: no upscaling, no frame-rate raise)
    source: s.source ?? null,
    ladder: s.ladder,
    restarts: s.restarts,
    memoryBytes: s.memoryBytes,
    ...(s.lastFailure ? { lastFailure: failureFor(s.lastFailure, admin) } : {}),
  };
}
