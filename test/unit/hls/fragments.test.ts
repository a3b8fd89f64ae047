import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FragmentReader, type Fragment, type InitPiece } from '../../../server/hls/fragments.js';
import { Segmenter } from '../../../server/hls/segmenter.js';

// Recorded with ffmpeg 5.1: testsrc2 160x90@30 + sine, x264 ultrafast (so constrained baseline,
// level 3.0 whatever -profile:v says) GOP 60, AAC, 200 ms fragments, 4.1 s. The first video sample
// lasts 21 ms longer (ffmpeg shifts the start for the AAC priming samples).
const bytes = readFileSync(new URL('../../fixtures/tiny-fmp4.mp4', import.meta.url));

function readAll(chunkSize: number): Array<InitPiece | Fragment> {
  const reader = new FragmentReader();
  const out: Array<InitPiece | Fragment> = [];
  for (let at = 0; at < bytes.length; at += chunkSize) out.push(...reader.push(bytes.subarray(at, at + chunkSize)));
  return out;
}

describe('FragmentReader on recorded ffmpeg fMP4', () => {
  const pieces = readAll(65536);
  const init = pieces[0] as InitPiece;
  const fragments = pieces.slice(1) as Fragment[];

  it('emits the init segment first with both tracks and their codec strings', () => {
    expect(init.kind).toBe('init');
    const kinds = init.info.tracks.map((t) => [t.kind, t.codec]);
    expect(kinds).toEqual([
      ['video', 'avc1.42c01e'],
      ['audio', 'mp4a.40.2'],
    ]);
    expect(init.timeline.width).toBe(160);
    expect(init.timeline.height).toBe(90);
    expect(init.data.subarray(4, 8).toString()).toBe('ftyp');
  });

  it('emits every moof+mdat as a fragment of about 200 ms, keyframe fragments flagged', () => {
    expect(fragments.every((f) => f.kind === 'fragment')).toBe(true);
    const total = fragments.reduce((s, f) => s + f.duration, 0);
    expect(total).toBeCloseTo(4.1, 1);
    // x264 GOP 60 at 30 fps: independent fragments at 0 s, 2 s and 4 s
    expect(fragments.filter((f) => f.independent).map((f) => Math.round(f.start * 10) / 10)).toEqual([0, 2, 4]);
    for (const f of fragments.slice(1)) expect(f.duration).toBeLessThanOrEqual(0.2 + 1e-9);
    expect(fragments[0]!.duration).toBeCloseTo(0.2214, 3);
    expect(fragments.map((f) => f.data.subarray(4, 8).toString()).every((t) => t === 'moof')).toBe(true);
  });

  it('gives the same pieces whatever the chunking (bytes arrive in arbitrary slices)', () => {
    const small = readAll(997);
    expect(small.length).toBe(pieces.length);
    expect(Buffer.concat(small.slice(1).map((p) => p.data)).equals(Buffer.concat(fragments.map((f) => f.data)))).toBe(true);
  });

  it('cuts 2 s segments that start at keyframes and keep fragment boundaries', () => {
    const seg = new Segmenter(2);
    const cut = fragments.map((f) => seg.push(f).closedBefore).filter((s) => s !== undefined);
    const last = seg.flush();
    expect(cut.map((s) => Number(s!.duration.toFixed(3)))).toEqual([2.021, 2]);
    expect(cut.every((s) => s!.fragments[0]!.independent)).toBe(true);
    expect(cut[0]!.fragments.length).toBe(10);
    expect(last?.duration).toBeCloseTo(0.1, 2);
  });
});

describe('Segmenter rules', () => {
  const frag = (start: number, independent: boolean, duration = 0.2): Fragment => ({
    kind: 'fragment', data: Buffer.alloc(0), start, duration, independent, presentationOffset: 0,
  });

  it('drops fragments until the first keyframe', () => {
    const s = new Segmenter(2);
    expect(s.push(frag(0, false))).toEqual({ kept: false });
    expect(s.dropped).toBe(1);
    s.push(frag(0.2, true));
    expect(s.open.length).toBe(1);
  });

  it('does not cut at a keyframe before the segment duration is reached (1 s source GOP -> 2 s segments)', () => {
    const s = new Segmenter(2);
    const done = [];
    for (let i = 0; i < 30; i++) {
      const r = s.push(frag(i * 0.2, i % 5 === 0)).closedBefore;
      if (r) done.push(r);
    }
    expect(done.map((d) => Number(d.duration.toFixed(3)))).toEqual([2, 2]);
  });

  it('cuts the first segment at the keyframe half a segment in, then whole segments', () => {
    const s = new Segmenter(2, [1]);
    const done = [];
    // keyframes as the encoder places them: frame 0, 1 s, then every 2 s
    for (let i = 0; i < 40; i++) {
      const r = s.push(frag(i * 0.2, i === 0 || (i - 5) % 10 === 0)).closedBefore;
      if (r) done.push(r);
    }
    expect(done.map((d) => Number(d.duration.toFixed(3)))).toEqual([1, 2, 2, 2]);
  });

  it('cuts the early segments at their keyframes, then whole segments', () => {
    const s = new Segmenter(2, [0.2, 0.6]);
    const done = [];
    // keyframes as the encoder places them: frame 0, at 0.2 s, at 0.8 s, then every 2 s
    const keyed = new Set([0, 1, 4, 14, 24, 34]);
    for (let i = 0; i < 40; i++) {
      const r = s.push(frag(i * 0.2, keyed.has(i))).closedBefore;
      if (r) done.push(r);
    }
    expect(done.map((d) => Number(d.duration.toFixed(3)))).toEqual([0.2, 0.6, 2, 2, 2]);
  });

  it('cuts at the source keyframes when they come later than the early cuts (a copied rung)', () => {
    const s = new Segmenter(2, [0.2, 0.6]);
    const done = [];
    for (let i = 0; i < 40; i++) {
      const r = s.push(frag(i * 0.2, i % 10 === 0)).closedBefore; // the source keys every 2 s
      if (r) done.push(r);
    }
    expect(done.map((d) => Number(d.duration.toFixed(3)))).toEqual([2, 2, 2]);
  });

  it('closes each segment on the fragment that completes it when the encoder keys at every cut, one part sooner', () => {
    const s = new Segmenter(2, [0.2, 0.6], true);
    const keyed = new Set([0, 1, 4, 14, 24, 34]);
    const steps = Array.from({ length: 40 }, (_, i) => s.push(frag(i * 0.2, keyed.has(i))));
    // closed by fragments 0, 3, 13, 23, 33 (each a segment's last), never by the keyframe after
    expect(steps.flatMap((st, i) => (st.closedWith ? [i] : []))).toEqual([0, 3, 13, 23, 33]);
    expect(steps.every((st) => st.closedBefore === undefined && st.kept)).toBe(true);
    expect(steps.flatMap((st) => (st.closedWith ? [Number(st.closedWith.duration.toFixed(3))] : []))).toEqual([0.2, 0.6, 2, 2, 2]);
    expect(s.boundaryMisses).toBe(0);
  });
});
