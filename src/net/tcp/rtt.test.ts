/**
 * The RTT estimator by itself (RFC 6298, RFC 7323 §4): the exact SRTT,
 * RTTVAR and RTO each measurement gives, the bounds, the backoff, and which
 * ACKs may measure (Karn's algorithm, for timed segments and for echoed
 * timestamps). The segment tests see the same rules through the connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyTcpOptions, type TcpOptions } from '../../wire/tcp.ts';
import { RttEstimator } from './rtt.ts';

const MS = 1_000_000;
const ms = (n: number): bigint => BigInt(n * MS);

/** Bounds wide enough that only the formula shows (the RTO floor is 1 ms). */
const open = (): RttEstimator => new RttEstimator({ minRtoNs: ms(1), maxRtoNs: ms(600_000) });

const echo = (tsEcr: number): TcpOptions => ({ ...emptyTcpOptions(), hasTimestamps: true, tsVal: 1, tsEcr });

test('RFC 6298 §2.1: before any measurement the RTO is 1 s, or the configured initial RTO', () => {
  const r = new RttEstimator({});
  assert.deepEqual([r.rtoNs, r.rto, r.srtt, r.rttvar, r.backoff], [1000 * MS, ms(1000), 0, 0, 0]);
  const c = new RttEstimator({ initialRtoNs: ms(3000) });
  assert.deepEqual([c.rtoNs, c.rto], [3000 * MS, ms(3000)]);
  assert.deepEqual([r.minRtoNs, r.maxRtoNs], [200 * MS, 60_000 * MS], 'the floor (Linux: 200 ms) and the §2.5 ceiling of 60 s');
});

test('RFC 6298 §2.2: the first measurement R: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4 RTTVAR)', () => {
  const r = open();
  r.sample(100 * MS);
  assert.deepEqual([r.srtt, r.rttvar, r.rtoNs, r.rto], [100 * MS, 50 * MS, 300 * MS, ms(300)]);
});

test('RFC 6298 §2.3: later measurements: RTTVAR from the old SRTT with beta = 1/4, then SRTT with alpha = 1/8', () => {
  const r = open();
  r.sample(100 * MS);
  r.sample(200 * MS);
  // RTTVAR = 3/4 × 50 + 1/4 × |100 - 200| = 62.5; SRTT = 7/8 × 100 + 1/8 × 200 = 112.5; RTO = 112.5 + 250.
  assert.deepEqual([r.rttvar, r.srtt, r.rtoNs, r.rto], [62.5 * MS, 112.5 * MS, 362.5 * MS, 362_500_000n]);
  r.sample(50 * MS);
  // RTTVAR = 3/4 × 62.5 + 1/4 × 62.5 = 62.5; SRTT = 7/8 × 112.5 + 1/8 × 50 = 104.6875.
  assert.deepEqual([r.rttvar, r.srtt], [62.5 * MS, 104.6875 * MS]);
  assert.equal(r.rtoNs, 104.6875 * MS + 250 * MS);
});

test('RFC 6298 §2.2: the clock granularity G (1 ms) is the least variance term: a steady RTT gives RTO = SRTT + 1 ms', () => {
  const r = open();
  for (let i = 0; i < 200; i++) r.sample(10 * MS);
  assert.equal(r.srtt, 10 * MS);
  assert.ok(r.rttvar < 0.001, `RTTVAR decays to nothing: ${r.rttvar}`);
  assert.equal(r.rtoNs, 11 * MS);
  assert.equal(r.rto, ms(11));
});

test('RFC 6298 §2.4-2.5: the RTO is bounded below by the floor and above by the maximum', () => {
  const r = new RttEstimator({});
  r.sample(10 * MS); // 10 + 4 × 5 = 30 ms: raised to 200 ms.
  assert.deepEqual([r.rtoNs, r.rto], [200 * MS, ms(200)]);
  const big = new RttEstimator({});
  big.sample(30_000 * MS); // 30 s + 60 s: held at 60 s.
  assert.equal(big.rtoNs, 60_000 * MS);
  const bound = new RttEstimator({ minRtoNs: ms(50), maxRtoNs: ms(400) });
  bound.sample(5 * MS);
  assert.equal(bound.rtoNs, 50 * MS);
  bound.sample(5_000 * MS);
  assert.equal(bound.rtoNs, 400 * MS);
});

test('RFC 6298 §5.5: each timeout doubles the RTO, up to the maximum, counts the backoff, and stops timing', () => {
  const r = new RttEstimator({ maxRtoNs: ms(5000) });
  r.timeSegment(1000, 0n, false);
  const rtos: number[] = [];
  for (let i = 0; i < 5; i++) {
    r.backOff();
    rtos.push(r.rtoNs / MS);
    assert.equal(r.rto, BigInt(r.rtoNs));
  }
  assert.deepEqual(rtos, [2000, 4000, 5000, 5000, 5000]);
  assert.equal(r.backoff, 5);
  assert.equal(r.timedSeq, undefined, 'Karn: the timed segment is resent, no longer timed');
});

test('RFC 6298 §3: one segment is timed at a time; none while timestamps measure', () => {
  const r = open();
  r.timeSegment(1000, ms(5), false);
  r.timeSegment(2000, ms(6), false);
  assert.deepEqual([r.timedSeq, r.timedAtNs], [1000, ms(5)], 'the first stays timed');
  const t = open();
  t.timeSegment(1000, ms(5), true);
  assert.equal(t.timedSeq, undefined);
});

test('RFC 6298 §3: an ACK that covers the timed segment measures it; one below it does not', () => {
  const r = open();
  r.timeSegment(1000, ms(10), false);
  r.newAck(999, emptyTcpOptions(), false, 0, ms(50));
  assert.deepEqual([r.srtt, r.timedSeq], [0, 1000], 'the timed segment is not yet acknowledged');
  r.newAck(1000, emptyTcpOptions(), false, 0, ms(110));
  assert.deepEqual([r.srtt, r.timedSeq], [100 * MS, undefined], 'measured from when it was sent: 100 ms');
  r.newAck(2000, emptyTcpOptions(), false, 0, ms(500));
  assert.equal(r.srtt, 100 * MS, 'nothing timed, nothing measured');
});

test("Karn's algorithm (RFC 6298 §3): a retransmission stops the timing; the ACK covering it measures nothing", () => {
  const r = open();
  r.timeSegment(1000, ms(0), false);
  r.stopTiming();
  assert.equal(r.timedSeq, undefined);
  r.newAck(1000, emptyTcpOptions(), false, 0, ms(70));
  assert.equal(r.srtt, 0);
  r.timeSegment(2000, ms(100), false);
  assert.deepEqual([r.timedSeq, r.timedAtNs], [2000, ms(100)], 'the next new segment is timed');
});

test('RFC 6298 §3: sequence numbers compare modulo 2^32: the timed segment ends past the wrap', () => {
  const r = open();
  r.timeSegment(5, ms(0), false); // It ends 5 past 2^32.
  r.newAck(0xfffffff0, emptyTcpOptions(), false, 0, ms(20));
  assert.equal(r.srtt, 0, 'an ACK just before the wrap is below it');
  r.newAck(5, emptyTcpOptions(), false, 0, ms(40));
  assert.equal(r.srtt, 40 * MS);
});

test('RFC 6298 §5: an ACK of new data ends the backoff, the doubled RTO stays until a measurement', () => {
  const r = new RttEstimator({});
  r.backOff();
  r.backOff();
  r.newAck(1, emptyTcpOptions(), false, 0, ms(1));
  assert.deepEqual([r.backoff, r.rtoNs], [0, 4000 * MS]);
});

test('RFC 7323 §4.1 RTTM: the RTT is the timestamp clock now less the echoed TSval, in ms, at least 1 ms', () => {
  const r = open();
  r.newAck(1, echo(1000), true, 1250, ms(0));
  assert.equal(r.srtt, 250 * MS);
  const same = open();
  same.newAck(1, echo(1000), true, 1000, ms(0));
  assert.equal(same.srtt, 1 * MS, 'an echo of this very millisecond counts as 1 ms');
  const wrap = open();
  wrap.newAck(1, echo(0xffffff00), true, 0x40, ms(0));
  assert.equal(wrap.srtt, 0x140 * MS, 'the timestamp clock wraps modulo 2^32');
});

test('RFC 7323 §4.1: timestamps measure instead of the timed segment, and the timed segment is then done with', () => {
  const r = open();
  r.timeSegment(1000, ms(0), false);
  r.newAck(1000, echo(500), true, 530, ms(900));
  assert.deepEqual([r.srtt, r.timedSeq], [30 * MS, undefined]);
});

test('RFC 7323 §4.1: an echo of 0 (TSecr not valid), or timestamps not agreed, falls back to the timed segment', () => {
  const r = open();
  r.timeSegment(1000, ms(0), false);
  r.newAck(1000, echo(0), true, 530, ms(70));
  assert.equal(r.srtt, 70 * MS);
  const off = open();
  off.timeSegment(1000, ms(0), false);
  off.newAck(1000, echo(500), false, 530, ms(80));
  assert.equal(off.srtt, 80 * MS, 'a TSopt without agreement is not used');
  const none = open();
  none.timeSegment(1000, ms(0), false);
  none.newAck(1000, { ...echo(500), hasTimestamps: false }, true, 530, ms(90));
  assert.equal(none.srtt, 90 * MS, 'a segment without the option');
});

test("Karn's rule for timestamps: an echo older than the last retransmission may be the original's: no measurement", () => {
  const r = open();
  r.lastRetransmitTs = 2000;
  r.newAck(1, echo(1999), true, 2100, ms(0));
  assert.equal(r.srtt, 0);
  r.newAck(2, echo(2000), true, 2100, ms(0));
  assert.equal(r.srtt, 100 * MS, 'an echo of the retransmission itself measures');
  const w = open();
  w.lastRetransmitTs = 0xfffffff0;
  w.newAck(1, echo(0x10), true, 0x30, ms(0));
  assert.equal(w.srtt, 32 * MS, 'an echo past the wrap is newer than the retransmission');
});

test('the handshake: the SYN is timed from its latest sending; a resent SYN (Karn) or timestamps leave it unmeasured', () => {
  const r = open();
  r.timeSyn(ms(100));
  r.timeSyn(ms(1100));
  r.handshakeDone(ms(1150), true);
  assert.equal(r.srtt, 50 * MS);
  const resent = open();
  resent.timeSyn(ms(0));
  resent.backOff();
  resent.handshakeDone(ms(3000), true);
  assert.deepEqual([resent.srtt, resent.backoff], [0, 0], 'no sample after a retransmitted SYN; the backoff ends');
  const ts = open();
  ts.timeSyn(ms(0));
  ts.handshakeDone(ms(40), false);
  assert.equal(ts.srtt, 0);
});
