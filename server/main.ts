/**
 * Wires config, ingest, sessions and origin; starts them in order and closes them in reverse
 * (close-with-grace on SIGINT/SIGTERM: refuse publishers, ENDLIST everywhere, stop every ffmpeg,
 * close HTTP, exit 0). Startup errors exit with the codes in errors.ts (2 config, 3 ffmpeg, 4 port).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { ensureDemoStream, helpText, loadConfig, mask, parseCli, readTls } from './config/load.js';
import type { Config } from './config/schema.js';
import { ERR_CONFIG_INVALID, ERR_LISTEN, EXIT, exitCodeOf } from './errors.js';
import { StreamEvents } from './events.js';
import { RtmpIngest, RTMP_APP } from './ingest/rtmp-ingest.js';
import { SessionManager } from './session/manager.js';
import { loadProfiles } from './transcode/profiles.js';
import { locate } from './transcode/ffmpeg-binary.js';
import { longestSocketPath, warmUpFfmpeg } from './transcode/transcoder.js';

/** Cluster drain: how long /readyz says 503 before the publishers are let go (a load balancer checks every 0.5-1 s). */
const DRAIN_NOTICE_MS = 1000;
/** Cluster drain: longest wait for another node to serve the streams handed over (within close-with-grace's limit). */
const HANDOFF_WAIT_MS = 12_000;
/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const UNIX_PATH_MAX = 107;
import { buildOrigin } from './origin/app.js';
import { startWebhooks } from './hooks/webhooks.js';
import { openStore, probeStore } from './storage/store.js';
import { Recordings } from './record/recorder.js';
import { Cluster } from './cluster/cluster.js';
import { PeerProxy } from './cluster/peer-proxy.js';
import { parseSentinels } from './cluster/redis-client.js';

const projectRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** A host a person can type: the configured one, or this machine's first LAN address for 0.0.0.0. */
function displayHost(config: Config): string {
  if (config.host !== '0.0.0.0' && config.host !== '::') return config.host;
  for (const addrs of Object.values(networkInterfaces())) {
    const lan = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (lan) return lan.address;
  }
  return '127.0.0.1';
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    process.stdout.write(helpText());
    return;
  }
  const loaded = loadConfig(cli, process.env);
  const profiles = loadProfiles(join(projectRoot, 'transcode-profiles'));
  for (const [i, s] of [{ name: '(default)', profile: loaded.profile }, ...loaded.streams].entries()) {
    if (s.profile && !profiles.has(s.profile)) {
      const where = i === 0 ? 'ORIGIN_PROFILE / profile' : `streams[${i - 1}].profile`;
      throw new ERR_CONFIG_INVALID(`${where} must name a file in transcode-profiles/ (${[...profiles.keys()].join(', ')}), got "${s.profile}"`);
    }
  }
  const tls = readTls(loaded);
  const { config, demoKeyFile } = await ensureDemoStream(loaded);

  const logger = pino({ level: config.logLevel, redact: ['key', '*.key'] });
  const ffmpeg = await locate('ffmpeg', config.ffmpegPath, process.env);
  logger.info({ path: ffmpeg.path, from: ffmpeg.source, version: ffmpeg.version }, 'ffmpeg found');
  warmUpFfmpeg(ffmpeg.path).catch((err: Error) => logger.warn({ err: err.message }, 'ffmpeg capability check failed (the first stream will report it)'));

  // Unix socket paths are limited to 107 bytes: keep ffmpeg's output sockets in a short temp dir.
  const runDir = await mkdtemp(join(tmpdir(), 'live-origin-'));
  if (Buffer.byteLength(longestSocketPath(runDir)) > UNIX_PATH_MAX) {
    await rm(runDir, { recursive: true, force: true });
    throw new ERR_CONFIG_INVALID(`TMPDIR ${tmpdir()} is too long for ffmpeg's output sockets (a unix socket path is at most ${UNIX_PATH_MAX} bytes, ${longestSocketPath(runDir)} would be ${Buffer.byteLength(longestSocketPath(runDir))}): set TMPDIR to a shorter directory such as /tmp`);
  }
  // The store of recordings and DVR windows: opened always (past broadcasts stay listed), proved
  // writable at start only when something will be written.
  const storageUrl = config.storageUrl ?? `file://${join(config.mediaDir, 'recordings')}`;
  const store = await openStore(storageUrl, { endpoint: config.s3Endpoint, region: config.s3Region });
  const streamRecord = new Map(config.streams.map((s) => [s.name, s.record]));
  const records = (name: string) => streamRecord.get(name) ?? config.record === 'all';
  if (config.record === 'all' || config.streams.some((s) => s.record) || config.dvrSeconds > 0) {
    await probeStore(store);
    logger.info({ store: store.where, record: config.record, dvrSeconds: config.dvrSeconds, retentionDays: config.recordingRetentionDays }, 'recording store ready');
  }
  // Cluster mode: Redis holds the leases, the numbering and the registry of who serves what.
  const nodeId = config.nodeId ?? `${hostname()}-${config.httpPort}`;
  const events = new StreamEvents();
  const redisTarget = config.redisUrl ? { url: config.redisUrl }
    : config.redisSentinels && config.redisMasterName ? { sentinels: parseSentinels(config.redisSentinels), masterName: config.redisMasterName } : undefined;
  const cluster = redisTarget && new Cluster({
    target: redisTarget, nodeId, logger, events, endedRetentionMs: config.endedRetentionSeconds * 1000,
    nodeUrl: config.nodeUrl ?? `${tls ? 'https' : 'http'}://${displayHost(config)}:${config.httpPort}`,
  });
  const peers = cluster && new PeerProxy({ logger });
  const recordings = new Recordings({
    store, logger, records, dvrSeconds: config.dvrSeconds, retentionDays: config.recordingRetentionDays, endedRetentionMs: config.endedRetentionSeconds * 1000,
    writer: nodeId,
  });
  const sessions = new SessionManager(
    {
      streams: config.streams,
      profiles,
      defaultProfile: config.profile,
      endedRetentionMs: config.endedRetentionSeconds * 1000,
      maxStreams: config.maxStreams,
      maxMediaBytes: config.maxMediaMemoryMB * 2 ** 20,
      publishAuthUrl: config.publishAuthUrl,
      leases: cluster,
    },
    { ffmpegPath: ffmpeg.path, runDir, logger, events, reconnectGraceMs: config.reconnectGraceSeconds * 1000, recordings },
  );
  const ingest = new RtmpIngest({
    port: config.rtmpPort, host: config.host, logger, onPublish: sessions.onPublish, mask,
    idleMs: config.rtmpIdleSeconds * 1000,
    publishTimeoutMs: config.rtmpPublishTimeoutSeconds * 1000,
    limits: {
      maxConnections: config.rtmpMaxConnections,
      maxConnectionsPerIp: config.rtmpMaxConnectionsPerIp,
      wrongKeysPerMinute: config.rtmpWrongKeysPerMinute,
      banMs: config.rtmpBanSeconds * 1000,
    },
    tls: tls ? { port: config.rtmpsPort, ...tls } : undefined,
  });
  const app = await buildOrigin({
    logger, sessions, events, publicUrl: config.publicUrl, playerRoot: join(projectRoot, 'dist', 'player'), tls,
    adminToken: config.adminToken, playbackSecret: config.playbackSecret, rtmp: ingest, syncLatencySeconds: config.syncLatencySeconds, recordings, cluster, peers,
    limits: {
      maxHeldPerRendition: config.httpMaxHeldPerRendition,
      maxHeld: config.httpMaxHeld,
      sseMax: config.sseMax,
      sseMaxPerIp: config.sseMaxPerIp,
      sseLifetimeSeconds: config.sseLifetimeSeconds,
      requestTimeoutSeconds: config.httpRequestTimeoutSeconds,
      keepAliveSeconds: config.httpKeepAliveSeconds,
      http2MaxStreams: config.http2MaxStreams,
      maxRequestsPerConnection: config.httpMaxRequestsPerConnection,
    },
  });
  const stopWebhooks = config.webhookUrls
    ? startWebhooks(events, { urls: config.webhookUrls.split(','), secret: config.webhookSecret, logger })
    : () => {};

  // The drain: /readyz turns 503 and publishers are refused at once, every stream ends with ENDLIST,
  // then HTTP keeps serving for ORIGIN_DRAIN_SECONDS so that players and CDNs polling the playlists
  // see the ENDLIST (closing the port in the same instant hid it from them). close-with-grace's
  // delay is the hard limit above all of that: ffmpeg's stop (3 s at most) plus the drain.
  const drainMs = config.drainSeconds * 1000;
  closeWithGrace({ delay: drainMs + 15_000, logger: { error: (m: unknown) => logger.error(m) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'fatal error, shutting down');
    else logger.info({ signal, drainSeconds: config.drainSeconds }, 'shutting down: refusing publishers, ending streams');
    if (cluster) {
      // readyz 503 first, and a moment for the load balancer's health check to see it, so that the
      // publishers this node lets go reconnect to another node rather than back here
      await cluster.drain();
      if (!err && sessions.list().some((s) => s.isLive)) await new Promise((r) => setTimeout(r, DRAIN_NOTICE_MS));
    }
    ingest.refuseNewPublishers();
    await sessions.close();
    if (drainMs > 0 && !err) {
      logger.info({ drainSeconds: config.drainSeconds }, cluster ? 'streams handed over; serving their pieces before closing HTTP' : 'streams ended; serving the final playlists before closing HTTP');
      const drained = new Promise((r) => setTimeout(r, drainMs));
      // cluster: also until another node serves each stream (its publisher must reconnect there
      // first), so a viewer is never left without a node that answers the playlists
      const left = await cluster?.handedOff(HANDOFF_WAIT_MS);
      if (left?.length) logger.warn({ streams: left, waitedSeconds: HANDOFF_WAIT_MS / 1000 }, 'no other node took these streams over in time (did their publishers reconnect?)');
      await drained;
    }
    // what the recorders still have queued is written (at most 5 s), then ended DVR-only windows go
    // (after the drain: the final playlists list them)
    await recordings.close(5000);
    stopWebhooks();
    await ingest.close();
    // Keep-alive connections that keep asking (a peer node or a CDN shield polling playlists) are
    // never idle, and close() waits for idle: after 2 s they are cut (the drain is over by then).
    const httpClosed = app.close();
    const cut = setTimeout(() => app.server.closeAllConnections?.(), 2000);
    await httpClosed;
    clearTimeout(cut);
    await cluster?.close();
    await peers?.close();
    await rm(runDir, { recursive: true, force: true });
    logger.info('bye');
  });

  recordings.start();
  cluster?.start();
  await ingest.start();
  try {
    await app.listen({ port: config.httpPort, host: config.host });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ERR_LISTEN('HTTP', config.httpPort, err.code === 'EADDRINUSE' ? 'the port is in use by another process' : err.message);
  }

  const host = displayHost(config);
  const web = (config.publicUrl ?? `${tls ? 'https' : 'http'}://${host}:${config.httpPort}`).replace(/\/+$/, '');
  const lines = [
    '',
    'live-origin is running.',
    `  OBS  Settings > Stream > Service: Custom`,
    `       Server:     rtmp://${host}:${config.rtmpPort}/${RTMP_APP}`,
    tls ? `               or rtmps://${host}:${config.rtmpsPort}/${RTMP_APP}` : '',
    config.publishAuthUrl ? `       Stream keys are checked by ${config.publishAuthUrl}` : '',
    // Only a key this server generated is printed; configured keys are secrets that logs (and
    // log shippers) must never carry: the streamer has theirs already.
    ...(config.publishAuthUrl ? [] : config.streams.map((s) => (demoKeyFile ? `       Stream Key: ${s.key}   (stream "${s.name}")` : `       Stream Key: the key configured for "${s.name}" (not printed)`))),
    demoKeyFile ? `       (demo key kept in ${demoKeyFile}; set ORIGIN_STREAM_KEYS to choose your own)` : '',
    `  Watch: ${web}/watch/${config.streams[0]?.name ?? ''}   (all streams: ${web}/)`,
    `  HLS:   ${web}/live/<name>/master.m3u8`,
    '',
  ].filter((l) => l !== '');
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

main().catch((err: Error & { code?: string }) => {
  const code = exitCodeOf(err);
  process.stderr.write(`live-origin: ${code === 1 ? err.stack ?? err.message : err.message}\n`);
  process.exit(code === EXIT.ok ? 1 : code);
});
