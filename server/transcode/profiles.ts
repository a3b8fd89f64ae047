/**
 * Loads and validates every transcode profile at startup. A bad file stops the server (exit 2)
 * with a message that names the file, the field and what is allowed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ProfileSchema, type Profile } from './profile-schema.js';
import { schemaErrorMessages } from '../config/validate.js';
import { deepFreeze } from '../config/load.js';
import { ERR_PROFILE_INVALID } from '../errors.js';

/** Where the shipped profiles live, relative to the working directory. */
export const PROFILE_DIR = 'transcode-profiles';

/** Validates one parsed profile; `file` only labels the messages. */
export function validateProfile(data: unknown, file: string): Profile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ERR_PROFILE_INVALID(`${file}: must hold a JSON object`);
  }
  const profile = Value.Default(ProfileSchema, structuredClone(data)) as Profile;
  const problems = schemaErrorMessages(ProfileSchema, profile, (path) => path);
  // The schema cannot say "height unless passthrough": checked here, also next to other problems.
  const rungs: unknown[] = Array.isArray(profile.rungs) ? profile.rungs : [];
  rungs.forEach((r, i) => {
    const rung = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
    if (rung.passthrough !== true && rung.height === undefined) problems.push(`rungs[${i}].height is required (an even number from 144 to 2160) unless passthrough is true`);
  });
  if (problems.length === 0) {
    const names = new Set<string>();
    profile.rungs.forEach((r, i) => {
      if (names.has(r.name)) problems.push(`rungs[${i}].name "${r.name}" is used twice`);
      names.add(r.name);
      if (r.maxrate < r.videoBitrate) problems.push(`rungs[${i}].maxrate must be ≥ videoBitrate (${r.videoBitrate})`);
      if (r.passthrough && r.height !== undefined) problems.push(`rungs[${i}].height must be left out of a passthrough rung (it has the source's size)`);
    });
    if (profile.rungs.filter((r) => r.passthrough).length > 1) problems.push('rungs: at most one rung may be passthrough');
    if (profile.partSeconds * 2 > profile.segmentSeconds) problems.push('partSeconds must be at most half of segmentSeconds');
  }
  if (problems.length) throw new ERR_PROFILE_INVALID(problems.map((p) => `${file}: ${p}`).join('\n'));
  return deepFreeze(profile);
}

/** Reads every `*.json` in the directory; returns name -> profile. */
export function loadProfiles(dir: string = PROFILE_DIR): ReadonlyMap<string, Profile> {
  const out = new Map<string, Profile>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    throw new ERR_PROFILE_INVALID(`${dir}: cannot read the profile directory`);
  }
  for (const f of files.sort()) {
    const path = join(dir, f);
    const label = relative(process.cwd(), path) || path;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ERR_PROFILE_INVALID(`${label}: not valid JSON (${(err as Error).message})`);
    }
    out.set(f.slice(0, -'.json'.length), validateProfile(data, label));
  }
  return out;
}
