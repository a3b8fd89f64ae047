// The DVR window of a rendition (pure, fake clock): segments that leave memory stay listed while the
// sink says the store holds them, as far back as ORIGIN_DVR_SECONDS; an unstored one cuts the window
// there (a playlist cannot skip a number); delta updates skip what is older than CAN-SKIP-UNTIL.
import { describe, expect, it } from 'vitest';
import { RenditionWindow, type RenditionSink, type Segment } from '../../../server/hls/rendition.js';
import type { Fragment, InitPiece } from '../../../server/hls/fragments.js';
import { lowLatencyViolations, parseMediaPlaylist } from '../../helpers/hls-rules.js';

const init = { kind: 'init', data: Buffer.from('init'), info: { tracks: [] }, timeline: {} } as unknown as InitPiece;

/** A window with DVR; `store(msn)` decides whether each segment's upload succeeds. */
function dvrWindow(dvrSeconds: number, store: (msn: number) => boolean = () => true) {
  let clock = 0;
  const inits: string[] = [];
  const sink: RenditionSink = {
    init: (uri) => void inits.push(uri),
    segment: (s: Segment) => Promise.resolve(store(s.msn)),
  };
  const w = new RenditionWindow({ name: '360p', epoch: 'ep', segmentSeconds: 2, partTarget: 0.2, partHoldBackParts: 3, playlistSize: 6, graceSegments: 6, anchor: () => 0, sink, dvrSeconds });
  w.setInit(init);
  const feed = async (segments: number) => {
    for (let i = 0; i < segments * 10; i++) {
      const f: Fragment = { kind: 'fragment', data: Buffer.from(`<${clock.toFixed(1)}>`), start: clock, duration: 0.2, independent: i % 10 === 0, presentationOffset: 0 };
      w.addFragment(f);
      clock += 0.2;
      await Promise.resolve(); // the sink's answer arrives
    }
  };
  return { w, feed, inits };
}

describe('DVR window', () => {
  it('keeps listing stored segments after they leave memory, up to the DVR seconds', async () => {
    const { w, feed, inits } = dvrWindow(60);
    await feed(50); // 100 s of media
    const text = w.playlist()!.body.toString();
    const p = parseMediaPlaylist(text);
    expect(lowLatencyViolations(p)).toEqual([]);
    const span = p.segments.reduce((s, x) => s + x.duration, 0);
    expect(span).toBeGreaterThanOrEqual(60);
    expect(span).toBeLessThan(64);
    expect(p.segments.map((s) => s.msn)).toEqual(Array.from({ length: p.segments.length }, (_, i) => p.mediaSequence + i));
    // the oldest listed one is out of memory (12 segments kept) but the store has it
    const oldest = p.segments[0]!.uri;
    expect(w.file(oldest)).toBeUndefined();
    expect(w.stored(oldest)?.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(w.stored('init-ep.mp4')).toBeDefined();
    expect(w.stored('ep-p3.m4s')).toBeUndefined(); // parts are never served from the store
    expect(w.stored('other-3.m4s')).toBeUndefined();
    expect(inits).toEqual(['init-ep.mp4']);
  });

  it('lists the live window only without DVR', async () => {
    const { w, feed } = dvrWindow(0);
    await feed(30);
    expect(parseMediaPlaylist(w.playlist()!.body.toString()).segments.length).toBe(6);
  });

  it('cuts the window at a segment the store did not take, and grows again from there', async () => {
    const { w, feed } = dvrWindow(600, (msn) => msn !== 20);
    await feed(40);
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(p.mediaSequence).toBe(21);
    expect(w.stored('ep-20.m4s')).toBeUndefined();
    await feed(20);
    expect(parseMediaPlaylist(w.playlist()!.body.toString()).mediaSequence).toBe(21);
  });

  it('skips all but the last 12 s in a delta update, and the delta is small on a long window', async () => {
    const { w, feed } = dvrWindow(600);
    await feed(310); // 620 s
    const full = w.playlist()!.body.toString();
    const delta = w.playlist(true)!.body.toString();
    const p = parseMediaPlaylist(full);
    expect(p.segments.length).toBeGreaterThanOrEqual(300);
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)![1]);
    expect(skipped).toBe(p.segments.length - 6);
    expect(delta.length / full.length).toBeLessThan(0.25);
  });

  it('keeps the discontinuity sequence right as discontinuities leave the window', async () => {
    const { w, feed } = dvrWindow(20);
    await feed(5);
    w.discontinue();
    w.setInit(init);
    await feed(30);
    const p = parseMediaPlaylist(w.playlist()!.body.toString());
    expect(p.segments.some((s) => s.discontinuity)).toBe(false);
    expect(w.playlist()!.body.toString()).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1');
  });
});
