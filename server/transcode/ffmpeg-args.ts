/**
 * Ladder -> ffmpeg arguments (pure, golden-tested). One ffmpeg decodes the publish once, splits
 * the picture, and encodes every rendition to its own fragmented-MP4 output. Every flag says why.
 * Recipe measured in ../shared/DESIGN.md ("Fragmented MP4 out of ffmpeg").
 */
import type { Profile } from './profile-schema.js';
import { earlyKeyframes, fragmentMicros, type Rendition } from './ladder.js';

/** One output of the command. */
export interface FfmpegOutput {
  rendition: string;
  target: string;
  options: string[];
}

/** The command in the shape fluent-ffmpeg takes it (transcoder.ts) and as a flat argv (tests, logs). */
export interface FfmpegPlan {
  inputOptions: string[];
  input: string;
  filterComplex: string;
  /** fMP4 outputs, one per rendition. */
  outputs: FfmpegOutput[];
  /** The thumbnail output (a JPEG rewritten every THUMBNAIL_SECONDS), if asked for. */
  thumbnail?: FfmpegOutput;
}

/** How often the directory's thumbnail of a stream is refreshed. */
export const THUMBNAIL_SECONDS = 10;

/** Builds the plan; `target(name)` says where each rendition goes (a unix socket URL). */
export function buildFfmpegPlan(
  ladder: readonly Rendition[],
  profile: Pick<Profile, 'x264Preset' | 'partSeconds' | 'partHoldBackParts' | 'audioSampleRate' | 'segmentSeconds'>,
  target: (rendition: string) => string,
  thumbnailFile?: string,
): FfmpegPlan {
  const inputOptions = [
    '-hide_banner',
    // Warnings and errors only: stderr is kept as the crash report, progress comes from our packager.
    '-loglevel', 'level+warning',
    '-nostats',
    // Probe 0.1 s of input only: the FLV sequence headers, which come first, already name the
    // codecs. Measured here (5 s FLV paced at real time into stdin): first output after 1.5 s with
    // the default 5 s analyzeduration, 0.43 s with 0.2 s; and replaying a publish as our ingest
    // hands it over (x264 with B-frames, first frame 0.5 s after the headers): init segment 0.33 s
    // after the first frame with 0.2 s, 0.24 s with 0.1 s, first part 0.40 -> 0.30 s (0.05 s and
    // less gain nothing more: the part's own 0.2 s is the rest). A stream whose first audio comes
    // later than that is played without audio, as one after 0.2 s was before.
    // `-fflags nobuffer` is NOT used: with an FLV pipe and a filter graph it held every output
    // until end of input.
    '-analyzeduration', '100000',
    // Our ingest hands ffmpeg the publish as FLV on stdin (no RTMP read-back, ~1 s sooner;
    // and stdin closing, also when our process dies, makes ffmpeg finish and exit).
    '-f', 'flv',
  ];
  // Encoded pictures go through the filter graph; a passthrough rung copies the input's video.
  const pictures = ladder.filter((r) => !r.audioOnly && !r.passthrough);
  const copying = ladder.some((r) => r.passthrough);
  const branches = pictures.length + (thumbnailFile ? 1 : 0);
  const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`).join('');
  const chains = pictures.map((r, i) => {
    // fps first: constant frame rate makes the GOP below exactly segmentSeconds long.
    // scale=-2 keeps the source aspect with an even width when we do not know the source size.
    const scale = r.width > 0 ? `scale=${r.width}:${r.height}` : `scale=-2:${r.height}`;
    // setsar=1: square pixels, so the player's RESOLUTION is what the picture shows.
    return `[s${i}]fps=${r.fps},${scale}:flags=bicubic,setsar=1,format=yuv420p[v${i}]`;
  });
  // The thumbnail branch: one small frame every THUMBNAIL_SECONDS (negligible CPU next to x264).
  // The first frame at once (a card should not wait 10 s for its picture), then one every 10 s.
  if (thumbnailFile) {
    chains.push(`[s${pictures.length}]select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${THUMBNAIL_SECONDS})',scale=320:-2,format=yuvj420p[thumb]`);
  }
  const filterComplex = branches ? [`[0:v:0]split=${branches}${labels}`, ...chains].join(';') : '';

  // Audio and the fragmented-MP4 container, the same for every output.
  const audioAndContainer = (r: Rendition) => [
    '-c:a', 'aac',
    '-b:a', `${r.audioKbps}k`,
    '-ar', String(profile.audioSampleRate),
    '-ac', '2',
    // Fragmented MP4: ftyp+moov first (the init segment), then one moof+mdat per part.
    '-f', 'mp4',
    '-movflags', 'frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration', String(fragmentMicros(r, profile.partSeconds, profile.audioSampleRate)),
    // Shift the AAC priming (1024 samples) into the audio track's start instead of stretching
    // the first video sample by 21 ms: without it the first part is longer than PART-TARGET.
    '-avoid_negative_ts', 'make_non_negative',
    // Hand every fragment to the packager as soon as it is written (no avio buffering).
    '-flush_packets', '1',
  ];
  const outputs = ladder.map((r): FfmpegOutput => {
    if (r.audioOnly) return { rendition: r.name, target: target(r.name), options: ['-map', '0:a:0', '-vn', ...audioAndContainer(r)] };
    // The source's H.264 as it came: its keyframes cut the segments (the ladder checked they fit).
    if (r.passthrough) return { rendition: r.name, target: target(r.name), options: ['-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy', ...audioAndContainer(r)] };
    const i = pictures.indexOf(r);
    return {
      rendition: r.name,
      target: target(r.name),
      options: [
        '-map', `[v${i}]`,
        // Audio is optional: a video-only publish still plays.
        '-map', '0:a:0?',
        '-c:v', 'libx264',
        '-preset', profile.x264Preset,
        // zerolatency: no lookahead and no B-frames (x264's default lookahead alone costs ~1.3 s).
        '-tune', 'zerolatency',
        '-profile:v', r.h264Profile,
        '-level:v', r.level,
        '-b:v', `${r.videoKbps}k`,
        '-maxrate', `${r.maxrateKbps}k`,
        '-bufsize', `${r.bufsizeKbit}k`,
        // Keyframe every segment, whatever the source GOP (OBS defaults to ~8 s): equal -g and
        // -keyint_min at a constant frame rate, and no extra keyframes on scene cuts.
        // Beside a copied rung, keyframes go where the source has them instead (the ladder made
        // sure those fit the segments), so every rendition's segments start on the same frame and
        // a player switches between them cleanly; -g then only bounds a source gone astray.
        // Otherwise extra keyframes where the short early segments end (ladder.ts, earlySegments:
        // one part in, then PART-HOLD-BACK later): x264 counts the next GOP from the last, so later
        // segments stay whole.
        ...(copying
          ? ['-force_key_frames', 'source', '-g', String(r.gop * 2)]
          : ['-force_key_frames', `expr:${earlyKeyframes(profile.segmentSeconds, r.partTarget, profile.partHoldBackParts, r.fps).map((n) => `eq(n,${n})`).join('+')}`, '-g', String(r.gop)]),
        '-keyint_min', String(r.gop),
        '-sc_threshold', '0',
        ...audioAndContainer(r),
      ],
    };
  });
  const thumbnail: FfmpegOutput | undefined = thumbnailFile
    ? {
        rendition: 'thumbnail',
        target: thumbnailFile,
        // one file, replaced atomically (write + rename): a reader never sees half a JPEG
        options: ['-map', '[thumb]', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2', '-update', '1', '-atomic_writing', '1'],
      }
    : undefined;
  return { inputOptions, input: 'pipe:0', filterComplex, outputs, ...(thumbnail ? { thumbnail } : {}) };
}

/** The plan as one argument array, exactly as ffmpeg receives it. */
export function planToArgv(plan: FfmpegPlan): string[] {
  return [
    ...plan.inputOptions,
    '-i', plan.input,
    ...(plan.filterComplex ? ['-filter_complex', plan.filterComplex] : []),
    ...[...plan.outputs, ...(plan.thumbnail ? [plan.thumbnail] : [])].flatMap((o) => [...o.options, o.target]),
  ];
}
