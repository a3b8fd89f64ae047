/**
 * A CDN-like crawler for fault-injection tests: polls the master and every media playlist of a
 * stream every 250 ms and fetches every listed init segment, segment and part once (re-fetching
 * some to check their bytes never change). It records every breach of the rules a player or CDN
 * relies on. Strict: every listed URL, the master and each media playlist must answer 200; any
 * other status or a failed request is a violation that names the URL, the status and the body's
 * first bytes (a crawler that counted only 404s once missed a 400 on every init segment after a
 * reconnect).
 */
import { createHash } from 'node:crypto';
import { get } from './processes.js';
import { parseMediaPlaylist } from './hls-rules.js';

/** What the crawler saw. */
export interface CrawlReport {
  violations: string[];
  polls: number;
  fetched: number;
  discontinuities: number;
  endlists: Set<string>;
  /** Per rendition: every init segment URI listed (one per encoder run). */
  inits: Map<string, Set<string>>;
  /** Per rendition: media sequence numbers of the segments marked EXT-X-DISCONTINUITY. */
  discontinuitySegments: Map<string, Set<number>>;
  /** Every URL a playlist listed (and the crawler fetched). */
  listed: Set<string>;
}

/** Starts crawling `base` (`http://host/live/<name>`); `stop()` resolves the report. */
export function crawl(base: string): { stop: () => Promise<CrawlReport>; report: CrawlReport } {
  const report: CrawlReport = { violations: [], polls: 0, fetched: 0, discontinuities: 0, endlists: new Set(), inits: new Map(), discontinuitySegments: new Map(), listed: new Set() };
  const hashes = new Map<string, string>();
  const lastSeq = new Map<string, number>();
  let running = true;
  const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');

  const unexpected = (url: string, res: { status: number; text: string }): void => {
    report.violations.push(`listed URL answered ${res.status}: ${url} ${res.text.slice(0, 160)}`);
  };
  const failed = (url: string, err: Error): undefined => {
    report.violations.push(`request failed: ${url}: ${err.message}`);
    return undefined;
  };

  const fetchOnce = async (url: string) => {
    report.listed.add(url);
    const res = await get(url).catch((err: Error) => failed(url, err));
    if (!res) return;
    if (res.status !== 200) {
      unexpected(url, res);
      return;
    }
    const h = sha(res.body);
    const before = hashes.get(url);
    if (before && before !== h) report.violations.push(`bytes changed: ${url}`);
    if (!before) report.fetched++;
    hashes.set(url, h);
  };

  const pollRendition = async (rendition: string) => {
    const url = `${base}/${rendition}/index.m3u8`;
    const res = await get(url).catch((err: Error) => failed(url, err));
    if (!res) return;
    if (res.status !== 200) {
      unexpected(url, res);
      return;
    }
    const text = res.text;
    const p = parseMediaPlaylist(text);
    const prev = lastSeq.get(rendition);
    if (prev !== undefined && p.mediaSequence < prev) report.violations.push(`${rendition}: media sequence went back from ${prev} to ${p.mediaSequence}`);
    lastSeq.set(rendition, p.mediaSequence);
    if (p.ended) report.endlists.add(rendition);
    report.discontinuities = Math.max(report.discontinuities, (text.match(/#EXT-X-DISCONTINUITY\n/g) ?? []).length);
    const maps = [...text.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((m) => m[1]!);
    const inits = report.inits.get(rendition) ?? new Set<string>();
    report.inits.set(rendition, inits);
    for (const m of maps) inits.add(m);
    const marked = report.discontinuitySegments.get(rendition) ?? new Set<number>();
    report.discontinuitySegments.set(rendition, marked);
    for (const s of p.segments) if (s.discontinuity) marked.add(s.msn);
    const uris = [
      ...maps,
      ...p.segments.map((s) => s.uri),
      ...p.segments.flatMap((s) => s.parts.map((x) => x.uri)),
      ...p.openParts.map((x) => x.uri),
    ];
    const fresh = uris.filter((u) => !hashes.has(`${base}/${rendition}/${u}`));
    // every new URL once, and one already seen again to check it never changes
    const again = uris.filter((u) => hashes.has(`${base}/${rendition}/${u}`));
    const pick = again[report.polls % Math.max(1, again.length)];
    await Promise.all([...fresh, ...(pick ? [pick] : [])].map((u) => fetchOnce(`${base}/${rendition}/${u}`)));
  };

  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      const masterUrl = `${base}/master.m3u8`;
      const master = await get(masterUrl).catch((err: Error) => failed(masterUrl, err));
      // (before the first poll succeeds the stream may still be starting: only later misses count)
      if (master && master.status !== 200 && report.polls > 0) unexpected(masterUrl, master);
      if (master?.status === 200) {
        const renditions = master.text.split('\n').filter((l) => l.endsWith('/index.m3u8')).map((l) => l.split('/')[0]!);
        await Promise.all(renditions.map(pollRendition)).catch((err: Error) => report.violations.push(`crawler error: ${err.message}`));
        report.polls++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 250 - (Date.now() - t0))));
    }
  })();

  return {
    report,
    stop: async () => {
      running = false;
      await loop;
      return report;
    },
  };
}
