/**
 * The hostile clients of issue "Hostile publishers and viewers" (after ../shared/abuse/), as
 * functions that report what the server did to them. 127.0.0.1 only; every attack is bounded in
 * count and time and ends its sockets itself. Used by test/integration/hostile.test.ts (each
 * attack alone, asserted) and `npm run fuzz` (all of them at once).
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- AMF0 and RTMP chunks (the chunk size is raised first, so every message is one chunk) ---
const str = (s: string) => { const b = Buffer.from(s); const h = Buffer.alloc(3); h[0] = 2; h.writeUInt16BE(b.length, 1); return Buffer.concat([h, b]); };
const num = (n: number) => { const b = Buffer.alloc(9); b[0] = 0; b.writeDoubleBE(n, 1); return b; };
const nul = () => Buffer.from([5]);
const obj = (o: Record<string, Buffer>) => Buffer.concat([Buffer.from([3]), ...Object.entries(o).flatMap(([k, v]) => { const kb = Buffer.from(k); const l = Buffer.alloc(2); l.writeUInt16BE(kb.length); return [l, kb, v]; }), Buffer.from([0, 0, 9])]);

/** One fmt-0 RTMP message; `claimedLength` may lie about the payload's length. */
export function rtmpMessage(cid: number, type: number, streamId: number, payload: Buffer, ts = 0, claimedLength = payload.length): Buffer {
  const h = Buffer.alloc(12);
  h[0] = cid & 0x3f;
  h.writeUIntBE(Math.min(ts, 0xfffffe), 1, 3);
  h.writeUIntBE(claimedLength, 4, 3);
  h[7] = type;
  h.writeUInt32LE(streamId, 8);
  return Buffer.concat([h, payload]);
}
/** C0 C1 C2 at once (NMS does not check C2). */
export const handshake = () => Buffer.concat([Buffer.from([3]), Buffer.alloc(8), randomBytes(1528), Buffer.alloc(1536)]);
const setChunkSize = () => { const p = Buffer.alloc(4); p.writeUInt32BE(0xffffff); return rtmpMessage(2, 1, 0, p); };
const connectCmd = (port: number) => rtmpMessage(3, 20, 0, Buffer.concat([str('connect'), num(1), obj({ app: str('live'), tcUrl: str(`rtmp://127.0.0.1:${port}/live`) })]));
const publishCmd = (key: string) => rtmpMessage(3, 20, 1, Buffer.concat([str('publish'), num(0), nul(), str(key), str('live')]));
const playCmd = (name: string) => rtmpMessage(3, 20, 1, Buffer.concat([str('play'), num(0), nul(), str(name)]));
const video = (key: boolean, size: number, ts: number) => rtmpMessage(4, 9, 1, Buffer.concat([Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0]), randomBytes(size - 5)]), ts);

/** The first RTMP bytes of a client that publishes `key`. */
export const publishPreamble = (port: number, key: string) => Buffer.concat([handshake(), setChunkSize(), connectCmd(port), publishCmd(key)]);

interface Conn {
  socket: Socket;
  /** ms since connect when the server half-closed (FIN) / fully closed, if it did. */
  finAt?: number;
  closedAt?: number;
  closed: Promise<void>;
  started: number;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a server FIN must not end our side (that is how a hostile client behaves)
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const started = Date.now();
    const conn: Conn = { socket, started, closed: new Promise((r) => socket.once('close', () => { conn.closedAt = Date.now() - started; r(); })) };
    socket.on('data', () => {});
    // After the server's FIN, keep writing (as a hostile client does): a server that destroyed its
    // socket answers with a reset and we see 'close'; one that only half-closed takes the bytes.
    socket.on('end', () => {
      conn.finAt = Date.now() - started;
      const probe = setInterval(() => (socket.destroyed ? clearInterval(probe) : socket.write(Buffer.from([0]))), 50);
      socket.once('close', () => clearInterval(probe));
    });
    socket.once('error', (err) => (socket.connecting ? reject(err) : undefined));
    socket.on('error', () => {});
    socket.once('connect', () => resolve(conn));
  });
}

const write = (s: Socket, buf: Buffer) => new Promise<void>((r) => (s.destroyed ? r() : s.write(buf, () => r())));

export interface HalfOpenReport {
  /** Frames written before the server closed the connection. */
  framesSent: number;
  /** ms from the publish command until the server fully closed (undefined: it never did). */
  closedAfterMs?: number;
  /** The server only half-closed (FIN) while we kept sending. */
  halfClosedOnly: boolean;
}

/**
 * Publishes `key` (a wrong one, or a live stream's as a second publisher), ignores the server's FIN
 * and keeps sending video frames until the server closes the connection or `frames` are sent.
 */
export async function halfOpenPublisher(port: number, key: string, frames = 100, frameKiB = 256, limitMs = 15_000): Promise<HalfOpenReport> {
  const c = await open(port);
  const t = setTimeout(() => c.socket.destroy(), limitMs);
  try {
    await write(c.socket, publishPreamble(port, key));
    const publishedAt = Date.now() - c.started;
    await sleep(300);
    let sent = 0;
    for (; sent < frames && c.closedAt === undefined && !c.socket.destroyed; sent++) {
      await write(c.socket, video(sent === 0, frameKiB * 1024, sent * 33));
      await sleep(10);
    }
    await Promise.race([c.closed, sleep(1500)]);
    return { framesSent: sent, halfClosedOnly: c.finAt !== undefined && c.closedAt === undefined, ...(c.closedAt !== undefined ? { closedAfterMs: c.closedAt - publishedAt } : {}) };
  } finally {
    clearTimeout(t);
    c.socket.destroy();
  }
}

/** One TCP write with `count` publish commands (wrong keys); resolves when the server closed or after 3 s. */
export async function multiPublish(port: number, count: number): Promise<{ closed: boolean }> {
  const c = await open(port);
  const cmds = Array.from({ length: count }, (_, i) => publishCmd(`guess${String(i).padStart(10, '0')}xx`));
  c.socket.write(Buffer.concat([handshake(), setChunkSize(), connectCmd(port), ...cmds]));
  await Promise.race([c.closed, sleep(3000)]);
  const closed = c.closedAt !== undefined;
  c.socket.destroy();
  return { closed };
}

/** Per connection: play two names, then a message header claiming 8 MiB; `count` connections one after another. */
export async function playLeak(port: number, count: number): Promise<{ closedByServer: number }> {
  let closedByServer = 0;
  for (let i = 0; i < count; i++) {
    const c = await open(port).catch(() => undefined);
    if (!c) continue;
    const big = 8 * 2 ** 20 - 64;
    c.socket.write(Buffer.concat([handshake(), setChunkSize(), connectCmd(port), playCmd(`leak${Date.now()}a${i}`), playCmd(`leak${Date.now()}b${i}`),
      rtmpMessage(5, 9, 1, randomBytes(64 * 1024), 0, big)]));
    await Promise.race([c.closed, sleep(300)]);
    if (c.closedAt !== undefined) closedByServer++;
    c.socket.destroy();
  }
  return { closedByServer };
}

/**
 * `count` connections that each claim an 8 MiB message and send 1 MiB of it, then trickle a byte
 * every 2 s for `holdMs`. Reports how many the server took and how many it still holds at the end.
 */
export async function pinConnections(port: number, count: number, holdMs: number): Promise<{ opened: number; stillOpen: number }> {
  const conns: Conn[] = [];
  for (let i = 0; i < count; i++) {
    const c = await open(port).catch(() => undefined);
    if (!c) continue;
    const big = 8 * 2 ** 20 - 64;
    c.socket.write(Buffer.concat([handshake(), setChunkSize(), rtmpMessage(4, 9, 1, randomBytes(2 ** 20), 0, big)]));
    conns.push(c);
  }
  const until = Date.now() + holdMs;
  while (Date.now() < until) {
    for (const c of conns) if (!c.socket.destroyed) c.socket.write(Buffer.from([0]));
    await sleep(2000);
  }
  const stillOpen = conns.filter((c) => c.closedAt === undefined).length;
  for (const c of conns) c.socket.destroy();
  return { opened: conns.length, stillOpen };
}

/** Connects and handshakes, then sends a byte every second (never idle) without publishing. */
export async function neverPublish(port: number, limitMs: number): Promise<{ closedAfterMs?: number }> {
  const c = await open(port);
  c.socket.write(Buffer.concat([handshake(), setChunkSize(), connectCmd(port)]));
  const until = Date.now() + limitMs;
  while (Date.now() < until && c.closedAt === undefined) {
    c.socket.write(rtmpMessage(2, 5, 0, Buffer.from([0, 0x4c, 0x4b, 0x40]))); // window ack size: harmless
    await sleep(1000);
  }
  const closedAfterMs = c.closedAt;
  c.socket.destroy();
  return closedAfterMs === undefined ? {} : { closedAfterMs };
}

/** `count` wrong keys from this address, one connection each; ms each took until the server closed it (undefined: not within 6 s). */
export async function guessKeys(port: number, count: number): Promise<Array<number | undefined>> {
  const out: Array<number | undefined> = [];
  for (let i = 0; i < count; i++) {
    const c = await open(port);
    await write(c.socket, publishPreamble(port, `guess-${i}-${randomBytes(6).toString('hex')}`));
    await Promise.race([c.closed, sleep(6000)]);
    out.push(c.closedAt);
    c.socket.destroy();
  }
  return out;
}

/**
 * Every second for `seconds`: one connection, `perBurst` pipelined blocking reloads of `path` for
 * two segments ahead, then FIN at once (the client leaves; its holds must go with it).
 */
export async function heldFlood(httpPort: number, path: string, perBurst: number, seconds: number): Promise<{ bursts: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}${path}`)).text();
  const edge = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0) + (text.match(/^#EXTINF/gm) ?? []).length;
  let bursts = 0;
  for (let i = 0; i < seconds; i++) {
    const target = edge + 2 + Math.floor(i / 2);
    const s = connect(httpPort, '127.0.0.1', () => s.end(`GET ${path}?_HLS_msn=${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(perBurst)));
    s.on('error', () => {});
    s.on('data', () => {});
    setTimeout(() => s.destroy(), 8000).unref();
    bursts++;
    await sleep(1000);
  }
  return { bursts };
}

/** Opens `count` /api/events streams (200 at a time) and keeps those answered 200 for `holdMs`. */
export async function sseFlood(httpPort: number, count: number, holdMs: number): Promise<{ ok: number; refused: number }> {
  let ok = 0;
  let refused = 0;
  const socks: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const s = connect(httpPort, '127.0.0.1', () => s.write('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    s.once('data', (d) => (d.toString().startsWith('HTTP/1.1 200') ? ok++ : refused++));
    s.on('error', () => {});
    socks.push(s);
    if (i % 200 === 199) await sleep(50);
  }
  await sleep(holdMs);
  for (const s of socks) s.destroy();
  return { ok, refused };
}
