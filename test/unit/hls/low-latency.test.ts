import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { firstWithParts, RenditionWindow } from '../../../server/hls/rendition.js';
import { decide, satisfies } from '../../../server/hls/blocking.js';
import { skippableSegments, writeMediaPlaylist } from '../../../server/hls/playlist.js';
import { partTargetFor } from '../../../server/transcode/ladder.js';
import type { Fragment, InitPiece } from '../../../server/hls/fragments.js';
import { lowLatencyViolations, parseMediaPlaylist, partId } from '../../helpers/hls-rules.js';

const t0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const init = { kind: 'init', data: Buffer.from('init'), info: { tracks: [] }, timeline: {} } as unknown as InitPiece;

function golden(name: string, text: string): void {
  const url = new URL(`golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) writeFileSync(url, text); // review the diff before committing
  expect(text).toBe(readFileSync(url, 'utf8'));
}

/** A window fed by a 30 fps encoder: 0.2 s fragments, a keyframe every 2 s (10 fragments). */
function liveWindow(opts: { playlistSize?: number; reports?: boolean; holdBackParts?: number; keyed?: boolean } = {}) {
  let now = t0;
  let clock = 0;
  const w = new RenditionWindow({
    name: '720p', epoch: 'ep', segmentSeconds: 2, partTarget: partTargetFor(0.2, 30), partHoldBackParts: opts.holdBackParts ?? 3, playlistSize: opts.playlistSize ?? 6, graceSegments: 2,
    now: () => now, anchor: () => t0, keyedAtBoundaries: opts.keyed,
    reports: opts.reports ? () => [{ uri: '../360p/index.m3u8', lastMsn: 3, lastPart: 4 }] : undefined,
  });
  w.setInit(init);
  // keyframes every `every` fragments, or (keyed) where our encoder puts them: 0, 0.2 and 0.8 s, then every 2 s
  const keyedAt = (n: number) => n === 0 || n === 1 || (n - 4) % 10 === 0;
  const feed = (fragments: number, every = 10, duration = 0.2) => {
    for (let i = 0; i < fragments; i++) {
      const n = Math.round(clock / duration);
      const f: Fragment = { kind: 'fragment', data: Buffer.from(`<${clock.toFixed(1)}>`), start: clock, duration, independent: opts.keyed ? keyedAt(n) : n % every === 0, presentationOffset: 0 };
      w.addFragment(f);
      clock += duration;
      now += duration * 1000;
    }
  };
  return { w, feed };
}

describe('part cutting', () => {
  it('says PART-HOLD-BACK in parts of the profile: 3 by default, 2 when a profile asks', () => {
    for (const [parts, holdBack] of [[3, 0.6], [2, 0.4]] as const) {
      const { w, feed } = liveWindow({ holdBackParts: parts });
      feed(24);
      const text = w.playlist()!.body.toString();
      expect(Number(/PART-HOLD-BACK=([\d.]+),/.exec(text)?.[1])).toBeCloseTo(holdBack, 6);
      expect(lowLatencyViolations(parseMediaPlaylist(text))).toEqual([]);
    }
  });

  it('publishes every fragment as a part at once, INDEPENDENT at keyframes, with global IDs across segments', () => {
    const { w, feed } = liveWindow();
    feed(34); // 3 segments + 4 parts
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(lowLatencyViolations(p)).toEqual([]);
    expect(p.segments.map((s) => s.msn)).toEqual([0, 1, 2]);
    expect(p.segments[0]!.parts).toEqual([]); // parts only for the last 2 finished segments
    expect(p.segments[1]!.parts.map((x) => partId(x.uri))).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(p.segments[2]!.parts[0]).toEqual({ uri: 'ep-p20.m4s', duration: 0.2, independent: true });
    expect(p.segments[2]!.parts.slice(1).every((x) => !x.independent)).toBe(true);
    expect(p.openParts.map((x) => x.uri)).toEqual(['ep-p30.m4s', 'ep-p31.m4s', 'ep-p32.m4s', 'ep-p33.m4s']);
    expect(p.preloadHint).toBe('ep-p34.m4s');
    // a part's bytes are the fragment's; a finished segment is its parts' bytes in order
    expect(w.file('ep-p33.m4s')!.body.toString()).toBe('<6.6>');
    expect(w.file('ep-2.m4s')!.body.toString()).toBe(Array.from({ length: 10 }, (_, i) => `<${(4 + i * 0.2).toFixed(1)}>`).join(''));
    expect(w.file('ep-p20.m4s')!.body.toString()).toBe('<4.0>');
    expect(w.file('ep-p34.m4s')).toBeUndefined();
    expect(w.isNextPart('ep-p34.m4s')).toBe(true);
    expect(w.isNextPart('ep-p35.m4s')).toBe(false);
  });

  it('flags a part shorter than 85 % of PART-TARGET unless it ends a segment, and a part over PART-TARGET', () => {
    const ok = writeMediaPlaylist({
      targetDuration: 2, mediaSequence: 0, discontinuitySequence: 0, mapUri: 'i.mp4', ended: false,
      segments: [{ uri: 's0.m4s', duration: 0.5, programDateTime: t0, discontinuity: false, parts: [
        { uri: 'e-p0.m4s', duration: 0.2, independent: true }, { uri: 'e-p1.m4s', duration: 0.2, independent: false }, { uri: 'e-p2.m4s', duration: 0.1, independent: false },
      ] }],
      ll: { partTarget: 0.2, partHoldBack: 0.6, canSkipUntil: 12, openParts: [{ uri: 'e-p3.m4s', duration: 0.17, independent: true }], openProgramDateTime: t0 + 500, preloadHint: 'e-p4.m4s', reports: [] },
    });
    expect(lowLatencyViolations(parseMediaPlaylist(ok))).toEqual([]);
    const bad = ok.replace('DURATION=0.20000,URI="e-p1.m4s"', 'DURATION=0.16000,URI="e-p1.m4s"').replace('DURATION=0.17000', 'DURATION=0.25000');
    expect(lowLatencyViolations(parseMediaPlaylist(bad))).toEqual([
      'part e-p1.m4s lasts 0.16 < 85 % of PART-TARGET',
      'part e-p3.m4s lasts 0.25 > PART-TARGET 0.2',
      'parts of s0.m4s sum to 0.460, EXTINF says 0.5',
    ]);
  });

  it('rounds PART-TARGET up to whole frames (ffmpeg closes a fragment at the first frame past partSeconds)', () => {
    expect(partTargetFor(0.2, 30)).toBeCloseTo(0.2, 9);
    expect(partTargetFor(0.2, 25)).toBeCloseTo(0.2, 9);
    expect(partTargetFor(0.2, 60)).toBeCloseTo(0.2, 9);
    expect(partTargetFor(0.2, 24)).toBeCloseTo(5 / 24, 9);
    expect(partTargetFor(0.2, 29.97)).toBeCloseTo(6 / 29.97, 9);
  });
});

describe('segments closed on their own last part (a rendition we encode: keyframes at every cut)', () => {
  it('lists the first one-part segment as soon as its part exists, then the early and whole segments, each on its last part', () => {
    const { w, feed } = liveWindow({ keyed: true });
    expect(w.playlist()).toBeUndefined();
    feed(1); // one part: the first segment (0.2 s) is complete
    const first = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(first.segments.map((s) => [s.msn, s.duration, s.parts.length])).toEqual([[0, 0.2, 1]]);
    expect(first.openParts).toEqual([]);
    expect(first.preloadHint).toBe('ep-p1.m4s');
    expect(lowLatencyViolations(first)).toEqual([]);
    feed(3); // the second early segment (PART-HOLD-BACK, 3 parts) closes on its third part
    expect(w.edge).toEqual({ openMsn: 2, openParts: 0, previousParts: 3, ended: false });
    feed(10);
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(p.segments.map((s) => [s.msn, Number(s.duration.toFixed(3))])).toEqual([[0, 0.2], [1, 0.6], [2, 2]]);
    expect(p.segments.every((s) => s.parts[0]?.independent !== false)).toBe(true);
    expect(lowLatencyViolations(p)).toEqual([]);
    expect(w.boundaryMisses).toBe(0);
  });

  it('holds "the part after the last one" of a segment closed on its last part until the next part exists', async () => {
    const { w, feed } = liveWindow({ keyed: true });
    feed(1);
    const next = w.waitForEdge({ msn: 0, part: 1 }, 1000); // part 0 of segment 1
    expect(w.waiting).toBe(1);
    feed(1);
    await expect(next).resolves.toBe(true);
    expect(parseMediaPlaylist(w.playlist()!.body.toString()).openParts.map((x) => x.uri)).toEqual(['ep-p1.m4s']);
  });

  it('loses nothing when the encoder did not key where told: the fragment starts the next segment and the rest of the run waits for keyframes', () => {
    const w = new RenditionWindow({ name: '720p', epoch: 'ep', segmentSeconds: 2, partTarget: 0.2, partHoldBackParts: 3, playlistSize: 6, graceSegments: 2, now: () => t0, anchor: () => t0, keyedAtBoundaries: true });
    w.setInit(init);
    // keyframes only every 2 s (as a source that ignores our forced keys would)
    for (let i = 0; i < 25; i++) w.addFragment({ kind: 'fragment', data: Buffer.from(`<${i}>`), start: i * 0.2, duration: 0.2, independent: i % 10 === 0, presentationOffset: 0 });
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(w.boundaryMisses).toBe(1);
    // 0.2 s closed on its part; the miss starts segment 1, which then runs to the keyframe at 2 s; then whole segments at keyframes
    expect(p.segments.map((s) => Number(s.duration.toFixed(3)))).toEqual([0.2, 1.8, 2]);
    const bytes = p.segments.map((s) => w.file(s.uri)!.body.toString()).join('') + p.openParts.map((x) => w.file(x.uri)!.body.toString()).join('');
    expect(bytes).toBe(Array.from({ length: 25 }, (_, i) => `<${i}>`).join(''));
  });
});

describe('which segments list their parts', () => {
  const segs = (...d: number[]) => d.map((duration) => ({ duration }));
  it('lists the parts of the segments that make up the last two segment durations', () => {
    expect(firstWithParts(segs(2, 2, 2, 2), 2)).toBe(2);
    expect(firstWithParts(segs(2), 2)).toBe(0);
    expect(firstWithParts(segs(), 2)).toBe(0);
  });
  it("keeps the first segment's parts through the short early segments of a run (hls.js measures from the first listed part)", () => {
    // 0.2, 0.6 then whole segments (ladder.ts earlySegments)
    expect(firstWithParts(segs(0.2, 0.6), 2)).toBe(0);
    expect(firstWithParts(segs(0.2, 0.6, 2), 2)).toBe(0);
    expect(firstWithParts(segs(0.2, 0.6, 2, 2), 2)).toBe(2);
  });
  it('never reaches further back than two segment durations (RFC 8216bis: 3 target durations with the open parts), but always lists the newest', () => {
    // the short last segment of a run, then the next run's early segments
    expect(firstWithParts(segs(2, 1.3, 0.2, 0.6, 2), 2)).toBe(2);
    expect(firstWithParts(segs(2, 4.5), 2)).toBe(1);
  });
});

describe('LL-HLS playlist text (golden)', () => {
  it('writes parts, preload hint, server control and rendition reports', () => {
    const { w, feed } = liveWindow({ reports: true });
    feed(34);
    golden('ll-live.m3u8', w.playlist()!.body.toString());
  });

  it('writes a delta update (EXT-X-SKIP) that skips what is older than CAN-SKIP-UNTIL', () => {
    const { w, feed } = liveWindow({ playlistSize: 10 });
    feed(103); // 10 segments + 3 parts
    const full = parseMediaPlaylist(w.playlist()!.body.toString());
    const delta = parseMediaPlaylist(w.playlist(true)!.body.toString());
    expect(full.skipped).toBe(0);
    expect(full.segments).toHaveLength(10);
    // 0.6 s open + 2 s per segment: the last 6 segments end within 12 s of the live edge
    expect(delta.skipped).toBe(4);
    expect(delta.segments.map((s) => s.msn)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(delta.version).toBe(9);
    golden('ll-delta.m3u8', w.playlist(true)!.body.toString());
    expect(skippableSegments([{ duration: 2 }, { duration: 2 }], 0, 12)).toBe(0);
  });

  it('drops the LL tags and parts once the stream has ended', () => {
    const { w, feed } = liveWindow();
    feed(25);
    w.end();
    const text = w.playlist()!.body.toString();
    expect(text).not.toContain('#EXT-X-PART');
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(parseMediaPlaylist(text).segments.map((s) => s.duration)).toEqual([2, 2, 1]);
  });
});

describe('blocking reload rules', () => {
  const edge = { openMsn: 5, openParts: 3, previousParts: 10, ended: false };
  it.each([
    [{ msn: 4 }, 'answer'],
    [{ msn: 4, part: 99 }, 'answer'], // past the end of a finished segment = part 0 of the next, which exists
    [{ msn: 3, part: 99 }, 'answer'],
    [{ msn: 5, part: 2 }, 'answer'],
    [{ msn: 5, part: 3 }, 'hold'],
    [{ msn: 5 }, 'hold'], // the whole segment 5 is not finished
    [{ msn: 6, part: 0 }, 'hold'],
    [{ msn: 7 }, 'hold'],
    [{ msn: 8 }, 'reject'], // more than 2 segments ahead
    [{ msn: 0 }, 'answer'],
  ])('%j -> %s', (req, kind) => {
    expect(decide(req, edge).kind).toBe(kind);
  });

  // a segment just closed on its own last part: the next one has no part yet
  const closed = { openMsn: 5, openParts: 0, previousParts: 10, ended: false };
  it.each([
    [{ msn: 4 }, 'answer'],
    [{ msn: 4, part: 9 }, 'answer'],
    [{ msn: 4, part: 10 }, 'hold'], // part 0 of segment 5, not there yet
    [{ msn: 5, part: 0 }, 'hold'],
    [{ msn: 3, part: 99 }, 'answer'],
  ])('right after a segment closed on its last part: %j -> %s', (req, kind) => {
    expect(decide(req, closed).kind).toBe(kind);
  });

  it('answers everything once the stream has ended', () => {
    expect(satisfies({ msn: 6, part: 3 }, { ...edge, ended: true })).toBe(true);
  });

  it('holds a request until the awaited part exists, waking on the change, and times out otherwise', async () => {
    const { w, feed } = liveWindow();
    feed(21); // segments 0, 1 finished; open segment 2 has 1 part
    expect(w.edge).toEqual({ openMsn: 2, openParts: 1, previousParts: 10, ended: false });
    const held = w.waitForEdge({ msn: 2, part: 2 }, 1000);
    expect(w.waiting).toBe(1);
    feed(1);
    expect(w.waiting).toBe(1); // part 1 is not part 2
    feed(1);
    await expect(held).resolves.toBe(true);
    expect(w.waiting).toBe(0);
    // a request for segment 2 as a whole is answered with part 0 of segment 3 already listed
    const whole = w.waitForEdge({ msn: 2 }, 1000);
    feed(7);
    expect(w.waiting).toBe(1);
    feed(1);
    await expect(whole).resolves.toBe(true);
    expect(parseMediaPlaylist(w.playlist()!.body.toString()).openParts).toHaveLength(1);
    await expect(w.waitForEdge({ msn: 9 }, 50)).resolves.toBe(false);
    expect(w.waiting).toBe(0);
  });
});

describe('discontinuities (encoder restart, publisher reconnect)', () => {
  it('continues media sequence and part IDs, marks the join, and gives the new run its own init', () => {
    const { w, feed } = liveWindow({ playlistSize: 4 });
    feed(25); // segments 0, 1 and half of 2
    const oldInit = w.initUri;
    const hinted = partId(parseMediaPlaylist(w.playlist()!.body.toString()).preloadHint!);
    w.discontinue(); // the half segment is published as a short segment 2
    expect(w.file(oldInit)).toBeDefined();
    w.setInit({ ...init, data: Buffer.from('init2') });
    expect(w.initUri).not.toBe(oldInit);
    feed(12); // 5.0-5.8 s are not keyframe fragments and are dropped; 6.0-7.2 s open segment 3
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    const text = w.playlist()!.body.toString();
    expect(p.segments.map((s) => [s.msn, s.duration])).toEqual([[0, 2], [1, 2], [2, 1]]);
    expect(p.openParts).toHaveLength(7);
    expect(text).toContain(`#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="${w.initUri}"`);
    expect(text.indexOf(`URI="${oldInit}"`)).toBeLessThan(text.indexOf('#EXT-X-DISCONTINUITY'));
    expect(lowLatencyViolations(p).filter((v) => !v.includes('jump'))).toEqual([]);
    // part IDs go on counting across the restart, but the ID the old run's preload hint announced
    // is retired (a player that preloaded it must not get the new run's first part under the old init)
    const ids = [...p.segments.flatMap((s) => s.parts), ...p.openParts].map((x) => partId(x.uri));
    const joinAt = p.segments.flatMap((s) => s.parts).length;
    expect(ids[joinAt]).toBe(hinted + 1);
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i + (i >= joinAt ? 1 : 0)));
    const retired = p.openParts[0]!.uri.replace(/p\d+\.m4s$/, `p${hinted}.m4s`);
    expect(w.file(retired)).toBeUndefined();
    expect(w.isNextPart(retired)).toBe(false); // a held request for it ends (404)
    expect(w.isNextPart(p.preloadHint!)).toBe(true);
    expect(w.file(w.initUri)!.body.toString()).toBe('init2');
  });

  it('counts EXT-X-DISCONTINUITY-SEQUENCE once the join leaves the playlist, and frees the old init', () => {
    const { w, feed } = liveWindow({ playlistSize: 3 });
    feed(20);
    const oldInit = w.initUri;
    w.discontinue();
    w.setInit({ ...init, data: Buffer.from('init2') });
    feed(21); // the join segment (2) and two more finished, a part of the next
    expect(w.playlist()!.body.toString()).not.toContain('DISCONTINUITY-SEQUENCE');
    feed(60);
    const text = w.playlist()!.body.toString();
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1\n');
    expect(text).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(text).not.toContain(oldInit);
    expect(w.file(oldInit)).toBeUndefined();
  });
});
