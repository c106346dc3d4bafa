/**
 * A lean HTTP/1.1 server over any byte stream with back-pressure (Fata's
 * TCP, the host's sockets, or TLS on either): keep-alive, pipelining
 * (answered in order), HEAD, and limits on everything a slow or hostile
 * client controls: request line, header size and count, body, and time
 * (a whole request head within `headerTimeoutMs`, idle keep-alive
 * connections closed after `idleTimeoutMs`, a reader that stops reading
 * dropped after the same). Time comes from the caller: `sweep()` enforces
 * the deadlines against the `now` it was given.
 */
import type { PeerStream } from '../net/stream.ts';
import { DEFAULT_LIMITS, HttpParser, type HttpLimits, type HttpRequest } from './parser.ts';

/** The byte stream the server and client run on, with its peer's address. */
export type HttpStream = PeerStream;

export interface HttpResponse {
  readonly status: number;
  readonly headers?: readonly (readonly [string, string])[];
  /** The body (sent as is; HEAD sends only its length). */
  readonly body?: Uint8Array;
}

export type HttpHandler = (req: HttpRequest, from: { remote: string; remotePort: number }) => HttpResponse | Promise<HttpResponse>;

export interface AccessLogEntry {
  readonly remote: string;
  readonly method: string;
  readonly target: string;
  readonly status: number;
  readonly bytes: number;
  readonly userAgent: string;
}

export interface HttpServerOptions {
  /** Monotonic time in ns, for the deadlines. */
  readonly now: () => bigint;
  /** The current date for the Date header, already formatted (IMF-fixdate). */
  readonly date: () => string;
  readonly limits?: Partial<HttpLimits>;
  /** A whole request head must arrive within this long from its first byte (default 10 s; then 408). */
  readonly headerTimeoutMs?: number;
  /** A keep-alive connection with nothing to do, or a client not reading its response, is closed after this long (default 60 s). */
  readonly idleTimeoutMs?: number;
  readonly server?: string;
  readonly onAccess?: (e: AccessLogEntry) => void;
  /** A handler threw or rejected: answered 500, reported here. */
  readonly onError?: (e: unknown) => void;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** Bodies up to this size go out in one write with their head (one segment for small files). */
const COALESCE = 16 * 1024;
/** Response bytes queued beyond what the stream took before the connection stops reading requests. */
const HIGH_WATER = 256 * 1024;

function ascii(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

class Connection {
  private readonly srv: HttpServer;
  readonly stream: HttpStream;
  private readonly parser: HttpParser;
  private busy = false;
  private closing = false;
  private peerEnded = false;
  private paused = false;
  private out: Uint8Array[] = [];
  private outBytes = 0;
  /** When the current deadline expires (ns), and what it guards. */
  deadline = 0n;
  waiting: 'idle' | 'head' | 'send' = 'idle';
  closed = false;

  constructor(srv: HttpServer, stream: HttpStream) {
    this.srv = srv;
    this.stream = stream;
    this.parser = new HttpParser('request', srv.limits);
    stream.onData = (d) => {
      this.parser.push(d);
      this.pump();
    };
    stream.onEnd = () => {
      this.peerEnded = true;
      this.parser.finish();
      this.pump();
    };
    stream.onDrain = () => this.flush();
    stream.onClose = () => this.gone();
    this.arm();
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    this.srv.forget(this);
  }

  /** Picks the deadline that matters now. */
  private arm(): void {
    const now = this.srv.opts.now();
    if (this.outBytes > 0) {
      this.waiting = 'send';
      this.deadline = now + this.srv.idleNs;
    } else if (this.parser.midMessage && !this.busy) {
      if (this.waiting !== 'head') {
        this.waiting = 'head';
        this.deadline = now + this.srv.headerNs;
      }
    } else {
      this.waiting = 'idle';
      this.deadline = now + this.srv.idleNs;
    }
  }

  expire(): void {
    // A connection that is closing has sent its last response and its end: bytes of a next request get no answer.
    if (this.waiting === 'head' && !this.busy && !this.closing) {
      this.reply({ status: 408, body: ascii('request timeout\n') }, undefined, true);
      this.srv.count('timeouts');
    } else {
      this.stream.destroy();
      this.gone();
    }
  }

  private pump(): void {
    while (!this.busy && !this.closing && !this.closed) {
      if (this.outBytes > HIGH_WATER) {
        this.pauseReading();
        break;
      }
      const r = this.parser.next();
      if (r === undefined) break;
      if ('error' in r) {
        this.srv.count('badRequests');
        this.reply({ status: r.error, body: ascii(`${r.reason}\n`) }, undefined, true);
        break;
      }
      this.handle(r as HttpRequest);
    }
    if (!this.busy && !this.closing && this.peerEnded && !this.parser.midMessage) this.close();
    if (!this.closed) this.arm();
  }

  private handle(req: HttpRequest): void {
    this.busy = true;
    let res: HttpResponse | Promise<HttpResponse>;
    try {
      res = this.srv.handler(req, { remote: this.stream.remote, remotePort: this.stream.remotePort });
    } catch (e) {
      this.srv.opts.onError?.(e);
      res = { status: 500, body: ascii('internal error\n') };
    }
    if ('then' in res) {
      res.then(
        (r) => this.done(req, r),
        (e: unknown) => {
          this.srv.opts.onError?.(e);
          this.done(req, { status: 500, body: ascii('internal error\n') });
        },
      );
    } else this.done(req, res);
  }

  private done(req: HttpRequest, res: HttpResponse): void {
    this.busy = false;
    if (this.closed) return;
    this.reply(res, req, !req.keepAlive);
    this.pump();
  }

  /** Writes one response; `last` closes the connection once it is out. */
  private reply(res: HttpResponse, req: HttpRequest | undefined, last: boolean): void {
    const o = this.srv.opts;
    const body = res.body;
    const noBody = res.status === 204 || res.status === 304 || (res.status >= 100 && res.status < 200);
    let head = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\nDate: ${o.date()}\r\n`;
    if (o.server) head += `Server: ${o.server}\r\n`;
    if (!noBody) head += `Content-Length: ${body?.length ?? 0}\r\n`;
    for (const [k, v] of res.headers ?? []) head += `${k}: ${v}\r\n`;
    if (last) head += 'Connection: close\r\n';
    else if (req?.version === '1.0') head += 'Connection: keep-alive\r\n';
    head += '\r\n';
    const sendBody = body && body.length > 0 && !noBody && req?.method !== 'HEAD' ? body : undefined;
    if (sendBody && sendBody.length <= COALESCE) {
      const one = new Uint8Array(head.length + sendBody.length);
      for (let i = 0; i < head.length; i++) one[i] = head.charCodeAt(i) & 0xff;
      one.set(sendBody, head.length);
      this.send(one);
    } else {
      this.send(ascii(head));
      if (sendBody) this.send(sendBody);
    }
    this.srv.count('responses');
    o.onAccess?.({
      remote: this.stream.remote,
      method: req?.method ?? '-',
      target: req?.target ?? '-',
      status: res.status,
      bytes: sendBody?.length ?? 0,
      userAgent: req?.headers.find(([k]) => k === 'user-agent')?.[1] ?? '-',
    });
    if (last) this.close();
  }

  private send(b: Uint8Array): void {
    if (this.closed) return;
    if (this.outBytes === 0) {
      const n = this.stream.write(b);
      if (n >= b.length) return;
      b = b.subarray(n);
    }
    this.out.push(b);
    this.outBytes += b.length;
  }

  private flush(): void {
    while (this.out.length > 0 && !this.closed) {
      const b = this.out[0]!;
      const n = this.stream.write(b);
      this.outBytes -= n;
      if (n < b.length) {
        this.out[0] = b.subarray(n);
        this.arm();
        return;
      }
      this.out.shift();
    }
    if (this.closing && this.outBytes === 0) {
      this.stream.end();
      return;
    }
    if (this.paused && this.outBytes <= HIGH_WATER / 2) {
      this.paused = false;
      this.stream.resume();
    }
    this.pump();
  }

  private pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.stream.pause();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.parser.finish();
    if (this.outBytes === 0) this.stream.end();
  }
}

export class HttpServer {
  readonly handler: HttpHandler;
  readonly opts: HttpServerOptions;
  readonly limits: HttpLimits;
  readonly headerNs: bigint;
  readonly idleNs: bigint;
  private readonly conns = new Set<Connection>();
  readonly counters = { connections: 0, responses: 0, badRequests: 0, timeouts: 0 };

  constructor(handler: HttpHandler, opts: HttpServerOptions) {
    this.handler = handler;
    this.opts = opts;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.headerNs = BigInt(opts.headerTimeoutMs ?? 10_000) * 1_000_000n;
    this.idleNs = BigInt(opts.idleTimeoutMs ?? 60_000) * 1_000_000n;
  }

  /** Serves HTTP on a new connection. */
  accept(stream: HttpStream): void {
    this.counters.connections++;
    this.conns.add(new Connection(this, stream));
  }

  /** Open connections. */
  get size(): number {
    return this.conns.size;
  }

  /** Enforces the deadlines: 408 for a slow request head, close for idle or stalled connections. Call every second or so. */
  sweep(): void {
    const now = this.opts.now();
    for (const c of this.conns) if (now >= c.deadline) c.expire();
  }

  /** The earliest deadline, for a caller that sleeps until then. */
  nextDeadline(): bigint | undefined {
    let at: bigint | undefined;
    for (const c of this.conns) if (at === undefined || c.deadline < at) at = c.deadline;
    return at;
  }

  /** @internal */
  forget(c: Connection): void {
    this.conns.delete(c);
  }
  /** @internal */
  count(k: 'responses' | 'badRequests' | 'timeouts'): void {
    this.counters[k]++;
  }
}
