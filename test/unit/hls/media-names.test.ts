// Every media name the packager can write parses back to itself and passes the routes' pattern;
// anything else is refused by both. (A second, hand-written pattern in the routes once refused
// every init segment after a reconnect.)
import { describe, expect, it } from 'vitest';
import { formatMediaName, initName, MEDIA_FILE_PATTERN, parseMediaName, partName, segmentName, type MediaName } from '../../../server/hls/media-names.js';
import { RenditionWindow } from '../../../server/hls/rendition.js';
import type { Fragment, InitPiece } from '../../../server/hls/fragments.js';

const routePattern = new RegExp(MEDIA_FILE_PATTERN);
const epochs = ['a', 'mx8q04v1b9f0', 'z'.repeat(32), '0', '9zz9'];
const numbers = [0, 1, 9, 10, 99, 12345, 999_999, 2 ** 31, Number.MAX_SAFE_INTEGER % 10 ** 15];

describe('media names', () => {
  const all: MediaName[] = epochs.flatMap((epoch) => [
    ...[0, 1, 2, 9, 10, 11, 100, 1000, 65_536, 10 ** 14].map((generation) => ({ kind: 'init' as const, epoch, generation })),
    ...numbers.map((msn) => ({ kind: 'segment' as const, epoch, msn })),
    ...numbers.map((partId) => ({ kind: 'part' as const, epoch, partId })),
  ]);

  it.each(all.map((n) => [formatMediaName(n), n] as const))('%s round-trips and passes the route pattern', (file, name) => {
    expect(parseMediaName(file)).toEqual(name);
    expect(routePattern.test(file)).toBe(true);
  });

  it('writes the forms the playlists list', () => {
    expect(initName('ep', 0)).toBe('init-ep.mp4');
    expect(initName('ep', 3)).toBe('init-ep-3.mp4');
    expect(segmentName('ep', 42)).toBe('ep-42.m4s');
    expect(partName('ep', 420)).toBe('ep-p420.m4s');
  });

  it.each([
    'init-ep-0.mp4', // generation 0 has no suffix: one name per piece
    'init-ep-01.mp4',
    'ep-007.m4s',
    'ep-p01.m4s',
    'ep--1.m4s',
    'ep-p-1.m4s',
    'init-EP.mp4',
    'Ep-1.m4s',
    'ep-1.mp4',
    'init-ep.m4s',
    'ep-1.m4s.tmp',
    '../ep-1.m4s',
    'ep-1.ts',
    `init-${'a'.repeat(33)}.mp4`,
    `ep-${'1'.repeat(16)}.m4s`,
    'ep-1e3.m4s',
    '',
  ])('refuses %j in the parser and the route pattern alike', (file) => {
    expect(parseMediaName(file)).toBeUndefined();
    expect(routePattern.test(file)).toBe(false);
  });

  it('refuses to write a name it could not parse back', () => {
    expect(() => initName('EP', 0)).toThrow(RangeError);
    expect(() => segmentName('ep', -1)).toThrow(RangeError);
    expect(() => partName('ep', 1.5)).toThrow(RangeError);
    expect(() => initName('a-b', 0)).toThrow(RangeError);
  });

  it('a window after many encoder runs lists init names that it serves and the routes accept', () => {
    const w = new RenditionWindow({ name: '360p', epoch: 'ep0', segmentSeconds: 2, partTarget: 0.2, partHoldBackParts: 3, playlistSize: 6, graceSegments: 2 });
    const init = { kind: 'init', data: Buffer.from('init'), info: { tracks: [] }, timeline: {} } as unknown as InitPiece;
    let clock = 0;
    for (let run = 0; run < 25; run++) {
      w.setInit({ ...init, data: Buffer.from(`init ${run}`) });
      for (let i = 0; i < 12; i++) {
        const f: Fragment = { kind: 'fragment', data: Buffer.from(`${run}:${i}`), start: i * 0.2, duration: 0.2, independent: i % 10 === 0, presentationOffset: 0 };
        w.addFragment(f);
        clock += 0.2;
      }
      const text = w.playlist()!.body.toString();
      // everything listed (the preload hint names a part that does not exist yet)
      const listed = text.split('\n').filter((l) => !l.startsWith('#EXT-X-PRELOAD-HINT')).join('\n');
      const uris = [...listed.matchAll(/URI="([^"]+)"/g), ...listed.matchAll(/^([^#\n][^\n]*)$/gm)].map((m) => m[1]!);
      expect(uris.length).toBeGreaterThan(0);
      for (const uri of uris) {
        expect(routePattern.test(uri), uri).toBe(true);
        expect(w.file(uri), uri).toBeDefined();
      }
      expect(text).toContain(`#EXT-X-MAP:URI="${initName('ep0', run)}"`);
      w.discontinue();
    }
    expect(clock).toBeGreaterThan(0);
  });
});
