// The session's state machine with a fake transcoder (recorded ffmpeg fMP4 instead of a process)
// and fake publishers, served through the real routes (fastify inject): every fault sequence ends
// back in `live`, and every URL a playlist lists answers 200 after it.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildOrigin } from '../../../server/origin/app.js';
import { SessionManager } from '../../../server/session/manager.js';
import { StreamEvent, StreamEvents } from '../../../server/events.js';
import { loadProfiles } from '../../../server/transcode/profiles.js';
import type { FlvSubscription, IngestPublish } from '../../../server/ingest/rtmp-ingest.js';
import type { TranscoderOptions, TranscoderExit } from '../../../server/transcode/transcoder.js';
import type { TranscoderRun } from '../../../server/session/live-session.js';
import { isLiveState, transition, TRANSITIONS, type SessionEvent, type SessionState } from '../../../server/session/session-state.js';
import { waitFor } from '../../helpers/processes.js';

// Recorded with ffmpeg 5.1 (see fragments.test.ts): 160x90, keyframes at 0, 2 and 4 s, 4.1 s.
const FMP4 = readFileSync(new URL('../../fixtures/tiny-fmp4.mp4', import.meta.url));
const KEY = 'sk_unit_0123456789ab';

/** A publisher as the ingest hands it over; `drop()` is its connection closing. */
class FakePublish implements IngestPublish {
  static next = 0;
  readonly id = `p${FakePublish.next++}`;
  readonly key = KEY;
  readonly remoteAddress = '127.0.0.1';
  kicked = false;
  released = false;
  private readonly closeListeners: Array<() => void> = [];
  private closed = false;
  info() {
    return { videoCodec: 'h264', width: 160, height: 90, fps: 30, videoKbps: 300, audioCodec: 'aac', avcProfile: 66, avcLevel: 30, gopSeconds: 2, gopIntervals: 1 };
  }
  received() {
    return { bytes: 1000, frames: 30 };
  }
  pipeFlv(write: (chunk: Buffer) => void): FlvSubscription {
    write(Buffer.from('FLV'));
    return { close: () => {}, anchor: () => undefined, lastTagAt: () => Date.now() };
  }
  onClose(listener: () => void) {
    if (this.closed) queueMicrotask(listener);
    else this.closeListeners.push(listener);
  }
  drop() {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners.splice(0)) l();
  }
  kick() {
    this.kicked = true;
    this.drop();
  }
  release() {
    this.released = true;
    this.drop();
  }
}

/** An encoder run that writes the recorded fMP4 to every rendition at once, then idles until stopped or killed. */
class FakeTranscoder implements TranscoderRun {
  static runs: FakeTranscoder[] = [];
  /** While set, a starting run waits for it before writing anything. */
  static hold: Promise<void> | undefined;
  readonly exited: Promise<TranscoderExit>;
  pid: number | undefined;
  private resolve!: (e: TranscoderExit) => void;
  constructor(private readonly opts: TranscoderOptions) {
    this.exited = new Promise((r) => (this.resolve = r));
    FakeTranscoder.runs.push(this);
  }
  async start() {
    this.pid = 1000 + FakeTranscoder.runs.length;
    await FakeTranscoder.hold;
    for (const r of this.opts.ladder) this.opts.onOutput(r.name, FMP4);
  }
  write() {}
  async stop() {
    this.resolve({ code: 0, signal: null, requested: true, stderr: [] });
    return this.exited;
  }
  kill() {
    this.resolve({ code: null, signal: 'SIGKILL', requested: false, stderr: ['[fake] killed'] });
  }
  note() {}
}

describe('session state table', () => {
  const states = Object.keys(TRANSITIONS) as SessionState[];
  const events: SessionEvent[] = ['playable', 'publisherLost', 'publisherBack', 'publisherBackUnplayed', 'publisherReplaced', 'graceOver', 'stop', 'giveUp'];

  it('allows exactly the moves in the table and names the bad ones', () => {
    for (const s of states) {
      for (const e of events) {
        const next = TRANSITIONS[s][e];
        if (next) expect(transition(s, e)).toBe(next);
        else expect(() => transition(s, e)).toThrow(`Session event "${e}" is not allowed in state "${s}"`);
      }
    }
  });

  it('ended and failed are final; every live state can stop and give up', () => {
    expect(Object.keys(TRANSITIONS.ended)).toEqual([]);
    expect(Object.keys(TRANSITIONS.failed)).toEqual([]);
    for (const s of states.filter(isLiveState)) {
      expect(transition(s, 'stop')).toBe('ended');
      expect(transition(s, 'giveUp')).toBe('failed');
    }
  });

  it('every fault path leads back to live', () => {
    const run = (path: SessionEvent[]) => path.reduce<SessionState>(transition, 'starting');
    expect(run(['playable', 'publisherLost', 'publisherBack'])).toBe('live');
    expect(run(['publisherLost', 'publisherBackUnplayed', 'playable'])).toBe('live');
    expect(run(['playable', 'publisherReplaced'])).toBe('live');
    expect(run(['playable', 'publisherLost', 'publisherBack', 'publisherLost', 'publisherBack'])).toBe('live');
  });
});

describe('LiveSession with a fake transcoder, served by the real routes', () => {
  let sessions: SessionManager;
  let app: FastifyInstance;
  const graceMs = 400;

  beforeEach(async () => {
    FakeTranscoder.runs = [];
    FakeTranscoder.hold = undefined;
    const logger = pino({ level: 'silent' });
    const events = new StreamEvents();
    sessions = new SessionManager(
      { streams: [{ name: 'cam', key: KEY, onDuplicate: 'takeover' }], profiles: loadProfiles(), defaultProfile: 'default', endedRetentionMs: 60_000, maxStreams: 2, maxMediaBytes: 2 ** 30 },
      { ffmpegPath: 'ffmpeg', runDir: '/tmp', logger, events, reconnectGraceMs: graceMs, createTranscoder: (o) => new FakeTranscoder(o) },
    );
    app = await buildOrigin({ logger, sessions, events, publicUrl: undefined, playerRoot: new URL('../../../dist/player', import.meta.url).pathname });
    await app.ready();
  });
  afterEach(async () => {
    await sessions.close();
    await app.close();
  });

  const publish = () => {
    const p = new FakePublish();
    expect(sessions.onPublish(p)).toBeNull();
    return p;
  };
  const state = () => sessions.get('cam')?.state;
  const runsStarted = (n: number) => waitFor(`${n} encoder runs`, () => FakeTranscoder.runs.length >= n, 5000, 10);

  /** Fetches every URL of the master and every media playlist through the routes; returns what did not answer 200. */
  async function crawl(): Promise<{ bad: string[]; texts: string[] }> {
    const bad: string[] = [];
    const texts: string[] = [];
    const get = async (url: string) => {
      const res = await app.inject(url);
      if (res.statusCode !== 200) bad.push(`${res.statusCode} ${url}: ${res.body.slice(0, 120)}`);
      return res.body;
    };
    const master = await get('/live/cam/master.m3u8');
    for (const variant of master.split('\n').filter((l) => l.endsWith('index.m3u8'))) {
      const dir = `/live/cam/${variant.split('/')[0]}`;
      const text = await get(`/live/cam/${variant}`);
      texts.push(text);
      const listed = text.split('\n').filter((l) => !l.startsWith('#EXT-X-PRELOAD-HINT') && !l.startsWith('#EXT-X-RENDITION-REPORT')).join('\n');
      const uris = [...listed.matchAll(/URI="([^"]+)"/g), ...listed.matchAll(/^([^#\n][^\n]*)$/gm)].map((m) => m[1]!);
      for (const uri of new Set(uris)) await get(`${dir}/${uri}`);
    }
    return { bad, texts };
  }

  it('goes live once playable; the API state is live', async () => {
    publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    const { bad } = await crawl();
    expect(bad).toEqual([]);
    const api = (await app.inject('/api/streams')).json() as { streams: Array<{ state: string }> };
    expect(api.streams[0]!.state).toBe('live');
  });

  it('publisher drop, back within the grace (nobody fetched the master before): live again, every listed URL 200, one DISCONTINUITY', async () => {
    const first = publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    first.drop();
    expect(state()).toBe('reconnecting');
    publish();
    expect(state()).toBe('live');
    await runsStarted(2);
    await waitFor('the new run listed', async () => (await app.inject('/live/cam/360p/index.m3u8')).body.includes('-1.mp4'), 5000, 10);
    const { bad, texts } = await crawl();
    expect(bad).toEqual([]);
    for (const t of texts) expect(t.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
  });

  it('publisher drop before the stream was ever playable: starting again, then live', async () => {
    const first = new FakePublish();
    // a run that produces nothing: the stream never gets playable
    const silent = new SessionManager(
      { streams: [{ name: 'cam', key: KEY }], profiles: loadProfiles(), defaultProfile: 'default', endedRetentionMs: 1000, maxStreams: 1, maxMediaBytes: 2 ** 30 },
      {
        ffmpegPath: 'ffmpeg', runDir: '/tmp', logger: pino({ level: 'silent' }), events: new StreamEvents(), reconnectGraceMs: graceMs,
        createTranscoder: (o) => (FakeTranscoder.runs.length === 0 ? Object.assign(new FakeTranscoder(o), { start: async () => {} }) : new FakeTranscoder(o)),
      },
    );
    try {
      expect(silent.onPublish(first)).toBeNull();
      await runsStarted(1);
      expect(silent.get('cam')!.state).toBe('starting');
      first.drop();
      expect(silent.get('cam')!.state).toBe('reconnecting');
      expect(silent.onPublish(new FakePublish())).toBeNull();
      expect(silent.get('cam')!.state).toBe('starting');
      await waitFor('live', () => silent.get('cam')!.state === 'live', 5000, 10);
    } finally {
      await silent.close();
    }
  });

  it('ffmpeg killed: restarted after the backoff, still live, the new init served', async () => {
    publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    await crawl();
    FakeTranscoder.runs[0]!.kill();
    await runsStarted(2);
    expect(state()).toBe('live');
    const s = sessions.get('cam')!;
    expect(s.restarts).toBe(1);
    expect(s.lastFailure?.signal).toBe('SIGKILL');
    const { bad, texts } = await crawl();
    expect(bad).toEqual([]);
    expect(texts[0]).toContain('-1.mp4"');
  });

  it('takeover: the old publisher is released, the stream stays live', async () => {
    const first = publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    publish();
    expect(first.released).toBe(true);
    expect(state()).toBe('live');
    await runsStarted(2);
    await waitFor('the new run listed', async () => (await app.inject('/live/cam/360p/index.m3u8')).body.includes('-1.mp4'), 5000, 10);
    expect((await crawl()).bad).toEqual([]);
  });

  it('a drop past the grace ends the stream with ENDLIST; the next publish is a new session, numbering goes on', async () => {
    const first = publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    const old = sessions.get('cam')!;
    first.drop();
    await waitFor('ended', () => old.state === 'ended', graceMs + 3000, 10);
    const ended = (await app.inject('/live/cam/360p/index.m3u8')).body;
    expect(ended).toContain('#EXT-X-ENDLIST');
    const lastMsn = Math.max(...[...ended.matchAll(/-(\d+)\.m4s$/gm)].map((m) => Number(m[1])));
    let release!: () => void;
    FakeTranscoder.hold = new Promise((r) => (release = r));
    publish();
    // until the new session is playable, a poller gets the ended playlists, not a 404
    await runsStarted(2);
    expect(sessions.get('cam')).not.toBe(old);
    expect((await app.inject('/live/cam/master.m3u8')).statusCode).toBe(200);
    expect((await app.inject('/live/cam/360p/index.m3u8')).body).toBe(ended);
    release();
    await waitFor('live', () => state() === 'live' && sessions.get('cam') !== old, 5000, 10);
    // the old session's pieces stay fetchable by their epoch
    const oldSegment = /^(\w+-\d+\.m4s)$/m.exec(ended)![1]!;
    expect((await app.inject(`/live/cam/360p/${oldSegment}`)).statusCode).toBe(200);
    const { bad, texts } = await crawl();
    expect(bad).toEqual([]);
    expect(Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(texts[0]!)![1])).toBeGreaterThan(lastMsn);
  });

  it('repeated drops and crashes in a row still end live', async () => {
    let p = publish();
    await waitFor('live', () => state() === 'live', 5000, 10);
    for (let i = 0; i < 3; i++) {
      p.drop();
      p = publish();
      await runsStarted(2 + 2 * i);
      FakeTranscoder.runs.at(-1)!.kill();
      await runsStarted(3 + 2 * i);
    }
    expect(state()).toBe('live');
    await waitFor('the last run listed', async () => (await app.inject('/live/cam/360p/index.m3u8')).body.includes(`-${FakeTranscoder.runs.length - 1}.mp4`), 5000, 10);
    expect((await crawl()).bad).toEqual([]);
  });

  it('the media memory limit holds while streams run: over it, the stream holding the most fails with the reason', async () => {
    const failed: Array<{ name: string; error: string }> = [];
    const events = new StreamEvents();
    events.on(StreamEvent.Failed, (e) => failed.push(e));
    const small = new SessionManager(
      { streams: [{ name: 'cam', key: KEY }], profiles: loadProfiles(), defaultProfile: 'default', endedRetentionMs: 60_000, maxStreams: 2, maxMediaBytes: 64 * 1024 },
      { ffmpegPath: 'ffmpeg', runDir: '/tmp', logger: pino({ level: 'silent' }), events, reconnectGraceMs: graceMs, createTranscoder: (o) => new FakeTranscoder(o) },
    );
    try {
      expect(small.onPublish(new FakePublish())).toBeNull(); // admitted: nothing held yet
      await waitFor('over the limit', () => small.memoryBytes > 64 * 1024, 5000, 10);
      expect(small.get('cam')!.state).not.toBe('failed');
      small.enforceMemoryLimit();
      await waitFor('failed', () => small.get('cam')!.state === 'failed' && failed.length > 0, 3000, 10);
      expect(failed).toEqual([{ name: 'cam', at: expect.any(Number), error: expect.stringMatching(/^the server is over its media memory limit \(ORIGIN_MAX_MEDIA_MB\) and this stream held the most media/) }]);
      // the ended stream is let go at the next check, and memory is back under the limit
      small.enforceMemoryLimit();
      expect(small.memoryBytes).toBeLessThanOrEqual(64 * 1024);
    } finally {
      await small.close();
    }
  });
});
