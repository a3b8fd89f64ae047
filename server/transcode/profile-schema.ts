/**
 * The schema of a transcode profile (`transcode-profiles/<name>.json`), documented for people in
 * `transcode-profiles/README.md`. Bitrates are in kbit/s.
 */
import { Type, type Static } from '@sinclair/typebox';

/** One rendition of the ladder. */
export const RungSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'rendition name, used in URLs' }),
    height: Type.Optional(
      Type.Integer({ minimum: 144, maximum: 2160, multipleOf: 2, description: 'output height; width follows the source aspect (required unless passthrough)' }),
    ),
    passthrough: Type.Optional(
      Type.Boolean({ description: "copy the source's H.264 (no height: the source's size); the bitrates are for re-encoding when it cannot be copied" }),
    ),
    videoBitrate: Type.Integer({ minimum: 100, maximum: 50000, description: 'target video bitrate, kbit/s' }),
    maxrate: Type.Integer({ minimum: 100, maximum: 60000, description: 'peak video bitrate (VBV), kbit/s' }),
    bufsize: Type.Integer({ minimum: 100, maximum: 120000, description: 'VBV buffer, kbit' }),
    fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 120, description: 'frame rate cap' })),
    audioBitrate: Type.Integer({ minimum: 32, maximum: 320, description: 'AAC bitrate, kbit/s' }),
    h264Profile: Type.Union([Type.Literal('baseline'), Type.Literal('main'), Type.Literal('high')], { default: 'high' }),
    level: Type.Union(
      ['3.0', '3.1', '3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2'].map((l) => Type.Literal(l)),
      { default: '4.0' },
    ),
  },
  { additionalProperties: false },
);

/** A whole profile. */
export const ProfileSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
    segmentSeconds: Type.Number({ minimum: 1, maximum: 10, default: 2, description: 'segment length (keyframe interval)' }),
    partSeconds: Type.Number({ minimum: 0.1, maximum: 1, default: 0.2, description: 'fragment (LL-HLS part) length' }),
    partHoldBackParts: Type.Integer({
      minimum: 2,
      maximum: 6,
      // Players start at PART-HOLD-BACK plus their own start-up (~0.4 s here), and plain hls.js
      // never catches up below 1 s of buffer: 3 x 200 ms left it 1.0-1.24 s behind, 2 x 200 ms
      // 0.71-1.01 s, with no more stalls on the emulated slow links (BENCHMARKS.md, bench:parts).
      // So 2, the RFC's minimum, by default. (A stall of the bundled player that showed up with 2
      // was hls.js's back-buffer flushing, not the hold-back: player/src/watch.ts.) A profile that
      // wants the RFC's recommended 3 for more margin on jittery networks says so.
      default: 2,
      description: 'PART-HOLD-BACK in parts: how far behind the newest part LL-HLS players start (RFC 8216bis: at least 2, which is the default; it recommends 3)',
    }),
    playlistSize: Type.Integer({ minimum: 3, maximum: 30, default: 6, description: 'segments listed in a live playlist' }),
    x264Preset: Type.Union(
      ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'].map((p) => Type.Literal(p)),
      { default: 'superfast' },
    ),
    fps: Type.Integer({ minimum: 1, maximum: 120, default: 30, description: 'output frame rate unless a rung caps it' }),
    audioSampleRate: Type.Union([Type.Literal(44100), Type.Literal(48000)], { default: 48000 }),
    rungs: Type.Array(RungSchema, { minItems: 1, maxItems: 8 }),
    audioOnly: Type.Optional(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,31}$', description: 'rendition name, used in URLs' }),
          audioBitrate: Type.Integer({ minimum: 32, maximum: 320, description: 'AAC bitrate, kbit/s' }),
        },
        { additionalProperties: false, description: 'an AAC-only rendition (for listeners on very weak networks)' },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A validated profile. */
export type Profile = Static<typeof ProfileSchema>;
/** A validated rung. */
export type Rung = Static<typeof RungSchema>;
