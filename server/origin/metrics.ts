/**
 * Prometheus metrics at /metrics (prom-client: the standard Node client, with the process metrics
 * Prometheus users expect). Stream metrics are read from the sessions when scraped (`collect`), so
 * the media path pays nothing for them; only the HTTP counters are updated per request.
 * Names follow Prometheus conventions: a unit suffix, `_total` on counters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionManager } from '../session/manager.js';
import type { LiveSession, SessionState } from '../session/live-session.js';
import type { RenditionWindow } from '../hls/rendition.js';

const STATES: readonly SessionState[] = ['starting', 'live', 'reconnecting', 'ended', 'failed'];

/** The registry and the per-request hook. */
export interface OriginMetrics {
  register: Registry;
  /** Counts one answered request; `route` is the route pattern (bounded label values). */
  observeHttp(route: string, method: string, status: number, bytes: number, seconds: number): void;
}

/** What the RTMP ingest tells /metrics about its door (see ingest/rtmp-guard.ts). */
export interface RtmpDoorStats {
  refusals(): ReadonlyMap<string, number>;
  readonly connections: number;
}

/** Builds the metrics over `sessions` (and the RTMP door, when given). */
export function createMetrics(sessions: SessionManager, rtmp?: RtmpDoorStats, held?: { readonly count: number; readonly refused: number }): OriginMetrics {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const live = () => sessions.list().filter((s) => s.isLive);
  /** Per-stream gauges are rebuilt on every scrape, so a stream that is gone leaves no stale series. */
  const perStream = (name: string, help: string, value: (s: LiveSession) => number) =>
    new Gauge({
      name, help, labelNames: ['stream'], registers: [register],
      collect() {
        this.reset();
        for (const s of live()) this.set({ stream: s.name }, value(s));
      },
    });

  new Gauge({ name: 'origin_live_streams', help: 'Streams with a publisher (or waiting for one to come back)', registers: [register], collect() { this.set(live().length); } });
  perStream('origin_ingest_bits_per_second', 'Bit rate arriving from the publisher (FLV, last 5 s)', (s) => s.rates.bytes.perSecond * 8);
  perStream('origin_ingest_frames_per_second', 'Video frames per second arriving from the publisher (last 5 s)', (s) => s.rates.frames.perSecond);
  perStream('origin_transcoder_speed_ratio', 'Media seconds the transcoder produced per wall-clock second (1 = real time; last 5 s)', (s) => s.rates.speed.perSecond);
  perStream('origin_stream_media_memory_bytes', 'Media bytes the packager holds for the stream', (s) => s.memoryBytes);
  new Gauge({
    name: 'origin_stream_state', help: 'The state of each known stream (1 for the current one)', labelNames: ['stream', 'state'], registers: [register],
    collect() {
      this.reset();
      for (const s of sessions.list()) for (const state of STATES) this.set({ stream: s.name, state }, s.state === state ? 1 : 0);
    },
  });

  // Counters grow by what happened since the last scrape; a new session of a stream adds to the same series.
  const restartsSeen = new WeakMap<LiveSession, number>();
  new Counter({
    name: 'origin_transcoder_restarts_total', help: 'ffmpeg runs started after the first (crashes, stalls, publisher reconnects)', labelNames: ['stream'], registers: [register],
    collect() {
      for (const s of sessions.list()) {
        const delta = s.restarts - (restartsSeen.get(s) ?? 0);
        restartsSeen.set(s, s.restarts);
        this.inc({ stream: s.name }, delta);
      }
    },
  });
  const windows = (s: LiveSession): RenditionWindow[] => [...(s.packager?.renditions.values() ?? [])];
  const segmentsSeen = new WeakMap<RenditionWindow, number>();
  new Counter({
    name: 'origin_segments_total', help: 'Segments the packager listed', labelNames: ['stream', 'rendition'], registers: [register],
    collect() {
      for (const s of sessions.list()) {
        for (const w of windows(s)) {
          const delta = w.segmentsPublished - (segmentsSeen.get(w) ?? 0);
          segmentsSeen.set(w, w.segmentsPublished);
          this.inc({ stream: s.name, rendition: w.name }, delta);
        }
      }
    },
  });
  new Gauge({
    name: 'origin_newest_segment_age_seconds', help: 'Seconds since the newest segment of a live rendition was listed', labelNames: ['stream', 'rendition'], registers: [register],
    collect() {
      this.reset();
      const now = Date.now();
      for (const s of live()) for (const w of windows(s)) if (w.newestSegmentAt) this.set({ stream: s.name, rendition: w.name }, (now - w.newestSegmentAt) / 1000);
    },
  });

  if (rtmp) {
    const seen = new Map<string, number>();
    new Counter({
      name: 'origin_rtmp_refused_total', help: 'RTMP connections and publishes turned away, by reason (caps, deadlines, wrong keys, bans, play, protocol)', labelNames: ['reason'], registers: [register],
      collect() {
        for (const [reason, n] of rtmp.refusals()) {
          this.inc({ reason }, n - (seen.get(reason) ?? 0));
          seen.set(reason, n);
        }
      },
    });
    new Gauge({ name: 'origin_rtmp_connections', help: 'RTMP connections open now', registers: [register], collect() { this.set(rtmp.connections); } });
  }

  if (held) {
    new Gauge({ name: 'origin_http_held_requests', help: 'Blocking playlist reloads and preload-hint parts held now', registers: [register], collect() { this.set(held.count); } });
    let refusedSeen = 0;
    new Counter({
      name: 'origin_http_held_refused_total', help: 'Requests answered 503 at once because the held-request cap was reached', registers: [register],
      collect() { this.inc(held.refused - refusedSeen); refusedSeen = held.refused; },
    });
  }

  const requests = new Counter({ name: 'origin_http_requests_total', help: 'HTTP requests answered', labelNames: ['route', 'method', 'status'], registers: [register] });
  const bytes = new Counter({ name: 'origin_http_response_bytes_total', help: 'Body bytes sent (Content-Length of the answers)', labelNames: ['route'], registers: [register] });
  // Buckets up to the 6 s a blocking playlist request may be held.
  const duration = new Histogram({
    name: 'origin_http_request_duration_seconds', help: 'Time to answer, including LL-HLS holds', labelNames: ['route'], registers: [register],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.25, 0.5, 1, 2, 4, 6.5],
  });
  const children = new Map<string, { requests: Counter.Internal; bytes: Counter.Internal; duration: Histogram.Internal<string> }>();
  return {
    register,
    observeHttp(route, method, status, sent, seconds) {
      // (the labelled children are kept: prom-client would otherwise hash the label object on every
      // request; the label values are bounded, route patterns x methods x statuses)
      const key = `${route} ${method} ${status}`;
      let c = children.get(key);
      if (!c) {
        c = { requests: requests.labels(route, method, String(status)), bytes: bytes.labels(route), duration: duration.labels(route) };
        children.set(key, c);
      }
      c.requests.inc();
      if (sent > 0) c.bytes.inc(sent);
      c.duration.observe(seconds);
    },
  };
}
