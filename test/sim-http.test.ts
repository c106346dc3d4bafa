/**
 * src/http's client and server on two Fata stacks in the simulator (virtual
 * time, lossy link): pipelined requests answered in order, a 1 MB body
 * byte-exact, HEAD, 304, chunked and close-delimited responses parsed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient, HttpServer, staticSite, type HttpStream } from '../src/http/index.ts';
import { tcpStream } from '../src/runtime/net-direct.ts';
import { ip, pattern, simNet } from './sim-helpers.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('HTTP client and server over simulated TCP with 2% loss: pipelining, 1 MB byte-exact, HEAD, 304', async () => {
  const net = simNet(2, 21, { loss: 0.02, delayNs: 2_000_000n });
  const [a, b] = net.stacks;
  const big = pattern(1 << 20, 9);
  const files = new Map<string, Uint8Array>([
    ['/index.html', enc('<p>hi</p>')],
    ['/big.bin', big],
  ]);
  const server = new HttpServer(staticSite({ get: (p) => files.get(p) }, { modifiedMs: Date.UTC(2026, 0, 1) }), {
    now: () => net.sched.clock.monotonicNs(),
    date: () => 'Thu, 01 Jan 2026 00:00:00 GMT',
  });
  b!.tcp.listen(80, (c) => server.accept(tcpStream(c)));
  const conn = a!.tcp.connect(ip('10.0.0.2'), 80);
  const client = await new Promise<HttpClient>((resolve) => {
    conn.events = { onConnect: () => resolve(new HttpClient(tcpStream(conn))) };
    net.sched.run({ until: () => conn.state === 'ESTABLISHED', untilNs: 10_000_000_000n });
  });
  // Three requests at once, on one connection: answered in order.
  const ps = [
    client.request({ path: '/index.html', host: 'x' }),
    client.request({ path: '/big.bin', host: 'x' }),
    client.request({ method: 'HEAD', path: '/big.bin', host: 'x' }),
    client.request({ path: '/missing', host: 'x' }),
  ] as const;
  let done = false;
  void Promise.all(ps).then(() => {
    done = true;
  });
  for (let i = 0; i < 200 && !done; i++) {
    net.sched.run({ untilNs: net.sched.clock.monotonicNs() + 1_000_000_000n });
    await new Promise((r) => setImmediate(r));
  }
  const [index, body, head, missing] = await Promise.all(ps);
  assert.equal(index.status, 200);
  assert.equal(new TextDecoder().decode(index.body), '<p>hi</p>');
  assert.equal(body.status, 200);
  assert.equal(body.body.length, big.length);
  assert.ok(Buffer.from(body.body).equals(Buffer.from(big)), '1 MB byte-exact through loss');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0, 'HEAD has no body');
  assert.equal(head.headers.find(([k]) => k === 'content-length')?.[1], String(big.length));
  assert.equal(missing.status, 404);
  const etag = index.headers.find(([k]) => k === 'etag')![1];
  const again = client.request({ path: '/index.html', host: 'x', headers: [['If-None-Match', etag]] });
  let got: Awaited<typeof again> | undefined;
  void again.then((r) => {
    got = r;
  });
  for (let i = 0; i < 50 && !got; i++) {
    net.sched.run({ untilNs: net.sched.clock.monotonicNs() + 100_000_000n });
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(got?.status, 304);
  assert.equal(got?.body.length, 0);
});

test('HTTP client: chunked and close-delimited responses', async () => {
  let sent: string[] = [];
  const s: HttpStream = {
    remote: 'x',
    remotePort: 1,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      sent.push(new TextDecoder().decode(d));
      return d.length;
    },
    end: () => {},
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
  const c = new HttpClient(s);
  const p1 = c.request({ path: '/a', host: 'h' });
  const p2 = c.request({ path: '/b', host: 'h' });
  assert.match(sent.join(''), /^GET \/a HTTP\/1\.1\r\nHost: h\r\n\r\nGET \/b HTTP\/1\.1\r\nHost: h\r\n\r\n$/);
  s.onData!(enc('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'));
  s.onData!(enc('HTTP/1.1 200 OK\r\n\r\nuntil the '));
  s.onData!(enc('end'));
  s.onEnd!();
  assert.equal(new TextDecoder().decode((await p1).body), 'hello world');
  assert.equal(new TextDecoder().decode((await p2).body), 'until the end');
  sent = [];
});
