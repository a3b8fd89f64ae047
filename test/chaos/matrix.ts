/**
 * The fault matrix, shared by `test/browser/faults.test.ts` (asserts every row) and `npm run chaos`
 * (prints the table for BENCHMARKS.md). One server, one OBS-like publisher on one stream, one
 * Chromium with two independent players watching throughout (the bundled hls.js page and Shaka
 * Player), a strict crawler fetching every listed URL, and for every fault two viewers who join
 * after it.
 * Faults are injected as they happen in the field (kill -9, `ss -K`, SIGSTOP), never as
 * clean ends unless the fault is a clean end.
 */
import type { BrowserContext } from 'playwright-core';
import { crawl, type CrawlReport } from '../helpers/crawler.js';
import { parseMediaPlaylist } from '../helpers/hls-rules.js';
import { launch } from '../helpers/browser.js';
import { behindAround, longestStall, openPlayer, secondsToEdge, waitPlaying, type PlayerKind, type WatchedPlayer } from '../helpers/players.js';
import { ffmpegChildren, get, ObsPublisher, sleep, startServer, tempFile, waitFor, type ServerHandle } from '../helpers/processes.js';

export const STREAM = 'chaos';
const KEY = 'sk_chaos_0123456789ab';
/** The reconnect grace of the rig's server (s): long enough for a 2 s OBS retry, short enough to test past it. */
export const GRACE_S = 6;
/** Seconds after the stream is back at which a player must be near the live edge. */
export const SETTLE_S = 10;
/** How near (s) to the live edge a player must be SETTLE_S after the stream is back. */
export const EDGE_S = 2;
/** A stall may last the outage plus this much (s). */
export const STALL_SLACK_S = 3;
const KINDS: readonly PlayerKind[] = ['bundled', 'shaka'];
const RENDITION = '360p';
/** Renditions of the default ladder. */
const RENDITIONS = 3;

/** One row of the table. */
export interface FaultRow {
  fault: string;
  /** Seconds from the fault until the playlists list parts of the new encoder run. */
  outage: number;
  /** Longest stall of each watching player (s). */
  stall: Record<PlayerKind, number>;
  /** Seconds from back until each watching player plays within EDGE_S of the live edge (undefined: never). */
  toEdge: Record<PlayerKind, number | undefined>;
  /** Distance to the live edge SETTLE_S after back (s; median over the 2 s around it). */
  behindAfter: Record<PlayerKind, number | null>;
  /** Seconds each late joiner played in its first 12 s. */
  lateJoiner: Record<PlayerKind, number>;
  /** What /api/streams/<name> said SETTLE_S after back. */
  apiState: string;
  /** New init segments and DISCONTINUITY segments the crawler saw during the fault (1 and 1 expected). */
  newInits: number;
  newDiscontinuities: number;
  /** Crawler violations (non-200 answers, rewinds, changed bytes) during the fault. */
  violations: string[];
  /** Player answers and errors other than expected (held requests that timed out are counted apart). */
  playerProblems: string[];
  heldTimeouts: number;
  /** Distinct parts that answered 404 and were never listed: the retired preload hint of the ended run. */
  retiredHints: number;
}

/** A fault: what it does to the running stream. */
export interface Fault {
  name: string;
  inject(rig: FaultRig): Promise<void> | void;
}

/** The faults every streamer meets, in an order that keeps one stream going through all of them. */
export const FAULTS: readonly Fault[] = [
  { name: 'publisher kill -9, back in 2 s', inject: (r) => r.obs.drop() },
  { name: 'publisher TCP cut (ss -K), back in 2 s', inject: (r) => r.obs.cut(r.rtmpPort) },
  { name: 'publisher clean stop, back in 2 s', inject: (r) => r.obs.stopClean() },
  { name: 'publisher back at 960x540 25 fps', inject: (r) => r.obs.stopClean({ size: '960x540', fps: 25, gop: 50 }) },
  { name: 'ffmpeg kill -9', inject: (r) => process.kill(r.transcoderPid(), 'SIGKILL') },
  { name: 'ffmpeg SIGSTOP (stall watchdog)', inject: (r) => process.kill(r.transcoderPid(), 'SIGSTOP') },
  {
    name: 'takeover by a second publisher',
    inject: (r) => {
      r.obs.reconnect = false; // the first OBS is stuck: it does not come back
      r.replacePublisher(new ObsPublisher(`${r.server.rtmp}/live/${KEY}`, { size: '640x360', fps: 30, gop: 60 }));
    },
  },
  {
    name: `drop past the grace (${GRACE_S} s), live again`,
    inject: (r) => {
      r.obs.reconnectMs = (GRACE_S + 3) * 1000;
      r.obs.drop();
    },
  },
];

/** The running setup. */
export class FaultRig {
  server!: ServerHandle;
  obs!: ObsPublisher;
  rtmpPort = 0;
  private browser!: BrowserContext;
  private watchers: WatchedPlayer[] = [];
  private crawler!: { stop: () => Promise<CrawlReport>; report: CrawlReport };
  private retired: ObsPublisher[] = [];
  private readonly log: (line: string) => void;

  constructor(log: (line: string) => void = () => {}) {
    this.log = log;
  }

  /** Starts the server, the publisher, the crawler and both players, and waits until both play. */
  async start(): Promise<void> {
    const config = tempFile('origin.json', JSON.stringify({ streams: [{ name: STREAM, key: KEY, onDuplicate: 'takeover' }] }));
    this.server = await startServer({ ORIGIN_RECONNECT_GRACE: String(GRACE_S), ORIGIN_DRAIN_SECONDS: '0' }, ['--config', config]);
    this.rtmpPort = Number(new URL(this.server.rtmp.replace('rtmp:', 'http:')).port);
    this.obs = new ObsPublisher(`${this.server.rtmp}/live/${KEY}`, { size: '640x360', fps: 30, gop: 60 });
    await waitFor('the stream to be playable', async () => (await get(`${this.base}/master.m3u8`)).status === 200, 30_000);
    this.crawler = crawl(this.base);
    this.browser = await launch();
    this.watchers = await Promise.all(KINDS.map((k) => openPlayer(this.browser, k, this.server.http, STREAM)));
    await Promise.all(this.watchers.map((w) => waitPlaying(w, 3, 30_000)));
    // settle at the live edge before the first fault
    await sleep(4000);
  }

  get base(): string {
    return `${this.server.http}/live/${STREAM}`;
  }

  /** pid of the stream's ffmpeg. */
  transcoderPid(): number {
    const [pid] = ffmpegChildren(this.server.proc.pid!);
    if (!pid) throw new Error('no transcoder running');
    return pid;
  }

  /** A new publisher takes over; the old one is closed at the end. */
  replacePublisher(next: ObsPublisher): void {
    this.retired.push(this.obs);
    this.obs = next;
  }

  private async playlist() {
    const res = await get(`${this.base}/${RENDITION}/index.m3u8`);
    if (res.status !== 200) throw new Error(`${RENDITION} playlist answered ${res.status}: ${res.text.slice(0, 200)}`);
    return parseMediaPlaylist(res.text);
  }

  /** Injects `fault`, waits until the stream is back and SETTLE_S more, and measures the row. */
  async run(fault: Fault): Promise<FaultRow> {
    const before = await this.playlist();
    const mapBefore = before.map;
    const violationsBefore = this.crawler.report.violations.length;
    const problemsBefore = this.watchers.map((w) => w.problems.length);
    const count = (m: Map<string, Set<unknown>>) => [...m.values()].reduce((n, s) => n + s.size, 0);
    const initsBefore = count(this.crawler.report.inits);
    const discBefore = count(this.crawler.report.discontinuitySegments);
    const t0 = Date.now();
    this.log(`fault: ${fault.name}`);
    await fault.inject(this);
    // back: the playlists list parts of a new encoder run (a new init segment), and it is not ended
    await waitFor(
      `${fault.name}: parts of a new run`,
      async () => {
        const p = await this.playlist();
        return !p.ended && p.map !== mapBefore && (p.openParts.length > 0 || p.segments.at(-1)?.map === p.map);
      },
      (GRACE_S + 25) * 1000,
      50,
    );
    const back = Date.now();
    const outage = (back - t0) / 1000;
    this.log(`  back after ${outage.toFixed(2)} s (${back % 100000})`);
    await sleep(1000);
    const joiners = await Promise.all(KINDS.map((k) => openPlayer(this.browser, k, this.server.http, STREAM)));
    if (joiners.some((j, i) => j.kind !== KINDS[i])) throw new Error('joiners out of KINDS order');
    const joinedAt = Date.now();
    await sleep(Math.max(0, back + SETTLE_S * 1000 - Date.now()));
    const api = JSON.parse((await get(`${this.server.http}/api/streams/${STREAM}`)).text) as { state: string };
    await sleep(Math.max(0, joinedAt + 12_000 - Date.now()));
    const row: FaultRow = {
      fault: fault.name,
      outage,
      stall: {} as FaultRow['stall'],
      toEdge: {} as FaultRow['toEdge'],
      behindAfter: {} as FaultRow['behindAfter'],
      lateJoiner: {} as FaultRow['lateJoiner'],
      apiState: api.state,
      newInits: count(this.crawler.report.inits) - initsBefore,
      newDiscontinuities: count(this.crawler.report.discontinuitySegments) - discBefore,
      violations: this.crawler.report.violations.slice(violationsBefore),
      playerProblems: [],
      heldTimeouts: 0,
      retiredHints: 0,
    };
    const retired = new Set<string>();
    // A 404 on a part no playlist ever listed is the old run's retired preload hint (expected once
    // per rendition per new run); on a listed part it is a fault.
    const classify = (who: string, what: string): void => {
      if (what.startsWith('held request timed out')) row.heldTimeouts++;
      else if (what.startsWith('part 404 ') && !this.crawler.report.listed.has(what.slice(9))) retired.add(what.slice(9));
      else row.playerProblems.push(`${who}: ${what}`);
    };
    for (const [i, w] of this.watchers.entries()) {
      const samples = await w.samples(t0 - 1000);
      row.stall[w.kind] = longestStall(samples, t0 - 500, back + SETTLE_S * 1000);
      row.toEdge[w.kind] = secondsToEdge(samples, back, EDGE_S);
      row.behindAfter[w.kind] = behindAround(samples, back + SETTLE_S * 1000);
      // DEBUG_SAMPLES=1: each watcher's path through the fault, "<s from back>:<currentTime>/<s behind>", P = paused
      if (process.env.DEBUG_SAMPLES) this.log(`${w.kind}: ` + samples.filter((s, i) => s.t >= t0 && i % 5 === 0).map((s) => `${((s.t - back) / 1000).toFixed(1)}:${s.ct.toFixed(1)}/${s.behind?.toFixed(2)}${s.paused ? 'P' : ''}`).join(' '));
      for (const p of w.problems.slice(problemsBefore[i])) classify(w.kind, p.what);
    }
    for (const j of joiners) {
      const samples = await j.samples();
      const playing = samples.filter((s) => !s.paused && s.ct > 0);
      row.lateJoiner[j.kind] = playing.length ? playing.at(-1)!.ct - playing[0]!.ct : 0;
      for (const p of j.problems) classify(`late ${j.kind}`, p.what);
      await j.close();
    }
    // (The watchers go on through every fault. Making the late joiners the next fault's watchers
    // was tried: a Shaka that joins while a DISCONTINUITY with a large PROGRAM-DATE-TIME gap is in
    // the window starts as far behind the edge as the gap, and stays there.)
    row.retiredHints = retired.size;
    this.log(`  ${JSON.stringify(row)}`);
    return row;
  }

  /** What a row breaks of the issue's rules (empty: the row is green). */
  static problems(row: FaultRow, opts: { shakaEdge?: boolean } = {}): string[] {
    const out: string[] = [];
    for (const k of KINDS) {
      if (row.stall[k] > row.outage + STALL_SLACK_S) out.push(`${k} stalled ${row.stall[k].toFixed(1)} s > outage ${row.outage.toFixed(1)} s + ${STALL_SLACK_S} s`);
      const behind = row.behindAfter[k];
      const edgeChecked = !(k === 'shaka' && opts.shakaEdge === false);
      if (edgeChecked && (behind === null || behind > EDGE_S)) out.push(`${k} is ${behind?.toFixed(2) ?? 'unknown'} s behind the live edge ${SETTLE_S} s after the stream is back`);
      if (row.lateJoiner[k] < 5) out.push(`late ${k} viewer played only ${row.lateJoiner[k].toFixed(1)} s in 12 s`);
    }
    if (row.apiState !== 'live') out.push(`API says "${row.apiState}"`);
    if (row.newInits !== 1) out.push(`${row.newInits} new init segments (expected 1 new run)`);
    if (row.newDiscontinuities !== 1) out.push(`${row.newDiscontinuities} new DISCONTINUITY segments (expected 1)`);
    if (row.retiredHints > RENDITIONS) out.push(`${row.retiredHints} unlisted parts answered 404 (at most one retired hint per rendition expected)`);
    out.push(...row.violations, ...row.playerProblems);
    return out;
  }

  /** Stops everything this rig started (also after a failure). */
  async stop(): Promise<void> {
    await this.crawler?.stop().catch(() => {});
    await this.browser?.close().catch(() => {});
    for (const p of [this.obs, ...this.retired]) await p?.close().catch(() => {});
    await this.server?.stop('SIGKILL');
  }
}

/** The table as Markdown. */
export function markdownTable(rows: readonly FaultRow[]): string {
  const f = (n: number | null | undefined) => (n === null || n === undefined ? '–' : n.toFixed(1));
  const lines = [
    '| fault | outage s | longest stall s (hls.js / Shaka) | s to live edge (hls.js / Shaka) | behind edge after 10 s | late joiners played s | API | new runs / DISCONTINUITY | non-200 | held 503 / retired hint 404 | green |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const bad = FaultRig.problems(r);
    lines.push(
      `| ${r.fault} | ${f(r.outage)} | ${f(r.stall.bundled)} / ${f(r.stall.shaka)} | ${f(r.toEdge.bundled)} / ${f(r.toEdge.shaka)} | ${f(r.behindAfter.bundled)} / ${f(r.behindAfter.shaka)} | ${f(r.lateJoiner.bundled)} / ${f(r.lateJoiner.shaka)} | ${r.apiState} | ${r.newInits} / ${r.newDiscontinuities} | ${r.violations.length + r.playerProblems.length} | ${r.heldTimeouts} / ${r.retiredHints} | ${bad.length ? `no: ${bad.join('; ').slice(0, 200)}` : 'yes'} |`,
    );
  }
  return lines.join('\n');
}
