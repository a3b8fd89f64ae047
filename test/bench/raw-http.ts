/**
 * A minimal HTTP/1.1 keep-alive client for the load generator: one request at a time on one
 * socket, as a browser connection without pipelining. Why not undici: the generator shares the 2
 * cores with the origin it measures, and undici's `request` cost ~100 µs of CPU per request, so at
 * 1000 viewers the generator took a whole core and was the knee (BENCHMARKS.md). This does only
 * what the origin answers to a GET without Accept-Encoding: a status line, headers and a
 * Content-Length body; anything else (chunked, no length) is an error the caller counts.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  body: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class RawConnection {
  private socket: Socket | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Header length (including the blank line) and body length, once the head is parsed. */
  private head: { status: number; headerBytes: number; bodyBytes: number; close: boolean } | undefined;
  private pending: { resolve: (r: RawResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  get(path: string, timeoutMs = 8000): Promise<RawResponse> {
    if (this.pending) return Promise.reject(new Error('one request at a time'));
    const socket = this.socket ?? this.open();
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })), timeoutMs);
      this.pending = { resolve, reject, timer };
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.chunks = [];
    this.buffered = 0;
    this.head = undefined;
    socket?.destroy();
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    // events of a socket this connection has already let go of are not about the current request
    socket.on('data', (d: Buffer) => this.socket === socket && this.onData(d));
    socket.on('error', (err) => this.socket === socket && this.fail(err));
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.fail(Object.assign(new Error('connection closed'), { name: 'SocketError' }));
    });
    this.socket = socket;
    return socket;
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    if (!this.head) {
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [all];
      const end = all.indexOf(HEADER_END);
      if (end < 0) return;
      const text = all.toString('latin1', 0, end);
      const status = Number(text.slice(9, 12));
      const length = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (!length || /\r\ntransfer-encoding:/i.test(text)) {
        this.fail(Object.assign(new Error('answer without Content-Length'), { name: 'ProtocolError' }));
        this.close();
        return;
      }
      // the origin closes a connection after ORIGIN_HTTP_MAX_REQUESTS_PER_CONNECTION requests (http-limits.ts), saying so in the last answer
      this.head = { status, headerBytes: end + 4, bodyBytes: Number(length[1]), close: /\r\nconnection: *close/i.test(text) };
    }
    const { headerBytes, bodyBytes, status, close } = this.head;
    if (this.buffered < headerBytes + bodyBytes) return;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const body = all.subarray(headerBytes, headerBytes + bodyBytes);
    const rest = all.subarray(headerBytes + bodyBytes);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    this.head = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (close) this.close();
    if (p) {
      clearTimeout(p.timer);
      p.resolve({ status, body });
    }
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    this.chunks = [];
    this.buffered = 0;
    this.head = undefined;
    if (!p) return;
    clearTimeout(p.timer);
    this.close();
    p.reject(err);
  }
}
