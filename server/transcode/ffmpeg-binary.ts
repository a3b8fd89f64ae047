/**
 * Finds the ffmpeg and ffprobe binaries: FFMPEG_PATH/FFPROBE_PATH, else the ones on PATH, else the
 * binaries inside the optional npm packages @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe
 * (no download: the binary ships in the package), so a fresh machine needs only npm.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { ERR_FFMPEG_UNAVAILABLE } from '../errors.js';

const run = promisify(execFile);

/** A binary we will run, with where it came from and its version line. */
export interface Binary {
  path: string;
  source: 'config' | 'PATH' | 'npm';
  version: string;
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function fromNpm(pkg: string): string | undefined {
  try {
    return (createRequire(import.meta.url)(pkg) as { path: string }).path;
  } catch {
    return undefined;
  }
}

/** Locates and runs `<bin> -version`; throws ERR_FFMPEG_UNAVAILABLE with what to do. */
export async function locate(tool: 'ffmpeg' | 'ffprobe', configured: string | undefined, env: NodeJS.ProcessEnv): Promise<Binary> {
  const npmPkg = tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
  const envName = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
  let path: string | undefined;
  let source: Binary['source'];
  if (configured) {
    path = configured;
    source = 'config';
  } else if ((path = onPath(tool, env))) {
    source = 'PATH';
  } else if ((path = fromNpm(npmPkg))) {
    source = 'npm';
  } else {
    throw new ERR_FFMPEG_UNAVAILABLE(
      `${tool} not found: set ${envName}, install it (apt-get install -y ffmpeg) or keep the optional npm package ${npmPkg}`,
    );
  }
  try {
    const { stdout } = await run(path, ['-hide_banner', '-version'], { timeout: 10_000 });
    return { path, source, version: stdout.split('\n')[0]!.trim() };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'not executable' : (e.stderr || e.message).trim().split('\n')[0];
    throw new ERR_FFMPEG_UNAVAILABLE(`${tool} at ${path} (from ${source === 'config' ? envName : source}) does not run: ${why}`);
  }
}
