/**
 * The TLS-facing path as a service has it: Fata's TCP on a live simulated
 * stack, the runtime's TLS adapter (src/runtime/tls.ts: node:tls over the
 * TcpDuplex) and the HTTP server behind it. A peer on a second stack opens a
 * connection to port 443 and writes the input's records: ClientHellos (TLS
 * 1.3, 1.2, SSLv2-style), alerts, heartbeats, change-cipher-spec, application
 * data, plain HTTP, mutated. Node's TLS answers through its event loop, so
 * the simulation and the loop take turns (`settle`).
 */
import assert from 'node:assert/strict';
import { makeDevCert } from '../../src/build/devcert.ts';
import { HttpServer } from '../../src/http/server.ts';
import type { Stack } from '../../src/net/stack.ts';
import type { TcpConnection } from '../../src/net/tcp/connection.ts';
import { tcpStream } from '../../src/runtime/net-direct.ts';
import type { TcpStream } from '../../src/runtime/types.ts';
import { type TlsCertificate, tlsCertificate, tlsServerStream } from '../../src/runtime/tls.ts';
import { equalBytes, ip, pattern, simNet } from '../../test/sim-helpers.ts';
import { account, checkLedger } from './accounting.ts';
import { joinRecords, records } from './mutate.ts';
import type { Target } from './target.ts';

const MS = 1_000_000n;
const S = 1000n * MS;

let cert: TlsCertificate | undefined;
function certificate(): TlsCertificate {
  if (!cert) {
    const c = makeDevCert(new Date('2026-01-01T00:00:00Z'), 3650);
    cert = tlsCertificate(c.cert, c.key);
  }
  return cert;
}

const u16 = (n: number): number[] => [n >>> 8, n & 0xff];
const u24 = (n: number): number[] => [n >>> 16, (n >>> 8) & 0xff, n & 0xff];
const ext = (type: number, body: number[]): number[] => [...u16(type), ...u16(body.length), ...body];
const vec16 = (b: number[]): number[] => [...u16(b.length), ...b];
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** A ClientHello record (RFC 8446 §4.1.2): TLS 1.3 with an X25519 share and 1.2's suites, or 1.2 only. */
function clientHello(tls13: boolean): number[] {
  const suites = tls13 ? [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9] : [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9];
  const sni = ascii('fata.test');
  const exts = [
    ...ext(0x0000, vec16([0, ...vec16(sni)])),
    ...ext(0x000a, vec16([0x00, 0x1d, 0x00, 0x17, 0x00, 0x18])),
    ...ext(0x000b, [1, 0]),
    ...ext(0x000d, vec16([0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01])),
    ...ext(0x0010, vec16([8, ...ascii('http/1.1')])),
    ...(tls13
      ? [
          ...ext(0x002b, [4, 0x03, 0x04, 0x03, 0x03]),
          ...ext(0x002d, [1, 1]),
          // X25519's base point as the public value: a valid share whose secret nobody needs.
          ...ext(0x0033, vec16([0x00, 0x1d, ...vec16([9, ...new Array<number>(31).fill(0)])])),
        ]
      : []),
  ];
  const body = [0x03, 0x03, ...pattern(32, 1), 32, ...pattern(32, 2), ...vec16(suites.flatMap(u16)), 1, 0, ...vec16(exts)];
  const hs = [1, ...u24(body.length), ...body];
  return [0x16, 0x03, 0x01, ...u16(hs.length), ...hs];
}

const record = (type: number, body: number[]): number[] => [type, 0x03, 0x03, ...u16(body.length), ...body];
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

/** Takes turns: the simulation to `t` (in steps), then Node's event loop twice (TLS works in its callbacks). */
async function settle(run: (untilNs: bigint) => void, from: bigint, to: bigint, step: bigint): Promise<bigint> {
  let t = from;
  while (t < to) {
    t += step;
    run(t);
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
  }
  return t;
}

/** 10.0.0.1 pings 10.0.0.2 and hears the answer. */
function answersPing(a: Stack, run: (untilNs: bigint) => void, t: bigint): void {
  let replies = 0;
  a.icmp.onEchoReply((e) => {
    if (equalBytes(e.data, pattern(64))) replies++;
  });
  a.icmp.ping(ip('10.0.0.2'), 9, 1, pattern(64));
  run(t + S);
  assert.equal(replies, 1, 'the stack answers a ping after the input');
}

/** Counts an input under OpenSSL's reason (`…:SSL routines:FUNCTION:REASON:file:line`), or none. */
function tally(handshakeErrors: readonly string[]): void {
  const why = handshakeErrors.map((m) => /SSL routines:[^:]*:([^:]*)/.exec(m)?.[1] ?? m.split('\n')[0]!);
  for (const w of why.length ? why : ['no handshake error']) OUTCOMES[w] = (OUTCOMES[w] ?? 0) + 1;
}

/** The most bytes the server may send one peer for this input: one handshake flight and an alert, with room. */
const MAX_ANSWER = 16 << 10;

/** TLS 1.3 and 1.2 hellos whole, in two records and two writes, then records that fail at each layer of OpenSSL's. */
function tlsSeeds(): Uint8Array[] {
  const hello13 = clientHello(true);
  const hello12 = clientHello(false);
  const half = Math.floor(hello13.length / 2);
  // The same handshake message in two records (RFC 8446 §5.1 allows it), and in two TCP writes.
  const body = hello13.slice(5);
  const split = [...record(0x16, body.slice(0, 40)), ...record(0x16, body.slice(40))];
  return [
    Uint8Array.of(0, ...joinRecords([bytes(hello13)])),
    Uint8Array.of(0, ...joinRecords([bytes(hello12)])),
    Uint8Array.of(1, ...joinRecords([bytes(hello13.slice(0, half)), bytes(hello13.slice(half))])),
    Uint8Array.of(0, ...joinRecords([bytes(split)])),
    // After the hello: a change-cipher-spec (middlebox compatibility), then records that cannot decrypt.
    Uint8Array.of(
      0,
      ...joinRecords([bytes(hello13), bytes(record(0x14, [1])), bytes(record(0x17, [...pattern(40, 3)]), record(0x17, [1, 2, 3]))]),
    ),
    // An alert, a heartbeat request (RFC 6520) claiming more than it holds, an SSLv2-style hello header, plain HTTP.
    Uint8Array.of(0, ...joinRecords([bytes(record(0x15, [2, 40]))])),
    Uint8Array.of(0, ...joinRecords([bytes(hello12), bytes(record(0x18, [1, 0x40, 0x00, 1, 2, 3]))])),
    Uint8Array.of(0, ...joinRecords([bytes([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10], [...pattern(37, 4)])])),
    Uint8Array.of(0, ...joinRecords([bytes(ascii('GET / HTTP/1.1\r\nHost: fata.test\r\n\r\n'))])),
    // A hello and then silence: only the server's deadlines end the connection.
    Uint8Array.of(2, ...joinRecords([bytes(hello13)])),
  ];
}

/** One input through the TLS-facing path, its oracles checked (they throw). */
async function feed(b: Uint8Array, plant?: (tcp: TcpStream) => TcpStream): Promise<void> {
  const net = simNet(2, 23);
  const [a, s] = net.stacks as [Stack, Stack];
  const sched = net.sched;
  const run = (untilNs: bigint): void => void sched.run({ untilNs, maxSteps: 200_000 });
  const escaped: unknown[] = [];
  const onEscape = (e: unknown): void => void escaped.push(e);
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  const handshakeErrors: string[] = [];
  const http = new HttpServer((req) => ({ status: 200, headers: [], body: new TextEncoder().encode(`${req.method} ${req.target}\n`) }), {
    now: () => sched.clock.monotonicNs(),
    date: () => 'Tue, 01 Dec 2026 00:00:00 GMT',
  });
  try {
    const wrap = plant ?? ((x: TcpStream): TcpStream => x);
    s.tcp.listen(443, (c) => http.accept(tlsServerStream(wrap(tcpStream(c)), certificate(), (e) => void handshakeErrors.push(e.message))));
    run(MS);
    const ledgers = [account(s), account(a)];
    let answered = 0;
    let ended = false;
    const c: TcpConnection = a.tcp.connect(ip('10.0.0.2'), 443);
    c.noDelay = true; // each record goes when written, not held for the server's delayed ACK
    c.events = {
      onData: (d) => {
        answered += d.length;
      },
      // The peer closes its side when the server has closed its own, so that the server's side ends.
      onEnd: () => {
        ended = true;
        c.close();
      },
    };
    let t = await settle(run, MS, 5n * MS, MS);
    assert.equal(c.state, 'ESTABLISHED', 'the peer reached port 443');
    const mode = (b[0] ?? 0) % 3;
    for (const chunk of records(b.subarray(1), 32)) {
      if (ended || !['ESTABLISHED', 'CLOSE-WAIT'].includes(c.state)) break;
      if (chunk.length > 0 && c.write(chunk) === 0) break; // the window is shut: the server is not reading
      t = await settle(run, t, t + 5n * MS, MS);
      assert.ok(http.size <= 1, `${http.size} HTTP connections from one TCP connection`);
      assert.ok(answered <= MAX_ANSWER, `the server sent ${answered} bytes to one peer`);
      for (const conn of [c]) assert.ok(conn.bufferedSend <= 1 << 20);
      assert.ok(s.tcp.connectionCount <= 1, `${s.tcp.connectionCount} connections on the server`);
    }
    const state: string = c.state; // the writes above may have moved it on
    // A half-close: the peer keeps its side open until the server ends (a close would reset a server that never does
    // after FIN-WAIT-2's 60 s, and hide a server that leaks its connection).
    if (mode === 0 && state !== 'CLOSED') c.shutdown();
    if (mode === 1) c.abort();
    // Mode 2: silence; the HTTP server's header deadline (10 s) closes the connection on the server's side.
    t = await settle(run, t, t + 200n * MS, 10n * MS);
    for (let i = 0; i < 40; i++) {
      http.sweep();
      t = await settle(run, t, t + 5n * S, 5n * S);
    }
    assert.deepEqual(escaped, [], 'no exception escaped');
    assert.equal(http.size, 0, 'the HTTP server let the connection go');
    assert.equal(s.tcp.connectionCount, 0, "the server's TCP connection ended (TIME-WAIT included)");
    assert.ok(answered <= MAX_ANSWER, `the server sent ${answered} bytes to one peer`);
    answersPing(a, run, t);
    for (const l of ledgers) checkLedger(l);
    tally(handshakeErrors);
  } finally {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
}

/**
 * The connection target: the input's first byte picks how the peer ends (FIN, RST, or silence); each record is one
 * write. `plant` may stand between the TCP stream and TLS (a test plants an adapter that never closes its connection).
 */
export function makeTlsTarget(plant?: (tcp: TcpStream) => TcpStream): Target {
  return { name: 'tls', maxLen: 4000, seeds: tlsSeeds, run: (b) => feed(b, plant), counts: () => OUTCOMES };
}

export const tlsTarget = makeTlsTarget();

/** Inputs by how the server's TLS refused them (OpenSSL's reason), over every input so far. */
const OUTCOMES: Record<string, number> = {};
