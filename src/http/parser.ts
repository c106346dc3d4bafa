/**
 * An incremental HTTP/1.1 message parser (RFC 9112) for requests and
 * responses, with hard limits on every part a peer controls. It never
 * throws on input: a bad message becomes a `ParseError` carrying the status
 * code a server should answer with (400, 413, 414, 431, 501, 505).
 */

export interface HttpLimits {
  /** Longest request line (default 8 KiB; beyond it 414). */
  readonly requestLine: number;
  /** Bytes of all header lines together (default 16 KiB; beyond it 431). */
  readonly headerBytes: number;
  /** Header fields at most (default 100; beyond it 431). */
  readonly headerCount: number;
  /** Largest body (default 1 MiB; beyond it 413). */
  readonly body: number;
}

export const DEFAULT_LIMITS: HttpLimits = { requestLine: 8192, headerBytes: 16384, headerCount: 100, body: 1 << 20 };

export interface HttpHead {
  /** Lower-cased names, values with surrounding whitespace removed, in arrival order. */
  readonly headers: readonly (readonly [string, string])[];
}

export interface HttpRequest extends HttpHead {
  readonly method: string;
  /** The request target as sent (`/a%20b?x=1`). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  readonly body: Uint8Array;
  /** Whether the connection may carry another request after this one. */
  readonly keepAlive: boolean;
}

export interface HttpResponseHead extends HttpHead {
  readonly status: number;
  readonly reason: string;
  readonly version: '1.0' | '1.1';
}

export interface ParseError {
  readonly error: number;
  readonly reason: string;
}

/** The first value of header `name` (lower case). */
export function header(m: HttpHead, name: string): string | undefined {
  for (const [k, v] of m.headers) if (k === name) return v;
  return undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const EMPTY = new Uint8Array(0);
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/;
/**
 * Host (RFC 9112 §3.2): uri-host [":" port] as RFC 3986 §3.2.2 has it: an IP literal in brackets (IPv6 or
 * IPvFuture), or a reg-name (unreserved, pct-encoded and sub-delims; an IPv4 address is one too), or empty.
 */
const HOST =
  /^(?:\[(?:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/** Byte classes for the request-line scan: 1 a token character (RFC 9110 §5.6.2), 2 whitespace as `\s` has it in Latin-1. */
const RL_CLASS = (() => {
  const t = new Uint8Array(256);
  for (const c of "!#$%&'*+-.^_`|~") t[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = t[c + 0x20] = 1;
  for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0]) t[c] = 2;
  return t;
})();
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];
/** The request-line scan is complete and the line can still be a request line. */
const RL_DONE = 14;

/**
 * One step of a scan of a request line as it arrives, by the rule `REQUEST_LINE` checks whole: the next phase, or -1
 * when no continuation of the bytes seen can make a request line (binary garbage, a TLS ClientHello sent to a
 * plain-HTTP port), so that the answer is a 400 at once and not a wait for a head that will never end.
 * Phases: 0–1 method, 2–3 target, 4–8 "HTTP/", 9–11 "d.d", 12 after the version, 13 after its CR, 14 done.
 */
function requestLineStep(phase: number, b: number): number {
  const k = RL_CLASS[b]!;
  switch (phase) {
    case 0:
    case 1:
      if (k === 1) return 1;
      return phase === 1 && b === 0x20 ? 2 : -1;
    case 2:
      return k === 2 ? -1 : 3;
    case 3:
      if (k !== 2) return 3;
      return b === 0x20 ? 4 : -1;
    case 9:
    case 11:
      return b >= 0x30 && b <= 0x39 ? phase + 1 : -1;
    case 10:
      return b === 0x2e ? 11 : -1;
    case 12:
      if (b === 0x0d) return 13;
      return b === 0x0a ? RL_DONE : -1;
    case 13:
      return b === 0x0a ? RL_DONE : -1;
    default:
      return b === HTTP_SLASH[phase - 4] ? phase + 1 : -1;
  }
}

/**
 * Where, counted from `from`, the start line in `buf[from..end)` becomes too long: the byte whose arrival makes it
 * longer than `limit` without its CR (the CR that may begin its CRLF is not counted until the byte after it shows it
 * is not one). -1: not (yet) too long.
 */
function lineTooLongAt(buf: Uint8Array, from: number, end: number, limit: number): number {
  const lf = buf.subarray(from, Math.min(end, from + limit + 2)).indexOf(0x0a);
  if (lf >= 0 && lf <= limit) return -1; // the line ended within the limit
  const b = buf[from + limit];
  if (from + limit >= end || b === 0x0a) return -1;
  if (b !== 0x0d) return limit;
  if (from + limit + 1 >= end || buf[from + limit + 1] === 0x0a) return -1;
  return limit + 1;
}

/**
 * The start line's first fault by byte position, whatever the pieces it arrived in: 400 at the first byte the
 * request-line scan refuses, 414 (502 for a response) at the byte that makes it too long; the earlier wins, and the
 * scan when it is the same byte (it looks at each byte first). `failAt`: where the scan failed, or -1.
 */
function startLineFault(failAt: number, tooLongAt: number, mode: 'request' | 'response'): ParseError | undefined {
  if (failAt >= 0 && (tooLongAt < 0 || failAt <= tooLongAt)) return { error: 400, reason: 'malformed request line' };
  if (tooLongAt >= 0) return { error: mode === 'request' ? 414 : 502, reason: 'start line too long' };
  return undefined;
}

/** One character per byte (ISO-8859-1). `apply`, not a spread: a spread walks the iterator protocol, 6× slower per head. */
function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096)
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}

/** Index just past the blank line ending a head (CRLF CRLF, or bare LF LF as RFC 9112 §2.2 tolerates), or -1. */
function headEnd(b: Uint8Array, from: number, end: number): number {
  for (let i = Math.max(0, from); i < end; i++) {
    if (b[i] !== 0x0a) continue;
    if (i + 1 < end && b[i + 1] === 0x0a) return i + 2;
    if (i + 2 < end && b[i + 1] === 0x0d && b[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Feeds bytes in with `push`, takes complete messages out with `next`.
 * `mode` picks requests (server side) or responses (client side); a
 * response parser needs the request method of each response (`expect`) for
 * HEAD and 304, which have no body.
 */
export class HttpParser {
  private buf = new Uint8Array(4096);
  private start = 0;
  private end = 0;
  private scanned = 0;
  /**
   * The request-line scan of the message at `start`: its phase (`requestLineStep`), how many bytes it has seen, and
   * where (from `start`) it failed, or -1.
   */
  private rlPhase = 0;
  private rlSeen = 0;
  private rlFailAt = -1;
  private readonly limits: HttpLimits;
  private readonly mode: 'request' | 'response';
  /** A message whose head is parsed and whose body is still arriving. */
  private pending:
    | { head: HttpRequest | HttpResponseHead; body: BodyMode; parts: Uint8Array[]; size: number; chunkLeft: number; trailer: boolean }
    | undefined;
  private failed: ParseError | undefined;
  private eof = false;
  /** Client side: the methods of requests whose responses are still to come. */
  readonly expect: string[] = [];

  constructor(mode: 'request' | 'response', limits: Partial<HttpLimits> = {}) {
    this.mode = mode;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes buffered and not yet part of a returned message. */
  get buffered(): number {
    return this.end - this.start;
  }
  /** Whether part of a message has arrived (for telling an idle connection from a slow one). */
  get midMessage(): boolean {
    return this.pending !== undefined || this.end > this.start;
  }

  push(data: Uint8Array): void {
    if (this.failed) return;
    const need = this.end - this.start + data.length;
    if (this.end + data.length > this.buf.length) {
      const nb = need > this.buf.length ? new Uint8Array(Math.max(need, this.buf.length * 2)) : this.buf;
      nb.set(this.buf.subarray(this.start, this.end), 0);
      this.scanned -= this.start;
      this.end -= this.start;
      this.start = 0;
      this.buf = nb;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** The peer closed: a close-delimited response body ends here. */
  finish(): void {
    this.eof = true;
  }

  /** The next complete message, undefined if more bytes are needed, or an error (sticky). */
  next(): HttpRequest | (HttpResponseHead & { body: Uint8Array }) | ParseError | undefined {
    if (this.failed) return this.failed;
    const r = this.step();
    if (r && 'error' in r) this.failed = r;
    return r;
  }

  private step(): HttpRequest | (HttpResponseHead & { body: Uint8Array }) | ParseError | undefined {
    if (!this.pending) {
      // RFC 9112 §2.2: empty lines before a request line are ignored.
      while (this.mode === 'request' && this.start < this.end && (this.buf[this.start] === 0x0d || this.buf[this.start] === 0x0a))
        this.start++;
      const stop = headEnd(this.buf, Math.max(this.start, this.scanned - 3), this.end);
      if (stop < 0) {
        this.scanned = this.end;
        const have = this.end - this.start;
        if (this.mode === 'request') {
          let phase = this.rlPhase;
          let i = this.start + this.rlSeen;
          for (; i < this.end && phase >= 0 && phase !== RL_DONE; i++) phase = requestLineStep(phase, this.buf[i]!);
          if (phase < 0 && this.rlPhase >= 0) this.rlFailAt = i - 1 - this.start;
          this.rlPhase = phase;
          this.rlSeen = have;
        }
        // The limits are the ones parseHead applies to the whole head, whichever way its bytes arrive: the start line
        // (startLineFault: the fault at the earlier byte), and the longest head still without its end: start line,
        // CRLF, header lines, and the CR of the blank line.
        const fault = startLineFault(this.rlFailAt, lineTooLongAt(this.buf, this.start, this.end, this.limits.requestLine), this.mode);
        if (fault) return fault;
        if (have > this.limits.requestLine + 2 + this.limits.headerBytes + 1) return { error: 431, reason: 'header section too large' };
        if (this.eof && have > 0) return { error: 400, reason: 'connection closed inside a message head' };
        return undefined;
      }
      const head = this.parseHead(this.start, stop);
      this.start = this.scanned = stop;
      this.rlPhase = this.rlSeen = 0;
      this.rlFailAt = -1;
      if ('error' in head) return head;
      this.pending = { ...head, parts: [], size: 0, chunkLeft: -1, trailer: false };
    }
    return this.readBody();
  }

  private parseHead(from: number, to: number): { head: HttpRequest | HttpResponseHead; body: BodyMode } | ParseError {
    const text = latin1(this.buf, from, to);
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) if (lines[i]!.endsWith('\r')) lines[i] = lines[i]!.slice(0, -1);
    const first = lines[0]!;
    // The start line's first fault by byte position, as step() finds it while the bytes arrive, so that the answer does
    // not depend on how they arrived: a line that cannot be a request line is 400, unless it was too long before that.
    let failAt = -1;
    if (this.mode === 'request') {
      let phase = 0;
      for (let i = from; i < to && phase >= 0 && phase !== RL_DONE; i++) {
        phase = requestLineStep(phase, this.buf[i]!);
        if (phase < 0) failAt = i - from;
      }
    }
    const fault = startLineFault(failAt, lineTooLongAt(this.buf, from, to, this.limits.requestLine), this.mode);
    if (fault) return fault;
    const rl = this.mode === 'request' ? REQUEST_LINE.exec(first) : null;
    if (this.mode === 'request' && !rl) return { error: 400, reason: 'malformed request line' };
    // Then the bound step() applies to a head still without its end (all of it but its last LF), so that a head over
    // it gets 431 whether it arrived whole or in pieces, before any other fault in its lines is looked for.
    if (to - from - 1 > this.limits.requestLine + 2 + this.limits.headerBytes + 1)
      return { error: 431, reason: 'header section too large' };
    const headers: [string, string][] = [];
    let headerBytes = 0;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === '') break;
      headerBytes += line.length + 2;
      if (headerBytes > this.limits.headerBytes) return { error: 431, reason: 'header section too large' };
      if (headers.length >= this.limits.headerCount) return { error: 431, reason: 'too many header fields' };
      if (line[0] === ' ' || line[0] === '\t') return { error: 400, reason: 'obsolete line folding' };
      const colon = line.indexOf(':');
      if (colon <= 0) return { error: 400, reason: 'header line without a name' };
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) return { error: 400, reason: 'bad header name' };
      // OWS is spaces and tabs only (RFC 9110 §5.6.3): trim() would also take \v, \f and NBSP, so that
      // "chunked\v" became "chunked" here while a proxy in front saw another coding (request smuggling).
      const value = line.slice(colon + 1).replace(OWS_EDGES, '');
      if (!FIELD_VALUE.test(value)) return { error: 400, reason: 'control character in a header value' };
      headers.push([name.toLowerCase(), value]);
    }
    const framing = this.framing(headers);
    if ('error' in framing) return framing;
    if (rl) {
      const m = rl;
      if (m[3] !== '1') return { error: 505, reason: 'only HTTP/1.x is served' };
      const version = m[4] === '0' ? '1.0' : '1.1';
      // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (1.0 has no chunked coding).
      if (version === '1.0' && framing.kind === 'chunked') return { error: 400, reason: 'Transfer-Encoding in an HTTP/1.0 request' };
      if (version === '1.1' && header({ headers }, 'host') === undefined) return { error: 400, reason: 'HTTP/1.1 request without Host' };
      if (headers.filter(([k]) => k === 'host').length > 1) return { error: 400, reason: 'more than one Host' };
      const host = header({ headers }, 'host');
      if (host !== undefined && !HOST.test(host)) return { error: 400, reason: 'Host is not a valid host' };
      const conn = (header({ headers }, 'connection') ?? '').toLowerCase();
      const keepAlive = version === '1.1' ? !/\bclose\b/.test(conn) : /\bkeep-alive\b/.test(conn);
      const body: BodyMode = framing.kind === 'close' ? { kind: 'none' } : framing;
      return { head: { method: m[1]!, target: m[2]!, version, headers, body: EMPTY, keepAlive }, body };
    }
    const m = /^HTTP\/1\.(\d) (\d{3})(?: (.*))?$/.exec(first);
    if (!m) return { error: 502, reason: 'malformed status line' };
    const status = Number(m[2]);
    // An interim response (1xx but 101, after which the connection is no longer HTTP) precedes the final response to the
    // same request (RFC 9110 §15.2): that request's method stays expected.
    const interim = status >= 100 && status < 200 && status !== 101;
    const method = (interim ? this.expect[0] : this.expect.shift()) ?? 'GET';
    const noBody = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    return {
      head: { status, reason: m[3] ?? '', version: m[1] === '0' ? '1.0' : '1.1', headers },
      body: noBody ? { kind: 'none' } : framing,
    };
  }

  /** RFC 9112 §6.3: how the body is delimited. Both Content-Length and chunked is refused (request smuggling). */
  private framing(headers: readonly (readonly [string, string])[]): BodyMode | ParseError {
    let te: string | undefined, cl: string | undefined;
    for (const [k, v] of headers) {
      if (k === 'transfer-encoding') te = te === undefined ? v : `${te}, ${v}`;
      else if (k === 'content-length') {
        if (cl !== undefined && cl !== v) return { error: 400, reason: 'conflicting Content-Length' };
        cl = v;
      }
    }
    if (te !== undefined) {
      if (cl !== undefined) return { error: 400, reason: 'both Transfer-Encoding and Content-Length' };
      // RFC 9112 §6.1, §6.3: a list of codings (case-insensitive, empty elements ignored) whose last must be chunked,
      // applied once; otherwise the length cannot be known: 400 and close. A value that merely contains "chunked"
      // (xchunked, chunked;x=1, "chunked, gzip") is not chunked. Chunked after other codings is well framed, but
      // those codings are not implemented here: 501.
      const codings = te
        .split(',')
        .map((c) => c.replace(OWS_EDGES, '').toLowerCase())
        .filter((c) => c !== '');
      if (codings.at(-1) !== 'chunked') return { error: 400, reason: 'Transfer-Encoding does not end with chunked' };
      if (codings.indexOf('chunked') !== codings.length - 1) return { error: 400, reason: 'chunked applied more than once' };
      if (codings.length > 1) return { error: 501, reason: 'only chunked transfer coding is supported' };
      return { kind: 'chunked' };
    }
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) return { error: 400, reason: 'bad Content-Length' };
      const n = Number(cl);
      if (n > this.limits.body) return { error: 413, reason: 'body too large' };
      return n === 0 ? { kind: 'none' } : { kind: 'length', left: n };
    }
    return this.mode === 'request' ? { kind: 'none' } : { kind: 'close' };
  }

  private take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    if (this.start === this.end) this.start = this.end = this.scanned = 0;
    else this.scanned = Math.max(this.scanned, this.start);
    return out;
  }

  private complete(): HttpRequest | (HttpResponseHead & { body: Uint8Array }) {
    const p = this.pending!;
    this.pending = undefined;
    let body: Uint8Array = EMPTY;
    if (p.parts.length === 1) body = p.parts[0]!;
    else if (p.parts.length > 1) {
      body = new Uint8Array(p.size);
      let at = 0;
      for (const part of p.parts) {
        body.set(part, at);
        at += part.length;
      }
    }
    return { ...p.head, body } as HttpRequest | (HttpResponseHead & { body: Uint8Array });
  }

  private readBody(): HttpRequest | (HttpResponseHead & { body: Uint8Array }) | ParseError | undefined {
    const p = this.pending!;
    switch (p.body.kind) {
      case 'none':
        return this.complete();
      case 'length': {
        const n = Math.min(p.body.left, this.end - this.start);
        if (n > 0) {
          p.parts.push(this.take(n));
          p.size += n;
          p.body.left -= n;
        }
        if (p.body.left === 0) return this.complete();
        if (this.eof) return { error: 400, reason: 'connection closed inside a body' };
        return undefined;
      }
      case 'close': {
        const n = this.end - this.start;
        if (n > 0) {
          if (p.size + n > this.limits.body) return { error: 413, reason: 'body too large' };
          p.parts.push(this.take(n));
          p.size += n;
        }
        return this.eof ? this.complete() : undefined;
      }
      case 'chunked':
        return this.readChunks(p);
    }
  }

  private readChunks(
    p: NonNullable<HttpParser['pending']>,
  ): HttpRequest | (HttpResponseHead & { body: Uint8Array }) | ParseError | undefined {
    for (;;) {
      if (p.chunkLeft > 0) {
        const n = Math.min(p.chunkLeft, this.end - this.start);
        if (n === 0) return this.eof ? { error: 400, reason: 'connection closed inside a chunk' } : undefined;
        p.parts.push(this.take(n));
        p.size += n;
        p.chunkLeft -= n;
        if (p.chunkLeft > 0) return undefined;
        p.chunkLeft = -2; // Now the CRLF after the data.
      }
      const nl = this.buf.subarray(this.start, this.end).indexOf(0x0a);
      if (nl < 0) {
        if (this.end - this.start > 1024) return { error: 400, reason: 'chunk line too long' };
        return this.eof ? { error: 400, reason: 'connection closed inside a chunked body' } : undefined;
      }
      const line = latin1(this.buf, this.start, this.start + nl).replace(/\r$/, '');
      this.take(nl + 1);
      if (p.chunkLeft === -2) {
        if (line !== '') return { error: 400, reason: 'chunk data not followed by CRLF' };
        p.chunkLeft = -1;
        continue;
      }
      if (p.trailer) {
        if (line === '') return this.complete();
        continue; // Trailer fields are read and dropped.
      }
      const m = /^([0-9A-Fa-f]{1,8})(?:[ \t]*;.*)?$/.exec(line);
      if (!m) return { error: 400, reason: 'bad chunk size' };
      const size = parseInt(m[1]!, 16);
      if (p.size + size > this.limits.body) return { error: 413, reason: 'body too large' };
      if (size === 0) {
        p.trailer = true;
        continue;
      }
      p.chunkLeft = size;
    }
  }
}
