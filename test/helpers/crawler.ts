/**
 * A CDN-like crawler for fault-injection tests: polls every media playlist of a stream every
 * 250 ms and fetches every listed init segment, segment and part once (re-fetching some to check
 * their bytes never change). It records every breach of the rules a player or CDN relies on.
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
}

/** Starts crawling `base` (`http://host/live/<name>`); `stop()` resolves the report. */
export function crawl(base: string): { stop: () => Promise<CrawlReport>; report: CrawlReport } {
  const report: CrawlReport = { violations: [], polls: 0, fetched: 0, discontinuities: 0, endlists: new Set() };
  const hashes = new Map<string, string>();
  const lastSeq = new Map<string, number>();
  let running = true;
  const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');

  const fetchOnce = async (url: string) => {
    const res = await get(url);
    if (res.status === 404) {
      report.violations.push(`listed URL answered 404: ${url}`);
      return;
    }
    if (res.status !== 200) return; // a 503 for a held part is not a broken listing
    const h = sha(res.body);
    const before = hashes.get(url);
    if (before && before !== h) report.violations.push(`bytes changed: ${url}`);
    if (!before) report.fetched++;
    hashes.set(url, h);
  };

  const pollRendition = async (rendition: string) => {
    const url = `${base}/${rendition}/index.m3u8`;
    const res = await get(url).catch(() => undefined);
    if (!res || res.status !== 200) return;
    const text = res.text;
    const p = parseMediaPlaylist(text);
    const prev = lastSeq.get(rendition);
    if (prev !== undefined && p.mediaSequence < prev) report.violations.push(`${rendition}: media sequence went back from ${prev} to ${p.mediaSequence}`);
    lastSeq.set(rendition, p.mediaSequence);
    if (p.ended) report.endlists.add(rendition);
    report.discontinuities = Math.max(report.discontinuities, (text.match(/#EXT-X-DISCONTINUITY\n/g) ?? []).length);
    const uris = [
      ...[...text.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((m) => m[1]!),
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
      const master = await get(`${base}/master.m3u8`).catch(() => undefined);
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
