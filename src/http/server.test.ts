/**
 * The HTTP/1.1 server over a fake byte stream: the response head byte for
 * byte (status line and reason, Date, Server, Content-Length, Connection),
 * no body where RFC 9110 forbids one, keep-alive and close, pipelining in
 * order with handlers that answer late, back-pressure, the deadlines, and
 * handlers that fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpRequest } from './parser.ts';
import { HttpServer, type AccessLogEntry, type HttpHandler, type HttpResponse, type HttpServerOptions, type HttpStream } from './server.ts';

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

test('server: the response head exactly: status line, Date, Content-Length, the handler fields in order, then the body', () => {
  const { c } = serve(echo);
  c.send(GET('/x'));
  assert.equal(c.read(), `HTTP/1.1 200 OK\r\nDate: ${DATE}\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nGET /x`);
  const s = serve(() => ({ status: 200 }), { server: 'fata/1' });
  s.c.send(GET());
  assert.equal(s.c.read(), `HTTP/1.1 200 OK\r\nDate: ${DATE}\r\nServer: fata/1\r\nContent-Length: 0\r\n\r\n`);
});

test('server: the reason phrase of each status it may send (RFC 9110 §15), "Unknown" for others', () => {
  const reasons: [number, string][] = [
    [200, 'OK'],
    [204, 'No Content'],
    [206, 'Partial Content'],
    [301, 'Moved Permanently'],
    [302, 'Found'],
    [304, 'Not Modified'],
    [308, 'Permanent Redirect'],
    [400, 'Bad Request'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [405, 'Method Not Allowed'],
    [408, 'Request Timeout'],
    [412, 'Precondition Failed'],
    [413, 'Content Too Large'],
    [414, 'URI Too Long'],
    [416, 'Range Not Satisfiable'],
    [431, 'Request Header Fields Too Large'],
    [500, 'Internal Server Error'],
    [501, 'Not Implemented'],
    [503, 'Service Unavailable'],
    [505, 'HTTP Version Not Supported'],
    [299, 'Unknown'],
    [418, 'Unknown'],
  ];
  for (const [status, reason] of reasons) {
    const { c } = serve(() => ({ status }));
    c.send(GET());
    assert.equal(c.read().split('\r\n')[0], `HTTP/1.1 ${status} ${reason}`);
  }
});

test('server: no Content-Length and no body in 1xx, 204 and 304; HEAD gets the length without the body (RFC 9110 §8.6, §9.3.2)', () => {
  for (const status of [100, 101, 199, 204, 304]) {
    const { c } = serve(() => ({ status, headers: [['ETag', '"e"']], body: bytes('body') }));
    c.send(GET());
    const out = c.read();
    assert.ok(!/Content-Length/i.test(out), `${status}: ${out}`);
    assert.ok(out.endsWith('ETag: "e"\r\n\r\n'), `${status}: ${out}`);
  }
  for (const status of [200, 404]) {
    const { c } = serve(() => ({ status, body: bytes('body') }));
    c.send('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(c.read(), `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Not Found'}\r\nDate: ${DATE}\r\nContent-Length: 4\r\n\r\n`);
  }
  const { c } = serve(() => ({ status: 200, body: bytes('x') }));
  c.send(GET());
  assert.ok(c.read().endsWith('Content-Length: 1\r\n\r\nx'));
});

test('server: Connection in the answer: none for 1.1 keep-alive, keep-alive for 1.0 keep-alive, close and an end when the client asked', () => {
  const a = serve(echo);
  a.c.send(GET('/k'));
  assert.doesNotMatch(a.c.read(), /Connection/);
  assert.equal(a.c.st.ended, 0);
  const b = serve(echo);
  b.c.send('GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.match(b.c.read(), /\r\nConnection: keep-alive\r\n/);
  assert.equal(b.c.st.ended, 0);
  for (const wire of [GET('/c', 'Connection: close\r\n'), 'GET /c HTTP/1.0\r\n\r\n']) {
    const d = serve(echo);
    d.c.send(`${wire}${GET('/after')}`);
    const out = d.c.read();
    assert.match(out, /\r\nConnection: close\r\n\r\nGET \/c$/, 'nothing after a response that closes');
    assert.equal(d.c.st.ended, 1);
    d.c.send(GET('/later'));
    assert.equal(d.c.read(), '');
  }
});

test('server: pipelined requests are answered in order when the handler answers late and out of order', async () => {
  const pending: { req: HttpRequest; resolve: (r: HttpResponse) => void }[] = [];
  const seen: string[] = [];
  const { c } = serve((req) => {
    seen.push(req.target);
    return new Promise<HttpResponse>((resolve) => pending.push({ req, resolve }));
  });
  c.send(GET('/1') + GET('/2') + GET('/3'));
  assert.deepEqual(seen, ['/1'], 'one request at a time');
  pending[0]!.resolve({ status: 200, body: bytes('one') });
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(seen, ['/1', '/2']);
  pending[1]!.resolve({ status: 200, body: bytes('two') });
  await new Promise((r) => setImmediate(r));
  pending[2]!.resolve({ status: 200, body: bytes('three') });
  await new Promise((r) => setImmediate(r));
  const out = c.read();
  assert.deepEqual(
    [...out.matchAll(/\r\n\r\n(one|two|three)/g)].map((m) => m[1]),
    ['one', 'two', 'three'],
  );
});

test('server: the client half-closes: pending answers still go out, then the server ends its side', async () => {
  let resolve!: (r: HttpResponse) => void;
  const { c, srv } = serve(() => new Promise<HttpResponse>((r) => (resolve = r)));
  c.send(GET('/slow'));
  c.fin();
  assert.equal(c.st.ended, 0, 'not while the handler works');
  resolve({ status: 200, body: bytes('late') });
  await new Promise((r) => setImmediate(r));
  assert.match(c.read(), /late$/);
  assert.equal(c.st.ended, 1);
  // With nothing asked, the end is answered with an end; a head cut off by it gets 400.
  const idle = serve(echo);
  idle.c.fin();
  assert.equal(idle.c.st.ended, 1);
  assert.equal(idle.c.read(), '');
  const cut = serve(echo);
  cut.c.send('GET / HT');
  cut.c.fin();
  assert.match(cut.c.read(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\nconnection closed inside a message head\n$/);
  assert.equal(cut.c.st.ended, 1);
  assert.equal(srv.counters.responses, 1);
});

test('server: a bad request gets its status, the parser reason as body, Connection: close, and is counted', () => {
  const log: AccessLogEntry[] = [];
  const { c, srv } = serve(echo, { onAccess: (e) => log.push(e) });
  c.send('GET / HTTP/1.1\r\n\r\n');
  assert.equal(
    c.read(),
    `HTTP/1.1 400 Bad Request\r\nDate: ${DATE}\r\nContent-Length: 30\r\nConnection: close\r\n\r\nHTTP/1.1 request without Host\n`,
  );
  assert.equal(c.st.ended, 1);
  assert.deepEqual(srv.counters, { connections: 1, responses: 1, badRequests: 1, timeouts: 0 });
  assert.deepEqual(log, [{ remote: '192.0.2.7', method: '-', target: '-', status: 400, bytes: 30, userAgent: '-' }]);
});

test('server: a TLS ClientHello on the plain-HTTP port gets 400 and a close at once, not a wait for the head deadline', () => {
  const { c, srv } = serve(echo);
  c.send(String.fromCharCode(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03));
  assert.match(c.read(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n\r\nmalformed request line\n$/);
  assert.equal(c.st.ended, 1);
  assert.equal(srv.counters.badRequests, 1);
});

test('server: a Host that is not a host gets 400 and a close', () => {
  const { c } = serve(echo);
  c.send('GET / HTTP/1.1\r\nHost: a b\r\n\r\n');
  assert.match(c.read(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\nHost is not a valid host\n$/);
  assert.equal(c.st.ended, 1);
});

test('server: the access log has the request, the status and the body bytes sent; the handler sees the peer', () => {
  const log: AccessLogEntry[] = [];
  const from: unknown[] = [];
  const { c } = serve(
    (req, f) => {
      from.push(f);
      return echo(req, f);
    },
    { onAccess: (e) => log.push(e) },
  );
  c.send(GET('/p', 'User-Agent: curl/8\r\n') + 'HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.deepEqual(log, [
    { remote: '192.0.2.7', method: 'GET', target: '/p', status: 200, bytes: 6, userAgent: 'curl/8' },
    { remote: '192.0.2.7', method: 'HEAD', target: '/h', status: 200, bytes: 0, userAgent: '-' },
  ]);
  assert.deepEqual(from, [
    { remote: '192.0.2.7', remotePort: 4321 },
    { remote: '192.0.2.7', remotePort: 4321 },
  ]);
});

test('server: a handler that throws or rejects gets 500, reported to onError, and the connection goes on', async () => {
  const errors: unknown[] = [];
  let n = 0;
  const boom = new Error('boom');
  const handler: HttpHandler = (req) => {
    n++;
    if (req.target === '/throw') throw boom;
    if (req.target === '/reject') return Promise.reject(boom);
    return { status: 200, body: bytes('fine') };
  };
  const { c, srv } = serve(handler, { onError: (e) => errors.push(e) });
  c.send(GET('/throw') + GET('/reject') + GET('/ok'));
  await new Promise((r) => setImmediate(r));
  const out = c.read();
  assert.deepEqual(
    [...out.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]),
    ['500', '500', '200'],
  );
  assert.equal((out.match(/\r\n\r\ninternal error\n/g) ?? []).length, 2);
  assert.deepEqual(errors, [boom, boom]);
  assert.equal(n, 3);
  assert.equal(srv.counters.responses, 3);
  // Without onError the 500 still goes out.
  const quiet = serve(handler);
  quiet.c.send(GET('/throw') + GET('/reject'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    [...quiet.c.read().matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]),
    ['500', '500'],
  );
});

test('server: a body up to 16 KiB goes out in one write with its head; a larger one in a write of its own', () => {
  for (const [size, writes] of [
    [16 * 1024, 1],
    [16 * 1024 + 1, 2],
  ] as const) {
    const body = new Uint8Array(size).fill(0x61);
    const { c } = serve(() => ({ status: 200, body }));
    c.send(GET());
    assert.equal(c.st.writes.length, writes, `${size} bytes`);
    assert.equal(c.st.writes.at(-1)!.slice(-size), 'a'.repeat(size));
    assert.ok(c.st.writes[0]!.startsWith('HTTP/1.1 200 OK\r\n'));
  }
});

test('server: a client that stops reading: responses queue, reading stops past 256 KiB queued and resumes once all is written', () => {
  const body = new Uint8Array(100 * 1024);
  const { c, srv } = serve(() => ({ status: 200, body }));
  c.st.take = 0;
  const seen = (): number => srv.counters.responses;
  c.send(GET().repeat(5));
  // 100 KiB each: after the third the queue is past 256 KiB, and the rest wait unread.
  assert.equal(seen(), 3);
  assert.equal(c.st.paused, 1);
  c.send(GET());
  assert.equal(seen(), 3);
  assert.equal(c.st.paused, 1, 'paused once');
  // The client takes part of it: still paused, nothing more read.
  c.st.take = 250 * 1024;
  c.drain();
  assert.deepEqual([c.st.resumed, seen()], [0, 3]);
  c.st.take = Infinity;
  c.drain();
  assert.equal(c.st.resumed, 1);
  // Resumed, it reads on: the waiting requests are answered, and all of it is written out in order.
  assert.equal(seen(), 6);
  const out = c.read();
  assert.equal((out.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 6);
  assert.equal(out.length, 6 * (body.length + `HTTP/1.1 200 OK\r\nDate: ${DATE}\r\nContent-Length: 102400\r\n\r\n`.length));
  // The same again: it pauses and resumes each time.
  c.st.take = 0;
  c.send(GET().repeat(4));
  assert.deepEqual([seen(), c.st.paused], [9, 2]);
  c.st.take = Infinity;
  c.drain();
  assert.deepEqual([seen(), c.st.resumed], [10, 2]);
});

test('server: exactly 256 KiB queued still reads the next request; a byte more does not', () => {
  const head = (n: number): string => `HTTP/1.1 200 OK\r\nDate: ${DATE}\r\nContent-Length: ${n}\r\n\r\n`;
  for (const extra of [0, 1]) {
    const n = 256 * 1024 - head(200_000).length + extra;
    const { c, srv } = serve((req) => ({ status: 200, body: new Uint8Array(req.target === '/big' ? n : 10) }));
    c.st.take = 0;
    c.send(GET('/big') + GET('/small'));
    assert.equal(srv.counters.responses, extra === 0 ? 2 : 1, `${extra}`);
    assert.equal(c.st.paused, 1);
  }
});

test('server: a short write: the rest goes out on drain, before anything else, and a close waits for it', () => {
  const { c } = serve(echo);
  c.st.take = 10;
  c.send(GET('/first', 'Connection: close\r\n'));
  assert.equal(c.st.ended, 0, 'not ended while the response is queued');
  c.st.take = 20;
  c.drain();
  assert.equal(c.st.ended, 0);
  c.st.take = Infinity;
  c.drain();
  assert.equal(
    c.read(),
    `HTTP/1.1 200 OK\r\nDate: ${DATE}\r\nContent-Length: 10\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nGET /first`,
  );
  assert.equal(c.st.ended, 1);
  // A drain with nothing queued on a keep-alive connection ends nothing.
  const k = serve(echo);
  k.c.send(GET());
  k.c.drain();
  assert.equal(k.c.st.ended, 0);
  // Reading was never paused, so there is nothing to resume.
  assert.deepEqual([c.st.paused, c.st.resumed, k.c.st.paused, k.c.st.resumed], [0, 0, 0, 0]);
});

test('server: deadlines: 408 for a head that takes too long, a silent close for an idle connection, both at the exact deadline', () => {
  const t = { now: 0n };
  const { srv, c } = serve(echo, { t, headerTimeoutMs: 5_000, idleTimeoutMs: 20_000 });
  assert.equal(srv.nextDeadline(), 20_000_000_000n);
  t.now = 19_999_999_999n;
  srv.sweep();
  assert.equal(c.st.ended + c.st.destroyed, 0);
  c.send('GET / HTTP/1.1\r\n');
  assert.equal(srv.nextDeadline(), t.now + 5_000_000_000n);
  t.now += 4_999_999_999n;
  srv.sweep();
  assert.equal(c.read(), '');
  t.now += 1n;
  srv.sweep();
  assert.equal(
    c.read(),
    `HTTP/1.1 408 Request Timeout\r\nDate: ${DATE}\r\nContent-Length: 16\r\nConnection: close\r\n\r\nrequest timeout\n`,
  );
  assert.equal(srv.counters.timeouts, 1);
  assert.equal(c.st.ended, 1);

  const idle = serve(echo, { t: { now: 0n }, idleTimeoutMs: 20_000 });
  idle.c.send(GET());
  idle.c.read();
  idle.t.now = 20_000_000_000n;
  idle.srv.sweep();
  assert.equal(idle.c.read(), '', 'an idle connection is closed without a 408');
  assert.equal(idle.c.st.destroyed, 1);
  assert.equal(idle.srv.size, 0);
  assert.equal(idle.srv.nextDeadline(), undefined);
  assert.equal(idle.srv.counters.timeouts, 0);
});

test('server: the default deadlines are 10 s for a head and 60 s idle', () => {
  const a = serve(echo);
  assert.equal(a.srv.nextDeadline(), 60_000_000_000n);
  a.c.send('GET');
  assert.equal(a.srv.nextDeadline(), 10_000_000_000n);
});

test('server: a handler at work is not timed out; a client that stops reading is dropped after the idle timeout from its last progress', async () => {
  const t = { now: 0n };
  let resolve!: (r: HttpResponse) => void;
  const { srv, c } = serve(() => new Promise<HttpResponse>((r) => (resolve = r)), { t, headerTimeoutMs: 1_000, idleTimeoutMs: 10_000 });
  c.send(GET());
  t.now = 5_000_000_000n;
  srv.sweep();
  assert.equal(c.read(), '', 'no 408 while the handler works');
  c.st.take = 10;
  resolve({ status: 200, body: new Uint8Array(1000) });
  await new Promise((r) => setImmediate(r));
  // Progress at 12 s moves the deadline to 22 s.
  t.now = 12_000_000_000n;
  c.st.take = 10;
  c.drain();
  t.now = 21_000_000_000n;
  srv.sweep();
  assert.equal(c.st.destroyed, 0);
  assert.equal(srv.nextDeadline(), 22_000_000_000n);
  c.st.take = 0;
  t.now = 22_000_000_000n;
  srv.sweep();
  assert.equal(c.st.destroyed, 1);
  assert.equal(srv.size, 0);
});

test('server: the earliest deadline of several connections, and connections counted and forgotten when they close', () => {
  const t = { now: 0n };
  const srv = new HttpServer(echo, { now: () => t.now, date: () => DATE, idleTimeoutMs: 1_000, headerTimeoutMs: 500 });
  assert.equal(srv.nextDeadline(), undefined);
  const a = fakeClient(),
    b = fakeClient();
  srv.accept(a.stream);
  t.now = 100n;
  srv.accept(b.stream);
  assert.equal(srv.size, 2);
  assert.equal(srv.counters.connections, 2);
  assert.equal(srv.nextDeadline(), 1_000_000_000n);
  b.send('G');
  assert.equal(srv.nextDeadline(), 500_000_100n);
  b.reset();
  assert.equal(srv.size, 1);
  assert.equal(srv.nextDeadline(), 1_000_000_000n);
  a.reset();
  a.reset();
  assert.equal(srv.size, 0);
  assert.equal(srv.counters.connections, 2);
});

test('server: an answer that comes after the client went away is not written, logged or counted', async () => {
  const log: AccessLogEntry[] = [];
  let resolve!: (r: HttpResponse) => void;
  const { c, srv } = serve(() => new Promise<HttpResponse>((r) => (resolve = r)), { onAccess: (e) => log.push(e) });
  c.send(GET() + GET());
  c.reset();
  resolve({ status: 200, body: bytes('late') });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(c.st.writes, []);
  assert.deepEqual(log, []);
  assert.equal(srv.counters.responses, 0);
});

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

test('server: a client that stops reading with part of a next request sent is dropped at the idle deadline, not sent a 408', () => {
  const t = { now: 0n };
  const { srv, c } = serve(echo, { t, headerTimeoutMs: 1_000, idleTimeoutMs: 5_000 });
  c.st.take = 0;
  c.send(`${GET('/a')}GET /b HT`);
  t.now = 4_999_999_999n;
  srv.sweep();
  assert.deepEqual([c.st.destroyed, srv.counters.timeouts], [0, 0]);
  t.now = 5_000_000_000n;
  srv.sweep();
  assert.deepEqual([c.st.destroyed, srv.counters.timeouts, srv.size], [1, 0, 0]);
});

test('server: an expired connection is forgotten even when the stream does not report its close', () => {
  const t = { now: 0n };
  const srv = new HttpServer(echo, { now: () => t.now, date: () => DATE, idleTimeoutMs: 1_000 });
  const c = fakeClient();
  c.stream.destroy = () => {
    c.st.destroyed++;
  };
  srv.accept(c.stream);
  t.now = 1_000_000_000n;
  srv.sweep();
  assert.deepEqual([c.st.destroyed, srv.size, srv.nextDeadline()], [1, 0, undefined]);
});
