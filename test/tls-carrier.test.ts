/**
 * The stream node:tls runs on over Fata's TCP (src/runtime/tls-carrier.ts): its write, back-pressure, end and
 * close rules over a scripted TcpStream, and TLS both ways over two stacks joined by a pipe, 1 MB echoed byte-exact
 * through a server and a client TLS stream (the TCP window fills, so short writes and drains are reached).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { makeDevCert } from '../src/build/devcert.ts';
import { tcpStream } from '../src/runtime/net-direct.ts';
import { tlsCertificate, tlsClientStream, tlsServerStream } from '../src/runtime/tls.ts';
import { TlsCarrier } from '../src/runtime/tls-carrier.ts';
import type { TcpStream } from '../src/runtime/types.ts';
import type { TcpConnection } from '../src/net/index.ts';
import { until } from './images.ts';
import { liveStacks } from './live-stacks.ts';
import { ip, pattern } from './sim-helpers.ts';

/** A TcpStream that takes at most `room` bytes a write (then 0 until the test gives more) and records what it did. */
function scripted(): { tcp: TcpStream; sent: string[]; calls: string[]; room: { n: number } } {
  const sent: string[] = [];
  const calls: string[] = [];
  const room = { n: Number.POSITIVE_INFINITY };
  const tcp: TcpStream = {
    remote: '10.0.0.9',
    remotePort: 4000,
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      const n = Math.min(d.length, room.n);
      room.n -= n;
      if (n > 0) sent.push(Buffer.from(d.subarray(0, n)).toString());
      return n;
    },
    end: () => void calls.push('end'),
    destroy: () => void calls.push('destroy'),
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
    setNoDelay: (on) => void calls.push(`noDelay ${on}`),
  };
  return { tcp, sent, calls, room };
}

test('TlsCarrier: corked writes go as one TCP write; a short write keeps the rest and the callbacks until drain; end waits for it', () => {
  const { tcp, sent, calls, room } = scripted();
  const c = new TlsCarrier(tcp);
  assert.deepEqual(calls, ['noDelay true'], 'Nagle off');
  const done: string[] = [];
  c.cork();
  c.write(Buffer.from('abc'), () => done.push('1'));
  c.write(Buffer.from('def'), () => done.push('2'));
  assert.deepEqual(sent, [], 'nothing while corked');
  c.uncork();
  assert.deepEqual([sent, done], [['abcdef'], ['1', '2']], 'one write, then both callbacks');

  room.n = 2;
  assert.equal(
    c.write(Buffer.from('ghij'), () => done.push('3')),
    false,
    'the TCP layer took 2 of 4',
  );
  c.write(Buffer.from('kl'), () => done.push('4'));
  c.end(() => done.push('end'));
  assert.equal(c.writable, false);
  assert.deepEqual([sent.slice(1), done.slice(2), calls.includes('end')], [['gh'], [], false], 'the rest waits; no FIN yet');
  room.n = 3;
  tcp.onDrain?.();
  assert.deepEqual([sent.slice(1), done.slice(2), calls.includes('end')], [['gh', 'ij', 'k'], [], false]);
  room.n = Number.POSITIVE_INFINITY;
  tcp.onDrain?.();
  assert.deepEqual(sent.slice(1), ['gh', 'ij', 'k', 'l'], 'every byte, in order');
  assert.deepEqual(done.slice(2), ['3', '4', 'end'], 'the callbacks, then the end');
  assert.equal(calls.at(-1), 'end', 'the FIN after the data');
});

test('TlsCarrier: received bytes reach the listener as they are; pause and resume reach the TCP layer; end and close', async () => {
  const { tcp, calls } = scripted();
  const c = new TlsCarrier(tcp);
  const got: Uint8Array[] = [];
  const events: string[] = [];
  c.on('data', (d: Uint8Array) => got.push(d));
  c.on('end', () => events.push('end'));
  c.on('close', () => events.push('close'));
  const bytes = Uint8Array.of(1, 2, 3);
  tcp.onData?.(bytes);
  assert.equal(got[0], bytes, 'not copied: JSStream.readBuffer copies at once');
  c.pause();
  c.resume();
  assert.deepEqual(calls.slice(1), ['pause', 'resume']);
  tcp.onEnd?.();
  assert.deepEqual([events, c.readable, c.writable], [['end'], false, true], 'half-closed: we may still write');
  tcp.onClose?.(undefined);
  assert.deepEqual([events, c.writable], [['end', 'close'], false]);
  const late = await new Promise<Error | null | undefined>((resolve) => c.write(Buffer.from('x'), resolve));
  assert.match(String(late?.message), /closed/, 'a write after the close fails through its callback');
});

test('TlsCarrier: a reset fails the waiting writes and the end, and is one ECONNRESET error, then close; destroy with an error resets', async () => {
  const { tcp, room } = scripted();
  const c = new TlsCarrier(tcp);
  const events: string[] = [];
  c.on('error', (e: Error & { code?: string }) => events.push(`error ${e.code}`));
  c.on('close', () => events.push('close'));
  room.n = 0;
  const failed: string[] = [];
  c.write(Buffer.from('held'), (e) => failed.push(`write ${e?.message}`));
  c.end((e) => failed.push(`end ${e?.message}`));
  tcp.onClose?.('reset');
  assert.deepEqual(failed, ['write TCP connection reset', 'end TCP connection reset']);
  assert.deepEqual(events, ['error ECONNRESET', 'close']);
  tcp.onClose?.('reset');
  assert.deepEqual(events, ['error ECONNRESET', 'close'], 'once');

  const other = scripted();
  const d = new TlsCarrier(other.tcp);
  const closed = new Promise<void>((resolve) => d.once('close', () => resolve()));
  d.destroy(new Error('handshake failed'));
  d.destroy();
  await closed;
  assert.deepEqual(other.calls.slice(1), ['destroy'], 'destroyed with an error: the TCP connection is reset, once');
  const clean = scripted();
  const e = new TlsCarrier(clean.tcp);
  let late = 0;
  e.on('data', () => late++);
  e.destroy();
  assert.deepEqual(
    clean.calls.slice(1),
    ['resume', 'end'],
    'destroyed without one (Node does so after a clean end): reading resumes (what comes is dropped), then a FIN, not a reset',
  );
  clean.tcp.onData?.(Uint8Array.of(1));
  assert.equal(late, 0, 'nothing is emitted after the destroy');
  // Over Fata's TCP the stream can close (let go): the FIN, data dropped, and a peer that never finishes reset later.
  const fata = scripted();
  fata.tcp.close = () => void fata.calls.push('close');
  new TlsCarrier(fata.tcp).destroy();
  assert.deepEqual(fata.calls.slice(1), ['close'], 'destroyed without an error over a stream that can close: close, only');
});

test('TLS over two Fata stacks through the carrier: 1 MB echoed byte-exact, and both sides end cleanly', async () => {
  const { a, b, stop } = liveStacks();
  const dev = makeDevCert(new Date(), 1);
  const cert = tlsCertificate(dev.cert, dev.key);
  let shortWrites = 0;
  const serverEnded = new Promise<void>((resolve) => {
    b.tcp.listen(443, (conn) => {
      const tcp = tcpStream(conn);
      const write = tcp.write.bind(tcp);
      tcp.write = (d) => {
        const n = write(d);
        if (n < d.length) shortWrites++;
        return n;
      };
      const s = tlsServerStream(tcp, cert);
      // Echo, with back-pressure: a refused write (0: the TLS stream's buffer is full) pauses reading until it drains.
      const held: Buffer[] = [];
      let ended = false;
      const flush = (): void => {
        while (held.length > 0) {
          const d = held[0]!;
          const n = s.write(d);
          if (n === 0) {
            s.pause();
            return;
          }
          if (n < d.length) held[0] = d.subarray(n);
          else held.shift();
        }
        s.resume();
        if (ended) s.end();
      };
      s.onData = (d) => {
        held.push(Buffer.from(d));
        flush();
      };
      s.onDrain = flush;
      s.onEnd = () => {
        ended = true;
        flush();
      };
      s.onClose = () => resolve();
    });
  });
  const data = pattern(1 << 20, 5);
  try {
    const c = tlsClientStream(tcpStream(a.tcp.connect(ip('10.0.0.2'), 443, { receiveBuffer: 64 << 10 })), 'localhost', { ca: dev.cert });
    const chunks: Uint8Array[] = [];
    const echoed = new Promise<Buffer>((resolve, reject) => {
      c.onData = (d) => void chunks.push(Buffer.from(d));
      c.onEnd = () => resolve(Buffer.concat(chunks));
      c.onClose = (e) => e && reject(new Error(`closed: ${e}`));
    });
    let at = 0;
    const pump = (): void => {
      while (at < data.length) {
        const n = c.write(data.subarray(at, at + 16384));
        if (n === 0) return;
        at += n;
      }
      c.end();
    };
    c.onDrain = pump;
    // The client reads nothing until the server's sends back up into its TCP layer (or 10 s pass, and the test fails).
    c.pause();
    const since = Date.now();
    const wait = setInterval(() => {
      if (shortWrites === 0 && Date.now() - since < 10_000) return;
      clearInterval(wait);
      c.resume();
    }, 5);
    pump();
    const got = await echoed;
    assert.equal(got.length, data.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'), 'byte-exact');
    await serverEnded;
    assert.ok(
      shortWrites > 0,
      `the server's TCP layer took part of a write at least once (${shortWrites} times): back-pressure was reached`,
    );
  } finally {
    stop();
  }
});

test('TLS over two Fata stacks: a service that stops reading and then destroys its stream resets the connection, and both sides end', async () => {
  const { a, b, stop } = liveStacks();
  const dev = makeDevCert(new Date(), 1);
  const cert = tlsCertificate(dev.cert, dev.key);
  let server: TcpConnection | undefined;
  let service: TcpStream | undefined;
  b.tcp.listen(443, (conn) => {
    server = conn;
    const s = tlsServerStream(tcpStream(conn), cert);
    s.onData = () => s.pause(); // It stops reading at the first bytes: TLS stops reading, the TCP layer is paused.
    service = s;
  });
  try {
    const client = a.tcp.connect(ip('10.0.0.2'), 443);
    let clientError: string | undefined;
    const c = tlsClientStream(tcpStream(client), 'localhost', {
      ca: dev.cert,
      onError: (e) => {
        clientError = (e as Error & { code?: string }).code;
      },
    });
    let blocked = false,
      ended = false,
      closed = false;
    const chunk = new Uint8Array(16384);
    const pump = (): void => {
      while (!ended) {
        if (c.write(chunk) === 0) {
          blocked = true;
          return;
        }
      }
    };
    c.onDrain = pump;
    // A well-behaved client: the server's end ends its sending too.
    c.onEnd = () => {
      ended = true;
      c.end();
    };
    c.onClose = () => {
      closed = true;
    };
    pump();
    await until('the client is held back (the window is shut)', () => blocked && service);
    service!.destroy();
    // A service's destroy aborts, as on a plain TCP stream. (Before: Node's destroy of the TLS socket only sent a FIN,
    // and paused at the destroy the server's TCP layer kept the window shut: the client's data, and the FIN behind it,
    // never came, and the two ends waited for ever: FIN-WAIT-2 here with 0.8 MB held, CLOSE-WAIT there with 2 MB.)
    const done = (st: string | undefined): boolean => st === 'TIME-WAIT' || st === 'CLOSED';
    await until('both ends of the TCP connection close', () => closed && done(server?.state) && done(client.state), 10_000).catch(
      (e: Error) => {
        throw new Error(`${e.message} (server ${server?.state}, client ${client.state}, the client's TLS stream closed: ${closed})`);
      },
    );
    assert.deepEqual([server?.state, clientError], ['CLOSED', 'ECONNRESET'], 'reset (the server not in TIME-WAIT), not ended');
  } finally {
    stop();
  }
});
