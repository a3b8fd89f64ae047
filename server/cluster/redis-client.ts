/**
 * The only file that imports the Redis client (ioredis). Why ioredis over `redis` v5: its Sentinel
 * support has been in production for years (it asks the sentinels for the master on every
 * reconnect and, with `failoverDetector`, follows `+switch-master` at once), `defineCommand` runs
 * our Lua by EVALSHA with the EVAL fallback after a Redis restart flushed the script cache, and it
 * reconnects by itself with a strategy we choose. node-redis v5's sentinel client is newer and its
 * pool API differs from its plain client's.
 *
 * The quirks, in one place:
 * - The offline queue is off: a command while Redis is away fails at once instead of waiting for
 *   a reconnect, so no request path can ever wait on Redis (the cluster code keeps working from
 *   what it knew and says so in one log line).
 * - One retry per command, a 1.5 s command timeout: a hung Redis costs a lease tick, not a stall.
 * - Subscriptions need their own connection (`duplicate()`).
 *
 * The fencing scripts: Redis 7 has no compare-and-set, so renew and release run as Lua, atomic on
 * the server. Keys of a stream: `lo:owner:<name>` ("<node>|<fence>", expires), `lo:fence:<name>`
 * (only grows: INCR), `lo:state:<name>` (numbering, hash), and the registry hash `lo:streams`.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * claim(owner, fence, state; node, ttlMs, force, minFence) -> {1, fence, state...} | {0, currentOwner}
 * Takes the lease when it is free (or by force: the takeover policy), with a fence above every one
 * handed out before, even after Redis lost the counter (the state hash and the caller remember it).
 */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur and ARGV[3] ~= '1' then return {0, cur} end
local floor = tonumber(ARGV[4])
local sf = tonumber(redis.call('HGET', KEYS[3], 'fence') or '0')
if sf > floor then floor = sf end
local f = redis.call('INCR', KEYS[2])
if f <= floor then f = floor + 1; redis.call('SET', KEYS[2], f) end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. f, 'PX', ARGV[2])
return {1, tostring(f), redis.call('HGETALL', KEYS[3])}
`;

/**
 * renew(owner, fence, state, streams; token, ttlMs, fence, name, entry, msn, partId, disc, epoch, node, ladder)
 * -> 1 renewed | 0 lost. Renews only while the lease holds this token; a lease that vanished
 * (Redis restarted, or a failover lost the last writes) is taken back unless a newer fence exists.
 * Writes the numbering (never backwards) and, when given, the registry entry, under the same check.
 */
const RENEW = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
  if cur then return 0 end
  local f = tonumber(redis.call('GET', KEYS[2]) or '0')
  if f > tonumber(ARGV[3]) then return 0 end
  redis.call('SET', KEYS[2], ARGV[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local msn = tonumber(redis.call('HGET', KEYS[3], 'msn') or '0')
if tonumber(ARGV[6]) >= msn then
  redis.call('HSET', KEYS[3], 'msn', ARGV[6], 'partId', ARGV[7], 'disc', ARGV[8], 'epoch', ARGV[9], 'node', ARGV[10], 'fence', ARGV[3], 'clean', '0')
  if ARGV[11] ~= '' then redis.call('HSET', KEYS[3], 'ladder', ARGV[11]) end
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[4], ARGV[5]) end
return 1
`;

/**
 * release(owner, state, streams; token, name, entry, msn, partId, disc) -> 1 | 0: gives the lease
 * up only if it still holds this token, with the final numbering marked clean (a successor needs no
 * safety margin) and the registry entry as it should stay until a successor is playable.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'msn', ARGV[4], 'partId', ARGV[5], 'disc', ARGV[6], 'clean', '1')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
return 1
`;

/** The client with our scripts. */
export interface ClusterRedis extends Redis {
  loClaim(owner: string, fence: string, state: string, node: string, ttlMs: number, force: '0' | '1', minFence: number): Promise<[number, string, string[]?]>;
  loRenew(owner: string, fence: string, state: string, streams: string, token: string, ttlMs: number, fenceNo: number, name: string, entry: string,
    msn: number, partId: number, disc: number, epoch: string, node: string, ladder: string): Promise<number>;
  loRelease(owner: string, state: string, streams: string, token: string, name: string, entry: string, msn: number, partId: number, disc: number): Promise<number>;
}

/** Where Redis is: a URL, or sentinels and a master name. */
export type RedisTarget = { url: string } | { sentinels: Array<{ host: string; port: number }>; masterName: string };

/** Parses ORIGIN_REDIS_SENTINELS ("host:port,host:port"). */
export function parseSentinels(list: string): Array<{ host: string; port: number }> {
  return list.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

/** Where the target is, for log lines (never the password). */
export function describeTarget(t: RedisTarget): string {
  if ('url' in t) {
    try {
      const u = new URL(t.url);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return '(unparsable URL)';
    }
  }
  return `sentinels ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} master "${t.masterName}"`;
}

/** A connection with our scripts; logs each change of its state once (not every retry). */
export function connectRedis(target: RedisTarget, logger: Logger, role: string): ClusterRedis {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1500,
    connectTimeout: 2000,
    // retry every 200 ms .. 1 s for ever: Redis coming back is noticed within a second
    retryStrategy: (times) => Math.min(times * 200, 1000),
    lazyConnect: false,
  };
  const client = ('url' in target
    ? new Redis(target.url, common)
    : new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.masterName,
        failoverDetector: true,
        sentinelRetryStrategy: (times: number) => Math.min(times * 200, 1000),
      })) as ClusterRedis;
  client.defineCommand('loClaim', { numberOfKeys: 3, lua: CLAIM });
  client.defineCommand('loRenew', { numberOfKeys: 4, lua: RENEW });
  client.defineCommand('loRelease', { numberOfKeys: 3, lua: RELEASE });
  const log = logger.child({ component: 'redis', role });
  let up = false;
  let lastError = '';
  client.on('ready', () => {
    if (!up) log.info({ redis: describeTarget(target) }, 'Redis connected');
    up = true;
    lastError = '';
  });
  client.on('error', (err: Error) => {
    const msg = err.message;
    if (msg !== lastError) log.warn({ redis: describeTarget(target), err: msg }, 'Redis error (retrying by itself)');
    lastError = msg;
  });
  client.on('close', () => {
    if (up && !closing.has(client)) log.error({ redis: describeTarget(target) }, 'Redis connection lost: local streams go on; leases, numbering and the registry wait for it');
    up = false;
  });
  return client;
}

const closing = new WeakSet<Redis>();

/** Closes a connection on purpose (no "connection lost" line). */
export function closeRedis(client: Redis): void {
  closing.add(client);
  client.disconnect();
}

/** True while the connection can take commands. */
export function isUp(client: Redis): boolean {
  return client.status === 'ready';
}
