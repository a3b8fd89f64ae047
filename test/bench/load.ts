/**
 * Runs test/bench/viewer-load.ts (simulated LL-HLS viewers) in one or more processes at once and
 * pools what they saw. One generator process tops out near one core (undici's per-request cost):
 * at 1000 viewers it, not the origin, was the knee, so the load is split over as many processes
 * as asked and the part times are pooled before the percentiles are taken.
 */
import { spawn } from 'node:child_process';

export interface LoadResult {
  viewers: number;
  parts: number;
  partMedianMs: number | null;
  partP95Ms: number | null;
  playlists: number;
  errors: Record<string, number>;
  /** CPU of all generator processes, in seconds. */
  generatorCpuSeconds: number;
  /** The most part bytes one viewer of each rendition fetched, summed over renditions. */
  streamPartBytes: number;
}

interface OneProcess {
  playlists: number;
  partTimesMs: number[];
  errors: Record<string, number>;
  generatorCpuSeconds: number;
  streamPartBytes: number;
}

function one(base: string, viewers: number, seconds: number, first: number): Promise<OneProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn('node', ['--import', 'tsx', 'test/bench/viewer-load.ts', base, String(viewers), String(seconds), String(first)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as OneProcess) : reject(new Error(`viewer-load exited ${code}`))));
  });
}

/** `viewers` simulated viewers against `base` (…/live/<name>) for `seconds`, split over `processes` generators. */
export async function viewerLoad(base: string, viewers: number, seconds: number, processes = 1): Promise<LoadResult> {
  const shares = Array.from({ length: processes }, (_, i) => Math.floor(viewers / processes) + (i < viewers % processes ? 1 : 0)).filter((n) => n > 0);
  const firsts = shares.map((_, i) => shares.slice(0, i).reduce((a, b) => a + b, 0));
  const runs = await Promise.all(shares.map((n, i) => one(base, n, seconds, firsts[i]!)));
  const times = runs.flatMap((r) => r.partTimesMs).sort((a, b) => a - b);
  const q = (p: number) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))]! : null);
  const errors: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    viewers,
    parts: times.length,
    partMedianMs: q(0.5),
    partP95Ms: q(0.95),
    playlists: runs.reduce((a, r) => a + r.playlists, 0),
    errors,
    generatorCpuSeconds: +runs.reduce((a, r) => a + r.generatorCpuSeconds, 0).toFixed(2),
    streamPartBytes: Math.max(0, ...runs.map((r) => r.streamPartBytes)),
  };
}
