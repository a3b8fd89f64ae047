import { describe, expect, it } from 'vitest';
import { ladderFromState, mergeNumbers, numbersFromState } from '../../../server/cluster/cluster.js';
import { describeTarget, parseSentinels } from '../../../server/cluster/redis-client.js';
import { loadConfig } from '../../../server/config/load.js';

const noCli = { configFile: undefined, help: false };

describe('the numbering a successor continues from', () => {
  it('is the last owner\'s, plus one segment after an unclean end (a segment listed after the last write)', () => {
    expect(numbersFromState(['msn', '40', 'partId', '400', 'disc', '2', 'clean', '1'])).toEqual({ msn: 40, partId: 400, discontinuities: 2 });
    expect(numbersFromState(['msn', '40', 'partId', '400', 'disc', '2', 'clean', '0'])).toEqual({ msn: 41, partId: 464, discontinuities: 2 });
    expect(numbersFromState([])).toBeUndefined();
  });

  it('never goes below what this node itself had', () => {
    expect(mergeNumbers({ msn: 10, partId: 99, discontinuities: 3 }, { msn: 12, partId: 50, discontinuities: 1 })).toEqual({ msn: 12, partId: 99, discontinuities: 3 });
    expect(mergeNumbers(undefined, { msn: 1, partId: 2, discontinuities: 0 })).toEqual({ msn: 1, partId: 2, discontinuities: 0 });
  });

  it('keeps the last owner\'s ladder; a broken or empty one is ignored', () => {
    expect(ladderFromState(['msn', '1', 'ladder', '[{"name":"720p"}]'])).toEqual([{ name: '720p' }]);
    expect(ladderFromState(['ladder', '{nope'])).toBeUndefined();
    expect(ladderFromState(['ladder', '[]'])).toBeUndefined();
    // a value that happens to be "ladder" is not the key
    expect(ladderFromState(['epoch', 'ladder'])).toBeUndefined();
  });
});

describe('cluster settings', () => {
  it('parses sentinels and never prints a Redis password', () => {
    expect(parseSentinels('10.0.0.1:26379,sentinel-b:26380')).toEqual([{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-b', port: 26380 }]);
    expect(describeTarget({ url: 'redis://:s3cret@redis:6379/2' })).toBe('redis://redis:6379/2');
    expect(describeTarget({ sentinels: [{ host: 'a', port: 1 }], masterName: 'lo' })).toBe('sentinels a:1 master "lo"');
  });

  it('refuses contradictory or incomplete cluster settings with a message naming them', () => {
    const bad = (env: Record<string, string>, message: RegExp) => expect(() => loadConfig(noCli, env)).toThrow(message);
    bad({ ORIGIN_REDIS_URL: 'redis://a:6379', ORIGIN_REDIS_SENTINELS: 'a:26379', ORIGIN_REDIS_MASTER_NAME: 'lo' }, /ORIGIN_REDIS_URL and ORIGIN_REDIS_SENTINELS are both set/);
    bad({ ORIGIN_REDIS_SENTINELS: 'a:26379' }, /ORIGIN_REDIS_SENTINELS needs ORIGIN_REDIS_MASTER_NAME/);
    bad({ ORIGIN_REDIS_MASTER_NAME: 'lo' }, /ORIGIN_REDIS_MASTER_NAME is set but ORIGIN_REDIS_SENTINELS is not/);
    bad({ ORIGIN_NODE_ID: 'n1' }, /mean cluster mode/);
    bad({ ORIGIN_REDIS_URL: 'http://a:6379' }, /ORIGIN_REDIS_URL/);
    bad({ ORIGIN_REDIS_SENTINELS: 'a', ORIGIN_REDIS_MASTER_NAME: 'lo' }, /ORIGIN_REDIS_SENTINELS/);
    bad({ ORIGIN_REDIS_URL: 'redis://a:6379', ORIGIN_NODE_URL: 'ftp://x' }, /ORIGIN_NODE_URL/);
  });

  it('takes a complete cluster configuration', () => {
    const c = loadConfig(noCli, { ORIGIN_REDIS_SENTINELS: 'a:26379,b:26379', ORIGIN_REDIS_MASTER_NAME: 'lo', ORIGIN_NODE_ID: 'n-1', ORIGIN_NODE_URL: 'http://10.0.0.5:8000' });
    expect([c.redisSentinels, c.redisMasterName, c.nodeId, c.nodeUrl]).toEqual(['a:26379,b:26379', 'lo', 'n-1', 'http://10.0.0.5:8000']);
  });
});
