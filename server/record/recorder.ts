/**
 * Recording and the DVR window: the packager's pieces written to the store as they are published,
 * off the request path. One SessionRecorder per LiveSession; one sequential queue per rendition
 * (segment, then the list chunk naming it), each write retried with backoff. A store that keeps
 * failing, or falls so far behind that the waiting bytes pass a bound, stops the recording with a
 * log line and a metric: never the live stream, whose playlists come from memory.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Metric } from 'prom-client';
import type { ObjectStore } from '../storage/store.js';
import { describeStoreError } from '../storage/store.js';
import type { RenditionSink, Segment } from '../hls/rendition.js';
import {
  CHUNK_SEGMENTS, chunkCount, keys, parseManifest, parseManifestKey, parseRecordingId, recordingId,
  type RecordedSegment, type RecordingManifest,
} from './recording.js';

/** Delays between the attempts of one write (ms): five attempts over about 7.5 s. */
export const RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000, 4000];
/** Media bytes one stream may have waiting for the store before its recording is stopped. */
const MAX_PENDING_BYTES = 128 * 2 ** 20;
/** Segments kept in the store beyond a DVR-only window (CDN and players still fetching them). */
const DVR_EXTRA_SEGMENTS = 6;
/** A slow-upload warning is logged at most this often per stream (ms). */
const WARN_EVERY_MS = 30_000;

/** What the recorder needs from the server. */
export interface RecordingsOptions {
  store: ObjectStore;
  logger: Logger;
  /** Whether a stream's broadcasts are kept (ORIGIN_RECORD and the stream's own `record`). */
  records(stream: string): boolean;
  /** ORIGIN_DVR_SECONDS. */
  dvrSeconds: number;
  /** ORIGIN_RECORDING_RETENTION_DAYS (0: keep). */
  retentionDays: number;
  /** How long an ended session's playlists stay served (its DVR-only media lives that long). */
  endedRetentionMs: number;
  /**
   * Who writes (`<hostname>-<httpPort>`, the cluster's default node ID): at start, this writer's
   * recordings left unfinished by a crash are closed, and only those (another server may share the store).
   */
  writer: string;
  /** Delays between write attempts (ms); tests shorten them. */
  retryDelaysMs?: readonly number[];
}

/** What a LiveSession knows when its packager is made. */
export interface SessionInfo {
  name: string;
  epoch: string;
  startedAt: number;
  targetDuration: number;
  segmentSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long answers read from the store are reused: an ended recording's, and anything else's (ms). */
const CACHE_ENDED_MS = 60_000;
const CACHE_OTHER_MS = 2_000;
/** Entries the read cache holds at most (manifests, segment lists, the recording list). */
const CACHE_ENTRIES = 500;

/**
 * A small read cache in front of the store: every VOD request needs its recording's manifest and
 * a playlist needs every chunk of its list, so without it N viewers of a recording cost N store
 * reads per piece (and an S3 bill), and a client looping on /api/recordings one LIST each time.
 * Concurrent reads of one key share one store request. Bounded by entries; oldest out first.
 */
class ReadCache {
  private readonly entries = new Map<string, { until: number; value: Promise<unknown> }>();

  get<T>(key: string, load: () => Promise<T>, ttl: (value: T) => number): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    // until it settles, concurrent readers share the request; then it lives for its TTL
    this.entries.set(key, { until: Number.MAX_SAFE_INTEGER, value });
    value.then(
      (v) => {
        if (this.entries.get(key)?.value === value) this.entries.set(key, { until: Date.now() + ttl(v), value });
      },
      () => {
        if (this.entries.get(key)?.value === value) this.entries.delete(key);
      },
    );
    while (this.entries.size > CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  /** Forgets everything (after a delete, a recording's end). */
  clear(): void {
    this.entries.clear();
  }
}

/** The metrics of the store, registered into /metrics by origin/metrics.ts. */
function storageMetrics(active: ReadonlySet<SessionRecorder>) {
  return {
    upload: new Histogram({
      name: 'origin_storage_upload_seconds', help: 'Seconds from a segment being published to the store holding it (with retries)', labelNames: ['stream'], registers: [],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
    }),
    failures: new Counter({ name: 'origin_storage_failures_total', help: 'Store writes and reads that failed (each attempt)', labelNames: ['op'], registers: [] }),
    stopped: new Counter({ name: 'origin_recordings_stopped_total', help: 'Recordings stopped early because the store failed or fell behind', registers: [] }),
    lag: new Gauge({
      name: 'origin_storage_upload_lag_seconds', help: 'Age of the oldest segment of a stream still waiting for the store', labelNames: ['stream'], registers: [],
      collect() {
        this.reset();
        const now = Date.now();
        for (const r of active) this.set({ stream: r.info.name }, r.lagSeconds(now));
      },
    }),
  };
}

/** The recordings of this server: makes a recorder per session, lists, reads and deletes recordings, applies retention. */
export class Recordings {
  readonly store: ObjectStore;
  readonly dvrSeconds: number;
  private readonly opts: RecordingsOptions;
  private readonly log: Logger;
  private readonly active = new Set<SessionRecorder>();
  private readonly metricObjects = storageMetrics(this.active);
  private readonly finishing = new Set<Promise<void>>();
  private readonly dvrCleanups = new Map<NodeJS.Timeout, () => Promise<unknown>>();
  private retention: NodeJS.Timeout | undefined;
  private readonly cache = new ReadCache();

  constructor(opts: RecordingsOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.dvrSeconds = opts.dvrSeconds;
    this.log = opts.logger.child({ component: 'recordings' });
  }

  /** prom-client metrics for /metrics. */
  get metrics(): Metric[] {
    return Object.values(this.metricObjects);
  }

  /** The recorder of a new session, or undefined when the stream is neither recorded nor has a DVR window. */
  forSession(info: SessionInfo): SessionRecorder | undefined {
    const record = this.opts.records(info.name);
    if (!record && this.dvrSeconds <= 0) return undefined;
    const r = new SessionRecorder(this, info, record, this.log.child({ stream: info.name, recording: recordingId(info.name, info.epoch) }));
    this.active.add(r);
    return r;
  }

  /** @internal the recorder reports its end; its DVR-only media goes once nobody can fetch it. */
  finished(r: SessionRecorder, done: Promise<void>): void {
    this.active.delete(r);
    void done.finally(() => this.cache.clear());
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
    if (!r.recording) {
      const cleanup = () => this.store.deletePrefix(keys.media(r.info.name, r.info.epoch)).catch((e) => this.log.warn({ err: describeStoreError(e) }, 'could not delete an ended DVR window'));
      const t = setTimeout(() => {
        this.dvrCleanups.delete(t);
        void done.then(cleanup);
      }, this.opts.endedRetentionMs + 30_000);
      t.unref();
      this.dvrCleanups.set(t, () => done.then(cleanup));
    }
  }

  /** @internal */
  get metric() {
    return this.metricObjects;
  }

  /** Every recording's manifest (of one stream), oldest first. */
  list(stream?: string): Promise<RecordingManifest[]> {
    return this.cache.get(`list:${stream ?? ''}`, () => this.listNow(stream), () => CACHE_OTHER_MS);
  }

  private async listNow(stream?: string): Promise<RecordingManifest[]> {
    const names = (await this.store.list(keys.catalogPrefix(stream))).map(parseManifestKey).filter((k) => k !== undefined);
    const out = await Promise.all(names.map((k) => this.readManifest(k.stream, k.epoch)));
    return out.filter((m): m is RecordingManifest => m !== undefined).sort((a, b) => a.startedAt - b.startedAt);
  }

  /** One recording's manifest by ID. */
  async manifest(id: string): Promise<RecordingManifest | undefined> {
    const p = parseRecordingId(id);
    return p ? this.readManifest(p.stream, p.epoch) : undefined;
  }

  private readManifest(stream: string, epoch: string): Promise<RecordingManifest | undefined> {
    return this.cache.get(`manifest:${stream}/${epoch}`, () => this.readManifestNow(stream, epoch), (m) => (m?.endedAt ? CACHE_ENDED_MS : CACHE_OTHER_MS));
  }

  private async readManifestNow(stream: string, epoch: string): Promise<RecordingManifest | undefined> {
    const text = await this.store.get(keys.manifest(stream, epoch));
    const m = text ? parseManifest(text.toString()) : undefined;
    return m && m.stream === stream && m.epoch === epoch ? m : undefined;
  }

  /** The recorded segments of one rendition, in order. */
  segments(m: RecordingManifest, rendition: string): Promise<RecordedSegment[]> {
    const count = m.segments[rendition] ?? 0;
    return this.cache.get(`segments:${m.stream}/${m.epoch}/${rendition}/${count}`, () => this.segmentsNow(m, rendition), () => (m.endedAt ? CACHE_ENDED_MS : CACHE_OTHER_MS));
  }

  private async segmentsNow(m: RecordingManifest, rendition: string): Promise<RecordedSegment[]> {
    const n = chunkCount(m.segments[rendition] ?? 0);
    const chunks = await Promise.all(Array.from({ length: n }, (_, k) => this.store.get(keys.chunk(m.stream, m.epoch, rendition, k))));
    return chunks.flatMap((c) => (c ? (JSON.parse(c.toString()) as RecordedSegment[]) : []));
  }

  /** A stored piece (init segment or segment) of a recording or DVR window. */
  read(stream: string, epoch: string, rendition: string, uri: string): Promise<Buffer | undefined> {
    return this.store.get(keys.piece(stream, epoch, rendition, uri)).catch((e) => {
      this.metricObjects.failures.inc({ op: 'read' });
      throw e;
    });
  }

  /** The master playlist of a recording, as it was served live. */
  master(m: RecordingManifest): Promise<Buffer | undefined> {
    return this.cache.get(`master:${m.stream}/${m.epoch}`, () => this.store.get(keys.master(m.stream, m.epoch)), (t) => (t && m.endedAt ? CACHE_ENDED_MS : CACHE_OTHER_MS));
  }

  /** Deletes a recording (manifest first, so it is no longer listed, then its media); false when unknown. */
  async delete(id: string): Promise<boolean> {
    const m = await this.manifest(id);
    if (!m) return false;
    if (m.endedAt === null && [...this.active].some((r) => r.info.epoch === m.epoch)) {
      // still being written: stop it first so nothing is written back after the delete
      [...this.active].find((r) => r.info.epoch === m.epoch)?.stop('deleted through the API');
    }
    await this.store.delete(keys.manifest(m.stream, m.epoch));
    this.cache.clear();
    const n = await this.store.deletePrefix(keys.media(m.stream, m.epoch));
    this.cache.clear();
    this.log.info({ id, objects: n + 1 }, 'recording deleted');
    return true;
  }

  /** Applies the retention now: deletes recordings that ended more than the retention ago. */
  async applyRetention(now = Date.now()): Promise<string[]> {
    const days = this.opts.retentionDays;
    if (days <= 0) return [];
    const limit = now - days * 86_400_000;
    const old = (await this.list()).filter((m) => m.endedAt !== null && m.endedAt < limit);
    for (const m of old) await this.delete(m.id);
    if (old.length) this.log.info({ deleted: old.map((m) => m.id), retentionDays: days }, 'retention: old recordings deleted');
    return old.map((m) => m.id);
  }

  /** @internal */
  get options(): RecordingsOptions {
    return this.opts;
  }

  /**
   * Closes this writer's recordings that a crash (kill -9, power) left without an end: they would
   * be listed as "being recorded" for ever and play as EVENT playlists that never end. Their end is
   * their last listed segment's; `stoppedEarly` says why.
   */
  async closeUnfinished(): Promise<string[]> {
    const open = (await this.listNow()).filter((m) => m.endedAt === null && m.writer === this.opts.writer);
    for (const m of open) {
      const closed: RecordingManifest = { ...m, endedAt: m.startedAt + Math.round(m.durationSeconds * 1000), stoppedEarly: 'the server stopped before the broadcast ended' };
      await this.store.put(keys.manifest(m.stream, m.epoch), Buffer.from(JSON.stringify(closed)), 'application/json');
    }
    if (open.length) {
      this.cache.clear();
      this.log.warn({ recordings: open.map((m) => m.id) }, 'closed recordings a previous run of this server left unfinished');
    }
    return open.map((m) => m.id);
  }

  /** Closes what a crash left unfinished, and starts the retention sweep (at start, then hourly). */
  start(): void {
    void this.closeUnfinished().catch((e) => this.log.warn({ err: describeStoreError(e) }, 'could not check the store for unfinished recordings'));
    if (this.opts.retentionDays <= 0) return;
    const sweep = () => void this.applyRetention().catch((e) => this.log.warn({ err: describeStoreError(e) }, 'retention sweep failed; next try in an hour'));
    sweep();
    this.retention = setInterval(sweep, 3_600_000);
    this.retention.unref();
  }

  /** Shutdown: waits (at most `ms`) for recorders to finish writing; deletes ended DVR-only windows. */
  async close(ms = 10_000): Promise<void> {
    clearInterval(this.retention);
    const cleanups = [...this.dvrCleanups.entries()];
    for (const [t] of cleanups) clearTimeout(t);
    this.dvrCleanups.clear();
    const all = Promise.all([...this.finishing, ...cleanups.map(([, run]) => run())]);
    await Promise.race([all, sleep(ms)]);
  }
}

interface RenditionQueue {
  tail: Promise<void>;
  count: number;
  chunk: RecordedSegment[];
  /** DVR-only: what is in the store, oldest first, for deleting what falls out of the window. */
  kept: Array<{ uri: string; duration: number }>;
  seconds: number;
}

/** The recorder of one session. */
export class SessionRecorder {
  readonly info: SessionInfo;
  /** True when the broadcast is kept (listed as a recording); false for a DVR window only. */
  readonly recording: boolean;
  readonly dvrSeconds: number;
  private readonly owner: Recordings;
  private readonly log: Logger;
  private readonly queues = new Map<string, RenditionQueue>();
  private manifest: RecordingManifest;
  private manifestWrite: Promise<void> = Promise.resolve();
  private manifestDirty = false;
  private stoppedReason: string | undefined;
  private pendingBytes = 0;
  /** Publish times of segments still waiting, for the lag gauge. */
  private readonly waiting = new Set<number>();
  private lastWarn = 0;
  private ended = false;

  constructor(owner: Recordings, info: SessionInfo, recording: boolean, log: Logger) {
    this.owner = owner;
    this.info = info;
    this.recording = recording;
    this.dvrSeconds = owner.dvrSeconds;
    this.log = log;
    this.manifest = {
      v: 1,
      id: recordingId(info.name, info.epoch),
      stream: info.name,
      epoch: info.epoch,
      startedAt: info.startedAt,
      endedAt: null,
      renditions: [],
      segments: {},
      durationSeconds: 0,
      bytes: 0,
      targetDuration: info.targetDuration,
      writer: owner.options.writer,
    };
    if (recording) log.info({ store: owner.store.where }, 'recording');
  }

  /** Seconds the oldest waiting segment has waited. */
  lagSeconds(now: number): number {
    let oldest = now;
    for (const t of this.waiting) oldest = Math.min(oldest, t);
    return (now - oldest) / 1000;
  }

  /** The sink of one rendition (in the master's order). */
  sink(rendition: string): RenditionSink {
    const q: RenditionQueue = { tail: Promise.resolve(), count: 0, chunk: [], kept: [], seconds: 0 };
    this.queues.set(rendition, q);
    this.manifest.renditions.push(rendition);
    this.manifest.segments[rendition] = 0;
    return {
      init: (uri, body) => {
        this.manifest.bytes += body.length;
        this.enqueue(q, body.length, () => this.put(keys.piece(this.info.name, this.info.epoch, rendition, uri), body, 'video/mp4'));
      },
      segment: (segment) => this.segment(rendition, q, segment),
    };
  }

  /** Keeps the master playlist (written once, when the stream became playable). */
  setMaster(text: string): void {
    if (!this.recording) return;
    const body = Buffer.from(text);
    this.enqueue(undefined, body.length, () => this.put(keys.master(this.info.name, this.info.epoch), body, 'application/vnd.apple.mpegurl'));
    this.writeManifest();
  }

  /** A stored piece of this session (the DVR window's old segments). */
  read(rendition: string, uri: string): Promise<Buffer | undefined> {
    return this.owner.read(this.info.name, this.info.epoch, rendition, uri);
  }

  private segment(rendition: string, q: RenditionQueue, segment: Segment): Promise<boolean> {
    const publishedAt = Date.now();
    const body = segment.piece.body;
    this.waiting.add(publishedAt);
    const entry: RecordedSegment = {
      msn: segment.msn, uri: segment.uri, duration: segment.duration, programDateTime: segment.programDateTime,
      discontinuity: segment.discontinuity, mapUri: segment.mapUri, bytes: body.length,
    };
    return this.enqueue(q, body.length, async () => {
      await this.put(keys.piece(this.info.name, this.info.epoch, rendition, segment.uri), body, 'video/iso.segment');
      if (this.recording) {
        // the segment first, then the list that names it: a listed segment always exists
        const k = Math.floor(q.count / CHUNK_SEGMENTS);
        if (q.count % CHUNK_SEGMENTS === 0) q.chunk = [];
        q.chunk.push(entry);
        await this.put(keys.chunk(this.info.name, this.info.epoch, rendition, k), Buffer.from(JSON.stringify(q.chunk)), 'application/json');
        q.count++;
        this.manifest.segments[rendition] = q.count;
        this.manifest.bytes += body.length;
        if (rendition === this.manifest.renditions[0]) this.manifest.durationSeconds += segment.duration;
        this.writeManifest();
      } else {
        await this.trimDvr(rendition, q, entry);
      }
    }).then((ok) => {
      this.waiting.delete(publishedAt);
      if (!ok) return false;
      const seconds = (Date.now() - publishedAt) / 1000;
      this.owner.metric.upload.observe({ stream: this.info.name }, seconds);
      if (seconds > 0.9 * this.info.segmentSeconds && Date.now() - this.lastWarn > WARN_EVERY_MS) {
        this.lastWarn = Date.now();
        this.log.warn({ seconds, segmentSeconds: this.info.segmentSeconds, store: this.owner.store.where }, 'the store is slow: a segment took longer to upload than 0.9 x its duration');
      }
      return true;
    });
  }

  /** DVR only: deletes the segments that fell out of the window (and the CDN's margin). */
  private async trimDvr(rendition: string, q: RenditionQueue, entry: RecordedSegment): Promise<void> {
    q.kept.push({ uri: entry.uri, duration: entry.duration });
    q.seconds += entry.duration;
    const margin = DVR_EXTRA_SEGMENTS * this.info.segmentSeconds;
    while (q.kept.length > 1 && q.seconds - q.kept[0]!.duration >= this.dvrSeconds + margin) {
      const gone = q.kept.shift()!;
      q.seconds -= gone.duration;
      await this.owner.store.delete(keys.piece(this.info.name, this.info.epoch, rendition, gone.uri)).catch(() => this.owner.metric.failures.inc({ op: 'delete' }));
    }
  }

  /** Runs `work` after what is queued (on the rendition's queue, or alone); resolves whether it succeeded. */
  private enqueue(q: RenditionQueue | undefined, bytes: number, work: () => Promise<void>): Promise<boolean> {
    if (this.stoppedReason) return Promise.resolve(false);
    this.pendingBytes += bytes;
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.stop(`the store fell behind: ${Math.round(this.pendingBytes / 2 ** 20)} MiB waiting (limit ${MAX_PENDING_BYTES / 2 ** 20} MiB)`);
      this.pendingBytes -= bytes;
      return Promise.resolve(false);
    }
    const run = async (): Promise<boolean> => {
      try {
        if (this.stoppedReason) return false;
        await work();
        return true;
      } catch (e) {
        this.stop(`the store failed: ${describeStoreError(e)}`);
        return false;
      } finally {
        this.pendingBytes -= bytes;
      }
    };
    const result = (q ? q.tail : Promise.resolve()).then(run);
    if (q) q.tail = result.then(() => undefined);
    return result;
  }

  /** One write with retries and backoff; throws the last error. */
  private async put(key: string, body: Buffer, contentType: string, evenIfStopped = false): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.owner.store.put(key, body, contentType);
        return;
      } catch (e) {
        this.owner.metric.failures.inc({ op: 'write' });
        const delay = (this.owner.options.retryDelaysMs ?? RETRY_DELAYS_MS)[attempt];
        if (delay === undefined || (this.stoppedReason && !evenIfStopped)) throw e;
        this.log.warn({ key, attempt: attempt + 1, err: describeStoreError(e), retryInMs: delay }, 'store write failed; retrying');
        await sleep(delay);
      }
    }
  }

  /** Writes the manifest after what is being written (coalesced: at most one waiting). */
  private writeManifest(): void {
    if (!this.recording) return;
    if (this.manifestDirty) return;
    this.manifestDirty = true;
    this.manifestWrite = this.manifestWrite.then(async () => {
      this.manifestDirty = false;
      const body = Buffer.from(JSON.stringify(this.manifest));
      try {
        await this.put(keys.manifest(this.info.name, this.info.epoch), body, 'application/json');
      } catch (e) {
        this.stop(`the store failed: ${describeStoreError(e)}`);
      }
    });
  }

  /** Stops recording (the live stream goes on): logged, counted, and noted in the manifest. */
  stop(reason: string): void {
    if (this.stoppedReason) return;
    this.stoppedReason = reason;
    this.owner.metric.stopped.inc();
    this.log.error({ reason, store: this.owner.store.where, recordedSeconds: Math.round(this.manifest.durationSeconds) }, `recording stopped: ${reason}; the live stream goes on`);
    if (this.recording) {
      this.manifest.stoppedEarly = reason;
      this.manifest.endedAt ??= Date.now();
      // one attempt: the store is failing; the manifest keeps what was listed before either way
      const body = Buffer.from(JSON.stringify(this.manifest));
      this.manifestWrite = this.manifestWrite.then(() => this.owner.store.put(keys.manifest(this.info.name, this.info.epoch), body, 'application/json').catch(() => undefined));
    }
  }

  /** The session ended: everything queued is written, then the manifest with its end. */
  end(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    const done = (async () => {
      await Promise.all([...this.queues.values()].map((q) => q.tail));
      await this.manifestWrite;
      if (this.recording && !this.stoppedReason) {
        this.manifest.endedAt = Date.now();
        this.writeManifest();
        await this.manifestWrite;
        this.log.info({ durationSeconds: Math.round(this.manifest.durationSeconds * 10) / 10, bytes: this.manifest.bytes }, 'recording complete');
      } else if (this.recording) {
        // stopped early: its last manifest may not have reached a failing store; one more try
        // with retries, so that it is listed as ended with the reason once the store is back
        try {
          await this.put(keys.manifest(this.info.name, this.info.epoch), Buffer.from(JSON.stringify(this.manifest)), 'application/json', true);
        } catch (e) {
          this.log.warn({ err: describeStoreError(e) }, 'the stopped recording\'s manifest could not be written; it is closed at the next start');
        }
      }
    })();
    this.owner.finished(this, done);
    return done;
  }
}
