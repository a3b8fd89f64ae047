/**
 * `npm run bench:transcode`: how fast the default profile's ffmpeg (the exact arguments the server
 * uses, from buildFfmpegPlan) encodes a 1280x720@30 source with each x264 preset, as a multiple of
 * real time. Runs each preset 3 times and reports the median. Writes a section of BENCHMARKS.md.
 * Bounded: 20 s of source per run, 5 presets x 3 runs.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFfmpegPlan, planToArgv } from '../../server/transcode/ffmpeg-args.js';
import { buildLadder } from '../../server/transcode/ladder.js';
import { loadProfiles } from '../../server/transcode/profiles.js';

const run = promisify(execFile);
const SECONDS = 20;
const RUNS = 3;
const PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster'] as const;

const dir = mkdtempSync(join(tmpdir(), 'lo-bench-'));
const source = join(dir, 'source.flv');
// An OBS-like source: 720p30 H.264 with an 8 s GOP and AAC, as FLV (what our ingest hands ffmpeg).
// Temporal noise stands in for camera grain: a clean testsrc2 encodes ~1.5x faster than real pictures.
await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '250', '-b:v', '4000k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '160k', '-f', 'flv', source]);

const profile = loadProfiles('transcode-profiles').get('default')!;
const ladder = buildLadder(profile, { videoCodec: 'h264', width: 1280, height: 720, fps: 30, videoKbps: 4000, audioCodec: 'aac' });

async function speed(preset: string): Promise<number> {
  const plan = buildFfmpegPlan(ladder, { ...profile, x264Preset: preset as typeof profile.x264Preset }, (r) => join(dir, `${r}.mp4`));
  const argv = ['-y', ...planToArgv(plan)];
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ffmpeg', argv, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${code}: ${err}`))));
    p.stdin.end(readFileSync(source));
  });
  return SECONDS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
for (const preset of PRESETS) {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await speed(preset));
  const line = `| ${preset} | ${median(runs).toFixed(2)}x | ${runs.map((r) => r.toFixed(2)).join(', ')} |`;
  console.log(line);
  rows.push(line);
}

const { stdout: version } = await run('ffmpeg', ['-version']);
const section = `## Transcoder speed by x264 preset (default profile: 720p + 480p + 360p from one 720p30 source)

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:transcode\` on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB,
${version.split('\n')[0]}. The exact arguments the server uses (one ffmpeg, split, 3 × libx264 zerolatency + 3 × AAC,
fragmented MP4), fed a ${SECONDS} s FLV (testsrc2 with temporal noise, like camera grain) as fast as it can encode: speed = media seconds / wall seconds. Median of ${RUNS} runs.
Above 1.0x keeps up with a live publish; the margin is what the publisher's machine, a browser and other
streams may take.

| preset | median speed | runs |
| --- | --- | --- |
${rows.join('\n')}
`;
const file = 'BENCHMARKS.md';
let text = '';
try {
  text = readFileSync(file, 'utf8');
} catch {
  text = '# Benchmarks\n\nEvery number here was measured on the machine it names; ratios from one run compare, absolute numbers do not travel.\n';
}
const marker = /## Transcoder speed by x264 preset[\s\S]*?(?=\n## |$)/;
text = marker.test(text) ? text.replace(marker, section.trimEnd() + '\n') : `${text.trimEnd()}\n\n${section}`;
writeFileSync(file, text);
console.log(`written to ${file}`);
