/**
 * ICMP errors with the defaults a Stack gets, as the README states them:
 * "rate-limited by a token bucket (100/s, burst 20)". Two stacks on a pipe;
 * host A sends UDP to a closed port on host B, and B's errors are counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPipe } from '../link/index.ts';
import { Scheduler, SeededRandom } from '../sim/index.ts';
import { Stack } from './stack.ts';
import { IPV4_PAYLOAD_AT } from './ipv4.ts';

const S = 1_000_000_000n,
  MS = 1_000_000n;
const A = 0x0a000001,
  B = 0x0a000002;

function twoHosts(): { sched: Scheduler; b: Stack; send: (n: number) => void } {
  const sched = new Scheduler();
  const [da, db] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const a = new Stack({ device: da, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: A, prefixLen: 24 } });
  const b = new Stack({ device: db, clock: sched.clock, random: new SeededRandom(2), ipv4: { address: B, prefixLen: 24 } });
  sched.add(a);
  sched.add(b);
  const sock = a.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  const payload = new Uint8Array(10);
  return {
    sched,
    b,
    send: (n) => {
      for (let i = 0; i < n; i++) assert.equal(sock.send(B, 4444, payload), 'ok');
    },
  };
}

test('ICMP errors by default: a burst of 20, then 100 per second, and never more than 20 at once after a pause', () => {
  const { sched, b, send } = twoHosts();
  const sent = (): number => b.icmp.errorsSent;
  // Resolve ARP both ways with one datagram, then wait long enough for the bucket to be full again.
  send(1);
  sched.run({ untilNs: 10n * S });
  assert.equal(sent(), 1);

  // 100 datagrams at one instant: the burst, 20, goes out; the other 80 are rate-limited.
  send(100);
  sched.run({ untilNs: 10n * S });
  assert.equal(sent(), 21);
  assert.equal(b.icmp.drops['rate-limited'], 80);

  // One datagram per millisecond for a second, from an empty bucket: 100 errors (one per 10 ms).
  for (let t = 1; t <= 1000; t++) sched.at(10n * S + BigInt(t) * MS, () => send(1));
  sched.run({ untilNs: 11n * S });
  const perSecond = sent() - 21;
  assert.ok(perSecond >= 99 && perSecond <= 101, `${perSecond} errors in one second at 1000 datagrams/s`);

  // A minute of quiet refills the bucket to its burst, not to 60 × 100.
  sched.run({ untilNs: 71n * S });
  const before = sent();
  sched.at(71n * S + 1n, () => send(500));
  sched.run({ untilNs: 72n * S });
  assert.equal(sent() - before, 20);
});

function pair(answerBroadcastEcho = false) {
  const sched = new Scheduler();
  const [da, db] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const a = new Stack({ device: da, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: A, prefixLen: 24 } });
  const b = new Stack({
    device: db,
    clock: sched.clock,
    random: new SeededRandom(2),
    ipv4: { address: B, prefixLen: 24 },
    icmp: { answerBroadcastEcho },
  });
  sched.add(a);
  sched.add(b);
  return { sched, a, b, run: () => sched.run({ untilNs: sched.clock.monotonicNs() + S }) };
}

test("echo (RFC 792, RFC 1122 §3.2.2.6): the reply carries the request's identifier, sequence and data back to the sender", () => {
  const { a, b, run } = pair();
  const replies: [number, number, number, number[]][] = [];
  a.icmp.onEchoReply((r) => replies.push([r.src, r.ident, r.seq, [...r.data]]));
  a.icmp.onEchoReply((r) => replies.push([r.src, -1, r.seq, []]));
  assert.equal(a.icmp.ping(B, 0x1234, 7, Uint8Array.of(1, 2, 3)), 'ok');
  run();
  assert.equal(b.icmp.echoRepliesSent, 1);
  assert.deepEqual(replies, [
    [B, 0x1234, 7, [1, 2, 3]],
    [B, -1, 7, []],
  ]);
});

test('a ping to the broadcast address is not answered unless asked for; errors received are counted by type/code; unknown types dropped', () => {
  const quiet = pair();
  quiet.a.icmp.ping(0x0a0000ff, 1, 1, new Uint8Array(4));
  quiet.run();
  assert.equal(quiet.b.icmp.drops['broadcast-echo'], 1);
  assert.equal(quiet.b.icmp.echoRepliesSent, 0);
  const loud = pair(true);
  loud.a.icmp.ping(0x0a0000ff, 1, 1, new Uint8Array(4));
  loud.run();
  assert.equal(loud.b.icmp.echoRepliesSent, 1);
  const sock = quiet.a.udp.bind(0, () => {});
  assert.ok(typeof sock !== 'string');
  sock.send(B, 9, new Uint8Array(1));
  quiet.run();
  assert.equal(quiet.a.icmp.errorsReceived.get('3/3'), 1, 'port unreachable came back');
  quiet.a.ipv4.tx.set([13, 0, 0xf2, 0xff, 0, 0, 0, 0], IPV4_PAYLOAD_AT); // timestamp request, checksum right
  quiet.a.ipv4.send(B, 1, 8);
  quiet.run();
  assert.equal(quiet.b.icmp.drops['unhandled-type'], 1);
});
