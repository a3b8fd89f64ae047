/**
 * SessionManager: stream name -> LiveSession. Maps secret keys to public names, refuses unknown
 * keys, second publishers (unless the stream's policy is `takeover`) and publishers beyond the
 * limits; hands a publisher that comes back within the grace to its session; keeps ended
 * sessions for the retention so late viewers and CDNs see ENDLIST.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { IngestPublish, Refusal } from '../ingest/rtmp-ingest.js';
import type { StreamConfig } from '../config/schema.js';
import type { Profile } from '../transcode/profile-schema.js';
import { LiveSession, type SessionDeps } from './live-session.js';
import { StreamEvent } from '../events.js';
import { askPublishAuth } from '../hooks/publish-auth.js';
import type { ContinueFrom } from '../hls/rendition.js';
import type { Rendition } from '../transcode/ladder.js';
import { streamSummary } from './summary.js';

/** A claim granted: the fence, and where the stream's last owner (any node) stopped. */
export interface StreamClaim {
  fence: number;
  continueFrom: Required<ContinueFrom> | undefined;
  /** The last owner's renditions: kept, so the master and every rendition URL stay the same. */
  ladder: object[] | undefined;
}

/** What the manager needs of the cluster (cluster/cluster.ts) to fence its streams. */
export interface StreamLeases {
  /** Takes the stream for this node, or says why not. */
  claim(name: string, takeover: boolean, localFloor?: Required<ContinueFrom>): Promise<StreamClaim | string>;
  own(
    stream: { name: string; epoch: string; numbers(): Required<ContinueFrom> | undefined; playable(): boolean; live(): boolean; summary(): Record<string, unknown>; ladder(): readonly object[] },
    claim: StreamClaim,
    onLost: (why: string) => void,
  ): void;
  owns(name: string): boolean;
  release(name: string, ended: boolean): Promise<void>;
}

/**
 * Key -> stream lookup (pure): the key is secret, the name is public. Compared in constant time
 * (sha256 of both sides, so lengths leak nothing either), and against every configured key, so the
 * time taken does not tell which key came close.
 */
export function streamForKey(streams: readonly StreamConfig[], key: string): StreamConfig | undefined {
  const given = createHash('sha256').update(key).digest();
  let found: StreamConfig | undefined;
  for (const s of streams) {
    if (timingSafeEqual(createHash('sha256').update(s.key).digest(), given) && !found) found = s;
  }
  return found;
}

/** How often the media memory limit is checked while streams run (ms). */
const MEMORY_CHECK_MS = 2000;

/** Limits and lifetimes. */
export interface ManagerOptions {
  streams: readonly StreamConfig[];
  profiles: ReadonlyMap<string, Profile>;
  defaultProfile: string;
  /** How long an ended stream stays served. */
  endedRetentionMs: number;
  maxStreams: number;
  maxMediaBytes: number;
  /** ORIGIN_PUBLISH_AUTH_URL: asked about every publish instead of the configured keys. */
  publishAuthUrl?: string | undefined;
  /** Cluster mode: a stream is published on one node at a time, under a fenced lease. */
  leases?: StreamLeases | undefined;
}

/** Owns every session. */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  /**
   * The ended session a new go-live replaced, kept for its retention: until the new one is
   * playable its ENDLIST playlists are what a player or CDN polling the stream gets (not a 404),
   * and its listed pieces stay fetchable by their epoch for a CDN still fetching them.
   */
  private readonly previous = new Map<string, LiveSession>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly memoryCheck: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly stopRetaining: () => void;
  private closing = false;
  /** Streams whose cluster claim is under way on this node (a second publish meanwhile is refused). */
  private readonly claiming = new Set<string>();

  constructor(
    private readonly opts: ManagerOptions,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.logger.child({ component: 'sessions' });
    this.stopRetaining = deps.events.on(StreamEvent.Ended, ({ name }) => {
      const s = this.sessions.get(name);
      if (s) this.retain(s);
      // ended for good: the cluster entry says so (the ENDLIST playlists are served from here)
      if (opts.leases?.owns(name)) void opts.leases.release(name, true);
    });
    this.memoryCheck = setInterval(() => this.enforceMemoryLimit(), MEMORY_CHECK_MS);
    this.memoryCheck.unref();
  }

  /**
   * ORIGIN_MAX_MEDIA_MB while streams run (admission alone let running streams grow past it):
   * over the limit, ended streams kept for late viewers are let go first; if that is not enough,
   * the live stream holding the most media fails, with the reason in its log line and events.
   */
  enforceMemoryLimit(): void {
    const limit = this.opts.maxMediaBytes;
    if (this.memoryBytes <= limit) return;
    const before = this.memoryBytes;
    this.previous.clear();
    for (const s of this.list()) if (!s.isLive) this.sessions.delete(s.name);
    if (this.memoryBytes <= limit) {
      this.log.warn({ memoryMB: Math.round(before / 2 ** 20), limitMB: Math.round(limit / 2 ** 20) }, 'media memory over the limit (ORIGIN_MAX_MEDIA_MB): ended streams let go early');
      return;
    }
    const biggest = this.list().filter((s) => s.isLive).sort((a, b) => b.memoryBytes - a.memoryBytes)[0];
    if (!biggest) return;
    this.log.error({ stream: biggest.name, streamMB: Math.round(biggest.memoryBytes / 2 ** 20), memoryMB: Math.round(this.memoryBytes / 2 ** 20), limitMB: Math.round(limit / 2 ** 20) }, 'media memory over the limit (ORIGIN_MAX_MEDIA_MB): failing the stream that holds the most');
    void biggest.giveUp(`the server is over its media memory limit (ORIGIN_MAX_MEDIA_MB) and this stream held the most media (${Math.round(biggest.memoryBytes / 2 ** 20)} MiB)`);
  }

  /**
   * The ingest's publish decision: null accepts, a string refuses with that reason. With a publish
   * auth URL the answer comes later (a promise); NMS keeps the publisher meanwhile, and its GOP
   * cache hands our transcoder the frames that arrived during the wait.
   */
  onPublish = (publish: IngestPublish): Refusal | null | Promise<Refusal | null> => {
    if (this.closing) return 'the server is shutting down';
    const url = this.opts.publishAuthUrl;
    if (url) {
      return askPublishAuth(url, { key: publish.key, ip: publish.remoteAddress }).then((answer) => {
        if (!answer.allowed) return answer.denied ? { reason: answer.reason, wrongKey: true } : answer.reason;
        if (answer.profile && !this.opts.profiles.has(answer.profile)) return `publish auth callback named an unknown profile "${answer.profile}"`;
        if (this.closing) return 'the server is shutting down';
        const stream = { name: answer.name, key: publish.key, ...(answer.profile ? { profile: answer.profile } : {}) };
        return this.opts.leases ? this.admitClustered(publish, stream, this.opts.leases) : this.admit(publish, stream);
      });
    }
    const stream = streamForKey(this.opts.streams, publish.key);
    if (!stream) return { reason: 'unknown stream key', wrongKey: true };
    return this.opts.leases ? this.admitClustered(publish, stream, this.opts.leases) : this.admit(publish, stream);
  };

  /**
   * Cluster mode: a stream this node holds follows the local rules (reconnect, takeover, refusal);
   * any other is claimed in Redis first, and goes on numbering from where its last owner, on any
   * node, stopped.
   */
  private async admitClustered(publish: IngestPublish, stream: StreamConfig, leases: StreamLeases): Promise<Refusal | null> {
    const current = this.sessions.get(stream.name);
    if (current?.isLive && leases.owns(stream.name)) return this.admit(publish, stream);
    if (this.claiming.has(stream.name)) return `stream "${stream.name}" is already being published here`;
    const limit = this.limitRefusal(stream.name);
    if (limit) return limit;
    this.claiming.add(stream.name);
    try {
      const claim = await leases.claim(stream.name, stream.onDuplicate === 'takeover', current?.packager?.nextNumbers);
      if (typeof claim === 'string') {
        this.log.warn({ stream: stream.name, remoteAddress: publish.remoteAddress, reason: claim }, 'publisher refused (cluster)');
        return claim;
      }
      if (this.closing) {
        await leases.release(stream.name, false);
        return 'the server is shutting down';
      }
      const session = this.createSession(stream, claim.continueFrom, claim.ladder as Rendition[] | undefined);
      leases.own(
        {
          name: session.name,
          epoch: session.epoch,
          numbers: () => session.packager?.nextNumbers,
          playable: () => session.packager?.master() !== undefined,
          live: () => session.isLive,
          summary: () => streamSummary(session, false),
          ladder: () => session.ladder,
        },
        claim,
        (why) => void this.handOver(session, why),
      );
      session.attach(publish);
      return null;
    } finally {
      this.claiming.delete(stream.name);
    }
  }

  /**
   * Cluster mode: the stream goes on at another node (this one drains, or lost its lease): no
   * ENDLIST here, the lease is released with the final numbering, the pieces stay served for
   * the retention.
   */
  async handOver(session: LiveSession, why: string): Promise<void> {
    if (!session.isLive) return;
    await session.handOver(why);
    this.retain(session);
    await this.opts.leases?.release(session.name, false);
  }

  /** Admits a publish for `stream` unless it is live already or a limit is reached. */
  private admit(publish: IngestPublish, stream: StreamConfig): string | null {
    const current = this.sessions.get(stream.name);
    if (current?.state === 'reconnecting') {
      current.attach(publish);
      return null;
    }
    if (current?.isLive) {
      if (stream.onDuplicate === 'takeover') {
        current.attach(publish);
        return null;
      }
      this.log.warn({ stream: stream.name, remoteAddress: publish.remoteAddress }, 'second publisher refused: the stream is live');
      return `stream "${stream.name}" is already live`;
    }
    const limit = this.limitRefusal(stream.name);
    if (limit) return limit;
    // A stream that was live before goes on numbering where it stopped (URIs differ by epoch anyway).
    this.createSession(stream, current?.packager?.nextNumbers).attach(publish);
    return null;
  }

  /** Why a new live stream cannot be taken now (stream or memory limit), or undefined. */
  private limitRefusal(name: string): string | undefined {
    const live = this.list().filter((s) => s.isLive).length;
    if (live >= this.opts.maxStreams) {
      this.log.warn({ stream: name, live, maxStreams: this.opts.maxStreams }, 'publisher refused: live stream limit reached (ORIGIN_MAX_STREAMS)');
      return `the server is at its limit of ${this.opts.maxStreams} live streams`;
    }
    const memory = this.memoryBytes;
    if (memory >= this.opts.maxMediaBytes) {
      this.log.warn({ stream: name, memoryMB: Math.round(memory / 2 ** 20) }, 'publisher refused: media memory limit reached (ORIGIN_MAX_MEDIA_MB)');
      return 'the server is at its media memory limit';
    }
    return undefined;
  }

  /** A new session of `stream`; the one it replaces stays beside it until it is playable. */
  private createSession(stream: StreamConfig, continueFrom: ContinueFrom | undefined, ladder?: readonly Rendition[]): LiveSession {
    const current = this.sessions.get(stream.name);
    const profileName = stream.profile ?? this.opts.defaultProfile;
    const session = new LiveSession(stream.name, profileName, this.opts.profiles.get(profileName)!, this.deps, continueFrom, ladder);
    if (current?.packager?.master()) this.previous.set(stream.name, current);
    this.sessions.set(stream.name, session);
    return session;
  }

  /** False from the moment the server starts shutting down (`/readyz` answers 503 then). */
  get accepting(): boolean {
    return !this.closing;
  }

  /** Media bytes held by every session (and the ended ones kept beside a new go-live). */
  get memoryBytes(): number {
    return [...this.list(), ...this.previous.values()].reduce((sum, s) => sum + s.memoryBytes, 0);
  }

  /** A session by public name (live or recently ended). */
  get(name: string): LiveSession | undefined {
    return this.sessions.get(name);
  }

  /**
   * The session whose playlists a viewer of `name` gets: the current one, or while a new go-live is
   * not playable yet, the ended one it replaced.
   */
  playlistsOf(name: string): LiveSession | undefined {
    const current = this.sessions.get(name);
    if (current?.packager?.master()) return current;
    return this.previous.get(name) ?? current;
  }

  /** The session of `name` whose media names carry `epoch` (current or the one it replaced), else the current one. */
  withEpoch(name: string, epoch: string | undefined): LiveSession | undefined {
    const previous = this.previous.get(name);
    if (previous && previous.epoch === epoch) return previous;
    return this.sessions.get(name);
  }

  /** Every known session. */
  list(): LiveSession[] {
    return [...this.sessions.values()];
  }

  /** Forgets an ended session after the retention, unless a newer publish replaced it. */
  private retain(session: LiveSession): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.sessions.get(session.name) === session) this.sessions.delete(session.name);
      if (this.previous.get(session.name) === session) this.previous.delete(session.name);
    }, this.opts.endedRetentionMs);
    t.unref();
    this.timers.add(t);
  }

  /**
   * Ends every session (shutdown): refuses new publishers, ENDLIST everywhere, every ffmpeg stopped.
   * In cluster mode the streams are handed over instead (no ENDLIST; their publishers reconnect
   * to another node, which goes on with the numbering).
   */
  async close(reason = 'server shutting down'): Promise<void> {
    this.closing = true;
    clearInterval(this.memoryCheck);
    if (this.opts.leases) await Promise.all(this.list().map((s) => this.handOver(s, `${reason}: handed over to another node`)));
    else await Promise.all(this.list().map((s) => s.end(reason)));
    this.stopRetaining();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
