/**
 * ISO BMFF (MP4) box reading, just what the packager needs from ffmpeg's fragmented MP4 (pure).
 * ISO/IEC 14496-12: ftyp/moov form the init segment; each moof+mdat pair is one fragment.
 */

/** A box's type and where its payload lies in the buffer. */
export interface Box {
  type: string;
  /** Offset of the box header. */
  start: number;
  /** Offset of the payload (after size/type and a 64-bit size if any). */
  payload: number;
  /** Offset one past the box. */
  end: number;
}

/** Reads the header of the box at `offset`; null when the header or (with `whole`) the box is not all there. */
export function readBoxHeader(buf: Buffer, offset: number, whole = true): Box | null {
  if (buf.length - offset < 8) return null;
  let size = buf.readUInt32BE(offset);
  const type = buf.toString('latin1', offset + 4, offset + 8);
  let payload = offset + 8;
  if (size === 1) {
    if (buf.length - offset < 16) return null;
    size = Number(buf.readBigUInt64BE(offset + 8));
    payload = offset + 16;
  } else if (size === 0) {
    size = buf.length - offset; // box runs to the end of the data (only ever the last one)
  }
  if (size < payload - offset) throw new Error(`mp4: box "${type}" at ${offset} has an impossible size ${size}`);
  const end = offset + size;
  if (whole && end > buf.length) return null;
  return { type, start: offset, payload, end };
}

/** The child boxes of `parent` (or of the range), in order. */
export function children(buf: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    const box = readBoxHeader(buf, at);
    if (!box || box.end > to) break;
    out.push(box);
    at = box.end;
  }
  return out;
}

/** First child of the given type, searched along a path ("trak/mdia/mdhd"). */
export function find(buf: Buffer, parent: Box, path: string): Box | undefined {
  let cur: Box | undefined = parent;
  for (const type of path.split('/')) {
    if (!cur) return undefined;
    // Sample entries (avc1, mp4a) carry fixed fields before their child boxes.
    const skip: number = SAMPLE_ENTRY_SKIP[cur.type] ?? 0;
    cur = children(buf, cur.payload + skip, cur.end).find((b) => b.type === type);
  }
  return cur;
}

/** All children of a type. */
export function findAll(buf: Buffer, parent: Box, type: string): Box[] {
  return children(buf, parent.payload, parent.end).filter((b) => b.type === type);
}

/** Bytes before the child boxes of container-like boxes that are not pure containers. */
const SAMPLE_ENTRY_SKIP: Record<string, number> = {
  stsd: 8, // version/flags + entry count
  avc1: 78, // VisualSampleEntry fields
  avc3: 78,
  mp4a: 28, // AudioSampleEntry fields
};

/** A track of the init segment. */
export interface TrackInfo {
  id: number;
  kind: 'video' | 'audio' | 'other';
  timescale: number;
  /** RFC 6381 codec string: avc1.64001f, mp4a.40.2. */
  codec: string;
  width: number;
  height: number;
  /** trex defaults, used when a fragment leaves them out. */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

/** What the packager keeps from ftyp+moov. */
export interface InitInfo {
  tracks: TrackInfo[];
}

/** Parses the moov of an init segment. */
export function parseInit(buf: Buffer): InitInfo {
  const moov = children(buf, 0, buf.length).find((b) => b.type === 'moov');
  if (!moov) throw new Error('mp4: init segment has no moov box');
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = find(buf, moov, 'mvex');
  if (mvex) {
    for (const t of findAll(buf, mvex, 'trex')) {
      // version/flags(4) track_ID(4) default_sample_description_index(4) duration(4) size(4) flags(4)
      trex.set(buf.readUInt32BE(t.payload + 4), { duration: buf.readUInt32BE(t.payload + 12), flags: buf.readUInt32BE(t.payload + 20) });
    }
  }
  const tracks = findAll(buf, moov, 'trak').map((trak): TrackInfo => {
    const tkhd = find(buf, trak, 'tkhd')!;
    const v = buf[tkhd.payload]!;
    const id = buf.readUInt32BE(tkhd.payload + (v === 1 ? 20 : 12));
    // width and height are the last 8 bytes of tkhd, 16.16 fixed point
    const width = buf.readUInt32BE(tkhd.end - 8) >>> 16;
    const height = buf.readUInt32BE(tkhd.end - 4) >>> 16;
    const mdhd = find(buf, trak, 'mdia/mdhd')!;
    const timescale = buf.readUInt32BE(mdhd.payload + (buf[mdhd.payload] === 1 ? 20 : 12));
    const hdlr = find(buf, trak, 'mdia/hdlr')!;
    const handler = buf.toString('latin1', hdlr.payload + 8, hdlr.payload + 12);
    const stsd = find(buf, trak, 'mdia/minf/stbl/stsd');
    const entry = stsd ? children(buf, stsd.payload + 8, stsd.end)[0] : undefined;
    const t = trex.get(id) ?? { duration: 0, flags: 0 };
    return {
      id,
      kind: handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other',
      timescale,
      codec: entry ? codecString(buf, entry) : '',
      width,
      height,
      defaultSampleDuration: t.duration,
      defaultSampleFlags: t.flags,
    };
  });
  return { tracks };
}

/** RFC 6381 codec string from a sample entry (avcC profile/compat/level; esds object type). */
export function codecString(buf: Buffer, entry: Box): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    const avcC = find(buf, entry, 'avcC');
    if (!avcC) return entry.type;
    const p = avcC.payload;
    return `${entry.type}.${hex(buf[p + 1]!)}${hex(buf[p + 2]!)}${hex(buf[p + 3]!)}`;
  }
  if (entry.type === 'mp4a') {
    const esds = find(buf, entry, 'esds');
    if (!esds) return 'mp4a.40.2';
    return `mp4a.${audioObjectType(buf, esds.payload + 4, esds.end)}`;
  }
  return entry.type;
}

/** Walks the MPEG-4 descriptors of esds to "40.<audio object type>" (AAC-LC = 40.2). */
function audioObjectType(buf: Buffer, from: number, to: number): string {
  let at = from;
  let oti = 0x40;
  while (at < to) {
    const tag = buf[at++]!;
    let len = 0;
    for (let i = 0; i < 4; i++) {
      const b = buf[at++]!;
      len = (len << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    if (tag === 0x03) at += 3; // ES_Descriptor: ES_ID(2) + flags(1), then nested descriptors
    else if (tag === 0x04) {
      oti = buf[at]!;
      at += 13; // DecoderConfigDescriptor fixed part, then DecoderSpecificInfo
    } else if (tag === 0x05) {
      const aot = buf[at]! >> 3;
      return `${oti.toString(16)}.${aot === 31 ? 32 + (((buf[at]! & 7) << 3) | (buf[at + 1]! >> 5)) : aot}`;
    } else at += len;
  }
  return `${oti.toString(16)}.2`;
}

/** Timing of one track within a fragment. */
export interface TrackRun {
  trackId: number;
  baseDecodeTime: number;
  duration: number;
  sampleCount: number;
  /** First sample is a sync sample (an IDR for H.264). */
  startsWithSync: boolean;
  /** Composition offset of the first sample (its presentation time minus its decode time; B-frames make it > 0). */
  firstCompositionOffset: number;
}

/** Parses a moof box into per-track timing. */
export function parseMoof(buf: Buffer, moof: Box, init: InitInfo): TrackRun[] {
  return findAll(buf, moof, 'traf').map((traf) => {
    const tfhd = find(buf, traf, 'tfhd')!;
    const tfhdFlags = buf.readUInt32BE(tfhd.payload) & 0xffffff;
    const trackId = buf.readUInt32BE(tfhd.payload + 4);
    const track = init.tracks.find((t) => t.id === trackId);
    let at = tfhd.payload + 8;
    if (tfhdFlags & 0x01) at += 8; // base-data-offset
    if (tfhdFlags & 0x02) at += 4; // sample-description-index
    let defaultDuration = track?.defaultSampleDuration ?? 0;
    let defaultFlags = track?.defaultSampleFlags ?? 0;
    if (tfhdFlags & 0x08) { defaultDuration = buf.readUInt32BE(at); at += 4; }
    if (tfhdFlags & 0x10) at += 4; // default-sample-size
    if (tfhdFlags & 0x20) defaultFlags = buf.readUInt32BE(at);

    const tfdt = find(buf, traf, 'tfdt');
    let baseDecodeTime = 0;
    if (tfdt) {
      baseDecodeTime = buf[tfdt.payload] === 1 ? Number(buf.readBigUInt64BE(tfdt.payload + 4)) : buf.readUInt32BE(tfdt.payload + 4);
    }
    let duration = 0;
    let sampleCount = 0;
    let firstFlags: number | undefined;
    let firstCompositionOffset = 0;
    for (const trun of findAll(buf, traf, 'trun')) {
      const version = buf[trun.payload]!;
      const flags = buf.readUInt32BE(trun.payload) & 0xffffff;
      const count = buf.readUInt32BE(trun.payload + 4);
      let p = trun.payload + 8;
      if (flags & 0x01) p += 4; // data-offset
      let first: number | undefined;
      if (flags & 0x04) { first = buf.readUInt32BE(p); p += 4; }
      for (let i = 0; i < count; i++) {
        let d = defaultDuration;
        let f = defaultFlags;
        if (flags & 0x100) { d = buf.readUInt32BE(p); p += 4; }
        if (flags & 0x200) p += 4;
        if (flags & 0x400) { f = buf.readUInt32BE(p); p += 4; }
        if (flags & 0x800) {
          // unsigned in version 0, signed in version 1 (ISO/IEC 14496-12 8.8.8.2)
          if (sampleCount === 0 && i === 0) firstCompositionOffset = version === 1 ? buf.readInt32BE(p) : buf.readUInt32BE(p);
          p += 4;
        }
        if (i === 0 && first !== undefined) f = first;
        if (sampleCount === 0 && i === 0) firstFlags = f;
        duration += d;
      }
      sampleCount += count;
    }
    // sample_is_non_sync_sample is bit 16 of the sample flags (ISO/IEC 14496-12 8.8.3.1)
    const startsWithSync = firstFlags !== undefined && ((firstFlags >>> 16) & 1) === 0;
    return { trackId, baseDecodeTime, duration, sampleCount, startsWithSync, firstCompositionOffset };
  });
}
