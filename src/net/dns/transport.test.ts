/**
 * DNS over TCP (RFC 7766) on a fake byte stream: the deframer's edges, a
 * session's limits (queries per connection, the output high-water mark),
 * the end of a connection from either side, and the idle sweep at exactly
 * its limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ByteStream } from '../stream.ts';
import { DnsTcpSession, DnsTcpSessions, frameTcp, TcpDeframer } from './transport.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A stream whose writes take at most `room` bytes (all by default), recording what it is told. */
function fakeStream(room = Number.POSITIVE_INFINITY) {
  const log = { bytes: [] as number[], ended: 0, paused: 0, resumed: 0, room };
  const s: ByteStream = {
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write: (d) => {
      const n = Math.min(log.room, d.length);
      log.bytes.push(...d.subarray(0, n));
      log.room -= n;
      return n;
    },
    end: () => {
      log.ended++;
    },
    destroy: () => {},
    pause: () => {
      log.paused++;
    },
    resume: () => {
      log.resumed++;
    },
  };
  return { s, log };
}
const frames = (...msgs: number[][]): Uint8Array => Uint8Array.from(msgs.flatMap((m) => [...frameTcp(Uint8Array.from(m))]));

test('TcpDeframer: an empty message, a length prefix split in two, several messages in one read, what is pending', () => {
  const d = new TcpDeframer();
  assert.deepEqual(
    d.push(Uint8Array.of(0, 0)).map((m) => [...m]),
    [[]],
    'a zero-length message',
  );
  assert.deepEqual(d.push(Uint8Array.of(0)), []);
  assert.equal(d.pending, 1);
  assert.deepEqual(d.push(Uint8Array.of(2, 7)), []);
  assert.equal(d.pending, 3);
  assert.deepEqual(
    d.push(Uint8Array.of(8, 0, 1, 9, 0)).map((m) => [...m]),
    [[7, 8], [9]],
  );
  assert.equal(d.pending, 1);
  assert.deepEqual(frameTcp(new Uint8Array(300)).subarray(0, 2), Uint8Array.of(1, 44));
});

test('DnsTcpSession: at most 100 queries a connection by default, then it ends once they are answered', () => {
  const { s, log } = fakeStream();
  let asked = 0;
  new DnsTcpSession(s, (m) => {
    asked++;
    return [m];
  });
  const many: number[][] = [];
  for (let i = 0; i < 101; i++) many.push([i]);
  s.onData!(frames(...many));
  assert.equal(asked, 100, 'the 101st is not read');
  assert.equal(log.ended, 1);
  assert.equal(log.bytes.length, 300);
  s.onData!(frames([1]));
  assert.equal(asked, 100, 'nothing read after the end');

  const two = fakeStream();
  let n = 0;
  new DnsTcpSession(
    two.s,
    (m) => {
      n++;
      return [m];
    },
    { maxQueries: 2 },
  );
  two.s.onData!(frames([1]));
  assert.equal(two.log.ended, 0);
  two.s.onData!(frames([2], [3]));
  assert.deepEqual([n, two.log.ended], [2, 1]);
});

test('DnsTcpSession: reading pauses only while more than the high-water mark (256 KiB by default) waits to be written', () => {
  const big = fakeStream(0);
  new DnsTcpSession(big.s, () => [new Uint8Array(65534)]); // 65,536 bytes framed
  big.s.onData!(frames([1], [2], [3], [4]));
  assert.equal(big.log.paused, 0, 'exactly 256 KiB waiting');
  big.s.onData!(frames([5]));
  assert.equal(big.log.paused, 1);
  big.log.room = Number.POSITIVE_INFINITY;
  big.s.onDrain!();
  assert.equal(big.log.bytes.length, 5 * 65536);
  assert.ok(big.log.resumed >= 1, 'resumed once written out');

  const small = fakeStream(0);
  new DnsTcpSession(small.s, (m) => [new Uint8Array(m[0]!)], { highWater: 10 });
  small.s.onData!(frames([8]));
  assert.equal(small.log.paused, 0, '8 + 2 bytes: at the mark');
  small.log.room = 10;
  small.s.onDrain!();
  assert.equal(small.log.bytes.length, 10);
  small.log.room = 0;
  small.s.onData!(frames([9]));
  assert.equal(small.log.paused, 1, '9 + 2 bytes: over it (what was written no longer counts)');
  small.log.room = 3;
  small.s.onDrain!();
  small.log.room = 0;
  small.s.onData!(frames([0]));
  assert.equal(small.log.paused, 1, '8 bytes still waiting and 2 more: at the mark');
  small.s.onData!(frames([0]));
  assert.equal(small.log.paused, 2, 'and 2 more: over it');
});

test('DnsTcpSession: the client ending the connection is answered, then the server ends it; a closed connection gets nothing', async () => {
  const { s, log } = fakeStream();
  let release: (v: Uint8Array[]) => void = () => {};
  new DnsTcpSession(s, (m) =>
    m[0] === 1
      ? new Promise<Uint8Array[]>((r) => {
          release = r;
        })
      : [m],
  );
  s.onData!(frames([1]));
  s.onEnd!();
  assert.equal(log.ended, 0, 'an answer is still being worked out');
  release([Uint8Array.of(5)]);
  await tick();
  assert.deepEqual(log.bytes, [0, 1, 5], 'written without waiting for a drain');
  assert.equal(log.ended, 1);

  const c = fakeStream();
  let later: (v: Uint8Array[]) => void = () => {};
  new DnsTcpSession(
    c.s,
    () =>
      new Promise<Uint8Array[]>((r) => {
        later = r;
      }),
  );
  c.s.onData!(frames([1]));
  c.s.onClose!(undefined);
  later([Uint8Array.of(5)]);
  await tick();
  c.s.onData!(frames([2]));
  assert.deepEqual(c.log.bytes, [], 'nothing after the close');
  assert.equal(c.log.ended, 0);
});

test('DnsTcpSession: after an answer worked out asynchronously, the next synchronous one goes straight out and the end follows', async () => {
  const { s, log } = fakeStream();
  new DnsTcpSession(s, (m) => (m[0] === 1 ? Promise.resolve([Uint8Array.of(10)]) : [Uint8Array.of(m[0]! * 10)]));
  s.onData!(frames([1]));
  await tick();
  s.onData!(frames([2]));
  assert.deepEqual(log.bytes, [0, 1, 10, 0, 1, 20]);
  s.onEnd!();
  assert.equal(log.ended, 1);
});

test('DnsTcpSessions: the idle sweep closes a session idle longer than idleMs (not at exactly it) and forgets closed ones', () => {
  let now = 100;
  const sessions = new DnsTcpSessions({ idleMs: 1000, now: () => now });
  const a = fakeStream();
  const b = fakeStream();
  const sa = sessions.open(a.s, (m) => [m]);
  sessions.open(b.s, (m) => [m]);
  assert.equal(sa.lastActive, 100, 'active from its opening');
  now = 600;
  b.s.onData!(frames([1]));
  now = 1100;
  assert.equal(sessions.sweep(), 0, 'idle exactly 1000 ms');
  now = 1101;
  assert.equal(sessions.sweep(), 1);
  assert.deepEqual([a.log.ended, b.log.ended, sessions.size], [1, 0, 1]);
  b.s.onClose!(undefined);
  assert.equal(sessions.sweep(), 0, 'a closed one is forgotten, not counted');
  assert.equal(sessions.size, 0);
  assert.equal(b.log.ended, 0, 'and not ended again');

  const plain = fakeStream();
  const t = new DnsTcpSession(plain.s, (m) => [m]);
  assert.equal(t.lastActive, 0, 'no clock: 0');
  plain.s.onData!(frames([1]));
  assert.equal(t.lastActive, 0);
  t.close();
  t.close();
  assert.equal(plain.log.ended, 1, 'close is done once');
  assert.equal(t.closed, true);
});

test('DnsTcpSession: once ending, more data is not read even while an answer is still worked out; a session that ended itself is forgotten by the sweep', async () => {
  const { s, log } = fakeStream();
  let asked = 0;
  let release: (v: Uint8Array[]) => void = () => {};
  new DnsTcpSession(
    s,
    () => {
      asked++;
      return new Promise<Uint8Array[]>((r) => {
        release = r;
      });
    },
    { maxQueries: 1 },
  );
  s.onData!(frames([1]));
  s.onData!(frames([2]));
  assert.equal(asked, 1);
  release([Uint8Array.of(7)]);
  await tick();
  assert.deepEqual([log.bytes, log.ended], [[0, 1, 7], 1]);

  let now = 0;
  const sessions = new DnsTcpSessions({ idleMs: 10, now: () => now, maxQueries: 1 });
  const a = fakeStream();
  sessions.open(a.s, (m) => [m]);
  a.s.onData!(frames([1]));
  assert.equal(a.log.ended, 1, 'ended after its one query');
  now = 100;
  assert.equal(sessions.sweep(), 0, 'closed already: forgotten, not counted as idle');
  assert.deepEqual([sessions.size, a.log.ended], [0, 1]);
});
