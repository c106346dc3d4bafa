/**
 * One DNS exchange (DnsQuerier) over a fake network and a timer the test
 * fires by hand: the query as sent, which replies are taken (RFC 5452: the
 * server's address and port, the ID, the question), retries, the errors by
 * reason, and the TCP retry on truncation (RFC 7766 §5) with its own
 * timeout, framing and stream events.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDns, encodeDns, isDecodeError, makeQuery, RCODE, TYPE, type DnsMessage } from '../../wire/dns.ts';
import type { ByteStream } from '../stream.ts';
import { DnsQuerier, DnsQueryError, type DnsNet, sleepTimer } from './query.ts';
import { frameTcp, TcpDeframer } from './transport.ts';

const ID = 0x2345;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Fake {
  readonly net: DnsNet;
  readonly sent: { dst: string; port: number; q: DnsMessage }[];
  readonly timers: { ms: number; fn: () => void; cancelled: boolean }[];
  readonly socks: { closed: boolean }[];
  readonly tcp: { dst: string; port: number; stream: ByteStream; got: DnsMessage[]; ended: number }[];
  deliver(data: Uint8Array, src?: string, srcPort?: number): void;
  fire(): void;
  sendOk: boolean;
  bindError: Error | string | undefined;
  tcpError: Error | string | undefined;
  /** Bytes each TCP write takes (default all). */
  tcpWrite: number | undefined;
}

function fake(): { f: Fake; q: DnsQuerier } {
  let onMessage: ((m: { src: string; srcPort: number; data: Uint8Array }) => void) | undefined;
  const f: Fake = {
    sent: [],
    timers: [],
    socks: [],
    tcp: [],
    sendOk: true,
    bindError: undefined,
    tcpError: undefined,
    tcpWrite: undefined,
    deliver: (data, src = '192.0.2.53', srcPort = 53) => onMessage!({ src, srcPort, data }),
    fire: () => {
      for (const t of f.timers.splice(0)) if (!t.cancelled) t.fn();
    },
    net: {
      udpBind: async (port, on) => {
        assert.equal(port, 0, 'a fresh random port');
        if (f.bindError !== undefined) throw f.bindError;
        onMessage = on;
        const sock = { closed: false };
        f.socks.push(sock);
        return {
          port: 40000,
          send: (dst, p, data) => {
            const m = decodeDns(data);
            assert.ok(!isDecodeError(m));
            f.sent.push({ dst, port: p, q: m });
            return f.sendOk;
          },
          close: () => {
            sock.closed = true;
          },
        };
      },
      tcpConnect: async (dst, port) => {
        if (f.tcpError !== undefined) throw f.tcpError;
        const d = new TcpDeframer();
        const entry = { dst, port, stream: undefined as unknown as ByteStream, got: [] as DnsMessage[], ended: 0 };
        const stream: ByteStream = {
          onData: undefined,
          onEnd: undefined,
          onDrain: undefined,
          onClose: undefined,
          write: (data) => {
            const n = Math.min(data.length, f.tcpWrite ?? data.length);
            for (const m of d.push(data.subarray(0, n))) {
              const r = decodeDns(m);
              assert.ok(!isDecodeError(r));
              entry.got.push(r);
            }
            return n;
          },
          end: () => {
            entry.ended++;
          },
          destroy: () => {},
          pause: () => {},
          resume: () => {},
        };
        entry.stream = stream;
        f.tcp.push(entry);
        return stream;
      },
    },
  };
  const timer = (ms: number, fn: () => void): (() => void) => {
    const t = { ms, fn, cancelled: false };
    f.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  return { f, q: new DnsQuerier(f.net, { u32: () => 0xabc0000 + ID, fill: () => {} }, timer) };
}

/** The answer to `q` (qr set), with `o` over it. */
function answer(q: DnsMessage, o: Partial<DnsMessage> = {}): Uint8Array {
  return encodeDns({
    ...q,
    qr: true,
    answers: [{ name: q.questions[0]!.name, type: TYPE.A, class: 1, ttl: 60, data: { kind: 'A', address: '192.0.2.1' } }],
    ...o,
  });
}

async function rejects(p: Promise<unknown>, reason: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DnsQueryError);
    assert.equal(e.reason, reason);
    assert.equal(e.message, message);
    return true;
  });
}

test('DnsQuerier: the query as sent — a random ID, RD and EDNS with 1232 bytes, to port 53 — and the answer taken', async () => {
  const { f, q } = fake();
  const p = q.query('192.0.2.53', 'www.example.', TYPE.A);
  await tick();
  assert.equal(f.sent.length, 1);
  const s = f.sent[0]!;
  assert.deepEqual(
    [s.dst, s.port, s.q.id, s.q.rd, s.q.edns?.udpSize, s.q.questions],
    ['192.0.2.53', 53, ID, true, 1232, [{ name: 'www.example.', type: TYPE.A, class: 1 }]],
  );
  assert.deepEqual(
    f.timers.map((t) => t.ms),
    [1500],
    'a 1.5 s timeout by default',
  );
  f.deliver(answer(s.q, { questions: [{ name: 'WWW.example.', type: TYPE.A, class: 1 }] }));
  const r = await p;
  assert.equal(r.answers[0]!.data.kind, 'A', 'the question matched case-insensitively');
  assert.equal(f.timers[0]!.cancelled, true, 'the timer is cancelled');
  assert.equal(f.socks[0]!.closed, true, 'and the port closed');
  assert.deepEqual(q.counters, { sent: 1, timeouts: 0, tcpFallbacks: 0, mismatched: 0 });

  const { f: f2, q: q2 } = fake();
  const p2 = q2.query('192.0.2.53', 'www.example.', TYPE.A, { rd: false, port: 5353, timeoutMs: 20 });
  await tick();
  assert.deepEqual([f2.sent[0]!.port, f2.sent[0]!.q.rd, f2.timers[0]!.ms], [5353, false, 20]);
  f2.deliver(answer(f2.sent[0]!.q), '192.0.2.53', 5353);
  await p2;
});

test('DnsQuerier: replies from elsewhere, not replies, with another ID, question or type, or malformed, are counted and ignored', async () => {
  const { f, q } = fake();
  const p = q.query('192.0.2.53', 'www.example.', TYPE.A);
  await tick();
  const sq = f.sent[0]!.q;
  f.deliver(answer(sq), '192.0.2.54', 53);
  f.deliver(answer(sq), '192.0.2.53', 5353);
  f.deliver(answer(sq, { qr: false }));
  f.deliver(answer(sq, { id: ID + 1 }));
  f.deliver(answer(sq, { questions: [{ name: 'ftp.example.', type: TYPE.A, class: 1 }] }));
  f.deliver(answer(sq, { questions: [{ name: 'www.example.', type: TYPE.AAAA, class: 1 }] }));
  f.deliver(answer(sq, { questions: [] }));
  f.deliver(Uint8Array.of(1, 2, 3));
  assert.equal(q.counters.mismatched, 8);
  f.deliver(answer(sq));
  await p;
  assert.equal(q.counters.mismatched, 8);
});

test('DnsQuerier: a timeout is retried (2 tries by default), then the error names the server, the name and the wait', async () => {
  const { f, q } = fake();
  const done = rejects(q.query('192.0.2.53', 'www.example.', TYPE.A), 'timeout', 'no answer from 192.0.2.53 for www.example. in 1500 ms');
  await tick();
  f.fire();
  await tick();
  await tick();
  assert.equal(f.sent.length, 2, 'a second try');
  assert.equal(f.socks[0]!.closed, true);
  f.fire();
  await done;
  assert.deepEqual(q.counters, { sent: 2, timeouts: 2, tcpFallbacks: 0, mismatched: 0 });

  const { f: f3, q: q3 } = fake();
  const done3 = rejects(
    q3.query('192.0.2.53', 'www.example.', TYPE.A, { tries: 3 }),
    'timeout',
    'no answer from 192.0.2.53 for www.example. in 1500 ms',
  );
  for (let i = 0; i < 3; i++) {
    await tick();
    await tick();
    f3.fire();
  }
  await done3;
  assert.equal(f3.sent.length, 3);
  const { q: q0 } = fake();
  await rejects(q0.query('192.0.2.53', 'x.', TYPE.A, { tries: 0 }), 'timeout', 'no answer from 192.0.2.53 for x.');
});

test('DnsQuerier: a network error is not retried: no port, or no route', async () => {
  const { f, q } = fake();
  f.bindError = new Error('EMFILE');
  await rejects(q.query('192.0.2.53', 'x.', TYPE.A), 'network', 'cannot open a UDP port: EMFILE');
  f.bindError = 'odd';
  await rejects(q.query('192.0.2.53', 'x.', TYPE.A), 'network', 'cannot open a UDP port: odd');
  f.bindError = undefined;
  f.sendOk = false;
  await rejects(q.query('192.0.2.53', 'x.', TYPE.A), 'network', 'cannot send to 192.0.2.53 (no route or no address yet)');
  assert.equal(f.sent.length, 1, 'one try');
  assert.equal(f.timers[0]!.cancelled, true);
  assert.equal(f.socks[0]!.closed, true);
});

test('DnsQuerier: a truncated answer is asked again over TCP, framed, with a fresh ID and twice the timeout (RFC 7766 §5)', async () => {
  const { f, q } = fake();
  const p = q.query('192.0.2.53', 'big.example.', TYPE.TXT, { port: 5353, rd: false });
  await tick();
  f.deliver(answer(f.sent[0]!.q, { tc: true, answers: [] }), '192.0.2.53', 5353);
  await tick();
  await tick();
  assert.equal(f.tcp.length, 1);
  const t = f.tcp[0]!;
  assert.deepEqual([t.dst, t.port, t.got.length, t.got[0]!.rd, t.got[0]!.edns?.udpSize], ['192.0.2.53', 5353, 1, false, 1232]);
  assert.deepEqual(
    f.timers.map((x) => x.ms),
    [1500, 3000],
  );
  // Not the answer (another ID), then the answer, split across two reads.
  t.stream.onData!(frameTcp(answer(t.got[0]!, { id: 1 })));
  const whole = frameTcp(answer(t.got[0]!));
  t.stream.onData!(whole.subarray(0, 5));
  assert.equal(t.ended, 0);
  t.stream.onData!(whole.subarray(5));
  const r = await p;
  assert.equal(r.tc, false);
  assert.equal(r.answers.length, 1);
  assert.equal(t.ended, 1, 'the connection is ended');
  assert.equal(f.timers[1]!.cancelled, true);
  assert.equal(q.counters.tcpFallbacks, 1);
  t.stream.onEnd!(); // Events after the answer change nothing: the connection is not ended twice.
  t.stream.onClose!('late');
  assert.equal(t.ended, 1);
});

test('DnsQuerier: over TCP — refused, malformed, closed, ended early, timed out — each error with its reason; a short write is finished on drain', async () => {
  const run = async (
    setup: (f: Fake) => void,
    act: (t: Fake['tcp'][number], f: Fake) => void,
    reason: string,
    message: string,
  ): Promise<Fake> => {
    const { f, q } = fake();
    setup(f);
    const done = rejects(q.query('192.0.2.53', 'big.example.', TYPE.TXT), reason, message);
    await tick();
    f.deliver(answer(f.sent[0]!.q, { tc: true, answers: [] }));
    await tick();
    await tick();
    if (f.tcp[0]) act(f.tcp[0], f);
    await done;
    return f;
  };
  await run(
    (f) => {
      f.tcpError = new Error('connection refused');
    },
    () => {},
    'network',
    'TCP to 192.0.2.53: connection refused',
  );
  await run(
    (f) => {
      f.tcpError = 'reset';
    },
    () => {},
    'network',
    'TCP to 192.0.2.53: reset',
  );
  const m = await run(
    () => {},
    (t) => t.stream.onData!(frameTcp(Uint8Array.of(0, 1, 2))),
    'malformed',
    'malformed TCP answer from 192.0.2.53: message of 3 bytes is shorter than the 12-byte header',
  );
  assert.equal(m.tcp[0]!.ended, 1);
  await run(
    () => {},
    (t) => t.stream.onEnd!(),
    'network',
    '192.0.2.53 closed the TCP connection before answering',
  );
  await run(
    () => {},
    (t) => t.stream.onClose!('ECONNRESET'),
    'network',
    'TCP to 192.0.2.53: ECONNRESET',
  );
  await run(
    () => {},
    (t) => t.stream.onClose!(undefined),
    'network',
    'TCP to 192.0.2.53: closed',
  );
  await run(
    () => {},
    (_t, f) => f.fire(),
    'timeout',
    'no TCP answer from 192.0.2.53 for big.example.',
  );
  // A write that takes 10 bytes at a time: the rest goes out on each drain.
  const { f, q } = fake();
  f.tcpWrite = 10;
  const p = q.query('192.0.2.53', 'big.example.', TYPE.TXT);
  await tick();
  f.deliver(answer(f.sent[0]!.q, { tc: true, answers: [] }));
  await tick();
  await tick();
  const t = f.tcp[0]!;
  assert.equal(t.got.length, 0, 'not all written yet');
  for (let i = 0; i < 10 && t.got.length === 0; i++) t.stream.onDrain!();
  assert.equal(t.got.length, 1, 'written out by the drains');
  assert.equal(t.got[0]!.questions[0]!.name, 'big.example.');
  assert.equal(t.got[0]!.rd, true, 'RD by default over TCP too');
  t.stream.onData!(frameTcp(answer(t.got[0]!)));
  await p;
});

test('DnsQuerier: a truncated answer is not an error when TCP answers NXDOMAIN too', async () => {
  const { f, q } = fake();
  const p = q.query('192.0.2.53', 'nx.example.', TYPE.A);
  await tick();
  f.deliver(answer(f.sent[0]!.q, { tc: true, answers: [] }));
  await tick();
  await tick();
  f.tcp[0]!.stream.onData!(frameTcp(answer(f.tcp[0]!.got[0]!, { rcode: RCODE.NXDOMAIN, answers: [] })));
  assert.equal((await p).rcode, RCODE.NXDOMAIN);
});

test('sleepTimer: runs the function after the sleep unless cancelled first', async () => {
  const sleeps: { ms: number; wake: () => void }[] = [];
  const timer = sleepTimer((ms) => new Promise<void>((wake) => sleeps.push({ ms, wake })));
  const ran: string[] = [];
  timer(5, () => ran.push('a'));
  const cancel = timer(7, () => ran.push('b'));
  assert.deepEqual(
    sleeps.map((s) => s.ms),
    [5, 7],
  );
  cancel();
  for (const s of sleeps) s.wake();
  await tick();
  assert.deepEqual(ran, ['a']);
});

test('makeQuery as the querier uses it round-trips (a check on the test helper)', () => {
  const m = makeQuery(ID, 'x.', TYPE.A, { rd: true, udpSize: 1232 });
  assert.deepEqual(decodeDns(encodeDns(m)), m);
});
