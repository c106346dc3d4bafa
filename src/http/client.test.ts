/**
 * The HTTP/1.1 client over a fake byte stream: the exact request bytes,
 * pipelined requests answered in order, each response framing, a short
 * write finished on drain, and every way the connection can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient } from './client.ts';
import type { HttpStream } from './server.ts';

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
const str = (b: Uint8Array): string => String.fromCharCode(...b);

/** The server's end of a connection: what the client wrote, and calls into the client's callbacks. */
function fakeServer(take = Infinity) {
  const state = { written: '', writes: 0, take, ended: 0 };
  const s: HttpStream = {
    remote: '10.0.0.2',
    remotePort: 80,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      const n = Math.min(d.length, state.take);
      state.written += str(d.subarray(0, n));
      state.writes++;
      return n;
    },
    end: () => {
      state.ended++;
    },
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
  return {
    stream: s,
    state,
    send: (t: string | Uint8Array) => s.onData?.(typeof t === 'string' ? bytes(t) : t),
    fin: () => s.onEnd?.(),
    close: (e?: string) => s.onClose?.(e),
    drain: () => s.onDrain?.(),
  };
}

/** Settles on the next turn: a promise that is still pending then is reported as such. */
async function settled<T>(p: Promise<T>): Promise<{ value?: T; error?: Error; pending?: true }> {
  const marker = {};
  const r = await Promise.race([
    p.then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    ),
    new Promise((res) => setImmediate(() => res(marker))),
  ]);
  return r === marker ? { pending: true } : (r as { value?: T; error?: Error });
}

test('client: the request as written on the wire, with Host, the given fields and Content-Length for a body', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream);
  const a = c.request({ path: '/a?b=1', host: 'example.org' });
  const b = c.request({
    method: 'POST',
    path: '/up',
    host: 'h:8080',
    headers: [
      ['X-One', '1'],
      ['Accept', '*/*'],
    ],
    body: bytes('caf\xe9'),
  });
  const e = c.request({ method: 'PUT', path: '/e', host: 'h', body: new Uint8Array(0) });
  assert.equal(
    srv.state.written,
    'GET /a?b=1 HTTP/1.1\r\nHost: example.org\r\n\r\n' +
      'POST /up HTTP/1.1\r\nHost: h:8080\r\nX-One: 1\r\nAccept: */*\r\nContent-Length: 4\r\n\r\ncaf\xe9' +
      'PUT /e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n',
  );
  assert.equal(srv.state.writes, 3, 'each request goes out in one write');
  srv.send(
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  );
  const [ra, rb, re] = await Promise.all([a, b, e]);
  assert.deepEqual([ra.status, ra.reason, str(ra.body)], [200, 'OK', 'ok']);
  assert.deepEqual([rb.status, rb.reason], [201, 'Created']);
  assert.equal(re.status, 204);
});

test('client: pipelined responses of every framing resolve in order, even when they arrive a byte at a time', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream);
  const ps = [
    c.request({ path: '/1', host: 'h' }),
    c.request({ method: 'HEAD', path: '/2', host: 'h' }),
    c.request({ path: '/3', host: 'h' }),
    c.request({ path: '/4', host: 'h' }),
  ];
  const wire =
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none' +
    'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + // HEAD: the length of what a GET would get, no body
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nth\r\n3\r\nree\r\n0\r\n\r\n' +
    'HTTP/1.0 200 OK\r\nX-Last: 1\r\n\r\nto the end';
  for (const ch of wire) srv.send(ch);
  assert.deepEqual((await settled(ps[3]!)).pending, true, 'a close-delimited body waits for the end');
  srv.fin();
  const got = await Promise.all(ps);
  assert.deepEqual(
    got.map((r) => [r.version, str(r.body)]),
    [
      ['1.1', 'one'],
      ['1.1', ''],
      ['1.1', 'three'],
      ['1.0', 'to the end'],
    ],
  );
  assert.deepEqual(got[3]!.headers, [['x-last', '1']]);
  // The server closed: what is asked now fails at once.
  await assert.rejects(c.request({ path: '/5', host: 'h' }), /the server closed the connection/);
});

test('client: a short write is finished on drain, in order, before the next request', async () => {
  const srv = fakeServer(5);
  const c = new HttpClient(srv.stream);
  void c.request({ path: '/first', host: 'h' });
  void c.request({ path: '/second', host: 'h' });
  assert.equal(srv.state.written, 'GET /');
  for (let i = 0; i < 100; i++) srv.drain();
  assert.equal(srv.state.written, 'GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n');
  const before = srv.state.writes;
  srv.drain();
  assert.equal(srv.state.writes, before, 'nothing left to write');
  srv.state.take = Infinity;
  void c.request({ path: '/third', host: 'h' });
  assert.match(srv.state.written, /\r\n\r\nGET \/third HTTP\/1\.1\r\nHost: h\r\n\r\n$/);
});

test('client: a request made while an earlier one still waits to be written queues behind it', () => {
  const srv = fakeServer(0);
  const c = new HttpClient(srv.stream);
  void c.request({ path: '/a', host: 'h' });
  srv.state.take = Infinity;
  void c.request({ path: '/b', host: 'h' });
  assert.equal(srv.state.written, '', 'not written ahead of /a');
  srv.drain();
  assert.equal(srv.state.written, 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n');
});

test('client: a bad response fails it and every request after it; so does a reset, with its reason', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream);
  const a = c.request({ path: '/a', host: 'h' });
  const b = c.request({ path: '/b', host: 'h' });
  srv.send('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxNOT HTTP\r\n\r\n');
  assert.equal(str((await a).body), 'x');
  await assert.rejects(b, { message: 'bad response: malformed status line' });
  await assert.rejects(c.request({ path: '/c', host: 'h' }), { message: 'bad response: malformed status line' });

  const srv2 = fakeServer();
  const c2 = new HttpClient(srv2.stream);
  const d = c2.request({ path: '/d', host: 'h' });
  srv2.close('reset');
  await assert.rejects(d, { message: 'connection closed (reset)' });
  const srv3 = fakeServer();
  const c3 = new HttpClient(srv3.stream);
  const f = c3.request({ path: '/f', host: 'h' });
  srv3.close();
  await assert.rejects(f, { message: 'connection closed' });
  // The first failure is the one every later request gets.
  srv3.close('later');
  await assert.rejects(c3.request({ path: '/g', host: 'h' }), { message: 'connection closed' });
});

test('client: the end of input inside a response fails it; a response nobody asked for is left unread', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream);
  const a = c.request({ path: '/a', host: 'h' });
  srv.send('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab');
  srv.fin();
  await assert.rejects(a, { message: 'bad response: connection closed inside a body' });

  const srv2 = fakeServer();
  const c2 = new HttpClient(srv2.stream);
  srv2.send('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx');
  const b = c2.request({ path: '/b', host: 'h' });
  srv2.send('');
  assert.equal(str((await b).body), 'x');
  c2.close();
  assert.equal(srv2.state.ended, 1, 'close() ends the stream');
});

test('client: the body limit is 64 MiB unless given', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream, { body: 4 });
  const a = c.request({ path: '/a', host: 'h' });
  srv.send('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
  await assert.rejects(a, { message: 'bad response: body too large' });
  // 64 MiB is taken (the body is awaited), a byte more is refused from the head alone.
  const srv2 = fakeServer();
  const big = new HttpClient(srv2.stream).request({ path: '/big', host: 'h' });
  srv2.send(`HTTP/1.1 200 OK\r\nContent-Length: ${64 << 20}\r\n\r\n`);
  assert.deepEqual(await settled(big), { pending: true });
  const srv3 = fakeServer();
  const over = new HttpClient(srv3.stream).request({ path: '/over', host: 'h' });
  srv3.send(`HTTP/1.1 200 OK\r\nContent-Length: ${(64 << 20) + 1}\r\n\r\n`);
  await assert.rejects(over, { message: 'bad response: body too large' });
});

test('client: interim 1xx responses are read and skipped, the request gets its final response; 101 is final (RFC 9110 §15.2)', async () => {
  const srv = fakeServer();
  const c = new HttpClient(srv.stream);
  const head = c.request({ method: 'HEAD', path: '/h', host: 'h' });
  const get = c.request({ path: '/g', host: 'h' });
  srv.send(
    'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' + // the HEAD's: no body
      'HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  );
  const [h, g] = await Promise.all([head, get]);
  assert.deepEqual([h.status, h.body.length], [200, 0]);
  assert.deepEqual([g.status, new TextDecoder().decode(g.body)], [200, 'ok']);
  const up = c.request({
    path: '/ws',
    host: 'h',
    headers: [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
    ],
  });
  srv.send('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
  assert.equal((await up).status, 101);
});
