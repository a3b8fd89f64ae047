// The directory page: live streams as cards (thumbnail, name, uptime), updated live from the
// server's events (SSE), with the OBS settings when nothing is live.
interface StreamInfo {
  name: string;
  live: boolean;
  state: string;
  startedAt: string;
  renditions: Array<{ name: string; width: number; height: number }>;
}

const list = document.getElementById('streams') as HTMLUListElement;
const empty = document.getElementById('empty') as HTMLElement;
(document.getElementById('rtmp-url') as HTMLElement).textContent = `rtmp://${location.hostname}:1935/live`;
let streams: StreamInfo[] = [];

function uptime(since: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

/** Thumbnails change every 10 s; one URL per 10 s window keeps them cacheable for a CDN. */
function thumbnailUrl(name: string): string {
  return `/live/${encodeURIComponent(name)}/thumbnail.jpg?t=${Math.floor(Date.now() / 10_000)}`;
}

function render(): void {
  const live = streams.filter((s) => s.live);
  const cards = new Map([...list.querySelectorAll<HTMLLIElement>('li.card')].map((li) => [li.dataset.name!, li]));
  const next = live.map((s) => {
    let li = cards.get(s.name);
    if (!li) {
      li = document.createElement('li');
      li.className = 'card';
      li.dataset.name = s.name;
      li.innerHTML = `<a><img alt="" loading="lazy"><span class="badge">LIVE</span> <strong></strong><br><span class="muted"></span></a>`;
      const a = li.querySelector('a')!;
      a.href = `/watch/${encodeURIComponent(s.name)}`;
      li.querySelector('strong')!.textContent = s.name;
      const img = li.querySelector('img')!;
      img.alt = `Current picture of ${s.name}`;
      img.addEventListener('error', () => {
        img.style.visibility = 'hidden';
        img.dataset.failedAt = String(Date.now());
      });
      img.addEventListener('load', () => {
        img.style.visibility = 'visible';
        delete img.dataset.failedAt;
      });
    }
    const img = li.querySelector('img')!;
    // a stream that just started may not have its first picture yet: try again every 2 s
    const failedAt = Number(img.dataset.failedAt ?? 0);
    const url = thumbnailUrl(s.name) + (failedAt && Date.now() - failedAt > 2000 ? `&retry=${Math.floor(Date.now() / 2000)}` : '');
    if (img.getAttribute('src') !== url && !(failedAt && Date.now() - failedAt <= 2000)) img.src = url;
    const top = s.renditions[0];
    li.querySelector('.muted')!.textContent = `${s.state === 'reconnecting' ? 'reconnecting · ' : ''}${uptime(s.startedAt)}${top ? ` · up to ${top.height}p` : ''}`;
    return li;
  });
  list.replaceChildren(...next);
  empty.hidden = live.length > 0;
}

interface RecordingInfo {
  id: string;
  stream: string;
  startedAt: string;
  endedAt: string | null;
  durationSeconds: number;
}
const past = document.getElementById('past') as HTMLUListElement;
const pastSection = document.getElementById('past-section') as HTMLElement;
/** Past broadcasts: each stream's five most recent finished recordings, newest first. */
async function refreshPast(): Promise<void> {
  try {
    const res = await fetch('/api/recordings', { cache: 'no-store' });
    if (!res.ok) return;
    const all = ((await res.json()) as { recordings: RecordingInfo[] }).recordings.filter((r) => r.endedAt !== null).reverse();
    const perStream = new Map<string, number>();
    const shown = all.filter((r) => {
      const n = (perStream.get(r.stream) ?? 0) + 1;
      perStream.set(r.stream, n);
      return n <= 5;
    });
    past.replaceChildren(...shown.map((r) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `/watch/${encodeURIComponent(r.stream)}?recording=${encodeURIComponent(r.id)}`;
      const m = Math.floor(r.durationSeconds / 60);
      a.textContent = `${r.stream} · ${new Date(r.startedAt).toLocaleString()} · ${m ? `${m} min ` : ''}${Math.round(r.durationSeconds % 60)} s`;
      li.append(a);
      return li;
    }));
    pastSection.hidden = shown.length === 0;
  } catch {
    // the list comes back with the next refresh
  }
}

async function refresh(): Promise<void> {
  void refreshPast();
  try {
    const res = await fetch('/api/streams', { cache: 'no-store' });
    streams = ((await res.json()) as { streams: StreamInfo[] }).streams;
    render();
  } catch {
    // the server restarts or the network blips: the next event or refresh will tell
  }
}

// Server events say when a stream starts, becomes playable or ends; EventSource reconnects by itself.
const events = new EventSource('/api/events');
for (const type of ['stream.started', 'stream.ready', 'stream.ended', 'stream.failed']) events.addEventListener(type, () => void refresh());
events.addEventListener('open', () => void refresh());
void refresh();
setInterval(render, 1000); // uptime and thumbnails
setInterval(refresh, 30_000); // in case an event was missed
