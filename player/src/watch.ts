// The watch and embed pages: hls.js plays /live/<name>/master.m3u8 with live settings read from
// the stream's playlists, custom controls, a quality menu, a stats overlay, and the states a live
// stream goes through (waiting, playing, ended, back again) without a page reload.
// Safari plays the same URL natively. With a DVR window (ORIGIN_DVR_SECONDS) a timeline seeks back
// and LIVE returns to the edge; `?recording=<id>` plays a past broadcast from /vod/<id>/.
import Hls, { type ErrorData } from 'hls.js';
import { StatsGraph } from './stats-graph.js';
import { clockOffset, steer, SYNC, type ClockSample } from './sync.js';

const name = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
// /embed/<name>: the same page for an <iframe>, the player alone filling it (style.css `body.embed`).
if (location.pathname.startsWith('/embed/')) {
  document.body.classList.add('embed');
  document.querySelector('header')?.remove();
  document.querySelector('.controls')?.classList.add('overlay');
  document.getElementById('player')!.append(document.querySelector('.controls')!);
}
// Signed playback: /watch/<name>?token=<expiry.signature> plays /live/<name>/t/<token>/master.m3u8,
// and every playlist and segment below it inherits the token through relative URIs.
const token = new URLSearchParams(location.search).get('token');
/** A past broadcast to play (its recording ID), instead of the live stream. */
const recording = new URLSearchParams(location.search).get('recording');
const tokenPath = token ? `/t/${encodeURIComponent(token)}` : '';
const src = recording
  ? `/vod/${encodeURIComponent(recording)}${tokenPath}/master.m3u8`
  : `/live/${encodeURIComponent(name)}${tokenPath}/master.m3u8`;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T | null;
const video = $<HTMLVideoElement>('video')!;
const status = $('status')!;
const quality = $<HTMLSelectElement>('quality')!;
const playing = $('playing')!;
const playBtn = $<HTMLButtonElement>('play')!;
const muteBtn = $<HTMLButtonElement>('mute')!;
const volume = $<HTMLInputElement>('volume')!;
const liveBtn = $<HTMLButtonElement>('live')!;
const statsBox = $('stats')!;
const statsBtn = $<HTMLButtonElement>('stats-toggle')!;
const fullscreenBtn = $<HTMLButtonElement>('fullscreen')!;
const seekBar = $<HTMLInputElement>('seek')!;
const position = $('position')!;
/** The viewer moved back in the DVR window: sync steering and the join-at-the-edge jump leave the position alone until LIVE. */
let behindByChoice = false;
const graph = new StatsGraph($<HTMLCanvasElement>('graph')!, 60);
const title = $('title');
if (title) title.textContent = name;
document.title = `${name}${recording ? ' (past broadcast)' : ''} · live-origin`;
if (recording && title) title.textContent = `${name} · past broadcast`;
if (recording) liveBtn.hidden = true;

let hls: Hls | undefined;
/** Bumped on every (re)start, so the loops of an old player stop. */
let generation = 0;
/** hls.js buffered the last segment of an ended playlist (BUFFER_EOS). */
let endOfStream = false;

function setStatus(text: string | null): void {
  status.hidden = text === null;
  status.textContent = text ?? '';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until the stream is live: a master playlist whose first media playlist has no ENDLIST.
 * Through the browser's HTTP cache, as hls.js loads them: with `no-store` this check saw the
 * comeback while hls.js, started on its word, still got the ended playlist (max-age 1 s) and
 * replayed the last run from its start, 10 s behind live.
 */
async function waitForLive(gen: number, message: string): Promise<{ master: string; media: string } | undefined> {
  const since = Date.now();
  // Every 0.5 s for the first minute, then every 2 s; and at once when the server's event stream
  // says this stream became playable (stream.ready): a viewer waiting for the start sees it ~0.25 s
  // sooner than with the poll alone (measured). The poll stays for whatever keeps events from us
  // (a proxy that buffers them, the per-address cap). The master is revalidated (a miss is cached
  // for 1 s, which would make every other poll a cache hit); the media playlist still comes
  // through the cache, as hls.js will get it.
  const ready = readySignal();
  const pause = () => ready.sleep(Date.now() - since < 60_000 ? 500 : 2000);
  try {
    return await pollUntilLive(gen, message, pause);
  } finally {
    ready.close();
  }
}

/** A sleep that `stream.ready` of this stream on /api/events ends early; opened on the first miss. */
function readySignal(): { sleep(ms: number): Promise<void>; close(): void } {
  let events: EventSource | undefined;
  let wake: (() => void) | undefined;
  let woken = false;
  return {
    sleep(ms) {
      if (!events && typeof EventSource === 'function') {
        events = new EventSource('/api/events');
        events.addEventListener('stream.ready', (e) => {
          const payload = JSON.parse((e as MessageEvent<string>).data) as { name?: string };
          if (payload.name !== name) return;
          woken = true;
          wake?.();
        });
      }
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = () => {
          woken = false;
          done();
        };
      });
    },
    close: () => events?.close(),
  };
}

async function pollUntilLive(gen: number, message: string, pause: () => Promise<void>): Promise<{ master: string; media: string } | undefined> {
  for (;;) {
    if (gen !== generation) return undefined;
    const master = await fetch(src, { cache: 'no-cache' }).then((r) => (r.ok ? r.text() : null)).catch(() => null);
    const first = master?.split('\n').find((l) => l && !l.startsWith('#'));
    if (master && first) {
      const media = await fetch(new URL(first, new URL(src, location.href))).then((r) => (r.ok ? r.text() : null)).catch(() => null);
      if (media && !media.includes('#EXT-X-ENDLIST')) return { master, media };
      // an ended stream says so (a viewer who opens it after the end, too), and is watched for a comeback
      if (media) {
        setStatus('Stream ended');
        await pause();
        continue;
      }
    }
    setStatus(message);
    await pause();
  }
}

function describeLevel(index: number): string {
  const l = hls?.levels[index];
  return l ? `${l.height}p · ${Math.round(l.bitrate / 1000)} kbit/s` : '';
}

/** (Re)starts playback once the stream is live; used at load and when a stream comes back. */
async function start(waitingMessage = 'Waiting for the stream…'): Promise<void> {
  const gen = ++generation;
  stillSince = Date.now();
  behindByChoice = false;
  hls?.destroy();
  hls = undefined;
  if (recording) return startRecording();
  const live = await waitForLive(gen, waitingMessage);
  if (!live) return;
  setStatus(null);
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src; // Safari / iOS: native HLS (LL-HLS included)
      quality.disabled = true;
      return;
    }
    setStatus('This browser cannot play HLS.');
    return;
  }
  // LL-HLS when the playlists carry parts (?lowLatency=0 forces standard HLS, for comparisons).
  const lowLatency = new URLSearchParams(location.search).get('lowLatency') !== '0' && live.media.includes('#EXT-X-PART-INF');
  const sync = await syncTarget();
  if (gen !== generation) return;
  const player = new Hls({
    // With parts, hls.js targets PART-HOLD-BACK (0.6 s) behind live and uses blocking playlist
    // reloads. Without, 3 s behind: a whole segment (2 s) is published when it ends and the
    // playlist is polled every target duration, so 3 s keeps 1-3 s of buffer. (Any user-set
    // liveSync* option overrides PART-HOLD-BACK in hls.js, so it is only given without parts.)
    // With a sync target hls.js starts, and starts again after an outage, at that distance from
    // the newest part instead: from PART-HOLD-BACK (0.4 s) the steering below, at 5 %, took 14 s
    // to move a page back to a 1.5 s target, and the sync test saw pages 0.2 s apart 10 s in.
    lowLatencyMode: lowLatency,
    ...(sync !== undefined
      ? { liveSyncDuration: Math.max(lowLatency ? 0.4 : 3, sync - SYNC.edgeLag) }
      : lowLatency ? {} : { liveSyncDuration: 3 }),
    // Catch up by playing up to 1.5x when behind the target (1 would never catch up). With a sync
    // target the page steers the rate itself (0.95-1.05) and hls.js must leave it alone.
    maxLiveSyncPlaybackRate: sync === undefined ? 1.5 : 1,
    // After a stall hls.js moves its target 1 s further from live, for good. A player that starts
    // on a just-published stream (first segment 1 s long) may stall once while the first parts
    // arrive, which then cost a whole second of latency for the session (measured: 1.74 s instead
    // of ~1.1 s). One part's worth per stall still backs off on a network that keeps stalling.
    liveSyncOnStallIncrease: sync === undefined ? 0.2 : 0,
    // No back-buffer flushing by hls.js (its default; the browser evicts the oldest media itself
    // when its SourceBuffer quota fills). With 30 s, each flush made hls.js 1.7 forget which parts
    // of the segment being loaded it already had; at the next segment boundary, where Chromium
    // reports the buffer ending 1 µs short of the segment (frame times truncated to µs), it then
    // took the finished segment for the next one to load and sat idle until that segment's parts
    // left the playlist: a 2.5-4 s stall, in most of 11 traced runs of the sync test at PART-HOLD-BACK
    // 2 parts, none in 11 runs since (hls.js's stream controller state: IDLE, next fragment = the loaded one).
    backBufferLength: Infinity,
    // ?debug=1 prints hls.js's own log to the console (which fragment, which start position, why).
    debug: new URLSearchParams(location.search).get('debug') === '1',
  });
  hls = player;
  (window as unknown as { hls: Hls }).hls = player; // for tests and curious engineers
  player.on(Hls.Events.MANIFEST_PARSED, () => {
    // hls.js sorts levels by bitrate, lowest first; the menu lists the best first, values are level indexes.
    const order = player.levels.map((_, i) => i).sort((a, b) => player.levels[b]!.bitrate - player.levels[a]!.bitrate);
    quality.replaceChildren(new Option('Auto', '-1'), ...order.map((i) => new Option(describeLevel(i), String(i))));
    void video.play().catch(() => setStatus('Press play to start'));
  });
  player.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
    playing.textContent = `${player.autoLevelEnabled ? 'Auto: ' : ''}${describeLevel(data.level)}`;
  });
  player.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
    if (!data.fatal) return;
    // Recover the hls.js way; a stream that is gone brings us back to waiting.
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR || data.details === Hls.ErrorDetails.LEVEL_LOAD_ERROR) {
      void start('The stream went away; waiting for it to come back…');
    } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) player.startLoad();
    else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) player.recoverMediaError();
    else {
      setStatus(`Playback failed (${data.details}). Retrying…`);
      void sleep(3000).then(() => start());
    }
  });
  // Started because the stream was live, but hls.js got an ended playlist (a cache between us and
  // the origin may keep one for its max-age): that is the last run, not live; wait again.
  let firstLevel = true;
  player.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
    if (!firstLevel || hls !== player) return;
    firstLevel = false;
    if (!data.details.live) void start('Waiting for the stream…');
  });
  // ENDLIST reached and everything buffered: from here a stop at the end of the buffer is the end.
  player.on(Hls.Events.BUFFER_EOS, () => {
    if (hls === player) endOfStream = true;
  });
  endOfStream = false;
  startedAt = Date.now();
  joinedEdge = false;
  player.loadSource(src);
  player.attachMedia(video);
}

/** A past broadcast: plain hls.js on the VOD playlists, from the start, with the timeline. */
function startRecording(): void {
  setStatus(null);
  if (!Hls.isSupported()) {
    video.src = src;
    return;
  }
  const player = new Hls({ backBufferLength: 30, debug: new URLSearchParams(location.search).get('debug') === '1' });
  hls = player;
  (window as unknown as { hls: Hls }).hls = player;
  player.on(Hls.Events.MANIFEST_PARSED, () => {
    const order = player.levels.map((_, i) => i).sort((a, b) => player.levels[b]!.bitrate - player.levels[a]!.bitrate);
    quality.replaceChildren(new Option('Auto', '-1'), ...order.map((i) => new Option(describeLevel(i), String(i))));
    void video.play().catch(() => setStatus('Press play to start'));
  });
  player.on(Hls.Events.ERROR, (_e, data: ErrorData) => {
    if (!data.fatal) return;
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR) setStatus('This recording is not available.');
    else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) player.startLoad();
    else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) player.recoverMediaError();
  });
  player.loadSource(src);
  player.attachMedia(video);
}

/**
 * The wall-clock target (s behind live) of this page, if any: `?sync=<s>`, else the server's
 * ORIGIN_SYNC_LATENCY; with it, the server's clock offset, measured once per page.
 */
let clock: { offset: number; target: number } | undefined | null = null;
async function syncTarget(): Promise<number | undefined> {
  if (clock !== null) return clock?.target;
  const asked = Number(new URLSearchParams(location.search).get('sync'));
  const samples: ClockSample[] = [];
  let serverDefault: number | null = null;
  for (let i = 0; i < 5; i++) {
    const sentAt = Date.now();
    const answer = await fetch('/api/time', { cache: 'no-store' }).then((r) => (r.ok ? (r.json() as Promise<{ now: number; syncLatency: number | null }>) : null)).catch(() => null);
    if (!answer) break;
    samples.push({ sentAt, receivedAt: Date.now(), serverNow: answer.now });
    serverDefault = answer.syncLatency;
  }
  const target = asked > 0 ? asked : serverDefault ?? undefined;
  const offset = clockOffset(samples);
  clock = target !== undefined && offset !== undefined ? { offset, target } : undefined;
  return clock?.target;
}

// Steering to the target: the frame on screen should be `target` s old by the server's clock.
setInterval(() => {
  const player = hls;
  if (!clock || !player || video.paused || video.seeking || behindByChoice) return;
  const date = player.playingDate;
  if (!date) return;
  const error = (Date.now() + clock.offset - date.getTime()) / 1000 - clock.target;
  const action = steer(error);
  if ('seekBy' in action) {
    const b = video.buffered;
    const to = video.currentTime + action.seekBy;
    // only within what is buffered (ahead: else hls.js's own edge logic brings us to live)
    if (b.length && to >= b.start(0) && to <= b.end(b.length - 1) - 0.1) video.currentTime = to;
    video.playbackRate = 1;
  } else if (video.playbackRate !== action.rate) video.playbackRate = action.rate;
}, 250);

// The stream ended (ENDLIST reached): say so, and resume by itself when it comes back.
function streamEnded(): void {
  endOfStream = false;
  if (recording) {
    setStatus('End of the broadcast');
    return;
  }
  setStatus('Stream ended');
  void start('Stream ended');
}
video.addEventListener('ended', streamEnded);
video.addEventListener('playing', () => {
  clearTimeout(stallTimer);
  setStatus(null);
});
// A publisher that dropped may come back within the server's grace: say what is going on.
const STALLED = 'The stream paused; waiting for it to continue…';
let stallTimer: ReturnType<typeof setTimeout> | undefined;
video.addEventListener('waiting', () => {
  clearTimeout(stallTimer);
  stallTimer = setTimeout(() => setStatus(STALLED), 3000);
});
// Playback moving again clears the notice (hls.js may skip a gap without a 'playing' event).
// Not moving at the end of the buffer after BUFFER_EOS is the end: the media element does not
// always fire 'ended' (when the last segment's audio ends a few ms before its video, playback waits
// in that gap for good; seen in Chromium after a drop past the grace: the page sat at the end,
// neither "Stream ended" nor back when the stream returned).
let lastTime = 0;
let lastStallAt = 0;
video.addEventListener('waiting', () => (lastStallAt = Date.now()));
/**
 * hls.js adds `liveSyncOnStallIncrease` to its target latency after every stall, for the rest of
 * the session. A publisher's reconnect stalls every viewer once: after a few of them a viewer sat
 * 2 s behind instead of 0.6 s (measured over the fault matrix). Once playback has run 10 s without
 * a stall the increase is forgotten; a network that keeps stalling keeps it.
 */
const STALL_MEMORY_MS = 10_000;
function forgetOldStalls(): void {
  const details = hls?.latestLevelDetails;
  const target = hls?.targetLatency;
  if (!hls || !details?.live || target == null || Date.now() - lastStallAt < STALL_MEMORY_MS) return;
  const base = hls.lowLatencyMode && details.partHoldBack ? details.partHoldBack : 3;
  if (target > base + 0.05) hls.targetLatency = base;
}
/**
 * hls.js catches up by rate only within `target + target duration` of its target: a player that
 * is further back stays there for good. Seen twice: a page opened the moment a stream became
 * playable started 3.5 s behind for 30 s (CI), and a player that stalled again right after an
 * 8 s encoder outage sat 4.5-5 s behind through the next faults (CI). So a player more than 1.5 s
 * behind its target jumps to hls.js's live position: at once in the first 15 s after a (re)start,
 * later once it has played 5 s without a stall (a network that keeps stalling is not made worse),
 * at most once every 30 s. Never a viewer who chose to be behind (DVR), nor with a sync target
 * (that steering has its own seek).
 */
let startedAt = 0;
let joinedEdge = false;
let lastJumpAt = 0;
function joinAtTheEdge(now: number): void {
  const player = hls;
  if (!player || clock || behindByChoice || recording || !player.latestLevelDetails?.live) return;
  const early = now - startedAt <= 15_000;
  if (early ? joinedEdge : now - lastStallAt < 5000 || now - lastJumpAt < 30_000) return;
  const latency = player.latency;
  const target = player.targetLatency;
  const position = player.liveSyncPosition;
  if (!Number.isFinite(latency) || target == null || position == null) return;
  if (latency > target + 1.5 && position > video.currentTime + 1) {
    joinedEdge = true;
    lastJumpAt = now;
    video.currentTime = position;
  }
}

/** When playback last moved (or was paused, or started): how long it has sat still. */
let stillSince = Date.now();
setInterval(() => {
  const now = Date.now();
  const moved = video.currentTime !== lastTime;
  lastTime = video.currentTime;
  if (video.paused || !hls) {
    stillSince = now;
    return;
  }
  if (moved) {
    stillSince = now;
    clearTimeout(stallTimer);
    if (status.textContent === STALLED) setStatus(null);
    forgetOldStalls();
    joinAtTheEdge(now);
    return;
  }
  const b = video.buffered;
  const still = now - stillSince;
  if (endOfStream && b.length > 0 && b.end(b.length - 1) - video.currentTime < 0.5) streamEnded();
  // BUFFER_EOS may not come (seen once after a drop past the grace: the page sat at the end of the
  // last run, neither playing nor ended, and missed the comeback): an ended playlist and 3 s
  // without moving is the end too.
  else if (hls.latestLevelDetails?.live === false && still >= 3000 && !recording) streamEnded();
  // A live stream that has not moved for 20 s is started again from its edge (hls.js recovers by
  // itself long before; this is for a state it does not leave).
  else if (still >= 20_000 && !recording) {
    stillSince = now;
    void start(STALLED);
  }
}, 500);

quality.addEventListener('change', () => {
  if (hls) hls.currentLevel = Number(quality.value); // -1 = Auto
});

function togglePlay(): void {
  if (video.paused) void video.play();
  else {
    // a viewer who pauses a live stream resumes where they paused (LIVE returns to the edge)
    if (hls?.latestLevelDetails?.live) behindByChoice = true;
    video.pause();
  }
}
function toggleMute(): void {
  video.muted = !video.muted;
}
function goLive(): void {
  behindByChoice = false;
  const edge = hls?.liveSyncPosition;
  if (edge) video.currentTime = edge;
  void video.play();
}
function toggleStats(): void {
  statsBox.hidden = !statsBox.hidden;
  statsBtn.setAttribute('aria-pressed', String(!statsBox.hidden));
}
function toggleFullscreen(): void {
  const el = $('player')!;
  if (document.fullscreenElement) void document.exitFullscreen();
  else void el.requestFullscreen?.();
}

playBtn.addEventListener('click', togglePlay);
muteBtn.addEventListener('click', toggleMute);
liveBtn.addEventListener('click', goLive);
/** Seeks on the timeline (DVR window or recording); behind the edge by choice until LIVE. */
function seekTo(t: number): void {
  const s = video.seekable;
  if (!s.length) return;
  const to = Math.min(Math.max(t, s.start(0)), s.end(s.length - 1));
  const edge = hls?.liveSyncPosition;
  behindByChoice = !recording && !!hls?.latestLevelDetails?.live && (edge == null || to < edge - 3);
  video.currentTime = to;
}
seekBar.addEventListener('input', () => seekTo(Number(seekBar.value)));
statsBtn.addEventListener('click', toggleStats);
fullscreenBtn.addEventListener('click', toggleFullscreen);
volume.addEventListener('input', () => {
  video.volume = Number(volume.value);
  video.muted = video.volume === 0;
});
video.addEventListener('volumechange', () => {
  // words, not emoji: no emoji font is guaranteed and nothing may load from elsewhere
  muteBtn.textContent = video.muted ? 'Unmute' : 'Mute';
  muteBtn.setAttribute('aria-label', video.muted ? 'Unmute (m)' : 'Mute (m)');
});
const syncPlay = () => {
  playBtn.textContent = video.paused ? '▶' : '❚❚';
  playBtn.setAttribute('aria-label', video.paused ? 'Play (k)' : 'Pause (k)');
};
video.addEventListener('play', syncPlay);
video.addEventListener('pause', syncPlay);

// Keyboard: k/space play-pause, m mute, f fullscreen, s stats, l live (not while typing in a field).
document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.metaKey || e.ctrlKey || e.altKey) return;
  const actions: Record<string, () => void> = {
    k: togglePlay, ' ': togglePlay, m: toggleMute, f: toggleFullscreen, s: toggleStats, l: goLive,
    arrowleft: () => seekTo(video.currentTime - 10), arrowright: () => seekTo(video.currentTime + 10),
  };
  const action = actions[e.key.toLowerCase()];
  if (action && !(e.key === ' ' && e.target instanceof HTMLButtonElement)) {
    e.preventDefault();
    action();
  }
});

const clockText = (s: number) => {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(t % 60).padStart(2, '0')}`;
};
/** The timeline: shown for a recording and for a live window long enough to seek in (DVR). */
function updateTimeline(): void {
  const s = video.seekable;
  const start = s.length ? s.start(0) : 0;
  const end = s.length ? s.end(s.length - 1) : 0;
  const show = !!recording || end - start >= 30;
  seekBar.hidden = !show;
  position.hidden = !show;
  if (!show) return;
  seekBar.min = String(start);
  seekBar.max = String(end);
  if (document.activeElement !== seekBar) seekBar.value = String(video.currentTime);
  position.textContent = recording
    ? `${clockText(video.currentTime - start)} / ${clockText((Number.isFinite(video.duration) ? video.duration : end) - start)}`
    : behindByChoice ? `−${clockText(end - video.currentTime)}` : '';
}
video.addEventListener('timeupdate', updateTimeline);

/** Once a second: the LIVE badge, the stats overlay and its graph. */
function tick(): void {
  const player = hls;
  if (!player) return;
  updateTimeline();
  const latency = player.latency;
  const behind = Number.isFinite(latency) && latency > (player.targetLatency ?? 0) + 1.5;
  liveBtn.classList.toggle('at-edge', !behind);
  liveBtn.textContent = behind ? `LIVE −${Math.round(latency)} s` : 'LIVE';
  const buffered = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
  const bandwidth = player.bandwidthEstimate;
  graph.push(bandwidth, Math.max(0, buffered));
  if (statsBox.hidden) return;
  const level = player.levels[player.currentLevel];
  const quality = video.getVideoPlaybackQuality?.();
  const set = (id: string, text: string) => ($(id)!.textContent = text);
  set('st-rendition', level ? `${level.name || level.height + 'p'}${player.autoLevelEnabled ? ' (auto)' : ''}` : '–');
  set('st-resolution', video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '–');
  set('st-bitrate', level ? `${Math.round(level.bitrate / 1000)} kbit/s` : '–');
  set('st-bandwidth', Number.isFinite(bandwidth) ? `${(bandwidth / 1e6).toFixed(2)} Mbit/s` : '–');
  set('st-buffer', `${buffered.toFixed(2)} s`);
  set('st-latency', Number.isFinite(latency) ? `${latency.toFixed(2)} s` : '–');
  set('st-dropped', quality ? `${quality.droppedVideoFrames} / ${quality.totalVideoFrames}` : '–');
  graph.draw();
}
setInterval(tick, 1000);

void start();
