// Hostile RTMP clients (after ../shared/abuse/rtmp-abuse.mjs) against one server with a live
// stream: a refused publisher that ignores the FIN, a second publisher on a live name, many
// publish commands on one connection, RTMP play, connections that pin message buffers, one that
// never publishes, and an address that keeps guessing keys. Each attack is bounded; the live
// stream must go on without a gap through all of them, and every refusal is counted in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guessKeys, halfOpenPublisher, multiPublish, neverPublish, pinConnections, playLeak } from '../fuzz/attacks.js';
import { get, killAll, publish, sleep, startServer, waitFor, type Publisher, type ServerHandle } from '../helpers/processes.js';

const KEY = 'sk_hostile_0123456789';
const PUBLISH_TIMEOUT_S = 3;
const WRONG_KEYS_PER_MINUTE = 6;
const PER_IP = 20;
let server: ServerHandle;
let pub: Publisher;
let rtmpPort: number;
/** msn -> whether a DISCONTINUITY preceded it, for every segment the poller saw. */
const seen = new Map<number, boolean>();
let polling = true;
/** Playlist answers other than 200 during the attacks (none expected). */
const badAnswers: string[] = [];
let poller: Promise<void>;

async function metric(name: string, labels = ''): Promise<number> {
  const text = (await get(`${server.http}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
const refused = (reason: string) => metric('origin_rtmp_refused_total', `{reason="${reason}"}`);
const rssMiB = async () => (await metric('process_resident_memory_bytes')) / 2 ** 20;
/** The live stream's ingest bit rate over the last 5 s. */
const kbps = async () => (JSON.parse((await get(`${server.http}/api/streams/hostile`)).text) as { ingest: { measuredBitrateKbps: number } }).ingest.measuredBitrateKbps;

beforeAll(async () => {
  server = await startServer({
    ORIGIN_STREAM_KEYS: `hostile:${KEY}`,
    ORIGIN_RTMP_PUBLISH_TIMEOUT: String(PUBLISH_TIMEOUT_S),
    ORIGIN_RTMP_WRONG_KEYS_PER_MINUTE: String(WRONG_KEYS_PER_MINUTE),
    ORIGIN_RTMP_MAX_CONNECTIONS_PER_IP: String(PER_IP),
  });
  rtmpPort = Number(new URL(server.rtmp.replace('rtmp:', 'http:')).port);
  pub = publish(`${server.rtmp}/live/${KEY}`, { size: '640x360', seconds: 300, gop: 60 });
  await waitFor('live', async () => (await get(`${server.http}/live/hostile/360p/index.m3u8`)).status === 200, 30_000, 250);
  poller = (async () => {
    while (polling) {
      const res = await get(`${server.http}/live/hostile/360p/index.m3u8`);
      if (res.status !== 200) badAnswers.push(`${res.status} ${res.text.slice(0, 120)}`);
      const text = res.text;
      let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
      let disc = false;
      for (const line of text.split('\n')) {
        if (line === '#EXT-X-DISCONTINUITY') disc = true;
        if (line.startsWith('#EXTINF')) {
          if (!seen.has(msn)) seen.set(msn, disc);
          disc = false;
          msn++;
        }
      }
      await sleep(500);
    }
  })();
  await sleep(4000); // a settled bit rate to compare with
}, 60_000);

afterAll(async () => {
  polling = false;
  await poller;
  await pub?.stop();
  await server?.stop('SIGKILL');
  killAll();
});

describe('hostile RTMP clients', () => {
  it('a refused publisher that ignores the FIN is cut off at once and costs no memory', async () => {
    const r0 = await rssMiB();
    const wrong0 = await refused('wrong_key');
    const report = await halfOpenPublisher(rtmpPort, 'not-a-key-000000000', 100, 256);
    const r1 = await rssMiB();
    console.log(`refused publisher: ${JSON.stringify(report)}, RSS ${r0.toFixed(0)} -> ${r1.toFixed(0)} MiB`);
    expect(report.halfClosedOnly).toBe(false);
    expect(report.closedAfterMs).toBeDefined();
    expect(report.closedAfterMs!).toBeLessThanOrEqual(1000);
    expect(report.framesSent).toBeLessThan(100);
    expect(await refused('wrong_key')).toBe(wrong0 + 1);
    expect(r1 - r0).toBeLessThanOrEqual(16);
  }, 30_000);

  it('a second publisher on the live name is cut off and none of its frames reach the stream', async () => {
    const k0 = await kbps();
    const refused0 = await refused('refused');
    // 256 KiB frames: one that got through would add ~400 kbit/s to the 5 s rate (~1000 kbit/s)
    const report = await halfOpenPublisher(rtmpPort, KEY, 150, 256);
    await sleep(1500);
    const k1 = await kbps();
    console.log(`second publisher: ${JSON.stringify(report)}, ingest ${k0} -> ${k1} kbit/s`);
    expect(report.halfClosedOnly).toBe(false);
    expect(report.closedAfterMs!).toBeLessThanOrEqual(1000);
    expect(await refused('refused')).toBe(refused0 + 1);
    expect(k0).toBeGreaterThan(100);
    expect(k1).toBeLessThanOrEqual(k0 * 1.15);
    expect(server.output()).toContain('second publisher refused: the stream is live');
  }, 30_000);

  it('answers one publish per connection: 200 publish commands on one connection are one key check', async () => {
    const [wrong0, second0] = [await refused('wrong_key'), await refused('second_publish')];
    const logLines = () => server.logs().filter((l) => l.msg === 'publish refused').length;
    const lines0 = logLines();
    const { closed } = await multiPublish(rtmpPort, 200);
    expect(closed).toBe(true);
    await sleep(200);
    expect(await refused('wrong_key')).toBe(wrong0 + 1);
    expect(await refused('second_publish')).toBe(second0 + 1);
    expect(logLines() - lines0).toBe(1);
  }, 30_000);

  it('refuses RTMP play and keeps no state for it', async () => {
    const r0 = await rssMiB();
    const play0 = await refused('play');
    const { closedByServer } = await playLeak(rtmpPort, 60);
    await sleep(500);
    const r1 = await rssMiB();
    console.log(`play x60: closed by the server ${closedByServer}, RSS ${r0.toFixed(0)} -> ${r1.toFixed(0)} MiB`);
    expect(closedByServer).toBe(60);
    expect(await refused('play')).toBe(play0 + 60);
    // NMS kept ~8 MiB per such connection (618 MiB for 60); what is left here is garbage not yet
    // collected (RSS moves by tens of MiB under the parallel test suite)
    expect(r1 - r0).toBeLessThanOrEqual(48);
  }, 60_000);

  it('caps connections per address, and a message buffer claimed before a publish is refused', async () => {
    const r0 = await rssMiB();
    const [perIp0, oversize0] = [await refused('max_connections_per_ip'), await refused('oversize')];
    const report = await pinConnections(rtmpPort, 3 * PER_IP, 4000);
    const r1 = await rssMiB();
    const [perIp1, oversize1] = [await refused('max_connections_per_ip'), await refused('oversize')];
    console.log(`pin x${3 * PER_IP}: ${JSON.stringify(report)}, per-IP refusals +${perIp1 - perIp0}, oversize +${oversize1 - oversize0}, RSS ${r0.toFixed(0)} -> ${r1.toFixed(0)} MiB`);
    expect(report.stillOpen).toBe(0);
    // every connection was turned away by one rule or the other, and the live publisher holds a slot
    expect(perIp1 - perIp0 + oversize1 - oversize0).toBe(3 * PER_IP);
    expect(r1 - r0).toBeLessThanOrEqual(32);
    expect(await metric('origin_rtmp_connections')).toBe(1);
  }, 60_000);

  it('closes a connection that does not publish within ORIGIN_RTMP_PUBLISH_TIMEOUT, even when it is never idle', async () => {
    const timeouts0 = await refused('publish_timeout');
    const { closedAfterMs } = await neverPublish(rtmpPort, (PUBLISH_TIMEOUT_S + 4) * 1000);
    expect(closedAfterMs).toBeDefined();
    expect(closedAfterMs!).toBeGreaterThanOrEqual(PUBLISH_TIMEOUT_S * 1000 - 100);
    expect(closedAfterMs!).toBeLessThan((PUBLISH_TIMEOUT_S + 2) * 1000);
    expect(await refused('publish_timeout')).toBe(timeouts0 + 1);
  }, 30_000);

  // last: it bans this test's address (127.0.0.1) for a minute
  it('answers an address that keeps guessing keys ever slower, then bans it, and says so once', async () => {
    const banned0 = await refused('banned');
    const wrong0 = await refused('wrong_key');
    const suspicious = () => server.logs().filter((l) => String(l.msg).startsWith('suspicious RTMP activity from 127.0.0.1')).length;
    const lines0 = suspicious();
    const times = await guessKeys(rtmpPort, WRONG_KEYS_PER_MINUTE + 1);
    const wrong = (await refused('wrong_key')) - wrong0;
    console.log(`guessing: closed after ${times.join(', ')} ms; wrong keys counted ${wrong}, banned +${(await refused('banned')) - banned0}`);
    // earlier tests spent some of this minute's wrong keys; from here every guess is answered slower
    for (const t of times) expect(t).toBeDefined();
    expect(wrong).toBeGreaterThan(0);
    expect(wrong).toBeLessThanOrEqual(WRONG_KEYS_PER_MINUTE);
    expect((await refused('banned')) - banned0).toBe(WRONG_KEYS_PER_MINUTE + 1 - wrong);
    const answered = times.slice(0, wrong) as number[];
    expect(answered.at(-1)!).toBeGreaterThan(answered[0]! + 200);
    // one line for the operator (this address was reported in the first test; not again within the minute)
    expect(suspicious() - lines0).toBeLessThanOrEqual(1);
  }, 60_000);

  it('kept the live stream going through all of it, with no gap and no discontinuity', async () => {
    const msns = [...seen.keys()].sort((a, b) => a - b);
    const gaps = msns.slice(1).filter((m, i) => m !== msns[i]! + 1).map((m, i) => `${msns[i]} -> ${m}`);
    expect(msns.length).toBeGreaterThanOrEqual(10);
    expect(gaps).toEqual([]);
    expect(badAnswers).toEqual([]);
    expect([...seen.entries()].filter(([, d]) => d).map(([m]) => m)).toEqual([]);
    expect(server.proc.exitCode).toBeNull();
  });
});
