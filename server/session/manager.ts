/**
 * SessionManager: stream name -> LiveSession. Maps secret keys to public names, refuses unknown
 * keys and second publishers, keeps ended sessions for a while so late viewers and CDNs see ENDLIST.
 */
import type { Logger } from 'pino';
import type { IngestPublish } from '../ingest/rtmp-ingest.js';
import type { StreamConfig } from '../config/schema.js';
import type { Profile } from '../transcode/profile-schema.js';
import { LiveSession, type SessionDeps } from './live-session.js';
import { StreamEvent } from '../events.js';

/** How long an ended stream's playlists and segments stay served. */
export const ENDED_RETENTION_MS = 5 * 60_000;

/** Key -> stream lookup (pure): the key is secret, the name is public. */
export function streamForKey(streams: readonly StreamConfig[], key: string): StreamConfig | undefined {
  return streams.find((s) => s.key === key);
}

/** Owns every session. */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;
  private readonly stopRetaining: () => void;

  constructor(
    private readonly streams: readonly StreamConfig[],
    private readonly profiles: ReadonlyMap<string, Profile>,
    private readonly defaultProfile: string,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.logger.child({ component: 'sessions' });
    this.stopRetaining = deps.events.on(StreamEvent.Ended, ({ name }) => {
      const s = this.sessions.get(name);
      if (s) this.retain(s);
    });
  }

  /** The ingest's publish decision: null accepts, a string refuses with that reason. */
  onPublish = (publish: IngestPublish): string | null => {
    const stream = streamForKey(this.streams, publish.key);
    if (!stream) return 'unknown stream key';
    const current = this.sessions.get(stream.name);
    if (current && (current.state === 'starting' || current.state === 'live')) {
      this.log.warn({ stream: stream.name, remoteAddress: publish.remoteAddress }, 'second publisher refused: the stream is live');
      return `stream "${stream.name}" is already live`;
    }
    const profileName = stream.profile ?? this.defaultProfile;
    const session = new LiveSession(stream.name, profileName, this.profiles.get(profileName)!, publish, this.deps);
    this.sessions.set(stream.name, session);
    session.start();
    return null;
  };

  /** A session by public name (live or recently ended). */
  get(name: string): LiveSession | undefined {
    return this.sessions.get(name);
  }

  /** Every known session. */
  list(): LiveSession[] {
    return [...this.sessions.values()];
  }

  /** Forgets an ended session after the retention, unless a newer publish replaced it. */
  retain(session: LiveSession): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.sessions.get(session.name) === session) this.sessions.delete(session.name);
    }, ENDED_RETENTION_MS);
    t.unref();
    this.timers.add(t);
  }

  /** Ends every session (shutdown): ENDLIST everywhere, every ffmpeg stopped. */
  async close(reason = 'server shutting down'): Promise<void> {
    this.stopRetaining();
    await Promise.all(this.list().map((s) => s.end(reason)));
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
