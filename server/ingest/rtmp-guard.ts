/**
 * The RTMP port's door policy (pure: no sockets, the clock passed in): how many connections in
 * total and per address, and the addresses that keep guessing stream keys. The ingest asks it at
 * every accept and tells it every refusal; /metrics reads its counts as
 * `origin_rtmp_refused_total{reason}`. One stranger must not be able to hold the port, the memory
 * or the key check: each limit below bounds one of those.
 */

/** Why a connection or a publish was refused (the `reason` label: a fixed, small set). */
export type RefusalReason =
  | 'max_connections'
  | 'max_connections_per_ip'
  | 'banned'
  | 'publish_timeout'
  | 'idle'
  | 'wrong_key'
  | 'refused'
  | 'play'
  | 'second_publish'
  | 'oversize'
  | 'protocol'
  | 'pending_overflow'
  | 'shutting_down';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'max_connections', 'max_connections_per_ip', 'banned', 'publish_timeout', 'idle', 'wrong_key', 'refused',
  'play', 'second_publish', 'oversize', 'protocol', 'pending_overflow', 'shutting_down',
];

export interface GuardLimits {
  /** RTMP connections open at once, all addresses together. */
  maxConnections: number;
  /** RTMP connections open at once from one address. */
  maxConnectionsPerIp: number;
  /** Wrong stream keys one address may try per minute before it is refused for `banMs`. */
  wrongKeysPerMinute: number;
  /** How long an address that kept guessing is refused. */
  banMs: number;
}

/** What the guard says about a new connection: accepted, or refused with a reason. */
export type Admission = { ok: true } | { ok: false; reason: RefusalReason; detail: string };

/** A line for the operator about an address (at most one per address per minute). */
export interface Suspicion {
  ip: string;
  /** Refusals of this address since its last line. */
  refusals: number;
  reasons: Partial<Record<RefusalReason, number>>;
  bannedForMs: number;
}

const MINUTE = 60_000;

interface Peer {
  open: number;
  wrongKeys: number[];
  bannedUntil: number;
  /** Refusals not yet reported, and when the address was last reported. */
  unreported: Partial<Record<RefusalReason, number>>;
  reportedAt: number;
}

export class RtmpGuard {
  private readonly peers = new Map<string, Peer>();
  private open = 0;
  private readonly counts = new Map<RefusalReason, number>(REFUSAL_REASONS.map((r) => [r, 0]));

  constructor(private readonly limits: GuardLimits) {}

  /** A connection arrived from `ip`: take it (call `closed` later) or refuse it. */
  admit(ip: string, now: number): Admission {
    const peer = this.peer(ip);
    if (peer.bannedUntil > now) {
      return { ok: false, reason: 'banned', detail: `the address tried ${this.limits.wrongKeysPerMinute} wrong stream keys within a minute; refused for ${Math.ceil((peer.bannedUntil - now) / 1000)} s more` };
    }
    if (this.open >= this.limits.maxConnections) {
      return { ok: false, reason: 'max_connections', detail: `${this.open} RTMP connections are open (ORIGIN_RTMP_MAX_CONNECTIONS)` };
    }
    if (peer.open >= this.limits.maxConnectionsPerIp) {
      return { ok: false, reason: 'max_connections_per_ip', detail: `${peer.open} RTMP connections are open from this address (ORIGIN_RTMP_MAX_CONNECTIONS_PER_IP)` };
    }
    peer.open++;
    this.open++;
    return { ok: true };
  }

  /** A connection `admit` took has closed. */
  closed(ip: string, now: number): void {
    const peer = this.peers.get(ip);
    if (!peer || peer.open === 0) return;
    peer.open--;
    this.open--;
    this.forgetIfIdle(ip, peer, now);
  }

  /**
   * Counts a refusal. Returns a line for the operator when this address has not been reported for a
   * minute (the first refusal of an address is reported at once, the next ones with their count).
   */
  refused(ip: string, reason: RefusalReason, now: number): Suspicion | undefined {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const peer = this.peer(ip);
    if (reason === 'wrong_key') {
      peer.wrongKeys = peer.wrongKeys.filter((t) => now - t < MINUTE);
      peer.wrongKeys.push(now);
      if (peer.wrongKeys.length >= this.limits.wrongKeysPerMinute) {
        peer.bannedUntil = now + this.limits.banMs;
        peer.wrongKeys = [];
      }
    }
    peer.unreported[reason] = (peer.unreported[reason] ?? 0) + 1;
    if (now - peer.reportedAt < MINUTE) return undefined;
    const reasons = peer.unreported;
    const refusals = Object.values(reasons).reduce((a, b) => a + b, 0);
    peer.unreported = {};
    peer.reportedAt = now;
    return { ip, refusals, reasons, bannedForMs: Math.max(0, peer.bannedUntil - now) };
  }

  /**
   * How long to wait before answering a wrong key from `ip` (the back-off before the ban): 0 for
   * the first in a minute, then 250 ms doubling up to 4 s, so guessing slows long before the ban.
   */
  wrongKeyDelayMs(ip: string, now: number): number {
    const recent = this.peers.get(ip)?.wrongKeys.filter((t) => now - t < MINUTE).length ?? 0;
    return recent === 0 ? 0 : Math.min(4000, 250 * 2 ** (recent - 1));
  }

  /** Refusals so far by reason (every reason present, 0 included). */
  refusals(): ReadonlyMap<RefusalReason, number> {
    return this.counts;
  }

  /** Connections open now (total). */
  get connections(): number {
    return this.open;
  }

  /** Addresses the guard remembers (bounded by connections + recent offenders). */
  get remembered(): number {
    return this.peers.size;
  }

  /** Forgets addresses with nothing open, no ban and nothing recent (call now and then). */
  sweep(now: number): void {
    for (const [ip, peer] of this.peers) this.forgetIfIdle(ip, peer, now);
  }

  private forgetIfIdle(ip: string, peer: Peer, now: number): void {
    const recent = peer.wrongKeys.some((t) => now - t < MINUTE) || now - peer.reportedAt < MINUTE;
    if (peer.open === 0 && peer.bannedUntil <= now && !recent) this.peers.delete(ip);
  }

  private peer(ip: string): Peer {
    let peer = this.peers.get(ip);
    if (!peer) this.peers.set(ip, (peer = { open: 0, wrongKeys: [], bannedUntil: 0, unreported: {}, reportedAt: -Infinity }));
    return peer;
  }
}
