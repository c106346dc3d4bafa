/**
 * node:http, unchanged, over Fata's TCP: two Fata stacks joined by an
 * in-memory pipe, driven in real time; an http.Server fed with
 * `emit('connection', new TcpDuplex(…))` and an http client whose
 * `createConnection` returns one. Bodies of 1 MB go both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TcpListener, type TcpConnection } from '../src/net/index.ts';
import { TcpDuplex } from '../src/runtime/duplex.ts';
import { tcpStream } from '../src/runtime/net-direct.ts';
import type { TcpStream } from '../src/runtime/types.ts';
import { until } from './images.ts';
import { liveStacks } from './live-stacks.ts';
import { ip, pattern } from './sim-helpers.ts';

test('node:http serves and requests over the TCP Duplex adapter', async () => {
  const { a, b, stop } = liveStacks();
  const big = pattern(1_000_000, 9);
  const server = createServer((req, res) => {
    const h = createHash('sha256');
    req.on('data', (d: Buffer) => h.update(d));
    req.on('end', () => {
      res.setHeader('x-request-sha256', h.digest('hex'));
      res.end(req.url === '/big' ? big : 'hello over fata\n');
    });
  });
  const l = b.tcp.listen(80, (c) => server.emit('connection', new TcpDuplex(tcpStream(c))));
  assert.ok(l instanceof TcpListener);
  const get = (path: string, body?: Uint8Array): Promise<{ status: number; body: Buffer; sha: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          // No `agent` at all: only then does node:http use createConnection (agent: false would make a
          // one-off Agent that dials the host's network). The .invalid name (RFC 6761) only fills the
          // Host header, and would fail to resolve rather than reach anything if the socket came from elsewhere.
          host: 'fata.invalid',
          port: 80,
          path,
          method: body ? 'POST' : 'GET',
          createConnection: () => new TcpDuplex(tcpStream(a.tcp.connect(ip('10.0.0.2'), 80))) as unknown as Socket,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () =>
            resolve({ status: res.statusCode!, body: Buffer.concat(chunks), sha: String(res.headers['x-request-sha256']) }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    const small = await get('/');
    assert.equal(small.status, 200);
    assert.equal(small.body.toString(), 'hello over fata\n');
    const r = await get('/big', big);
    assert.equal(r.body.length, big.length);
    assert.ok(r.body.equals(big), 'the 1 MB response arrives byte-exact');
    assert.equal(r.sha, createHash('sha256').update(big).digest('hex'), 'the 1 MB request body arrives byte-exact');
  } finally {
    stop();
    server.close();
  }
});

test("the Duplex adapter turns Nagle off and sends corked writes as one TCP write (node:http's head and body)", async () => {
  // Found by bench/http.ts: node:http over the adapter took 43 ms per keep-alive request, each response's
  // second write held by Nagle until the client's delayed ACK. node:http's own server sets TCP_NODELAY.
  const writes: string[] = [];
  const noDelay: boolean[] = [];
  const fake: TcpStream = {
    remote: '10.0.0.1',
    remotePort: 1,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      writes.push(Buffer.from(d).toString());
      return d.length;
    },
    end: () => {},
    destroy: () => {},
    pause: () => {},
    resume: () => {},
    setNoDelay: (on) => {
      noDelay.push(on);
    },
  };
  const d = new TcpDuplex(fake);
  assert.deepEqual(noDelay, [true]);
  d.cork();
  d.write('HTTP/1.1 200 OK\r\n\r\n');
  d.write('body');
  d.uncork();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ['HTTP/1.1 200 OK\r\n\r\nbody']);
  d.destroy();
});

test("a peer's reset or a timeout reaches Node's stream code as ECONNRESET or ETIMEDOUT, without a stack of our frames", async () => {
  for (const [why, code] of [
    ['reset', 'ECONNRESET'],
    ['timeout', 'ETIMEDOUT'],
  ] as const) {
    const stub: TcpStream = {
      remote: '10.0.0.9',
      remotePort: 4000,
      onData: undefined,
      onEnd: undefined,
      onDrain: undefined,
      onClose: undefined,
      write: (d) => d.length,
      end: () => {},
      destroy: () => {},
      pause: () => {},
      resume: () => {},
    };
    const d = new TcpDuplex(stub);
    const failed = new Promise<Error & { code?: string }>((resolve) => d.once('error', resolve));
    stub.onClose?.(why);
    const e = await failed;
    assert.deepEqual([e.message, e.code], [`TCP connection ${why}`, code]);
    // One per client that ends with RST: its stack would only cost formatting (through the image's source map).
    assert.equal(e.stack, `Error: TCP connection ${why}`, 'no frames');
  }
});

test('a Duplex that stopped reading and is destroyed lets the connection end on both sides', async () => {
  const { a, b, stop } = liveStacks();
  let server: TcpConnection | undefined;
  let duplex: TcpDuplex | undefined;
  let paused = false;
  b.tcp.listen(80, (conn) => {
    server = conn;
    const s = tcpStream(conn);
    const pause = s.pause.bind(s);
    s.pause = () => {
      paused = true;
      pause();
    };
    duplex = new TcpDuplex(s);
    duplex.pause(); // The application reads nothing: past the Readable's buffer, the TCP layer is paused.
    duplex.on('error', () => {});
  });
  try {
    const client = a.tcp.connect(ip('10.0.0.2'), 80);
    const c = tcpStream(client);
    let ended = false,
      sent = 0;
    const chunk = new Uint8Array(16384);
    const pump = (): void => {
      while (!ended) {
        const n = c.write(chunk);
        sent += n;
        if (n < chunk.length) return;
      }
    };
    c.onDrain = pump;
    // A well-behaved peer: the server's FIN ends its sending too.
    c.onEnd = () => {
      ended = true;
      c.end();
    };
    pump();
    // The server's window is shut once the client's sending stops moving (checked every 50 ms, five times running).
    let last = -1,
      still = 0;
    await until("the server's TCP layer is paused and its window shut", () => {
      still = paused && sent === last ? still + 1 : 0;
      last = sent;
      return still >= 5 && duplex;
    });
    duplex!.destroy(); // node:http does so on a timeout, or after answering a bad request.
    // Paused at the destroy, the TCP layer kept the window shut: the client's data, and its FIN behind it, never came.
    const done = (st: string | undefined): boolean => st === 'TIME-WAIT' || st === 'CLOSED';
    await until('both ends of the TCP connection close', () => done(server?.state) && done(client.state), 10_000).catch((e: Error) => {
      throw new Error(`${e.message} (server ${server?.state}, client ${client.state})`);
    });
    assert.ok(ended, "the client heard the server's FIN");
  } finally {
    stop();
  }
});
