/**
 * An HTTP/1.1 client over one byte stream: requests go out at once
 * (pipelined when several are made), responses come back in order, with
 * Content-Length, chunked or close-delimited bodies.
 */
import { HttpParser, type HttpLimits, type HttpResponseHead } from './parser.ts';
import type { HttpStream } from './server.ts';

export interface ClientRequest {
  readonly method?: string;
  readonly path: string;
  readonly host: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

export type ClientResponse = HttpResponseHead & { readonly body: Uint8Array };

export class HttpClient {
  private readonly stream: HttpStream;
  private readonly parser: HttpParser;
  private readonly waiting: { resolve: (r: ClientResponse) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;
  /** Request bytes the stream has not taken yet; `onDrain` sends them on. */
  private readonly pending: Uint8Array[] = [];

  constructor(stream: HttpStream, limits: Partial<HttpLimits> = {}) {
    this.stream = stream;
    this.parser = new HttpParser('response', { body: 64 << 20, ...limits });
    stream.onData = (d) => {
      this.parser.push(d);
      this.drain();
    };
    stream.onEnd = () => {
      this.parser.finish();
      this.drain();
      this.fail(new Error('the server closed the connection'));
    };
    stream.onClose = (e) => this.fail(new Error(`connection closed${e ? ` (${e})` : ''}`));
    stream.onDrain = () => {
      while (this.pending.length) {
        const c = this.pending[0]!;
        const n = this.stream.write(c);
        if (n < c.length) {
          this.pending[0] = c.subarray(n);
          return;
        }
        this.pending.shift();
      }
    };
  }

  request(r: ClientRequest): Promise<ClientResponse> {
    if (this.failed) return Promise.reject(this.failed);
    const method = r.method ?? 'GET';
    let head = `${method} ${r.path} HTTP/1.1\r\nHost: ${r.host}\r\n`;
    for (const [k, v] of r.headers ?? []) head += `${k}: ${v}\r\n`;
    if (r.body) head += `Content-Length: ${r.body.length}\r\n`;
    head += '\r\n';
    const bytes = new Uint8Array(head.length + (r.body?.length ?? 0));
    for (let i = 0; i < head.length; i++) bytes[i] = head.charCodeAt(i) & 0xff;
    if (r.body) bytes.set(r.body, head.length);
    this.parser.expect.push(method);
    const p = new Promise<ClientResponse>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.write(bytes);
    return p;
  }

  private write(b: Uint8Array): void {
    if (this.pending.length === 0) {
      const n = this.stream.write(b);
      if (n === b.length) return;
      b = b.subarray(n);
    }
    this.pending.push(b);
  }

  close(): void {
    this.stream.end();
  }

  private drain(): void {
    for (;;) {
      if (this.waiting.length === 0) return;
      const r = this.parser.next();
      if (r === undefined) return;
      if ('error' in r) {
        this.fail(new Error(`bad response: ${r.reason}`));
        return;
      }
      const res = r as ClientResponse;
      // RFC 9110 §15.2: a client parses 1xx responses it did not ask for (100 Continue, 103 Early Hints) and waits on for
      // the final one; 101 ends HTTP on the connection and is final.
      if (res.status >= 100 && res.status < 200 && res.status !== 101) continue;
      this.waiting.shift()!.resolve(res);
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }
}
