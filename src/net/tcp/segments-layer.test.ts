/**
 * The TCP layer around the connections, segment by segment: listeners and
 * their ports, the backlog of half-open connections and the SYN cookies past
 * it (RFC 4987 §3.6), ephemeral ports for active opens, and what is dropped
 * before any connection sees it (non-unicast destinations, RFC 1122
 * §4.2.3.10; malformed options). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitTcp, SYN } from '../../wire/tcp.ts';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST } from '../udp.ts';
import {
  LOCAL_EPHEMERAL,
  LOCAL_IP,
  LOCAL_ISS,
  LOCAL_PORT,
  MS,
  REMOTE_IP,
  REMOTE_ISS,
  REMOTE_PORT,
  SegmentHarness,
} from './segment-harness.ts';

const R = REMOTE_ISS + 1,
  W = 65535;

test('listen: ports 1-65535 only; a port listened on is in use until unlistened', () => {
  const h = new SegmentHarness();
  const noop = (): void => {};
  for (const bad of [0, 65536, -1, 1.5, Number.NaN]) assert.throws(() => h.tcp.listen(bad, noop), RangeError, `port ${bad}`);
  const l1 = h.tcp.listen(1, noop);
  const l2 = h.tcp.listen(65535, noop);
  assert.equal(typeof l1, 'object');
  assert.equal(typeof l2, 'object');
  assert.equal(h.tcp.listen(1, noop), 'in-use');
  if (typeof l1 === 'string') return;
  h.tcp.unlisten(l1);
  assert.equal(typeof h.tcp.listen(1, noop), 'object', 'free again');
  h.tcp.unlisten(l1); // A listener no longer in the table: nothing happens to the new one.
  assert.equal(h.tcp.listen(1, noop), 'in-use');
});

test('unlisten: a SYN to the port is then answered with RST,ACK (RFC 9293 §3.10.7.1)', () => {
  const h = new SegmentHarness();
  const l = h.tcp.listen(LOCAL_PORT, () => {});
  if (typeof l === 'string') throw new Error(l);
  h.tcp.unlisten(l);
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'R.', seq: 0, ack: R, window: 0, len: 0 }]);
  assert.equal(h.tcp.drops['no-connection'], 1);
});

test('connect: the ephemeral port starts where the random number points and skips ports in use toward the same peer', () => {
  const h = new SegmentHarness();
  const a = h.tcp.connect(REMOTE_IP, REMOTE_PORT);
  const b = h.tcp.connect(REMOTE_IP, REMOTE_PORT);
  assert.deepEqual([a.localPort, b.localPort], [LOCAL_EPHEMERAL, LOCAL_EPHEMERAL + 1]);
  const other = h.tcp.connect(REMOTE_IP, REMOTE_PORT + 1);
  assert.equal(other.localPort, LOCAL_EPHEMERAL, 'another peer port: the same local port is free for it');
  h.tcp.listen(LOCAL_EPHEMERAL + 2, () => {});
  const c = h.tcp.connect(REMOTE_IP, REMOTE_PORT);
  assert.equal(c.localPort, LOCAL_EPHEMERAL + 3, 'a listening port is never an ephemeral one');
  assert.equal(h.tcp.connectionCount, 4);
});

test('connect: the search wraps from the last ephemeral port to the first, and fails when every one is taken', () => {
  const h = new SegmentHarness();
  const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
  h.random.value = span - 1; // Start at the last port.
  const last = h.tcp.connect(REMOTE_IP, REMOTE_PORT);
  const first = h.tcp.connect(REMOTE_IP, REMOTE_PORT);
  assert.deepEqual([last.localPort, first.localPort], [EPHEMERAL_LAST, EPHEMERAL_FIRST]);
  const small = new SegmentHarness();
  for (let p = EPHEMERAL_FIRST; p <= EPHEMERAL_LAST; p++) small.tcp.listen(p, () => {});
  assert.throws(() => small.tcp.connect(REMOTE_IP, REMOTE_PORT), /no free local port/);
});

test('RFC 1122 §4.2.3.10: a segment to a broadcast or multicast address is dropped without a reply', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, dstIp: 0xffffffff });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, dstIp: 0x0a0000ff });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, dstIp: 0xe0000001 });
  h.send({ seq: R, ack: 5, flags: '.', dstIp: 0xe0000001, dstPort: 9 });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.tcp.drops.broadcast, 4);
  assert.equal(h.tcp.connectionCount, 0);
});

test('RFC 9293 §3.10.7.2: a segment to a listener with none of SYN, ACK or RST is dropped without a reply, and counted', () => {
  // Found by the fuzz target 'stack''s drop accounting: this was discarded with no counter moving.
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: '' });
  h.send({ seq: REMOTE_ISS, flags: 'F' });
  h.send({ seq: REMOTE_ISS, flags: 'P', payload: 10 });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.tcp.drops['listen-no-syn'], 3);
  assert.equal(h.tcp.connectionCount, 0);
  // A SYN is no such segment.
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.equal(h.tcp.drops['listen-no-syn'], 3);
  assert.equal(h.tcp.connectionCount, 1);
});

test('a segment whose options are malformed is dropped without a reply', () => {
  const h = new SegmentHarness();
  h.listen();
  const buf = new Uint8Array(24);
  emitTcp(
    { srcPort: REMOTE_PORT, dstPort: LOCAL_PORT, seq: REMOTE_ISS, ack: 0, flags: SYN, window: W, mss: 1460 },
    REMOTE_IP,
    LOCAL_IP,
    buf,
    0,
    0,
  );
  buf[21] = 9; // The MSS option's length: 9 runs past the header.
  h.tcp.receive({
    src: REMOTE_IP,
    dst: LOCAL_IP,
    protocol: 6,
    ttl: 64,
    buf,
    payloadOff: 0,
    payloadEnd: buf.length,
    header: () => new Uint8Array(20),
    payload: () => buf,
    checksumVerified: true,
  });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.tcp.drops['bad-options'], 1);
  assert.equal(h.tcp.connectionCount, 0);
});

test('a segment with a bad checksum is dropped and counted', () => {
  const h = new SegmentHarness();
  h.listen();
  const buf = new Uint8Array(24);
  emitTcp(
    { srcPort: REMOTE_PORT, dstPort: LOCAL_PORT, seq: REMOTE_ISS, ack: 0, flags: SYN, window: W, mss: 1460 },
    REMOTE_IP,
    LOCAL_IP,
    buf,
    0,
    0,
  );
  buf[4]! ^= 1;
  const p = {
    src: REMOTE_IP,
    dst: LOCAL_IP,
    protocol: 6,
    ttl: 64,
    buf,
    payloadOff: 0,
    payloadEnd: 24,
    header: () => buf,
    payload: () => buf,
  };
  h.tcp.receive({ ...p, checksumVerified: false });
  assert.equal(h.tcp.drops.checksum, 1);
  assert.deepEqual(h.recv(), []);
  h.tcp.receive({ ...p, checksumVerified: true });
  assert.equal(h.recv()[0]?.flags, 'S.', 'a checksum the device vouched for is not checked again');
});

test('backlog: half-open connections count against it until they are established or gone', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 2 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1001 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1002 });
  assert.deepEqual(
    h.recv().map((s) => s.seq),
    [LOCAL_ISS, LOCAL_ISS],
    'two SYN-ACKs from state',
  );
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1003 });
  const [cookie] = h.recv();
  assert.notEqual(cookie?.seq, LOCAL_ISS, 'the third is answered with a cookie');
  assert.equal(h.tcp.cookiesSent, 1);
  h.send({ seq: R, ack: LOCAL_ISS + 1, flags: '.', srcPort: 1001 }); // One completes.
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1004 });
  assert.equal(h.recv()[0]?.seq, LOCAL_ISS, 'room again: from state');
  h.send({ seq: R, flags: 'R', srcPort: 1002 }); // One is reset.
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1005 });
  assert.equal(h.recv()[0]?.seq, LOCAL_ISS, 'room again after a reset');
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1006 });
  assert.notEqual(h.recv()[0]?.seq, LOCAL_ISS, 'full again: 1004 and 1005 are half-open');
  assert.equal(h.tcp.cookiesSent, 2);
});

test('backlog: with SYN cookies off, a SYN past the backlog is dropped and counted', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 1, synCookies: false });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1001 });
  h.recv();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1002 });
  assert.deepEqual(h.recv(), []);
  assert.deepEqual([h.tcp.drops['backlog-full'], h.tcp.cookiesSent], [1, 0]);
  h.send({ seq: R, ack: 12345, flags: '.', srcPort: 1003 });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: 12345, ack: 0, window: 0, len: 0 }], 'an ACK is not checked as a cookie');
  assert.equal(h.tcp.drops['bad-cookie'], 0);
});

test('RFC 4987 §3.6: the cookie SYN-ACK offers the MSS of the MTU and the receive buffer as its window, at most 65535', () => {
  const h = new SegmentHarness({ mtu: 1400 });
  h.listen({ backlog: 0, receiveBuffer: 10_000 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  const [c] = h.recv();
  assert.deepEqual({ ...c, seq: 0 }, { flags: 'S.', seq: 0, ack: R, window: 10_000, len: 0, mss: 1360 });
});

test('RFC 4987 §3.6: a cookie connection takes the MSS from the cookie, at most ours, without options', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0, noDelay: true });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1300 });
  const [c] = h.recv();
  h.send({ seq: R, ack: c!.seq + 1, flags: '.', window: 30_000 });
  assert.deepEqual(h.events, ['accept']);
  assert.equal(h.tcp.cookiesAccepted, 1);
  h.conn!.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: c!.seq + 1, ack: R, window: W, len: 1220 },
    { flags: '.', seq: c!.seq + 1 + 1220, ack: R, window: W, len: 1220 },
    { flags: 'P.', seq: c!.seq + 1 + 2440, ack: R, window: W, len: 560 },
  ]);
});

test('RFC 4987 §3.6: a cookie ACK that carries a FIN opens the connection and takes the FIN', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  const [c] = h.recv();
  h.send({ seq: R, ack: c!.seq + 1, flags: 'F.' });
  assert.equal(h.conn?.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['accept', 'end']);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: c!.seq + 1, ack: R + 1, window: W, len: 0 }]);
});

test('a bad cookie is counted only once cookies have been sent; either way the ACK gets RST', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0 });
  h.send({ seq: R, ack: 777, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: 777, ack: 0, window: 0, len: 0 }]);
  assert.equal(h.tcp.drops['bad-cookie'], 0, 'no cookie was sent: an ordinary stray ACK');
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 2000 });
  h.recv();
  h.send({ seq: R, ack: 777, flags: '.' });
  assert.equal(h.tcp.drops['bad-cookie'], 1);
  assert.equal(h.tcp.rstsSent, 2);
});

test('a cookie ACK past two 64 s slots opens nothing', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  const [c] = h.recv();
  h.advance(130_000n * MS);
  h.send({ seq: R, ack: c!.seq + 1, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: c!.seq + 1, ack: 0, window: 0, len: 0 }]);
  assert.equal(h.conn, undefined);
});

test('the layer counts its connections: every state in the table, none once closed', () => {
  const h = new SegmentHarness();
  assert.equal(h.tcp.connectionCount, 0);
  const c = h.established();
  assert.equal(h.tcp.connectionCount, 1);
  c.abort();
  assert.equal(h.tcp.connectionCount, 0);
  assert.equal(h.tcp.pollAtNs(), undefined, 'no timers left');
});

test('the layer polls every connection: two connections time out independently, each at its own RTO', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 3001 });
  h.advance(300n * MS);
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 3002 });
  h.recvSent();
  h.advance(700n * MS);
  assert.deepEqual(
    h.recvSent().map((s) => [s.dstPort, s.seg.flags]),
    [[3001, 'S.']],
    'the first SYN-ACK again after 1 s',
  );
  h.advance(300n * MS);
  assert.deepEqual(
    h.recvSent().map((s) => [s.dstPort, s.seg.flags]),
    [[3002, 'S.']],
  );
});

test('RFC 4987 §3.6: a cookie connection runs without SACK, timestamps or window scaling, whatever the SYN offered', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, wscale: 7, sackPermitted: true, ts: [5, 0] });
  const [c] = h.recv();
  h.send({ seq: R, ack: c!.seq + 1, flags: '.', window: 1000 });
  h.send({ seq: R + 100, ack: c!.seq + 1, flags: '.', payload: 100, window: 1000 });
  assert.deepEqual(
    h.recv(),
    [{ flags: '.', seq: c!.seq + 1, ack: R, window: W, len: 0 }],
    'the duplicate ACK for out-of-order data carries no SACK block and no timestamp',
  );
  h.conn!.write(new Uint8Array(5000));
  assert.deepEqual(
    h.recv().map((s) => s.len),
    [1000],
    "the peer's window is not scaled: 1000 bytes",
  );
});

test('RFC 6582 §3.2 on a cookie connection: "recover" starts at its ISS, so three duplicate ACKs resend at once', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0, noDelay: true });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  const [c] = h.recv();
  const L = c!.seq + 1;
  h.send({ seq: R, ack: L, flags: '.' });
  h.conn!.write(new Uint8Array(5 * 1460));
  assert.equal(h.recv().length, 5);
  for (let i = 0; i < 3; i++) h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, 1460]],
  );
});

test('two connections on one local port: one closing leaves the other reachable', () => {
  const h = new SegmentHarness();
  h.listen();
  for (const port of [4001, 4002]) {
    h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: port });
    h.send({ seq: R, ack: LOCAL_ISS + 1, flags: '.', srcPort: port });
  }
  h.recvSent();
  h.send({ seq: R, flags: 'R', srcPort: 4001 });
  h.send({ seq: R, ack: LOCAL_ISS + 1, flags: 'P.', payload: 5, srcPort: 4002 });
  h.advance(40n * MS);
  assert.deepEqual(
    h.recvSent().map((s) => [s.dstPort, s.seg.flags, s.seg.ack]),
    [[4002, '.', R + 5]],
    'the data is ACKed, not answered with RST',
  );
  assert.equal(h.tcp.connectionCount, 1);
});

test('backlog: a connection handed to the application no longer counts, even when it closes later', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 1 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 5001 });
  h.send({ seq: R, ack: LOCAL_ISS + 1, flags: '.', srcPort: 5001 });
  h.send({ seq: R, flags: 'R', srcPort: 5001 }); // Established, then reset.
  h.recv();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 5002 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 5003 });
  assert.deepEqual(
    h.recv().map((s) => s.seq === LOCAL_ISS),
    [true, false],
    'one half-open from state, the next one a cookie',
  );
});

test('TIME-WAIT: connections that enter it at different times each leave 2 MSL after their own entry', () => {
  const h = new SegmentHarness();
  h.listen();
  const closeFrom = (port: number): void => {
    h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: port });
    h.send({ seq: R, ack: LOCAL_ISS + 1, flags: '.', srcPort: port });
    h.conn!.close();
    h.send({ seq: R, ack: LOCAL_ISS + 2, flags: 'F.', srcPort: port });
  };
  closeFrom(6001);
  h.advance(10n * 1000n * MS);
  closeFrom(6002);
  assert.equal(h.tcp.connectionCount, 2);
  h.advance(50n * 1000n * MS);
  assert.equal(h.tcp.connectionCount, 1, 'the first after 60 s');
  h.advance(9n * 1000n * MS);
  assert.equal(h.tcp.connectionCount, 1);
  h.advance(1n * 1000n * MS);
  assert.equal(h.tcp.connectionCount, 0, 'the second 60 s after its own entry');
});
