/**
 * The HTTP/1.1 server over a fake byte stream: the response head byte for
 * byte (status line and reason, Date, Server, Content-Length, Connection),
 * no body where RFC 9110 forbids one, keep-alive and close, pipelining in
 * order with handlers that answer late, back-pressure, the deadlines, and
 * handlers that fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpServer, type HttpHandler, type HttpServerOptions, type HttpStream } from './server.ts';

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
const str = (b: Uint8Array): string => String.fromCharCode(...b);
const DATE = 'Mon, 30 Nov 2026 12:00:00 GMT';

/** The client's end of a connection: every write the server made, and calls into the server's callbacks; `take` is how many more bytes it accepts. */
function fakeClient(take = Infinity) {
  const st = { writes: [] as string[], take, ended: 0, destroyed: 0, paused: 0, resumed: 0, closedCalled: false };
  const s: HttpStream = {
    remote: '192.0.2.7',
    remotePort: 4321,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      const n = Math.min(d.length, st.take);
      st.take -= n;
      if (n > 0) st.writes.push(str(d.subarray(0, n)));
      return n;
    },
    end: () => {
      st.ended++;
    },
    destroy: () => {
      st.destroyed++;
      s.onClose?.('reset');
    },
    pause: () => {
      st.paused++;
    },
    resume: () => {
      st.resumed++;
    },
  };
  return {
    stream: s,
    st,
    send: (t: string) => s.onData?.(bytes(t)),
    fin: () => s.onEnd?.(),
    reset: () => s.onClose?.('reset'),
    drain: () => s.onDrain?.(),
    /** Everything written so far, taken. */
    read: (): string => st.writes.splice(0).join(''),
  };
}

function serve(handler: HttpHandler, opts: Partial<HttpServerOptions> & { t?: { now: bigint } } = {}) {
  const t = opts.t ?? { now: 0n };
  const srv = new HttpServer(handler, { now: () => t.now, date: () => DATE, ...opts });
  const c = fakeClient();
  srv.accept(c.stream);
  return { srv, c, t };
}

const GET = (path = '/', extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
const echo: HttpHandler = (req) => ({ status: 200, headers: [['Content-Type', 'text/plain']], body: bytes(`${req.method} ${req.target}`) });

test('server: after a response that closes, bytes of a next request get no 408: a peer that keeps its side open is dropped at the deadline', () => {
  const t = { now: 0n };
  const { srv, c } = serve(echo, { t, headerTimeoutMs: 1_000, idleTimeoutMs: 5_000 });
  c.send(`${GET('/last', 'Connection: close\r\n')}GET /next HTTP/1.1\r\n`);
  assert.match(c.read(), /Connection: close\r\n\r\nGET \/last$/);
  assert.equal(c.st.ended, 1);
  for (let s = 1n; s <= 10n; s++) {
    t.now = s * 1_000_000_000n;
    srv.sweep();
  }
  assert.deepEqual(c.st.writes, [], 'nothing written after the end');
  assert.equal(c.st.destroyed, 1);
  assert.equal(srv.size, 0);
  assert.equal(srv.counters.timeouts, 0);
});
