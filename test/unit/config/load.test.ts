import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoStream, helpText, loadConfig, mask, parseCli, parseStreamKeys } from '../../../server/config/load.js';
import { streamForKey } from '../../../server/session/manager.js';

const noCli = { configFile: undefined, help: false };
const KEY = 'abcdefghijkl0123';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'lo-cfg-')), 'config.json');
  writeFileSync(path, content);
  return path;
}

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig(noCli, {});
    expect(c).toMatchObject({ rtmpPort: 1935, httpPort: 8000, host: '0.0.0.0', profile: 'default', streams: [] });
    expect(c.mediaDir).toMatch(/\/media$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads env over the file, streams from ORIGIN_STREAM_KEYS keeping a file profile', () => {
    const f = file(JSON.stringify({ httpPort: 9000, rtmpPort: 1936, streams: [{ name: 'a', key: KEY, profile: 'low-cpu' }] }));
    const c = loadConfig({ configFile: f, help: false }, { ORIGIN_HTTP_PORT: '9100', ORIGIN_STREAM_KEYS: `a:${KEY}x, b:${KEY}y` });
    expect(c.httpPort).toBe(9100);
    expect(c.rtmpPort).toBe(1936);
    expect(c.streams).toEqual([
      { name: 'a', key: `${KEY}x`, profile: 'low-cpu' },
      { name: 'b', key: `${KEY}y` },
    ]);
    expect(loadConfig(noCli, { ORIGIN_CONFIG: f }).httpPort).toBe(9000);
  });

  it.each([
    [{ ORIGIN_RTMP_PORT: 'abc' }, 'ORIGIN_RTMP_PORT must be an integer from 1 to 65535, got "abc"'],
    [{ ORIGIN_HTTP_PORT: '70000' }, 'ORIGIN_HTTP_PORT must be an integer from 1 to 65535, got 70000'],
    [{ ORIGIN_LOG_LEVEL: 'loud' }, 'ORIGIN_LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"'],
    [{ ORIGIN_PUBLIC_URL: 'cdn.example.com' }, 'ORIGIN_PUBLIC_URL must be a string matching'],
    [{ ORIGIN_STREAM_KEYS: 'nokey' }, 'ORIGIN_STREAM_KEYS entry 1 must look like name:key'],
    [{ ORIGIN_STREAM_KEYS: `Bad.Name:${KEY}` }, 'ORIGIN_STREAM_KEYS (streams[0].name) must be a string matching /^[a-z0-9][a-z0-9_-]{0,63}$/, got "Bad.Name"'],
    [{ ORIGIN_STREAM_KEYS: 'a:short' }, 'ORIGIN_STREAM_KEYS (streams[0].key) must be a string matching /^[A-Za-z0-9_-]{12,128}$/, got a value of 5 characters'],
    [{ ORIGIN_STREAM_KEYS: `a:${KEY},a:${KEY}z` }, 'ORIGIN_STREAM_KEYS (streams[1].name) "a" is listed twice'],
    [{ ORIGIN_STREAM_KEYS: `a:${KEY},b:${KEY}` }, 'ORIGIN_STREAM_KEYS (streams[1].key) is used by two streams'],
  ])('rejects %j with a message naming the variable and what is allowed', (env, message) => {
    expect(() => loadConfig(noCli, env)).toThrow(message);
    try {
      loadConfig(noCli, env);
    } catch (err) {
      expect((err as { code: string }).code).toBe('ERR_CONFIG_INVALID');
    }
  });

  it('never echoes a bad key in the message', () => {
    expect(() => loadConfig(noCli, { ORIGIN_STREAM_KEYS: 'a:secret!secret!' })).toThrow(/got a value of 14 characters/);
    expect(() => loadConfig(noCli, { ORIGIN_STREAM_KEYS: 'a:secret!secret!' })).not.toThrow(/secret!/);
  });

  it('names the file and key for file errors', () => {
    expect(() => loadConfig({ configFile: file('{"httpPort": "x"}'), help: false }, {})).toThrow(/config file .*config\.json: httpPort must be an integer from 1 to 65535, got "x"/);
    expect(() => loadConfig({ configFile: file('{"httpPort": 80,'), help: false }, {})).toThrow(/config file .*config\.json: not valid JSON/);
    expect(() => loadConfig({ configFile: file('{"colour": "red"}'), help: false }, {})).toThrow(/colour is not a known setting/);
    expect(() => loadConfig({ configFile: '/nonexistent/c.json', help: false }, {})).toThrow('config file /nonexistent/c.json: cannot read it (ENOENT)');
  });

  it('parses the command line', () => {
    expect(parseCli(['--config', 'x.json'])).toEqual({ configFile: 'x.json', help: false });
    expect(parseCli(['--help']).help).toBe(true);
    expect(() => parseCli(['--bogus'])).toThrow(/command line: .*bogus/);
  });

  it('--help lists every variable with its default', () => {
    const text = helpText();
    for (const v of ['ORIGIN_RTMP_PORT', 'ORIGIN_HTTP_PORT', 'ORIGIN_HOST', 'ORIGIN_MEDIA_DIR', 'ORIGIN_STREAM_KEYS', 'ORIGIN_PROFILE', 'ORIGIN_PUBLIC_URL', 'FFMPEG_PATH', 'FFPROBE_PATH', 'ORIGIN_CONFIG']) {
      expect(text).toContain(v);
    }
    expect(text).toMatch(/ORIGIN_RTMP_PORT\s+rtmpPort\s+1935/);
    expect(text).toMatch(/ORIGIN_HTTP_PORT\s+httpPort\s+8000/);
  });

  it('creates a demo stream with a persisted key when none is configured', async () => {
    const mediaDir = mkdtempSync(join(tmpdir(), 'lo-media-'));
    const c = loadConfig(noCli, { ORIGIN_MEDIA_DIR: mediaDir });
    const first = await ensureDemoStream(c);
    expect(first.config.streams).toHaveLength(1);
    expect(first.config.streams[0]!.name).toBe('demo');
    expect(first.config.streams[0]!.key).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(readFileSync(first.demoKeyFile!, 'utf8').trim()).toBe(first.config.streams[0]!.key);
    expect(statSync(first.demoKeyFile!).mode & 0o777).toBe(0o600);
    const again = await ensureDemoStream(c);
    expect(again.config.streams[0]!.key).toBe(first.config.streams[0]!.key);
    const configured = loadConfig(noCli, { ORIGIN_MEDIA_DIR: mediaDir, ORIGIN_STREAM_KEYS: `x:${KEY}` });
    expect((await ensureDemoStream(configured)).config.streams.map((s) => s.name)).toEqual(['x']);
  });
});

describe('stream keys', () => {
  const streams = parseStreamKeys(`studio:${KEY}, lobby:${KEY}Z`);
  it('maps a secret key to its public name', () => {
    expect(streamForKey(streams, KEY)?.name).toBe('studio');
    expect(streamForKey(streams, `${KEY}Z`)?.name).toBe('lobby');
    expect(streamForKey(streams, 'unknown')).toBeUndefined();
    expect(streamForKey(streams, 'studio')).toBeUndefined();
  });
  it('masks keys for logs', () => {
    expect(mask(KEY)).toBe('abc********');
    expect(mask(KEY)).not.toContain('def');
  });
});
