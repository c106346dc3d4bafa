/**
 * The HTTP/1.1 message parser against RFC 9112.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpParser, type HttpLimits, type HttpRequest, type HttpResponseHead, type ParseError } from './parser.ts';

type Message = HttpRequest | (HttpResponseHead & { body: Uint8Array });

/** One byte per character (header bytes are ISO-8859-1). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
const str = (b: Uint8Array): string => String.fromCharCode(...b);

/** Every message (and at most one error, last) the parser gives for `chunks` pushed in turn; `eof` calls finish() at the end. */
function run(
  mode: 'request' | 'response',
  chunks: (string | Uint8Array)[],
  opts: { limits?: Partial<HttpLimits>; eof?: boolean; expect?: string[] } = {},
) {
  const p = new HttpParser(mode, opts.limits);
  p.expect.push(...(opts.expect ?? []));
  const out: (Message | ParseError)[] = [];
  const drain = (): boolean => {
    for (let r = p.next(); r; r = p.next()) {
      out.push(r);
      if ('error' in r) return false;
    }
    return true;
  };
  for (const c of chunks) {
    p.push(typeof c === 'string' ? bytes(c) : c);
    if (!drain()) return { out, p };
  }
  if (opts.eof) {
    p.finish();
    drain();
  }
  return { out, p };
}

const req = (wire: string | (string | Uint8Array)[], limits?: Partial<HttpLimits>) =>
  run('request', typeof wire === 'string' ? [wire] : wire, { limits }).out;

function fails(wire: string | (string | Uint8Array)[], error: number, reason: RegExp, limits?: Partial<HttpLimits>, eof = false): void {
  const out = run('request', typeof wire === 'string' ? [wire] : wire, { limits, eof }).out;
  const r = out.at(-1);
  const what = JSON.stringify(typeof wire === 'string' ? wire.slice(0, 80) : wire.length);
  assert.ok(r && 'error' in r, `${what} → ${JSON.stringify(r && 'body' in r ? { ...r, body: str(r.body) } : r)}`);
  assert.equal(r.error, error, `${what}: ${r.reason}`);
  assert.match(r.reason, reason, what);
}

const H = 'Host: a\r\n';

test('limits: a head at both limits is accepted, and one past either refused, however its bytes are split', () => {
  const limits = { requestLine: 30, headerBytes: 20 };
  const line = (n: number): string => `GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1\r\n`;
  const fields = (n: number): string => `Host: a\r\nX: ${'1'.repeat(n - 14)}\r\n`;
  const cases: [string, number | 'ok'][] = [
    [`${line(30)}${fields(20)}\r\n`, 'ok'],
    [`${line(31)}${fields(20)}\r\n`, 414],
    [`${line(30)}${fields(21)}\r\n`, 431],
    [`${line(30).replace('\r\n', '\n')}${fields(20).replaceAll('\r\n', '\n')}\n`, 'ok'],
  ];
  for (const [wire, want] of cases)
    for (let cut = 1; cut < wire.length; cut++) {
      const r = req([wire.slice(0, cut), wire.slice(cut)], limits).at(-1);
      assert.equal(r && ('error' in r ? r.error : 'ok'), want, `${JSON.stringify(wire)} cut at ${cut}: ${JSON.stringify(r)}`);
    }
});

test('limits: a head that never ends is refused once it is longer than any head the limits allow, less its last LF', () => {
  // Request line, CRLF, header lines, and the CR of the blank line: 30 + 2 + 50 + 1.
  const limits = { requestLine: 30, headerBytes: 50 };
  const start = 'GET / HTTP/1.1\r\n';
  const pad = (n: number): string => start + 'X'.repeat(n - start.length);
  assert.deepEqual(req(pad(83), limits), []);
  fails(pad(84), 431, /^header section too large$/, limits);
  // What counts is this head's bytes, not the request before it on the same connection.
  const first = `GET /first HTTP/1.1\r\n${H}\r\n`;
  const out = req([first + pad(83)], limits);
  assert.equal(out.length, 1);
  assert.equal((out[0] as HttpRequest).target, '/first');
});
