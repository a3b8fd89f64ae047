// Hostile HTTP clients (after ../shared/abuse/http-abuse.mjs) against one server with a live
// stream: pipelined blocking reloads that leave at once, more held requests than the cap, more
// event streams than the caps (two source addresses: 127.0.0.1 and 127.0.0.2), an event stream's
// lifetime, and a client that sends its headers slowly. Caps are set low here so the test is small.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, killAll, publish, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';
import { DEFAULT_HTTP_LIMITS } from '../../server/origin/http-limits.js';

const KEY = 'sk_hostile_http_0123';
const HELD_PER_RENDITION = 40;
const SSE_MAX = 6;
const SSE_PER_IP = 4;
const SSE_LIFETIME_S = 10;
const REQUEST_TIMEOUT_S = 2;
// the default, which this file does not set
const PER_CONNECTION = DEFAULT_HTTP_LIMITS.maxRequestsPerConnection;
let server: ServerHandle;
let pub: Publisher;
let port: number;
const PLAYLIST = '/live/hostile/360p/index.m3u8';

async function metric(name: string): Promise<number> {
  const line = (await get(`${server.http}/metrics`)).text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** The msn of the open segment (what a blocking reload 2 ahead asks for is edge + 2). */
async function edgeMsn(): Promise<number> {
  const text = (await get(`${server.http}${PLAYLIST}`)).text;
  return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/^#EXTINF/gm) ?? []).length;
}

/** A raw connection that collects what the server sends. */
function rawConnection(localAddress = '127.0.0.1'): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
  });
}

beforeAll(async () => {
  server = await startServer({
    ORIGIN_STREAM_KEYS: `hostile:${KEY}`,
    ORIGIN_HTTP_MAX_HELD_PER_RENDITION: String(HELD_PER_RENDITION),
    ORIGIN_SSE_MAX: String(SSE_MAX),
    ORIGIN_SSE_MAX_PER_IP: String(SSE_PER_IP),
    ORIGIN_SSE_LIFETIME: String(SSE_LIFETIME_S),
    ORIGIN_HTTP_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT_S),
  });
  port = Number(new URL(server.http).port);
  pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 300, gop: 60 });
  await waitFor('live', async () => (await get(`${server.http}${PLAYLIST}`)).status === 200, 30_000, 250);
}, 60_000);

afterAll(async () => {
  await pub?.stop();
  await server?.stop('SIGKILL');
  killAll();
});

describe('hostile HTTP clients', () => {
  it('drops every held request the moment its client leaves (pipelined blocking reloads, then FIN)', async () => {
    const msn = (await edgeMsn()) + 2;
    const c = await rawConnection();
    c.socket.write(`GET ${PLAYLIST}?_HLS_msn=${msn} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(30));
    await waitFor('the requests to be held', async () => (await metric('origin_http_held_requests')) === 30, 3000, 20);
    c.socket.end();
    // they end with the client: no waiter lives on for the 6 s a hold may last
    await waitFor('the holds to end', async () => (await metric('origin_http_held_requests')) === 0, 1000, 20);
    await c.closed;
  }, 20_000);

  it('answers 503 + Retry-After at once past the held-request cap, and holds the rest', async () => {
    const refused0 = await metric('origin_http_held_refused_total');
    const msn = (await edgeMsn()) + 2;
    // one connection per request: HTTP/1.1 answers a pipelined connection in order
    const conns = await Promise.all(Array.from({ length: HELD_PER_RENDITION + 10 }, () => rawConnection()));
    for (const c of conns) c.socket.write(`GET ${PLAYLIST}?_HLS_msn=${msn} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await waitFor('10 refusals', () => conns.filter((c) => c.received().startsWith('HTTP/1.1 503')).length === 10, 3000, 20);
    const refusedNow = conns.filter((c) => c.received().startsWith('HTTP/1.1 503'));
    for (const c of refusedNow) {
      expect(c.received()).toMatch(/retry-after: 1\r\n/i);
      expect(c.received()).toContain('"code":"ERR_TOO_MANY_HELD"');
    }
    expect(await metric('origin_http_held_requests')).toBe(HELD_PER_RENDITION);
    expect((await metric('origin_http_held_refused_total')) - refused0).toBe(10);
    // the held ones are answered 200 when their segment exists
    await waitFor('the held requests answered', () => conns.filter((c) => c.received().startsWith('HTTP/1.1 200')).length === HELD_PER_RENDITION, 12_000, 100);
    for (const c of conns) c.socket.destroy();
    expect((await get(`${server.http}/healthz`)).status).toBe(200);
  }, 30_000);

  it('caps event streams per address (429) and per server (503), and ends each after its lifetime', async () => {
    const open = async (from: string) => {
      const c = await rawConnection(from);
      c.socket.write('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor('an answer', () => /^HTTP\/1\.1 \d{3}/.test(c.received()), 3000, 10);
      return c;
    };
    const first = [];
    for (let i = 0; i < SSE_PER_IP; i++) first.push(await open('127.0.0.1'));
    const openedAt = Date.now();
    expect(first.map((c) => c.received().slice(0, 12))).toEqual(Array(SSE_PER_IP).fill('HTTP/1.1 200'));
    const perIp = await open('127.0.0.1');
    expect(perIp.received()).toMatch(/^HTTP\/1\.1 429/);
    expect(perIp.received()).toContain('ERR_TOO_MANY_STREAMS_PER_IP');
    const second = [];
    for (let i = 0; i < SSE_MAX - SSE_PER_IP; i++) second.push(await open('127.0.0.2'));
    expect(second.map((c) => c.received().slice(0, 12))).toEqual(Array(SSE_MAX - SSE_PER_IP).fill('HTTP/1.1 200'));
    const full = await open('127.0.0.2');
    expect(full.received()).toMatch(/^HTTP\/1\.1 503/);
    expect(full.received()).toMatch(/retry-after: 30\r\n/i);
    expect(full.received()).toContain('ERR_TOO_MANY_STREAMS');
    // a stream that leaves frees its slot at once
    second[0]!.socket.destroy();
    await sleep(100);
    const again = await open('127.0.0.2');
    expect(again.received()).toMatch(/^HTTP\/1\.1 200/);
    // the first streams end after their lifetime (the server closes them)
    await Promise.all(first.map((c) => c.closed));
    const lasted = (Date.now() - openedAt) / 1000;
    expect(lasted).toBeGreaterThan(SSE_LIFETIME_S - 1);
    expect(lasted).toBeLessThan(SSE_LIFETIME_S + 3);
    for (const c of [...second, again, perIp, full]) c.socket.destroy();
  }, 30_000);

  it(`closes a connection that pipelines past ORIGIN_HTTP_MAX_REQUESTS_PER_CONNECTION (default ${PER_CONNECTION}) without reaching the routes`, async () => {
    const c = await rawConnection();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(3 * PER_CONNECTION));
    await Promise.race([c.closed, sleep(5000)]);
    expect(c.socket.destroyed).toBe(true);
    const answers = c.received().match(/HTTP\/1\.1 \d{3}/g) ?? [];
    // (in one write, the connection may go before any answer is flushed)
    expect(answers.length).toBeLessThanOrEqual(PER_CONNECTION);
    expect(answers.filter((a) => a !== 'HTTP/1.1 200')).toEqual([]);
    // a well-behaved client gets Connection: close on its last answer
    const d = await rawConnection();
    let answered = 0;
    for (let i = 0; i < PER_CONNECTION; i++) {
      d.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await waitFor(`answer ${i + 1}`, () => (answered = d.received().split('HTTP/1.1 200').length - 1) === i + 1, 2000, 1);
    }
    expect(answered).toBe(PER_CONNECTION);
    expect(d.received().split('HTTP/1.1 200').at(-1)).toMatch(/connection: close/i);
    expect(d.received().split('HTTP/1.1 200').at(-2)).toMatch(/connection: keep-alive/i);
    // Node says `Connection: close` but leaves closing to the client (documented for
    // server.maxRequestsPerSocket); one more request loses the connection, unanswered
    d.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await Promise.race([d.closed, sleep(2000)]);
    expect(d.socket.destroyed).toBe(true);
    expect(d.received().split('HTTP/1.1 ').length - 1).toBe(PER_CONNECTION);
  }, 60_000);

  it('cuts off a client that sends its headers too slowly', async () => {
    const c = await rawConnection();
    const started = Date.now();
    c.socket.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => (c.socket.destroyed ? undefined : c.socket.write('X-A: b\r\n')), 500);
    await Promise.race([c.closed, sleep((REQUEST_TIMEOUT_S + 5) * 1000)]);
    clearInterval(trickle);
    const after = (Date.now() - started) / 1000;
    expect(c.socket.destroyed || c.received() !== '').toBe(true);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(after).toBeLessThan(REQUEST_TIMEOUT_S + 3);
    c.socket.destroy();
  }, 20_000);
});
