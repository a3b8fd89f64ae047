/**
 * Configuration loading: defaults (from the schema) -> JSON file -> environment -> validate -> freeze.
 * Every failure throws ERR_CONFIG_INVALID with a message naming the file or variable, the key and
 * what is allowed; main.ts turns it into exit code 2.
 */
import { parseStorageUrl } from '../storage/store.js';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, ENV_NAMES, SECRET_SETTINGS, StreamSchema, type Config, type StreamConfig } from './schema.js';
import { describeAllowed, schemaErrorMessages } from './validate.js';
import { ERR_CONFIG_INVALID } from '../errors.js';

/** Command line of `npm start -- [--config file] [--help]`. */
export interface CliOptions {
  configFile: string | undefined;
  help: boolean;
}

/** Parses the command line; unknown flags are a config error (exit 2), not a stack trace. */
export function parseCli(argv: string[]): CliOptions {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return { configFile: values.config, help: values.help ?? false };
  } catch (err) {
    throw new ERR_CONFIG_INVALID(`command line: ${(err as Error).message}; use --config <file> or --help`);
  }
}

/** `ORIGIN_STREAM_KEYS=name:key,name2:key2` -> streams; malformed entries name their position. */
export function parseStreamKeys(text: string): StreamConfig[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.indexOf(':');
      if (at <= 0 || at === entry.length - 1) {
        throw new ERR_CONFIG_INVALID(
          `ORIGIN_STREAM_KEYS entry ${i + 1} must look like name:key (e.g. "studio:${'x'.repeat(16)}"), got "${mask(entry)}"`,
        );
      }
      return { name: entry.slice(0, at), key: entry.slice(at + 1) };
    });
}

/** Masks a secret for logs: the first 3 characters, then asterisks. */
export function mask(secret: string): string {
  return secret.length <= 3 ? '***' : `${secret.slice(0, 3)}${'*'.repeat(Math.min(8, secret.length - 3))}`;
}

/** Reads and parses the optional JSON config file; errors name the file. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ERR_CONFIG_INVALID(`config file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ERR_CONFIG_INVALID(`config file ${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ERR_CONFIG_INVALID(`config file ${file}: must hold a JSON object of settings`);
  }
  return data as Record<string, unknown>;
}

/**
 * Builds the configuration. Pure apart from reading the config file: the demo key is added
 * separately by `ensureDemoStream` because it writes to the media directory.
 */
export function loadConfig(cli: CliOptions, env: NodeJS.ProcessEnv): Readonly<Config> {
  const configFile = cli.configFile ?? env.ORIGIN_CONFIG;
  const fromFile = configFile ? readConfigFile(configFile) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  const source: Record<string, string> = {};
  const fileLabel = configFile ? `config file ${configFile}: ` : '';
  for (const key of Object.keys(fromFile)) source[key] = `${fileLabel}${key}`;

  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const v = env[envName];
    if (v !== undefined && v !== '') {
      merged[key] = v;
      source[key] = envName;
    }
  }
  if (env.ORIGIN_STREAM_KEYS) {
    // env overrides the file by stream name; the file's other per-stream settings (profile,
    // onDuplicate) are kept.
    const fileStreams = Array.isArray(fromFile.streams) ? (fromFile.streams as StreamConfig[]) : [];
    merged.streams = parseStreamKeys(env.ORIGIN_STREAM_KEYS).map((s) => ({ ...fileStreams.find((f) => f?.name === s.name), ...s }));
    source.streams = 'ORIGIN_STREAM_KEYS';
  }

  const withDefaults = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, merged));
  // Name where a bad value came from: the variable, or the file and key.
  const label = (path: string) => {
    const top = path.split(/[.[]/)[0] ?? path;
    const where = source[top];
    if (where === undefined || where.includes(': ')) return where ? `${fileLabel}${path}` : path;
    return path === top ? where : `${where} (${path})`;
  };
  const problems = schemaErrorMessages(ConfigSchema, withDefaults, label, (path) => /\.key$/.test(path) || SECRET_SETTINGS.has(path));
  if (problems.length === 0) problems.push(...crossChecks(withDefaults as Config, label));
  if (problems.length) throw new ERR_CONFIG_INVALID(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  const config = withDefaults as Config;
  config.mediaDir = resolve(config.mediaDir);
  return deepFreeze(config);
}

/** Rules a schema cannot say: names and keys are unique; TLS needs both files. */
function crossChecks(config: Config, label: (p: string) => string): string[] {
  const out: string[] = [];
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    const [missing, present] = config.tlsCert ? ['tlsKey', 'tlsCert'] as const : ['tlsCert', 'tlsKey'] as const;
    out.push(`${ENV_NAMES[missing]} (${missing}) is required when ${ENV_NAMES[present]} (${present}) is set: HTTPS needs a certificate and its key`);
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  config.streams.forEach((s, i) => {
    if (names.has(s.name)) out.push(`${label(`streams[${i}].name`)} "${s.name}" is listed twice; names must be unique`);
    if (keys.has(s.key)) out.push(`${label(`streams[${i}].key`)} is used by two streams; keys must be unique`);
    names.add(s.name);
    keys.add(s.key);
  });
  if (config.storageUrl) {
    try {
      parseStorageUrl(config.storageUrl);
    } catch (e) {
      out.push((e as Error).message);
    }
    if (config.s3Endpoint && !config.storageUrl.startsWith('s3:')) out.push(`ORIGIN_S3_ENDPOINT (s3Endpoint) is set but ORIGIN_STORAGE_URL is not an s3:// URL`);
  } else if (config.s3Endpoint) {
    out.push('ORIGIN_S3_ENDPOINT (s3Endpoint) needs ORIGIN_STORAGE_URL=s3://bucket/prefix');
  }
  if (config.redisUrl && config.redisSentinels) out.push('ORIGIN_REDIS_URL and ORIGIN_REDIS_SENTINELS are both set: use one (Sentinel finds the master by ORIGIN_REDIS_MASTER_NAME)');
  if (config.redisSentinels && !config.redisMasterName) out.push('ORIGIN_REDIS_SENTINELS needs ORIGIN_REDIS_MASTER_NAME (the name in the sentinels\' "sentinel monitor" line)');
  if (config.redisMasterName && !config.redisSentinels) out.push('ORIGIN_REDIS_MASTER_NAME is set but ORIGIN_REDIS_SENTINELS is not');
  if ((config.nodeId || config.nodeUrl) && !config.redisUrl && !config.redisSentinels) out.push('ORIGIN_NODE_ID / ORIGIN_NODE_URL mean cluster mode: set ORIGIN_REDIS_URL or ORIGIN_REDIS_SENTINELS too');
  return out;
}

/** Reads the TLS certificate and key named by the config; unreadable files are a config error. */
export function readTls(config: Pick<Config, 'tlsCert' | 'tlsKey'>): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ERR_CONFIG_INVALID(`${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: read(config.tlsCert, 'ORIGIN_TLS_CERT / tlsCert'), key: read(config.tlsKey, 'ORIGIN_TLS_KEY / tlsKey') };
}

/** Freezes an object graph so no component can change the config after start. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Name of the stream that `npm start` offers when no key is configured. */
export const DEMO_STREAM = 'demo';

/**
 * With no stream configured, adds a `demo` stream whose key is generated once and kept in
 * `<mediaDir>/demo-stream-key`, so that `npm ci && npm start` works and the key survives restarts.
 */
export async function ensureDemoStream(config: Readonly<Config>): Promise<{ config: Readonly<Config>; demoKeyFile?: string }> {
  if (config.streams.length > 0 || config.publishAuthUrl) return { config };
  const file = join(config.mediaDir, 'demo-stream-key');
  let key = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (!new RegExp(StreamSchema.properties.key.pattern!).test(key)) {
    key = randomBytes(18).toString('base64url');
    await mkdir(config.mediaDir, { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
  }
  return { config: deepFreeze({ ...config, streams: [{ name: DEMO_STREAM, key }] }), demoKeyFile: file };
}

/** `--help`: every setting with its variable, default and what is allowed. */
export function helpText(): string {
  const rows: string[][] = [['variable', 'config file key', 'default', 'allowed / meaning']];
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const schema = ConfigSchema.properties[key as keyof typeof ENV_NAMES];
    const def = (schema as { default?: unknown }).default;
    rows.push([envName, key, def === undefined ? '(none)' : String(def), `${schema.description ?? ''}: ${describeAllowed(schema)}`]);
  }
  rows.push(['ORIGIN_STREAM_KEYS', 'streams', '(demo key)', 'name:key,name2:key2 (file: [{ "name", "key", "profile"? }])']);
  rows.push(['ORIGIN_CONFIG', '--config', '(none)', 'path of a JSON config file; env overrides it']);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
  return `live-origin: RTMP in, LL-HLS out.\n\nUsage: npm start -- [--config file.json] [--help]\n\n${lines.join('\n')}\n`;
}
