// The directory page: live streams from /api/streams, refreshed every few seconds.
interface StreamInfo {
  name: string;
  live: boolean;
  startedAt: string;
  renditions: Array<{ name: string; width: number; height: number }>;
}

const list = document.getElementById('streams') as HTMLUListElement;
const empty = document.getElementById('empty') as HTMLElement;
(document.getElementById('rtmp-url') as HTMLElement).textContent = `rtmp://${location.hostname}:1935/live`;

function uptime(since: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

async function refresh(): Promise<void> {
  try {
    const res = await fetch('/api/streams', { cache: 'no-store' });
    const { streams } = (await res.json()) as { streams: StreamInfo[] };
    const live = streams.filter((s) => s.live);
    list.replaceChildren(
      ...live.map((s) => {
        const li = document.createElement('li');
        li.className = 'card';
        const a = document.createElement('a');
        a.href = `/watch/${encodeURIComponent(s.name)}`;
        const top = s.renditions[0];
        a.innerHTML = `<span class="badge">LIVE</span> <strong></strong><br><span class="muted"></span>`;
        a.querySelector('strong')!.textContent = s.name;
        a.querySelector('.muted')!.textContent = `${uptime(s.startedAt)}${top ? ` · up to ${top.height}p` : ''}`;
        li.append(a);
        return li;
      }),
    );
    empty.hidden = live.length > 0;
  } catch {
    // the server restarts or the network blips: the next refresh will tell
  }
}

void refresh();
setInterval(refresh, 3000);
