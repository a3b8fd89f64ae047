// The recording's names and texts (pure): IDs, store keys, the VOD/EVENT playlist, the API view.
import { describe, expect, it } from 'vitest';
import {
  keys, parseManifest, parseManifestKey, parseRecordingId, recordingId, recordingPlaylist, summarize, chunkCount,
  type RecordedSegment, type RecordingManifest,
} from '../../../server/record/recording.js';
import { parseMediaPlaylist } from '../../helpers/hls-rules.js';

const manifest: RecordingManifest = {
  v: 1, id: 'my-show-mbc1a2b3', stream: 'my-show', epoch: 'mbc1a2b3', startedAt: Date.UTC(2026, 11, 4, 12), endedAt: Date.UTC(2026, 11, 4, 12, 1),
  renditions: ['720p', '360p'], segments: { '720p': 4, '360p': 4 }, durationSeconds: 7.5, bytes: 12345, targetDuration: 2,
};
const seg = (msn: number, mapUri: string, discontinuity = false, duration = 2): RecordedSegment => ({
  msn, uri: `mbc1a2b3-${msn}.m4s`, duration, programDateTime: Date.UTC(2026, 11, 4, 12) + msn * 2000, discontinuity, mapUri, bytes: 100,
});

describe('recording names', () => {
  it('round-trips IDs whose stream names hold dashes, and refuses anything else', () => {
    expect(recordingId('my-show', 'mbc1a2b3')).toBe('my-show-mbc1a2b3');
    expect(parseRecordingId('my-show-mbc1a2b3')).toEqual({ stream: 'my-show', epoch: 'mbc1a2b3' });
    for (const bad of ['', 'noepoch', '../x-abc', 'UP-abc', 'a-ABC', 'a-b/c', `${'a'.repeat(65)}-abc`]) expect(parseRecordingId(bad), bad).toBeUndefined();
  });

  it('builds store keys under catalog/ and media/ and parses catalog keys back', () => {
    expect(keys.manifest('s', 'e1')).toBe('catalog/s/e1.json');
    expect(keys.piece('s', 'e1', '720p', 'e1-3.m4s')).toBe('media/s/e1/720p/e1-3.m4s');
    expect(keys.chunk('s', 'e1', '720p', 2)).toBe('media/s/e1/720p/list-2.json');
    expect(parseManifestKey('catalog/s/e1.json')).toEqual({ stream: 's', epoch: 'e1' });
    expect(parseManifestKey('catalog/s/e1.json.tmp')).toBeUndefined();
    expect(parseManifestKey('catalog/../e1.json')).toBeUndefined();
    expect(chunkCount(0)).toBe(0);
    expect(chunkCount(300)).toBe(1);
    expect(chunkCount(301)).toBe(2);
  });

  it('reads only manifests it wrote', () => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
    expect(parseManifest('{"v":2}')).toBeUndefined();
    expect(parseManifest('not json')).toBeUndefined();
  });
});

describe('recording playlist', () => {
  const segments = [seg(40, 'init-mbc1a2b3.mp4', true), seg(41, 'init-mbc1a2b3.mp4'), seg(42, 'init-mbc1a2b3-1.mp4', true, 1.5), seg(43, 'init-mbc1a2b3-1.mp4')];

  it('is a VOD playlist with ENDLIST once ended: a map per run, a discontinuity between runs, none at the start', () => {
    const text = recordingPlaylist(manifest, segments);
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD\n');
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:40\n');
    expect(text.endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    expect(text.match(/#EXT-X-MAP:URI="([^"]+)"/g)).toEqual(['#EXT-X-MAP:URI="init-mbc1a2b3.mp4"', '#EXT-X-MAP:URI="init-mbc1a2b3-1.mp4"']);
    expect(text).not.toMatch(/PART|SERVER-CONTROL|PRELOAD/);
    const p = parseMediaPlaylist(text);
    expect(p.segments.map((s) => s.uri)).toEqual(segments.map((s) => s.uri));
  });

  it('is an EVENT playlist without ENDLIST while it is still recorded', () => {
    const text = recordingPlaylist({ ...manifest, endedAt: null }, segments.slice(0, 2));
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:EVENT\n');
    expect(text).not.toContain('ENDLIST');
  });

  it('summarizes for the API with absolute URLs', () => {
    expect(summarize(manifest, 'http://h:1')).toEqual({
      id: 'my-show-mbc1a2b3', stream: 'my-show', startedAt: '2026-12-04T12:00:00.000Z', endedAt: '2026-12-04T12:01:00.000Z',
      durationSeconds: 7.5, renditions: ['720p', '360p'], bytes: 12345,
      playbackUrl: 'http://h:1/vod/my-show-mbc1a2b3/master.m3u8', downloadUrl: 'http://h:1/vod/my-show-mbc1a2b3/720p.mp4',
    });
  });
});
