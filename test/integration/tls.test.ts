// HTTPS with HTTP/2 when a certificate is configured (LL-HLS's held requests share one connection).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:http2';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, runServer, startServer } from '../helpers/processes.js';

afterAll(() => killAll());

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lo-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function h2get(origin: string, path: string): Promise<{ status: number; alpn: string | false; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(origin, { rejectUnauthorized: false });
    session.on('error', reject);
    const req = session.request({ ':path': path });
    let body = '';
    let headers: Record<string, unknown> = {};
    req.on('response', (h) => (headers = h));
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const alpn = session.alpnProtocol ?? false;
      session.close();
      resolve({ status: Number(headers[':status']), alpn, headers, body });
    });
    req.on('error', reject);
  });
}

function h1get(origin: string, path: string): Promise<{ status: number; version: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!process.env.PATH?.split(':').some((d) => { try { execFileSync(join(d, 'openssl'), ['version'], { stdio: 'ignore' }); return true; } catch { return false; } }))('TLS', () => {
  it('serves HTTP/2 over TLS, and HTTP/1.1 for clients that do not speak h2', async () => {
    const { cert, key } = selfSigned();
    const server = await startServer({ ORIGIN_TLS_CERT: cert, ORIGIN_TLS_KEY: key });
    const origin = server.http.replace('http:', 'https:');
    expect(server.output()).toMatch(/Watch: https:\/\//);
    const h2 = await h2get(origin, '/healthz');
    expect(h2).toMatchObject({ status: 200, alpn: 'h2', body: '{"status":"ok"}' });
    const api = await h2get(origin, '/api/streams');
    expect(api.headers['cache-control']).toBe('no-store');
    expect((await h2get(origin, '/live/nosuch/master.m3u8')).status).toBe(404);
    expect(await h1get(origin, '/healthz')).toEqual({ status: 200, version: '1.1' });
    expect(await server.stop()).toBe(0);
  });

  it('needs both files, and readable ones (exit 2)', async () => {
    const { cert } = selfSigned();
    const half = await runServer({ ORIGIN_TLS_CERT: cert });
    expect(half.code).toBe(2);
    expect(half.output).toContain('ORIGIN_TLS_KEY (tlsKey) is required when ORIGIN_TLS_CERT (tlsCert) is set');
    const missing = await runServer({ ORIGIN_TLS_CERT: cert, ORIGIN_TLS_KEY: '/nonexistent/key.pem' });
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('ORIGIN_TLS_KEY / tlsKey /nonexistent/key.pem: cannot read it (ENOENT)');
  });
});
