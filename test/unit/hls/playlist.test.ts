import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startOrder, writeMasterPlaylist, writeMediaPlaylist } from '../../../server/hls/playlist.js';
import { RenditionWindow } from '../../../server/hls/rendition.js';
import type { Fragment, InitPiece } from '../../../server/hls/fragments.js';

function golden(name: string, text: string): void {
  const url = new URL(`golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) writeFileSync(url, text); // review the diff before committing
  expect(text).toBe(readFileSync(url, 'utf8'));
}

const t0 = Date.UTC(2026, 10, 22, 12, 0, 0);

describe('playlist writers (golden)', () => {
  it('writes a live media playlist', () => {
    golden('media-live.m3u8', writeMediaPlaylist({
      targetDuration: 2,
      mediaSequence: 41,
      discontinuitySequence: 0,
      mapUri: 'init-abc.mp4',
      segments: [41, 42, 43].map((n, i) => ({ uri: `abc-${n}.m4s`, duration: 2, programDateTime: t0 + i * 2000, discontinuity: false })),
      ended: false,
    }));
  });

  it('writes an ended media playlist with a discontinuity', () => {
    golden('media-ended.m3u8', writeMediaPlaylist({
      targetDuration: 2,
      mediaSequence: 7,
      discontinuitySequence: 1,
      mapUri: 'init-abc.mp4',
      segments: [
        { uri: 'abc-7.m4s', duration: 2, programDateTime: t0, discontinuity: false },
        { uri: 'abc-8.m4s', duration: 0.633333, programDateTime: t0 + 2000, discontinuity: true },
      ],
      ended: true,
    }));
  });

  it('writes a master playlist with every attribute', () => {
    golden('master.m3u8', writeMasterPlaylist([
      { uri: '720p/index.m3u8', bandwidth: 3074400, averageBandwidth: 2759400, codecs: 'avc1.64001f,mp4a.40.2', width: 1280, height: 720, frameRate: 30 },
      { uri: '360p/index.m3u8', bandwidth: 907200.4, averageBandwidth: 802200, codecs: 'avc1.4d401e,mp4a.40.2', width: 640, height: 360, frameRate: 29.97 },
    ]));
  });
});

describe('the order of a master playlist', () => {
  const v = (uri: string, bandwidth: number, height: number) => ({ uri, bandwidth, height });
  const uris = (vs: Array<{ uri: string }>) => vs.map((x) => x.uri);
  it('lists the middle picture first (a player starts on it), the others as given', () => {
    expect(uris(startOrder([v('720p', 2_900_000, 720), v('480p', 1_450_000, 480), v('360p', 860_000, 360)]))).toEqual(['480p', '720p', '360p']);
    // by bandwidth, whatever the order given; the lower middle of an even count
    expect(uris(startOrder([v('360p', 860_000, 360), v('1080p', 6_000_000, 1080), v('480p', 1_450_000, 480), v('720p', 2_900_000, 720)]))).toEqual(['480p', '360p', '1080p', '720p']);
    expect(uris(startOrder([v('source', 3_000_000, 720), v('360p', 860_000, 360)]))).toEqual(['360p', 'source']);
    expect(uris(startOrder([v('360p', 860_000, 360)]))).toEqual(['360p']);
  });
  it('never starts on an audio-only variant', () => {
    expect(uris(startOrder([v('480p', 1_400_000, 480), v('240p', 470_000, 240), v('audio', 100_000, 0)]))).toEqual(['240p', '480p', 'audio']);
    expect(uris(startOrder([v('audio', 100_000, 0)]))).toEqual(['audio']);
  });
});

describe('RenditionWindow', () => {
  const init = { kind: 'init', data: Buffer.from('init'), info: { tracks: [] }, timeline: {} } as unknown as InitPiece;
  const frag = (start: number, independent: boolean): Fragment => ({ kind: 'fragment', data: Buffer.from(`f${start}`), start, duration: 0.5, independent, presentationOffset: 0 });

  let clock = 0;
  /** Feeds `n` whole 2 s GOPs of four 0.5 s fragments, the first independent, on a continuous timeline. */
  function feedGops(w: RenditionWindow, n: number): void {
    for (let g = 0; g < n; g++) for (let i = 0; i < 4; i++, clock += 0.5) w.addFragment(frag(clock, i === 0));
  }

  it('publishes a segment only when complete, keeps a window plus a CDN grace, ends with ENDLIST', () => {
    clock = 0;
    let now = t0;
    const w = new RenditionWindow({ name: '360p', epoch: 'ep1', segmentSeconds: 2, partTarget: 0.5, partHoldBackParts: 3, playlistSize: 3, graceSegments: 2, now: () => now });
    expect(w.playlist()).toBeUndefined();
    w.setInit(init);
    feedGops(w, 1);
    expect(w.playlist()).toBeUndefined(); // the first segment is open until the next keyframe arrives
    w.addFragment(frag(clock, false)); // not a keyframe: cannot close it
    expect(w.playlist()).toBeUndefined();
    clock += 0.5;
    feedGops(w, 1);
    now += 2000;
    const first = w.playlist()!.body.toString();
    expect(first).toContain('#EXT-X-MEDIA-SEQUENCE:0\n');
    expect(first).toContain('#EXTINF:2.50000,\nep1-0.m4s');
    expect(w.file('ep1-0.m4s')!.body.toString()).toBe('f0f0.5f1f1.5f2');
    feedGops(w, 5);
    expect(w.listed.map((s) => s.msn)).toEqual([3, 4, 5]);
    expect(w.playlist()!.body.toString()).toContain('#EXT-X-MEDIA-SEQUENCE:3\n');
    // segments 1 and 2 left the playlist but stay fetchable for a CDN (grace 2); 0 is gone
    expect(w.file('ep1-1.m4s')).toBeDefined();
    expect(w.file('ep1-2.m4s')).toBeDefined();
    expect(w.file('ep1-0.m4s')).toBeUndefined();
    expect(w.file('init-ep1.mp4')!.body.toString()).toBe('init');
    w.end();
    const ended = w.playlist()!.body.toString();
    expect(ended.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    expect(ended).toContain('ep1-6.m4s'); // the open fragments became the last segment
    expect(w.file('nope.m4s')).toBeUndefined();
    w.addFragment(frag(clock, true)); // nothing is added after the end
    expect(w.playlist()!.body.toString()).toBe(ended);
  });

  it('computes validators once per piece: same object on every read until something changes', () => {
    clock = 0;
    const w = new RenditionWindow({ name: 'a', epoch: 'e', segmentSeconds: 2, partTarget: 0.5, partHoldBackParts: 3, playlistSize: 3, graceSegments: 0 });
    w.setInit(init);
    feedGops(w, 3);
    const p1 = w.playlist();
    expect(w.playlist()).toBe(p1);
    expect(p1!.etag).toMatch(/^"[\w-]{22}"$/);
    feedGops(w, 1);
    expect(w.playlist()).not.toBe(p1);
    expect(w.playlist()!.etag).not.toBe(p1!.etag);
  });
});
