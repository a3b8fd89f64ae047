/**
 * `npm run bench:transcode`: how fast the default profile's ffmpeg (the exact arguments the server
 * uses, from buildFfmpegPlan) encodes a 1280x720@30 source with each x264 preset, as a multiple of
 * real time. Runs each preset 3 times and reports the median. Writes a section of BENCHMARKS.md.
 * Bounded: 20 s of source per run, 5 presets x 3 runs.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFfmpegPlan, planToArgv } from '../../server/transcode/ffmpeg-args.js';
import { buildLadder, UNKNOWN_SOURCE, type SourceInfo } from '../../server/transcode/ladder.js';
import { loadProfiles } from '../../server/transcode/profiles.js';
import { writeBenchSection } from './benchmarks-file.js';

const run = promisify(execFile);
const SECONDS = 20;
const RUNS = 3;
const PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster'] as const;

const dir = mkdtempSync(join(tmpdir(), 'lo-bench-'));
const source = join(dir, 'source.flv');
// An OBS-like source: 720p30 H.264 with an 8 s GOP and AAC, as FLV (what our ingest hands ffmpeg).
// Temporal noise stands in for camera grain: a clean testsrc2 encodes ~1.5x faster than real pictures.
await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30,noise=alls=12:allf=t', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-b:v', '4000k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '160k', '-f', 'flv', source]);

const profile = loadProfiles('transcode-profiles').get('default')!;
// What the ingest would measure of these sources: x264 High, 2 s keyframes (so `passthrough` copies).
const source720: SourceInfo = { ...UNKNOWN_SOURCE, videoCodec: 'h264', width: 1280, height: 720, fps: 30, videoKbps: 4000, audioCodec: 'aac', avcProfile: 100, avcLevel: 31, gopSeconds: 2, gopIntervals: 9 };
const source1080Info: SourceInfo = { ...source720, width: 1920, height: 1080, videoKbps: 6000, avcLevel: 40 };
const ladder = buildLadder(profile, source720);

/** Runs ffmpeg processes on the source at full speed; returns wall seconds, CPU seconds and peak RSS (sum over processes). */
async function measure(argvs: string[][], input: string): Promise<{ wall: number; cpu: number; rssMiB: number }> {
  const ticks = 100; // USER_HZ on Linux
  const t0 = process.hrtime.bigint();
  const procs = argvs.map((argv) => spawn('ffmpeg', argv, { stdio: ['pipe', 'ignore', 'pipe'] }));
  const last = new Map<number, { cpu: number; hwm: number }>();
  // /proc is read while they run: the last reading before exit is their CPU time and peak RSS.
  const poll = setInterval(() => {
    for (const p of procs) {
      try {
        const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0);
        const prev = last.get(p.pid!) ?? { cpu: 0, hwm: 0 };
        // a zombie has no VmHWM any more: keep the highest readings
        last.set(p.pid!, { cpu: Math.max(prev.cpu, (Number(f[11]) + Number(f[12])) / ticks), hwm: Math.max(prev.hwm, hwm) });
      } catch {
        // exited
      }
    }
  }, 50);
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve, reject) => {
          let err = '';
          p.stderr.on('data', (d) => (err += d));
          p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${code}: ${err}`))));
          p.stdin.end(readFileSync(input));
        }),
    ),
  );
  clearInterval(poll);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const values = [...last.values()];
  return { wall, cpu: values.reduce((a, v) => a + v.cpu, 0), rssMiB: values.reduce((a, v) => a + v.hwm, 0) / 1024 };
}

async function speed(preset: string): Promise<number> {
  const plan = buildFfmpegPlan(ladder, { ...profile, x264Preset: preset as typeof profile.x264Preset }, (r) => join(dir, `${r}.mp4`));
  const { wall } = await measure([['-y', ...planToArgv(plan)]], source);
  return SECONDS / wall;
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

// Every shipped profile at its own preset, fed a source of its top rung's height.
const source1080 = join(dir, 'source1080.flv');
await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-b:v', '6000k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '160k', '-f', 'flv', source1080]);
const profileRows: string[] = [];
for (const [name, p] of loadProfiles('transcode-profiles')) {
  const tall = p.rungs.some((r) => (r.height ?? 0) > 720);
  const src = tall ? source1080Info : source720;
  const l = buildLadder(p, src);
  const plan = buildFfmpegPlan(l, p, (r) => join(dir, `${name}-${r}.mp4`));
  const m = await measure([['-y', ...planToArgv(plan)]], tall ? source1080 : source);
  const line = `| ${name} | ${tall ? '1080p30' : '720p30'} | ${l.map((r) => r.name).join(' + ')} | ${p.x264Preset} | ${(SECONDS / m.wall).toFixed(2)}x | ${(m.cpu / SECONDS).toFixed(2)} | ${m.rssMiB.toFixed(0)} MiB |`;
  console.log(line);
  profileRows.push(line);
}

// One ffmpeg with split (decode once) against one ffmpeg per rendition (each decodes the source).
const whole = buildFfmpegPlan(ladder, profile, (r) => join(dir, `split-${r}.mp4`));
const single = await measure([['-y', ...planToArgv(whole)]], source);
const perRendition = await measure(
  ladder.map((r) => ['-y', ...planToArgv(buildFfmpegPlan([r], profile, (n) => join(dir, `one-${n}.mp4`)))]),
  source,
);
const splitRows = [
  `| one ffmpeg, split | ${(single.cpu / SECONDS).toFixed(2)} | ${single.rssMiB.toFixed(0)} MiB | ${(SECONDS / single.wall).toFixed(2)}x |`,
  `| one ffmpeg per rendition (${ladder.length}) | ${(perRendition.cpu / SECONDS).toFixed(2)} | ${perRendition.rssMiB.toFixed(0)} MiB | ${(SECONDS / perRendition.wall).toFixed(2)}x |`,
];
console.log(splitRows.join('\n'));

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

Every shipped profile at its own preset (one run each; CPU = CPU seconds per media second, so 2.0
would fill both cores; peak RSS of the ffmpeg process):

| profile | source | ladder | preset | speed | CPU s / media s | peak RSS |
| --- | --- | --- | --- | --- | --- | --- |
${profileRows.join('\n')}

One ffmpeg that decodes once and splits, against one ffmpeg per rendition (default profile, 720p
source, all processes at once):

| setup | CPU s / media s | peak RSS (sum) | speed |
| --- | --- | --- | --- |
${splitRows.join('\n')}
`;
writeBenchSection('## Transcoder speed by x264 preset', section);
console.log(`written to BENCHMARKS.md`);
