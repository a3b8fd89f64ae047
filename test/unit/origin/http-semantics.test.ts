import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodedBody, notModified, parseRange, pickEncoding } from '../../../server/origin/http-semantics.js';
import { makePiece } from '../../../server/hls/rendition.js';

describe('Range', () => {
  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-', { start: 100, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=5-1', undefined],
    ['bytes=0-1,5-6', undefined], // several ranges: the whole body (allowed by RFC 9110)
    ['items=0-1', undefined],
    ['bytes=abc', undefined],
    [undefined, undefined],
  ])('%s of 1000 bytes -> %j', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });
});

describe('conditional requests', () => {
  const etag = '"abc"';
  const lm = 'Sun, 22 Nov 2026 12:00:00 GMT';
  it('matches If-None-Match (lists, weak prefix, *) before If-Modified-Since', () => {
    expect(notModified('"abc"', undefined, etag, lm)).toBe(true);
    expect(notModified('"x", W/"abc"', undefined, etag, lm)).toBe(true);
    expect(notModified('*', undefined, etag, lm)).toBe(true);
    expect(notModified('"x"', 'Sun, 22 Nov 2027 12:00:00 GMT', etag, lm)).toBe(false);
    expect(notModified(undefined, 'Sun, 22 Nov 2026 12:00:00 GMT', etag, lm)).toBe(true);
    expect(notModified(undefined, 'Sun, 22 Nov 2026 11:59:59 GMT', etag, lm)).toBe(false);
    expect(notModified(undefined, 'not a date', etag, lm)).toBe(false);
    expect(notModified(undefined, undefined, etag, lm)).toBe(false);
  });
});

describe('content coding', () => {
  it.each([
    ['gzip, deflate, br', 'br'],
    ['gzip', 'gzip'],
    ['br;q=0, gzip;q=0.5', 'gzip'],
    ['*', 'br'],
    ['identity', undefined],
    ['gzip;q=0', undefined],
    [undefined, undefined],
  ])('%s -> %s', (header, expected) => {
    expect(pickEncoding(header)).toBe(expected);
  });

  it('compresses a piece once and gives each coding its own strong ETag', () => {
    const piece = makePiece(Buffer.from('#EXTM3U\n'.repeat(200)), 'x', Date.now());
    const gz = encodedBody(piece, 'gzip');
    expect(gunzipSync(gz.body).equals(piece.body)).toBe(true);
    expect(gz.etag).toBe(`${piece.etag.slice(0, -1)}-gzip"`);
    expect(encodedBody(piece, 'gzip').body).toBe(gz.body); // the same buffer: computed once
    const br = encodedBody(piece, 'br');
    expect(brotliDecompressSync(br.body).equals(piece.body)).toBe(true);
    expect(br.body.length).toBeLessThan(piece.body.length / 10);
  });
});
