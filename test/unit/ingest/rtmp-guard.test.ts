import { describe, expect, it } from 'vitest';
import { REFUSAL_REASONS, RtmpGuard } from '../../../server/ingest/rtmp-guard.js';
import { checkNmsVersion, NMS_VERSION } from '../../../server/ingest/nms-patches.js';

const limits = { maxConnections: 5, maxConnectionsPerIp: 2, wrongKeysPerMinute: 3, banMs: 60_000 };

describe('RTMP door policy', () => {
  it('caps connections per address and in total, and frees a slot on close', () => {
    const g = new RtmpGuard(limits);
    expect(g.admit('a', 0)).toEqual({ ok: true });
    expect(g.admit('a', 0)).toEqual({ ok: true });
    const third = g.admit('a', 0);
    expect(third.ok).toBe(false);
    if (!third.ok) {
      expect(third.reason).toBe('max_connections_per_ip');
      expect(third.detail).toContain('ORIGIN_RTMP_MAX_CONNECTIONS_PER_IP');
    }
    g.closed('a', 0);
    expect(g.admit('a', 0).ok).toBe(true);
    for (const ip of ['b', 'c', 'd']) expect(g.admit(ip, 0).ok).toBe(true);
    const over = g.admit('e', 0);
    expect(over.ok ? 'accepted' : over.reason).toBe('max_connections');
    expect(g.connections).toBe(5);
    // closing an address twice, or one never admitted, frees nothing that was not taken
    g.closed('zzz', 0);
    g.closed('b', 0);
    g.closed('b', 0);
    expect(g.connections).toBe(4);
  });

  it('answers wrong keys ever slower, then bans the address for a while; others are untouched', () => {
    const g = new RtmpGuard(limits);
    expect(g.wrongKeyDelayMs('x', 0)).toBe(0);
    g.refused('x', 'wrong_key', 0);
    expect(g.wrongKeyDelayMs('x', 1000)).toBe(250);
    g.refused('x', 'wrong_key', 1000);
    expect(g.wrongKeyDelayMs('x', 2000)).toBe(500);
    expect(g.admit('x', 2000).ok).toBe(true);
    g.closed('x', 2000);
    g.refused('x', 'wrong_key', 2000); // third in a minute: banned
    const banned = g.admit('x', 3000);
    expect(banned.ok ? 'accepted' : banned.reason).toBe('banned');
    expect(g.admit('y', 3000).ok).toBe(true);
    expect(g.admit('x', 62_001).ok).toBe(true); // the ban is over
    // wrong keys spread over more than a minute never add up to a ban
    const h = new RtmpGuard(limits);
    for (let i = 0; i < 10; i++) h.refused('z', 'wrong_key', i * 31_000);
    expect(h.admit('z', 10 * 31_000).ok).toBe(true);
  });

  it('reports an address at once, then at most once a minute with the count', () => {
    const g = new RtmpGuard(limits);
    const first = g.refused('p', 'play', 0);
    expect(first).toMatchObject({ ip: 'p', refusals: 1, reasons: { play: 1 } });
    for (let i = 1; i <= 50; i++) expect(g.refused('p', i % 2 ? 'oversize' : 'idle', i * 100)).toBeUndefined();
    const next = g.refused('p', 'play', 60_000);
    expect(next).toMatchObject({ refusals: 51, reasons: { oversize: 25, idle: 25, play: 1 } });
    const counts = Object.fromEntries(g.refusals());
    expect(Object.keys(counts).sort()).toEqual([...REFUSAL_REASONS].sort());
    expect(counts).toMatchObject({ play: 2, oversize: 25, idle: 25, wrong_key: 0 });
  });

  it('forgets quiet addresses, so a scan of many addresses does not grow it for good', () => {
    const g = new RtmpGuard(limits);
    for (let i = 0; i < 1000; i++) {
      g.refused(`10.0.${i >> 8}.${i & 255}`, 'idle', 0);
    }
    expect(g.remembered).toBe(1000);
    g.sweep(61_000);
    expect(g.remembered).toBe(0);
  });
});

describe('node-media-server patches', () => {
  it('run only on the version they were written for', () => {
    expect(() => checkNmsVersion()).not.toThrow();
    expect(() => checkNmsVersion('4.5.0')).toThrow(/node-media-server 4\.5\.0 is installed, but server\/ingest\/nms-patches\.ts was written for 4\.4\.3/);
    try {
      checkNmsVersion('4.4.4');
    } catch (err) {
      expect((err as { code: string }).code).toBe('ERR_NMS_VERSION');
    }
    expect(NMS_VERSION).toBe('4.4.3');
  });
});
