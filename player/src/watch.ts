// The watch page: hls.js plays /live/<name>/master.m3u8 with a quality menu (Auto + every rendition)
// that shows what is playing. Safari plays the same URL natively.
import Hls from 'hls.js';

const name = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
const src = `/live/${encodeURIComponent(name)}/master.m3u8`;
const video = document.getElementById('video') as HTMLVideoElement;
const status = document.getElementById('status') as HTMLElement;
const quality = document.getElementById('quality') as HTMLSelectElement;
const playing = document.getElementById('playing') as HTMLElement;
const unmute = document.getElementById('unmute') as HTMLButtonElement;
(document.getElementById('title') as HTMLElement).textContent = name;
document.title = `${name} · live-origin`;

function setStatus(text: string | null): void {
  status.hidden = text === null;
  status.textContent = text ?? '';
}

unmute.addEventListener('click', () => {
  video.muted = !video.muted;
  unmute.textContent = video.muted ? 'Unmute' : 'Mute';
});

/** Waits until the master playlist exists (the stream may not have started yet); returns its text. */
async function waitForStream(): Promise<string> {
  for (;;) {
    const res = await fetch(src, { cache: 'no-store' }).catch(() => null);
    if (res?.ok) return res.text();
    setStatus('Waiting for the stream…');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** True when the stream's media playlists offer LL-HLS parts (EXT-X-PART-INF). */
async function offersParts(master: string): Promise<boolean> {
  const first = master.split('\n').find((l) => l && !l.startsWith('#'));
  if (!first) return false;
  const res = await fetch(new URL(first, new URL(src, location.href)), { cache: 'no-store' }).catch(() => null);
  return res?.ok ? (await res.text()).includes('#EXT-X-PART-INF') : false;
}

function describeLevel(hls: Hls, index: number): string {
  const l = hls.levels[index];
  return l ? `${l.height}p · ${Math.round(l.bitrate / 1000)} kbit/s` : '';
}

async function start(): Promise<void> {
  const master = await waitForStream();
  setStatus(null);
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src; // Safari / iOS: native HLS
      quality.disabled = true;
      return;
    }
    setStatus('This browser cannot play HLS.');
    return;
  }
  // ?lowLatency=0 forces standard HLS (for comparisons, e.g. npm run bench:latency).
  const lowLatency = new URLSearchParams(location.search).get('lowLatency') !== '0' && (await offersParts(master));
  const hls = new Hls({
    // LL-HLS when the playlists carry parts: hls.js then targets PART-HOLD-BACK (0.6 s) behind live
    // and uses blocking playlist reloads. Without parts, 3 s behind: a whole segment (2 s) is
    // published when it ends and the playlist is polled every target duration, so 3 s keeps 1-3 s
    // of buffer. (Any user-set liveSync* option overrides PART-HOLD-BACK in hls.js, so it is only
    // given without parts.)
    lowLatencyMode: lowLatency,
    ...(lowLatency ? {} : { liveSyncDuration: 3 }),
    // Catch up by playing up to 1.5x when behind the target (1 would never catch up).
    maxLiveSyncPlaybackRate: 1.5,
    backBufferLength: 30,
  });
  (window as unknown as { hls: Hls }).hls = hls; // for tests and curious engineers
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    // hls.js sorts levels by bitrate, lowest first; the menu lists the best first, values are level indexes.
    const order = hls.levels.map((_, i) => i).sort((a, b) => hls.levels[b]!.bitrate - hls.levels[a]!.bitrate);
    quality.replaceChildren(new Option('Auto', '-1'), ...order.map((i) => new Option(describeLevel(hls, i), String(i))));
    void video.play().catch(() => setStatus('Press play to start'));
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
    const auto = hls.autoLevelEnabled;
    playing.textContent = `${auto ? 'Auto: ' : ''}${describeLevel(hls, data.level)}`;
  });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
    else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else setStatus(`Playback error: ${data.details}`);
  });
  quality.addEventListener('change', () => {
    hls.currentLevel = Number(quality.value); // -1 = Auto
  });
  hls.loadSource(src);
  hls.attachMedia(video);
}

void start();
