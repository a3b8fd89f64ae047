/**
 * The load generator of `npm run bench:viewers` (its own process, so its CPU is counted apart):
 * `tsx test/bench/viewer-load.ts <base url> <viewers> <seconds> [first viewer index]` runs that many
 * simulated LL-HLS viewers, each as hls.js does it: one media playlist (renditions spread evenly by
 * viewer index), then a loop of a blocking reload for the next part (`_HLS_msn`/`_HLS_part`) and a
 * fetch of each new part. Prints one JSON line: part fetch times (ms, each, so that the caller can
 * pool several generators), playlist answers, errors by kind, its CPU.
 * Each viewer holds two keep-alive connections (playlist, parts), as a browser tab does, over
 * raw-http.ts: the generator shares the 2 cores with the origin, and with `fetch`, then undici's
 * `request`, it was the bottleneck (a core for 1000 viewers).
 */
import { RawConnection } from './raw-http.js';
const [base, viewersArg, secondsArg, firstArg = '0'] = process.argv.slice(2);
const viewers = Number(viewersArg);
const seconds = Number(secondsArg);
const first = Number(firstArg);
if (!base || !(viewers > 0) || !(seconds > 0) || !(first >= 0)) {
  console.error('usage: viewer-load.ts <http://host:port/live/name> <viewers> <seconds> [first viewer index]');
  process.exit(2);
}

const origin = new URL(base);
const connection = () => new RawConnection(origin.hostname, Number(origin.port || 80));
const path = (url: string) => url.slice(origin.origin.length);
const connections: RawConnection[] = [];

const masterConn = connection();
const master = (await masterConn.get(path(`${base}/master.m3u8`))).body.toString('utf8');
masterConn.close();
const variants = master.split('\n').filter((l) => l.endsWith('index.m3u8'));
const partTimes: number[] = [];
const errors: Record<string, number> = {};
let playlists = 0;
/** Part bytes each viewer fetched, by rendition (the most any viewer of a rendition got = that rendition's own bytes). */
const partBytes = new Map<string, number[]>();
const deadline = Date.now() + seconds * 1000;
const cpu0 = process.cpuUsage();
const error = (kind: string) => (errors[kind] = (errors[kind] ?? 0) + 1);

/** The next part to ask for, from a playlist: after the last listed part (or the hint). */
function nextDirective(text: string): { msn: number; part: number } | undefined {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
  const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(text)?.[1] ?? 0);
  if (!Number.isFinite(seq)) return undefined;
  const lines = text.split('\n');
  let msn = seq + skipped;
  let parts = 0;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-PART:')) parts++;
    if (line.startsWith('#EXTINF')) {
      msn++;
      parts = 0;
    }
  }
  return { msn, part: parts };
}

/** Part URIs listed in a playlist. */
const partUris = (text: string) => [...text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].map((m) => m[1]!);

async function viewer(i: number): Promise<void> {
  const variant = variants[(first + i) % variants.length]!;
  const dir = `${base}/${variant.split('/')[0]}`;
  const url = `${base}/${variant}`;
  const seen = new Set<string>();
  const mine = partBytes.get(variant) ?? [];
  partBytes.set(variant, mine);
  const slot = mine.push(0) - 1;
  const playlistConn = connection();
  const partConn = connection();
  connections.push(playlistConn, partConn);
  let text: string;
  try {
    text = (await playlistConn.get(path(url))).body.toString('utf8');
  } catch (err) {
    error(`first playlist ${(err as Error).name}`);
    return;
  }
  for (const uri of partUris(text)) seen.add(uri);
  // start on the edge, as hls.js does
  while (Date.now() < deadline) {
    const next = nextDirective(text);
    if (!next) {
      error('unreadable playlist');
      return;
    }
    try {
      const res = await playlistConn.get(path(`${url}?_HLS_msn=${next.msn}&_HLS_part=${next.part}&_HLS_skip=YES`));
      const body = res.body.toString('utf8');
      playlists++;
      if (res.status !== 200) {
        error(`playlist ${res.status}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      text = body;
    } catch (err) {
      error(`playlist ${(err as Error).name}`);
      continue;
    }
    for (const uri of partUris(text)) {
      if (seen.has(uri)) continue;
      seen.add(uri);
      const t = performance.now();
      try {
        const res = await partConn.get(path(`${dir}/${uri}`));
        const n = res.body.length;
        mine[slot] = mine[slot]! + n;
        if (res.status !== 200) error(`part ${res.status}`);
        else partTimes.push(performance.now() - t);
      } catch (err) {
        error(`part ${(err as Error).name}`);
      }
    }
    if (seen.size > 400) seen.clear(); // old parts are out of the window by then
  }
}

// joined over the first 2 s, as an audience does, not in one instant
await Promise.all(Array.from({ length: viewers }, (_, i) => new Promise((r) => setTimeout(r, (2000 * i) / viewers)).then(() => viewer(i))));
const cpu = process.cpuUsage(cpu0);
for (const c of connections) c.close();
console.log(JSON.stringify({
  viewers, seconds, playlists, partTimesMs: partTimes.map((t) => Math.round(t * 10) / 10), errors,
  generatorCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
  streamPartBytes: [...partBytes.values()].reduce((sum, v) => sum + Math.max(0, ...v), 0),
}));
