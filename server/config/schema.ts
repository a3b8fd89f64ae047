/**
 * The configuration contract (issue "Go live end to end"): one TypeBox schema holds every setting,
 * its default and what is allowed. `load.ts` fills it from defaults -> file -> env and validates it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_HTTP_LIMITS as HTTP } from '../origin/http-limits.js';

/** Public stream names appear in URLs: lower-case letters, digits, '-' and '_' (no dots, no slashes). */
export const STREAM_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';

/**
 * Stream keys travel in the RTMP path; node-media-server accepts only [A-Za-z0-9_-] there.
 * At least 12 characters so that a key is not guessable.
 */
export const STREAM_KEY_PATTERN = '^[A-Za-z0-9_-]{12,128}$';

/** One publishable stream: the secret key maps to the public name. */
export const StreamSchema = Type.Object(
  {
    name: Type.String({ pattern: STREAM_NAME_PATTERN, description: 'public stream name used in URLs' }),
    key: Type.String({ pattern: STREAM_KEY_PATTERN, description: 'secret stream key (OBS "Stream Key")' }),
    profile: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', description: 'transcode profile' })),
    onDuplicate: Type.Optional(
      Type.Union([Type.Literal('refuse'), Type.Literal('takeover')], {
        description: 'a second publisher with the right key while live: refused, or replaces a stuck first one',
      }),
    ),
    record: Type.Optional(Type.Boolean({ description: 'keep this stream\'s broadcasts in the store (overrides ORIGIN_RECORD)' })),
  },
  { additionalProperties: false },
);

const Port = (def: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 65535, default: def, description });

/** Every setting, its default and its environment variable (in `env`). */
export const ConfigSchema = Type.Object(
  {
    rtmpPort: Port(1935, 'RTMP ingest port'),
    httpPort: Port(8000, 'HTTP port for playlists, segments, API and player'),
    host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address both ports bind to' }),
    mediaDir: Type.String({ minLength: 1, default: './media', description: 'directory for state (the demo key)' }),
    profile: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', default: 'default', description: 'default transcode profile' }),
    publicUrl: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s/]+(/\\S*)?$', description: 'public base URL used in printed and API URLs' }),
    ),
    tlsCert: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate file: HTTPS with HTTP/2 (and HTTP/1.1)' })),
    tlsKey: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key file for tlsCert' })),
    ffmpegPath: Type.Optional(Type.String({ minLength: 1, description: 'ffmpeg binary' })),
    ffprobePath: Type.Optional(Type.String({ minLength: 1, description: 'ffprobe binary' })),
    reconnectGraceSeconds: Type.Number({ minimum: 0, maximum: 600, default: 15, description: 'a dropped publisher may come back this long and continue the same playlists' }),
    endedRetentionSeconds: Type.Number({ minimum: 0, maximum: 86400, default: 300, description: 'an ended stream stays served (with ENDLIST) this long' }),
    maxStreams: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'live streams at most; more publishers are refused' }),
    maxMediaMemoryMB: Type.Integer({ minimum: 16, maximum: 1048576, default: 2048, description: 'media held in memory at most: new publishers are refused above it, and while streams run ended ones go first, then the biggest live one fails' }),
    adminToken: Type.Optional(
      Type.String({ minLength: 16, maxLength: 256, pattern: '^[\\x21-\\x7e]+$', description: 'bearer token for the admin API (kick, sessions, tokens); without it those routes are off' }),
    ),
    webhookUrls: Type.Optional(
      Type.String({ pattern: '^https?://[^\\s,]+(,https?://[^\\s,]+)*$', description: 'comma-separated URLs that receive stream.started/ended/failed' }),
    ),
    webhookSecret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'HMAC-SHA256 key for the X-Origin-Signature header of webhooks' })),
    publishAuthUrl: Type.Optional(
      Type.String({ pattern: '^https?://\\S+$', description: 'URL asked (POST { key, ip }) to allow each publish; 2xx with { "name" } within 2 s allows' }),
    ),
    playbackSecret: Type.Optional(
      Type.String({ minLength: 16, maxLength: 256, description: 'signed playback: media URLs need /live/<name>/t/<expiry>.<hmac>/...' }),
    ),
    rtmpsPort: Port(1936, 'RTMPS ingest port (open only with tlsCert and tlsKey)'),
    drainSeconds: Type.Number({ minimum: 0, maximum: 300, default: 3, description: 'on SIGTERM/SIGINT, HTTP keeps serving this long after every stream has ended, so players and CDNs fetch the ENDLIST (0: exit at once)' }),
    rtmpIdleSeconds: Type.Number({ minimum: 1, maximum: 600, default: 10, description: 'an RTMP connection that sends nothing this long is closed' }),
    rtmpPublishTimeoutSeconds: Type.Number({ minimum: 1, maximum: 120, default: 10, description: 'an RTMP connection whose publish is not accepted this long after it connected is closed' }),
    rtmpMaxConnections: Type.Integer({ minimum: 1, maximum: 100000, default: 200, description: 'RTMP connections open at once; more are closed at once' }),
    rtmpMaxConnectionsPerIp: Type.Integer({ minimum: 1, maximum: 100000, default: 20, description: 'RTMP connections open at once from one address' }),
    rtmpWrongKeysPerMinute: Type.Integer({ minimum: 1, maximum: 10000, default: 10, description: 'wrong stream keys one address may try in a minute (answered ever slower) before it is banned' }),
    rtmpBanSeconds: Type.Number({ minimum: 0, maximum: 86400, default: 60, description: 'how long an address that tried too many wrong keys is refused' }),
    httpMaxHeldPerRendition: Type.Integer({ minimum: 1, maximum: 1000000, default: HTTP.maxHeldPerRendition, description: 'blocking playlist reloads and preload-hint parts held at once per rendition; more get 503 + Retry-After' }),
    httpMaxHeld: Type.Integer({ minimum: 1, maximum: 1000000, default: HTTP.maxHeld, description: 'requests held at once on the server; more get 503 + Retry-After' }),
    sseMax: Type.Integer({ minimum: 0, maximum: 1000000, default: HTTP.sseMax, description: '/api/events streams open at once; more get 503' }),
    sseMaxPerIp: Type.Integer({ minimum: 0, maximum: 1000000, default: HTTP.sseMaxPerIp, description: '/api/events streams open at once from one address; more get 429' }),
    sseLifetimeSeconds: Type.Number({ minimum: 10, maximum: 86400, default: HTTP.sseLifetimeSeconds, description: 'an /api/events stream is ended after this long (EventSource reconnects by itself)' }),
    httpRequestTimeoutSeconds: Type.Number({ minimum: 1, maximum: 600, default: HTTP.requestTimeoutSeconds, description: 'a client must send its whole request within this time' }),
    httpKeepAliveSeconds: Type.Number({ minimum: 1, maximum: 3600, default: HTTP.keepAliveSeconds, description: 'an idle keep-alive connection is closed after this (keep it above your CDN\'s own)' }),
    http2MaxStreams: Type.Integer({ minimum: 1, maximum: 10000, default: HTTP.http2MaxStreams, description: 'HTTP/2 streams at once per connection (HTTPS only)' }),
    syncLatencySeconds: Type.Optional(Type.Number({ minimum: 0.3, maximum: 30, description: 'the bundled player keeps every viewer this far (s) behind live, in step by the server clock (a page\'s ?sync=<s> overrides; off by default)' })),
    httpMaxRequestsPerConnection: Type.Integer({ minimum: 1, maximum: 1000000, default: HTTP.maxRequestsPerConnection, description: 'requests one HTTP/1.1 connection may make before it is closed (a client pipelining past it loses the connection)' }),
    record: Type.Union([Type.Literal('off'), Type.Literal('all')], { default: 'off', description: 'keep every broadcast in the store (a stream\'s own "record" in the config file overrides it)' }),
    storageUrl: Type.Optional(Type.String({ pattern: '^(file|s3)://\\S+$', description: 'where recordings and the DVR window go: file:///abs/path or s3://bucket/prefix (default file://<mediaDir>/recordings)' })),
    s3Endpoint: Type.Optional(Type.String({ pattern: '^https?://[^\\s/]+/?$', description: 'S3-compatible endpoint (MinIO, Ceph RGW, R2); path-style requests; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the SDK chain' })),
    s3Region: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,40}$', description: 'S3 region (default AWS_REGION or us-east-1)' })),
    dvrSeconds: Type.Integer({ minimum: 0, maximum: 21600, default: 0, description: 'live playlists reach this far back (older segments served from the store); 0: the live window only' }),
    recordingRetentionDays: Type.Number({ minimum: 0, maximum: 36500, default: 0, description: 'recordings ended longer ago than this are deleted (0: keep)' }),
    redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://\\S+$', description: 'cluster mode: redis://host:port/db of the Redis every node shares (off: a single node)' })),
    redisSentinels: Type.Optional(Type.String({ pattern: '^[^\\s,:]+:\\d{1,5}(,[^\\s,:]+:\\d{1,5})*$', description: 'cluster mode through Redis Sentinel: host:port,host:port (with redisMasterName)' })),
    redisMasterName: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'the Sentinel master name (with redisSentinels)' })),
    nodeId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'this node\'s name in the cluster (default <hostname>-<httpPort>)' })),
    nodeUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s/]+/?$', description: 'how other nodes reach this node\'s HTTP port (default http://<host>:<httpPort>)' })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level' },
    ),
    streams: Type.Array(StreamSchema, { default: [], description: 'publishable streams' }),
  },
  { additionalProperties: false },
);

/** The validated, frozen configuration. */
export type Config = Static<typeof ConfigSchema>;
/** One configured stream. */
export type StreamConfig = Static<typeof StreamSchema>;

/** Environment variable of each top-level setting (ORIGIN_STREAM_KEYS fills `streams`). */
export const ENV_NAMES: Record<Exclude<keyof Config, 'streams'>, string> = {
  rtmpPort: 'ORIGIN_RTMP_PORT',
  httpPort: 'ORIGIN_HTTP_PORT',
  host: 'ORIGIN_HOST',
  mediaDir: 'ORIGIN_MEDIA_DIR',
  profile: 'ORIGIN_PROFILE',
  publicUrl: 'ORIGIN_PUBLIC_URL',
  tlsCert: 'ORIGIN_TLS_CERT',
  tlsKey: 'ORIGIN_TLS_KEY',
  ffmpegPath: 'FFMPEG_PATH',
  ffprobePath: 'FFPROBE_PATH',
  logLevel: 'ORIGIN_LOG_LEVEL',
  reconnectGraceSeconds: 'ORIGIN_RECONNECT_GRACE',
  endedRetentionSeconds: 'ORIGIN_ENDED_RETENTION',
  maxStreams: 'ORIGIN_MAX_STREAMS',
  maxMediaMemoryMB: 'ORIGIN_MAX_MEDIA_MB',
  adminToken: 'ORIGIN_ADMIN_TOKEN',
  webhookUrls: 'ORIGIN_WEBHOOK_URLS',
  webhookSecret: 'ORIGIN_WEBHOOK_SECRET',
  publishAuthUrl: 'ORIGIN_PUBLISH_AUTH_URL',
  playbackSecret: 'ORIGIN_PLAYBACK_SECRET',
  rtmpsPort: 'ORIGIN_RTMPS_PORT',
  rtmpIdleSeconds: 'ORIGIN_RTMP_IDLE_TIMEOUT',
  rtmpPublishTimeoutSeconds: 'ORIGIN_RTMP_PUBLISH_TIMEOUT',
  rtmpMaxConnections: 'ORIGIN_RTMP_MAX_CONNECTIONS',
  rtmpMaxConnectionsPerIp: 'ORIGIN_RTMP_MAX_CONNECTIONS_PER_IP',
  rtmpWrongKeysPerMinute: 'ORIGIN_RTMP_WRONG_KEYS_PER_MINUTE',
  rtmpBanSeconds: 'ORIGIN_RTMP_BAN_SECONDS',
  httpMaxHeldPerRendition: 'ORIGIN_HTTP_MAX_HELD_PER_RENDITION',
  httpMaxHeld: 'ORIGIN_HTTP_MAX_HELD',
  sseMax: 'ORIGIN_SSE_MAX',
  sseMaxPerIp: 'ORIGIN_SSE_MAX_PER_IP',
  sseLifetimeSeconds: 'ORIGIN_SSE_LIFETIME',
  httpRequestTimeoutSeconds: 'ORIGIN_HTTP_REQUEST_TIMEOUT',
  httpKeepAliveSeconds: 'ORIGIN_HTTP_KEEPALIVE_TIMEOUT',
  http2MaxStreams: 'ORIGIN_HTTP2_MAX_STREAMS',
  httpMaxRequestsPerConnection: 'ORIGIN_HTTP_MAX_REQUESTS_PER_CONNECTION',
  syncLatencySeconds: 'ORIGIN_SYNC_LATENCY',
  drainSeconds: 'ORIGIN_DRAIN_SECONDS',
  record: 'ORIGIN_RECORD',
  storageUrl: 'ORIGIN_STORAGE_URL',
  s3Endpoint: 'ORIGIN_S3_ENDPOINT',
  s3Region: 'ORIGIN_S3_REGION',
  dvrSeconds: 'ORIGIN_DVR_SECONDS',
  recordingRetentionDays: 'ORIGIN_RECORDING_RETENTION_DAYS',
  redisUrl: 'ORIGIN_REDIS_URL',
  redisSentinels: 'ORIGIN_REDIS_SENTINELS',
  redisMasterName: 'ORIGIN_REDIS_MASTER_NAME',
  nodeId: 'ORIGIN_NODE_ID',
  nodeUrl: 'ORIGIN_NODE_URL',
};

/** Settings whose values never appear in messages or logs. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(['adminToken', 'webhookSecret', 'playbackSecret', 'redisUrl']);
