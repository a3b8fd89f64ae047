/**
 * The one owner of media file names (pure). The packager names what it publishes here, the routes
 * take their file-name pattern from here, and the window parses a requested name here, so a form
 * the packager writes can never be one the routes refuse (a 400 on every init segment after a
 * reconnect came from two hand-written copies of these rules drifting apart).
 *
 *   init-<epoch>.mp4              init segment of a session's first encoder run
 *   init-<epoch>-<generation>.mp4 init segment of a later run (ffmpeg restart, publisher back)
 *   <epoch>-<msn>.m4s             segment, by media sequence number
 *   <epoch>-p<part id>.m4s        part, by global part ID (counts across segments)
 *
 * The epoch is unique per session, so a CDN never sees a name twice. Numbers are written without
 * leading zeros and parsed only in that spelling: one piece has exactly one URL (one cache key).
 */

/** A parsed media file name. */
export type MediaName =
  | { kind: 'init'; epoch: string; generation: number }
  | { kind: 'segment'; epoch: string; msn: number }
  | { kind: 'part'; epoch: string; partId: number };

/** Characters of an epoch: lower-case base36, at most 32. */
const EPOCH = '[a-z0-9]{1,32}';
/** A number without leading zeros, at most 15 digits (a safe integer). */
const NUMBER = '(?:0|[1-9][0-9]{0,14})';
/** A generation after the first run: 1 and up. */
const GENERATION = '[1-9][0-9]{0,14}';

/** Every name the packager can produce, as a JSON-schema `pattern` for route params. */
export const MEDIA_FILE_PATTERN = `^(?:init-${EPOCH}(?:-${GENERATION})?\\.mp4|${EPOCH}-p?${NUMBER}\\.m4s)$`;

const INIT = new RegExp(`^init-(${EPOCH})(?:-(${GENERATION}))?\\.mp4$`);
const PIECE = new RegExp(`^(${EPOCH})-(p?)(${NUMBER})\\.m4s$`);

function checkEpoch(epoch: string): void {
  if (!new RegExp(`^${EPOCH}$`).test(epoch)) throw new RangeError(`media name: bad epoch "${epoch}"`);
}

function checkNumber(what: string, n: number, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`media name: ${what} must be an integer ≥ ${min}, got ${n}`);
}

/** Name of the init segment of encoder run `generation` (0 = the session's first run). */
export function initName(epoch: string, generation: number): string {
  checkEpoch(epoch);
  checkNumber('generation', generation, 0);
  return generation === 0 ? `init-${epoch}.mp4` : `init-${epoch}-${generation}.mp4`;
}

/** Name of the segment with media sequence number `msn`. */
export function segmentName(epoch: string, msn: number): string {
  checkEpoch(epoch);
  checkNumber('msn', msn, 0);
  return `${epoch}-${msn}.m4s`;
}

/** Name of the part with global ID `partId`. */
export function partName(epoch: string, partId: number): string {
  checkEpoch(epoch);
  checkNumber('part id', partId, 0);
  return `${epoch}-p${partId}.m4s`;
}

/** The name of a parsed media name (the inverse of `parseMediaName`). */
export function formatMediaName(name: MediaName): string {
  switch (name.kind) {
    case 'init':
      return initName(name.epoch, name.generation);
    case 'segment':
      return segmentName(name.epoch, name.msn);
    case 'part':
      return partName(name.epoch, name.partId);
  }
}

/** Parses a file name; undefined for anything the packager cannot have produced. */
export function parseMediaName(file: string): MediaName | undefined {
  const init = INIT.exec(file);
  if (init) return { kind: 'init', epoch: init[1]!, generation: init[2] === undefined ? 0 : Number(init[2]) };
  const piece = PIECE.exec(file);
  if (!piece) return undefined;
  const n = Number(piece[3]);
  if (!Number.isSafeInteger(n)) return undefined;
  return piece[2] ? { kind: 'part', epoch: piece[1]!, partId: n } : { kind: 'segment', epoch: piece[1]!, msn: n };
}
