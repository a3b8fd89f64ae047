/**
 * Cluster mode (ORIGIN_REDIS_URL or ORIGIN_REDIS_SENTINELS): many nodes, one owner per stream.
 *
 * - **Leases, fenced.** A publish claims the stream (redis-client.ts CLAIM): a fencing number that
 *   only grows and an owner key that expires after LEASE_MS unless renewed every TICK_MS. Renewal,
 *   state writes and release are Lua scripts that act only while the owner key still holds this
 *   node's token, so a node that was stopped past its lease (SIGSTOP, a long GC, a partition) finds
 *   it lost at its next tick, gives the stream up (no ENDLIST: it goes on elsewhere) and never
 *   writes its state again. Redis unreachable is not a lost lease: the stream goes on, the renewal
 *   is retried, and a lease Redis forgot (restart, failover) is taken back unless a newer fence exists.
 * - **Numbering.** The owner writes the next MSN, part ID and discontinuity count at each new
 *   segment and each tick; the next owner continues from them (plus one MSN after an unclean end,
 *   for a segment listed after the last write), so MEDIA-SEQUENCE never goes back across nodes.
 * - **Registry.** `lo:streams` says which node serves each stream's playlists. The new owner writes
 *   its entry only once its stream is playable: until then viewers keep getting the previous
 *   owner's playlists (drain) or a short 503 (a node killed). Pieces of the previous owner's epoch
 *   keep going to it. Every node polls the registry each tick and at once on a `lo:changes`
 *   message; serving reads only this in-memory copy, never Redis.
 * - **Nodes.** `lo:nodes`: each node's heartbeat (ready, streams, lastSeen), for `/api/cluster`.
 * - **Events.** Local stream events go to the `lo:events` channel (and a capped `lo:eventlog`
 *   stream, so a node whose subscription dropped replays what it missed); other nodes re-emit them
 *   to their SSE clients. Webhooks stay with the owner (sent once).
 */
import { request } from 'undici';
import type { Logger } from 'pino';
import { StreamEvent, StreamEvents, type StreamEventMap } from '../events.js';
import { closeRedis, connectRedis, describeTarget, isUp, type ClusterRedis, type RedisTarget } from './redis-client.js';

/** How long a lease lives without renewal, and how often it is renewed (ms). */
export const LEASE_MS = 5000;
export const TICK_MS = 1000;
/** How long a request waits for a lease to be confirmed after this node did not run (ms). */
const CONFIRM_WAIT_MS = 1000;
/** A gap this long between two 250 ms beats means the process did not run (stopped, paused, starved). */
const FROZEN_MS = 2000;
/** A node not heard of for this long is shown as not ready. */
const NODE_STALE_MS = 3500;
/** A node not heard of for this long leaves the node list. */
const NODE_FORGET_MS = 60_000;
/** A live stream's registry entry lives this long past its last renewal (its owner died). */
const ENTRY_LIVE_MS = 30_000;
/** The capped event log (XADD MAXLEN ~). */
const EVENT_LOG_MAX = 1000;

const K = {
  owner: (name: string) => `lo:owner:${name}`,
  fence: (name: string) => `lo:fence:${name}`,
  state: (name: string) => `lo:state:${name}`,
  streams: 'lo:streams',
  nodes: 'lo:nodes',
  changes: 'lo:changes',
  events: 'lo:events',
  eventLog: 'lo:eventlog',
};

/** Where a stream's numbering goes on. */
export interface Numbers {
  msn: number;
  partId: number;
  discontinuities: number;
}

/** What a node keeps of a stream it owns. */
export interface OwnedStream {
  readonly name: string;
  readonly epoch: string;
  /** Current numbering (undefined before the packager exists). */
  numbers(): Numbers | undefined;
  /** True once its master playlist exists (the registry points here from then on). */
  playable(): boolean;
  /** True while a publisher is or may come back. */
  live(): boolean;
  /** The public summary shown by every node's `/api/streams`. */
  summary(): Record<string, unknown>;
  /** The renditions it encodes (empty before the source is known): a successor keeps them, so every URL stays. */
  ladder(): readonly object[];
}

/** A registry entry: who serves a stream's playlists. */
export interface StreamEntry {
  name: string;
  node: string;
  url: string;
  epoch: string;
  fence: number;
  live: boolean;
  at: number;
  expiresAt: number;
  /** The owner before this one: pieces of its epoch are still asked of it. */
  previous?: { node: string; url: string; epoch: string } | undefined;
  summary: Record<string, unknown>;
}

/** A node as `/api/cluster` shows it. */
export interface NodeEntry {
  id: string;
  url: string;
  ready: boolean;
  streams: number;
  lastSeen: number;
}

/** A successful claim. */
export interface Claim {
  fence: number;
  continueFrom: Numbers | undefined;
  /** The renditions of the stream's last owner (the same rendition names and URLs go on). */
  ladder: object[] | undefined;
}

interface Held {
  stream: OwnedStream;
  fence: number;
  token: string;
  onLost: (why: string) => void;
  /** The last MSN written, to write again at once when a segment closes. */
  writtenMsn: number;
  floor: Numbers | undefined;
  lost: boolean;
  /** When the last renewal that succeeded was sent (the lease is known to be ours until then + LEASE_MS). */
  confirmedAt: number;
  /** A renewal asked for by `settle`, shared by the requests that wait for it. */
  confirming: Promise<void> | undefined;
  /** This node did not run for a while since the lease was last confirmed (see `settle`). */
  suspect: boolean;
}

export interface ClusterOptions {
  target: RedisTarget;
  nodeId: string;
  nodeUrl: string;
  logger: Logger;
  /** Local events (published to the cluster). */
  events: StreamEvents;
  /** How long an ended stream's entry stays (its ENDLIST playlists are served that long). */
  endedRetentionMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One node's part in the cluster. */
export class Cluster {
  readonly nodeId: string;
  readonly nodeUrl: string;
  /** Events of streams owned by other nodes (for SSE; never webhooks). */
  readonly remoteEvents = new StreamEvents();
  private readonly redis: ClusterRedis;
  private readonly sub: ClusterRedis;
  private readonly log: Logger;
  private readonly opts: ClusterOptions;
  private readonly held = new Map<string, Held>();
  private entries = new Map<string, StreamEntry>();
  private nodes = new Map<string, NodeEntry>();
  private tickTimer: NodeJS.Timeout | undefined;
  private segmentTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private lastEventId = '$';
  private subscribedOnce = false;
  private readonly stopEvents: Array<() => void> = [];
  private polling = false;
  /** When the beat timer last ran (every 250 ms while this process runs). */
  private lastBeat = Date.now();
  /** Resolved once the registry has been read (a node that just started knows no stream yet). */
  private registryRead!: () => void;
  private readonly registryKnown = new Promise<void>((resolve) => (this.registryRead = resolve));
  private registryLoaded = false;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.nodeUrl = opts.nodeUrl.replace(/\/+$/, '');
    this.log = opts.logger.child({ component: 'cluster', node: opts.nodeId });
    this.redis = connectRedis(opts.target, opts.logger, 'commands');
    this.sub = connectRedis(opts.target, opts.logger, 'subscriber');
  }

  /** Starts the heartbeat, renewals, registry polling and event relay. */
  start(): void {
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === K.changes) void this.poll();
      else if (channel === K.events) this.relay(message);
    });
    for (const event of Object.values(StreamEvent)) {
      this.stopEvents.push(this.opts.events.on(event, (payload) => void this.publishEvent(event, payload)));
    }
    this.tickTimer = setInterval(() => void this.tick(), TICK_MS);
    this.tickTimer.unref();
    // a new segment's number is in Redis within a quarter second (a killed owner's successor needs it)
    this.segmentTimer = setInterval(() => {
      this.beat();
      for (const name of this.held.keys()) this.numbersChanged(name);
    }, 250);
    this.segmentTimer.unref();
    this.log.info({ redis: describeTarget(this.opts.target), url: this.nodeUrl }, 'cluster mode: joining');
    void this.tick();
  }

  /** True while Redis answers (this node may take publishers). */
  get redisUp(): boolean {
    return isUp(this.redis);
  }

  /** `/readyz`: Redis reachable and not draining. */
  get ready(): boolean {
    return this.redisUp && !this.draining;
  }

  // ---------------------------------------------------------------- leases

  /**
   * Claims `name` for a publish. Free: taken. Held by a live node that answers: refused (or taken
   * by force with the takeover policy). Held by a node that is draining, dead or stopped: waited
   * for (at most one lease) and then taken, so a publisher that reconnects at once after its node
   * died is not turned away.
   */
  async claim(name: string, takeover: boolean, localFloor?: Numbers): Promise<Claim | string> {
    const deadline = Date.now() + LEASE_MS + 2000;
    let force = takeover;
    let floorFence = 0;
    for (;;) {
      if (!this.redisUp) return 'the cluster store (Redis) cannot be reached, so the publish cannot be fenced; publish to another node or retry';
      let answer: [number, string, string[]?];
      try {
        answer = await this.redis.loClaim(K.owner(name), K.fence(name), K.state(name), this.nodeId, LEASE_MS, force ? '1' : '0', floorFence);
      } catch (err) {
        return `the cluster store (Redis) failed: ${(err as Error).message}`;
      }
      if (answer[0] === 1) {
        const fence = Number(answer[1]);
        const state = answer[2] ?? [];
        const continueFrom = mergeNumbers(numbersFromState(state), localFloor);
        const ladder = ladderFromState(state);
        this.log.info({ stream: name, fence, continueFrom, keptLadder: ladder?.length ?? 0, takeover: force && takeover }, 'stream claimed');
        return { fence, continueFrom, ladder };
      }
      const [node, fenceText] = answer[1].split('|');
      floorFence = Math.max(floorFence, Number(fenceText) || 0);
      if (node === this.nodeId && !this.held.has(name)) {
        // a lease of this node's earlier life (restarted within the lease): it is ours to replace
        force = true;
        continue;
      }
      const owner = this.nodes.get(node ?? '');
      const peer = owner ? await this.answers(owner.url) : 'silent';
      if (peer === 'ready' && owner!.ready && Date.now() - owner!.lastSeen < NODE_STALE_MS) return `stream "${name}" is already live on node ${node}`;
      if (peer === 'refused') {
        // nothing listens on its port any more: the owner died (kill -9, crash). Taking the lease
        // now is safe: were it alive after all, fencing makes it give the stream up at its next renewal.
        this.log.warn({ stream: name, owner: node }, 'the owner of the stream does not listen any more; taking the lease over now');
        force = true;
        continue;
      }
      // draining, or stopped (it accepts a connection but says nothing): its lease runs out by itself
      if (Date.now() > deadline) return `stream "${name}" is still held by node ${node}, which does not answer; retry`;
      await sleep(250);
    }
  }

  /**
   * How a peer answers `/readyz` within 700 ms: 'ready' (200), 'refused' (nothing listens: the
   * process is gone), 'silent' (503 while draining, or no answer: stopped, overloaded, unreachable).
   */
  private async answers(url: string): Promise<'ready' | 'refused' | 'silent'> {
    try {
      const res = await request(`${url}/readyz`, { headersTimeout: 700, bodyTimeout: 700, signal: AbortSignal.timeout(800) });
      await res.body.dump();
      return res.statusCode === 200 ? 'ready' : 'silent';
    } catch (err) {
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      return code === 'ECONNREFUSED' ? 'refused' : 'silent';
    }
  }

  /** Keeps the lease of a claimed stream; `onLost` runs once if another node holds it now. */
  own(stream: OwnedStream, claim: Claim, onLost: (why: string) => void): void {
    this.held.set(stream.name, {
      stream, fence: claim.fence, token: `${this.nodeId}|${claim.fence}`, onLost, writtenMsn: -1, floor: claim.continueFrom, lost: false,
      confirmedAt: Date.now(), confirming: undefined, suspect: false,
    });
    void this.renew(stream.name);
  }

  /** A segment closed somewhere in `name`: its numbering is written now, not at the next tick. */
  numbersChanged(name: string): void {
    const h = this.held.get(name);
    const n = h?.stream.numbers();
    if (h && n && n.msn !== h.writtenMsn) void this.renew(name);
  }

  /** Notes that this node runs; a long gap since the last beat means it did not (see `settle`). */
  private beat(): void {
    const now = Date.now();
    if (now - this.lastBeat > FROZEN_MS) for (const h of this.held.values()) h.suspect = true;
    this.lastBeat = now;
  }

  /**
   * Before this node answers for `name` from its own memory: is the lease still known to be its
   * own? Normally yes (renewed within the last second) and this returns undefined at once. A node
   * that did not run for about a lease (SIGSTOP, a paused VM, a long GC pause) may have lost it
   * meanwhile, and its first answers on waking came from its stale stream (seen in the cluster
   * test: a crawler through the shield saw MEDIA-SEQUENCE go back from 24 to 17 before the woken
   * node's first tick). So when the 250 ms beat shows such a gap and the lease was last confirmed
   * more than LEASE_MS - TICK_MS ago, the lease is renewed first (one Redis round trip, shared by the
   * requests that arrive meanwhile, at most CONFIRM_WAIT_MS); a lost lease hands the stream over
   * and the registry is read again, so the request goes to the new owner. Redis unreachable: the
   * stream is served from memory as always (serving never waits on a Redis that is down).
   */
  settle(name: string): Promise<unknown> | undefined {
    // A node that has just started (restarted, or scaled out) and has not read the registry yet
    // would answer 404 for every stream another node serves: seen in the cluster test, a node
    // restarted on its ports answered 404 for the live stream's playlist through the shield in
    // the first moment. Such requests wait for the first read (at most CONFIRM_WAIT_MS).
    if (!this.registryLoaded && this.redisUp) {
      return Promise.race([this.registryKnown, new Promise((resolve) => setTimeout(resolve, CONFIRM_WAIT_MS).unref())]);
    }
    const h = this.held.get(name);
    if (!h || h.lost || !this.redisUp) return undefined;
    // (a request may be read before the beat timer runs after a freeze: the gap is checked here too)
    if (Date.now() - this.lastBeat > FROZEN_MS) h.suspect = true;
    // Only a node that did not run: after Redis was down the lease is just as unconfirmed, but no
    // other node can have taken it through a Redis that was down, and serving never waits on it.
    if (!h.suspect || Date.now() - h.confirmedAt < LEASE_MS - TICK_MS) return undefined;
    h.confirming ??= (async () => {
      this.log.warn({ stream: name, unconfirmedMs: Date.now() - h.confirmedAt }, 'lease not confirmed for most of its life (this node did not run?): renewing it before answering');
      await this.renew(name);
      if (h.lost) await this.poll(true);
    })().finally(() => (h.confirming = undefined));
    return Promise.race([h.confirming, new Promise((resolve) => setTimeout(resolve, CONFIRM_WAIT_MS).unref())]);
  }

  /** True while this node holds the lease of `name`. */
  owns(name: string): boolean {
    const h = this.held.get(name);
    return h !== undefined && !h.lost;
  }

  /**
   * Gives a stream's lease up. `ended`: it ended for good (its entry says so and stays for the
   * retention, with the ENDLIST playlists served from here); otherwise it is handed over (drain):
   * the entry keeps pointing here until the next owner is playable.
   */
  async release(name: string, ended: boolean): Promise<void> {
    const h = this.held.get(name);
    if (!h) return;
    this.held.delete(name);
    if (h.lost) return;
    const n = this.numbersOf(h);
    const entry = ended ? JSON.stringify(this.entryOf(h, false)) : '';
    try {
      const ok = await this.redis.loRelease(K.owner(name), K.state(name), K.streams, h.token, name, entry, n.msn, n.partId, n.discontinuities);
      this.log.info({ stream: name, fence: h.fence, numbers: n, ended, released: ok === 1 }, ended ? 'stream ended: lease released' : 'stream handed over: lease released');
      await this.redis.publish(K.changes, name).catch(() => {});
    } catch (err) {
      this.log.warn({ stream: name, err: (err as Error).message }, 'could not release the lease (it expires by itself)');
    }
  }

  private numbersOf(h: Held): Numbers {
    return h.stream.numbers() ?? h.floor ?? { msn: 0, partId: 0, discontinuities: 0 };
  }

  private entryOf(h: Held, live: boolean): StreamEntry {
    const now = Date.now();
    const before = this.entries.get(h.stream.name);
    const previous = before && before.epoch !== h.stream.epoch ? { node: before.node, url: before.url, epoch: before.epoch } : before?.previous;
    return {
      name: h.stream.name, node: this.nodeId, url: this.nodeUrl, epoch: h.stream.epoch, fence: h.fence, live, at: now,
      expiresAt: now + (live ? ENTRY_LIVE_MS : this.opts.endedRetentionMs), previous, summary: h.stream.summary(),
    };
  }

  private async renew(name: string): Promise<void> {
    const h = this.held.get(name);
    if (!h || h.lost || !this.redisUp) return;
    const n = this.numbersOf(h);
    // the registry points here only once the stream is playable (until then: the previous owner)
    const entry = h.stream.playable() && h.stream.live() ? this.entryOf(h, true) : undefined;
    const sentAt = Date.now();
    try {
      const ok = await this.redis.loRenew(K.owner(name), K.fence(name), K.state(name), K.streams, h.token, LEASE_MS, h.fence, name,
        entry ? JSON.stringify(entry) : '', n.msn, n.partId, n.discontinuities, h.stream.epoch, this.nodeId,
        h.stream.ladder().length ? JSON.stringify(h.stream.ladder()) : '');
      if (this.held.get(name) !== h) return;
      if (ok !== 1) {
        h.lost = true;
        this.held.delete(name);
        this.log.error({ stream: name, fence: h.fence }, 'lease lost: another node owns the stream now; giving it up here (no ENDLIST, it goes on there)');
        h.onLost('the lease was lost to another node');
        return;
      }
      h.writtenMsn = n.msn;
      h.confirmedAt = Math.max(h.confirmedAt, sentAt);
      h.suspect = false;
      if (entry) {
        const was = this.entries.get(name);
        this.entries.set(name, entry);
        if (!was || was.node !== this.nodeId || was.epoch !== entry.epoch) {
          this.log.info({ stream: name, fence: h.fence, previous: entry.previous?.node }, 'registry: this node serves the stream now');
          await this.redis.publish(K.changes, name);
        }
      }
    } catch (err) {
      this.log.debug({ stream: name, err: (err as Error).message }, 'lease renewal failed; retrying');
    }
  }

  // ---------------------------------------------------------------- registry

  private async tick(): Promise<void> {
    if (!this.redisUp) return;
    await Promise.all([...this.held.keys()].map((name) => this.renew(name)));
    const me: NodeEntry = { id: this.nodeId, url: this.nodeUrl, ready: this.ready, streams: this.held.size, lastSeen: Date.now() };
    await this.redis.hset(K.nodes, this.nodeId, JSON.stringify(me)).catch(() => {});
    await this.poll();
  }

  /** Reads the registry and the node list into memory (a failed read keeps what was known). */
  private async poll(again = false): Promise<void> {
    // (`again`: a poll already under way may have read the registry before what made us ask)
    for (let i = 0; again && this.polling && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.polling || !this.redisUp) return;
    this.polling = true;
    try {
      const [streams, nodes] = await Promise.all([this.redis.hgetall(K.streams), this.redis.hgetall(K.nodes)]);
      const now = Date.now();
      const nextEntries = new Map<string, StreamEntry>();
      const gone: string[] = [];
      for (const [name, text] of Object.entries(streams)) {
        const e = parseJson<StreamEntry>(text);
        if (!e || e.expiresAt < now) {
          if (!e || e.expiresAt < now - 60_000) gone.push(name);
          continue;
        }
        nextEntries.set(name, e);
      }
      // an entry of a stream this node owns is this node's (the poll may have raced a renewal)
      for (const [name, h] of this.held) {
        const mine = this.entries.get(name);
        if (mine?.node === this.nodeId && mine.epoch === h.stream.epoch && nextEntries.get(name)?.epoch !== mine.epoch) nextEntries.set(name, mine);
      }
      // an entry Redis lost (a restart without persistence) stays known until it expires: its
      // owner writes it again at its next renewal
      for (const [name, e] of this.entries) if (!nextEntries.has(name) && e.expiresAt >= now) nextEntries.set(name, e);
      this.entries = nextEntries;
      this.registryLoaded = true;
      this.registryRead();
      const nextNodes = new Map<string, NodeEntry>();
      const forget: string[] = [];
      for (const [id, text] of Object.entries(nodes)) {
        const n = parseJson<NodeEntry>(text);
        if (!n || now - n.lastSeen > NODE_FORGET_MS) forget.push(id);
        else nextNodes.set(id, { ...n, ready: n.ready && now - n.lastSeen < NODE_STALE_MS });
      }
      this.nodes = nextNodes;
      if (gone.length) await this.redis.hdel(K.streams, ...gone);
      if (forget.length) await this.redis.hdel(K.nodes, ...forget);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'registry poll failed; keeping what was known');
    } finally {
      this.polling = false;
    }
  }

  /**
   * Where a request for `name` (a piece of `epoch`, or a playlist when undefined) is answered: the
   * URL of another node, or undefined for this node. `localEpoch(e)` tells whether this node has
   * the pieces of epoch `e` in memory.
   */
  servingUrl(name: string, epoch: string | undefined, localEpoch: (epoch: string) => boolean): string | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    if (epoch !== undefined) {
      if (localEpoch(epoch)) return undefined;
      if (e.previous && e.previous.epoch === epoch) return e.previous.node === this.nodeId ? undefined : e.previous.url;
    }
    if (e.node === this.nodeId) return undefined;
    // this node packages the stream now but is not playable yet: the previous owner's playlists until then
    return e.url;
  }

  /** Streams served by other nodes (for the directory and `/api/streams`). */
  remoteStreams(): StreamEntry[] {
    const now = Date.now();
    return [...this.entries.values()].filter((e) => e.node !== this.nodeId && e.expiresAt >= now);
  }

  /** The node serving `name`, if another one does. */
  remoteEntry(name: string): StreamEntry | undefined {
    const e = this.entries.get(name);
    return e && e.node !== this.nodeId ? e : undefined;
  }

  /** Every node heard of in the last minute. */
  nodeList(): NodeEntry[] {
    const list = new Map(this.nodes);
    list.set(this.nodeId, { id: this.nodeId, url: this.nodeUrl, ready: this.ready, streams: this.held.size, lastSeen: Date.now() });
    return [...list.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  // ---------------------------------------------------------------- events

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(K.changes, K.events);
      // after a dropped subscription: what the others published meanwhile
      if (this.subscribedOnce && this.lastEventId !== '$') {
        const missed = await this.redis.xrange(K.eventLog, `(${this.lastEventId}`, '+', 'COUNT', 200);
        for (const [id, fields] of missed) this.relay(fields[1] ?? '', id);
        if (missed.length) this.log.info({ replayed: missed.length }, 'cluster events missed while away replayed');
      }
      this.subscribedOnce = true;
      void this.poll();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not subscribe to cluster changes; polling only');
    }
  }

  private async publishEvent<E extends StreamEvent>(event: E, payload: StreamEventMap[E]): Promise<void> {
    if (!this.redisUp) return;
    const message = JSON.stringify({ node: this.nodeId, event, payload });
    try {
      const id = await this.redis.xadd(K.eventLog, 'MAXLEN', '~', String(EVENT_LOG_MAX), '*', 'm', message);
      await this.redis.publish(K.events, JSON.stringify({ id, message }));
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster event not published');
    }
  }

  private relay(raw: string, logId?: string): void {
    const wrapped = logId ? { id: logId, message: raw } : parseJson<{ id: string; message: string }>(raw);
    if (!wrapped) return;
    if (wrapped.id) this.lastEventId = wrapped.id;
    const m = parseJson<{ node: string; event: StreamEvent; payload: never }>(wrapped.message);
    if (!m || m.node === this.nodeId || !Object.values(StreamEvent).includes(m.event)) return;
    this.remoteEvents.emit(m.event, m.payload);
  }

  // ---------------------------------------------------------------- life

  /** Drain: `/readyz` 503 and the node list says so at once. */
  async drain(): Promise<void> {
    this.draining = true;
    const me: NodeEntry = { id: this.nodeId, url: this.nodeUrl, ready: false, streams: this.held.size, lastSeen: Date.now() };
    await this.redis.hset(K.nodes, this.nodeId, JSON.stringify(me)).catch(() => {});
  }

  /**
   * Drain: resolves once every stream whose registry entry names this node is served by another
   * node (or `timeoutMs` passed): until then this node's last playlists are what viewers get, so
   * it keeps its HTTP port open.
   */
  async handedOff(timeoutMs: number): Promise<string[]> {
    const until = Date.now() + timeoutMs;
    const mine = () => [...this.entries.values()].filter((e) => e.node === this.nodeId && e.live).map((e) => e.name);
    while (mine().length > 0 && Date.now() < until) {
      await sleep(200);
      await this.poll();
    }
    return mine();
  }

  async close(): Promise<void> {
    clearInterval(this.tickTimer);
    clearInterval(this.segmentTimer);
    this.stopEvents.forEach((off) => off());
    await this.redis.hdel(K.nodes, this.nodeId).catch(() => {});
    closeRedis(this.sub);
    closeRedis(this.redis);
  }
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** The numbering a claim returned (HGETALL as a flat list), with the safety margin after an unclean end. */
export function numbersFromState(flat: string[]): Numbers | undefined {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  if (h.msn === undefined) return undefined;
  // the last owner may have listed a segment after its last write (killed between the two)
  const margin = h.clean === '1' ? 0 : 1;
  return { msn: Number(h.msn) + margin, partId: Number(h.partId ?? 0) + margin * 64, discontinuities: Number(h.disc ?? 0) };
}

/** The ladder the last owner kept in the state (HGETALL as a flat list). */
export function ladderFromState(flat: string[]): object[] | undefined {
  const i = flat.findIndex((v, j) => j % 2 === 0 && v === 'ladder');
  if (i < 0) return undefined;
  const ladder = parseJson<object[]>(flat[i + 1] ?? '');
  return Array.isArray(ladder) && ladder.length ? ladder : undefined;
}

/** The larger of two numberings, field by field (a node's own earlier session, and Redis's). */
export function mergeNumbers(a: Numbers | undefined, b: Numbers | undefined): Numbers | undefined {
  if (!a) return b;
  if (!b) return a;
  return { msn: Math.max(a.msn, b.msn), partId: Math.max(a.partId, b.partId), discontinuities: Math.max(a.discontinuities, b.discontinuities) };
}
