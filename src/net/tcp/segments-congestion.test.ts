/**
 * The congestion window on the wire, segment by segment: the initial window
 * (RFC 6928), slow start and congestion avoidance as the ACKs come (RFC 5681,
 * RFC 9438 CUBIC), NewReno fast recovery without SACK (RFC 6582), limited
 * transmit (RFC 3042) and early retransmit (RFC 5827). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NewReno } from './congestion.ts';
import { LOCAL_ISS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;

test('RFC 6928: the initial window is ten segments up to 14600 bytes: min(10 MSS, max(2 MSS, 14600))', () => {
  const h = new SegmentHarness({ mtu: 9000 });
  const c = h.established({ noDelay: true }, { mss: 8960 });
  c.write(new Uint8Array(100_000));
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [
      [L, 8960],
      [L + 8960, 8960],
    ],
    'an 8960-byte MSS: 2 MSS (17920) is the larger of 2 MSS and 14600',
  );
  const small = new SegmentHarness();
  const d = small.established({ noDelay: true }, { mss: undefined }); // No MSS option: 536.
  d.write(new Uint8Array(100_000));
  assert.equal(small.recv().length, 10, 'ten 536-byte segments');
});

const seg = (i: number, flags = '.') => ({ flags, seq: L + i * M, ack: R, window: W, len: M });
const dupAck = (h: SegmentHarness, n = 1): void => {
  for (let i = 0; i < n; i++) h.send({ seq: R, ack: L, flags: '.' });
};

/** ESTABLISHED without SACK, NewReno, 20 segments queued: the initial window (segments 0-9) is out. */
function newRenoFlight(): SegmentHarness {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true, congestion: (m) => new NewReno(m) });
  c.write(new Uint8Array(20 * M));
  assert.deepEqual(
    h.recv(),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => seg(i)),
  );
  return h;
}

test('RFC 3042 limited transmit: each of the first two duplicate ACKs lets one new segment out', () => {
  const h = newRenoFlight();
  dupAck(h);
  assert.deepEqual(h.recv(), [seg(10)]);
  dupAck(h);
  assert.deepEqual(h.recv(), [seg(11)]);
  assert.equal(h.conn!.cc.cwnd, 10 * M, 'the congestion window itself is unchanged');
});

test('RFC 6582 §3.2: the third duplicate ACK resends SND.UNA; ssthresh = FlightSize / 2, cwnd = ssthresh + 3 MSS', () => {
  const h = newRenoFlight();
  dupAck(h, 2);
  h.recv();
  dupAck(h);
  assert.deepEqual(h.recv(), [seg(0)], 'fast retransmit, and no new data: 12 segments out, cwnd 9');
  assert.deepEqual([h.conn!.cc.ssthresh, h.conn!.cc.cwnd], [6 * M, 9 * M], 'FlightSize was 12 segments');
  assert.equal(h.tcp.counters.fastRetransmits, 1);
});

test('RFC 6582 §3.2 step 4: each further duplicate ACK inflates cwnd by one MSS; new data goes once it covers the flight', () => {
  const h = newRenoFlight();
  dupAck(h, 3);
  h.recv();
  dupAck(h, 3); // cwnd 10, 11, 12: 12 segments are out.
  assert.deepEqual(h.recv(), []);
  assert.equal(h.conn!.cc.cwnd, 12 * M);
  dupAck(h);
  assert.deepEqual(h.recv(), [seg(12)]);
});

test('RFC 6582 §3.2 step 5: a partial ACK resends the next unacknowledged segment, deflated by what it acked, plus one MSS', () => {
  const h = newRenoFlight();
  dupAck(h, 7);
  assert.deepEqual(h.recv(), [seg(10), seg(11), seg(0), seg(12)]);
  h.send({ seq: R, ack: L + M, flags: '.' }); // Segment 1 was lost too.
  // cwnd = 13 - 1 + 1 = 13 segments; 12 out after the ACK: the resend, then one new segment.
  assert.deepEqual(h.recv(), [seg(1), seg(13)]);
  assert.equal(h.conn!.cc.cwnd, 13 * M);
  assert.equal(h.tcp.counters.fastRetransmits, 1, 'still the same recovery');
});

test('RFC 6582 §3.2 step 3: the full ACK (at "recover") ends recovery with cwnd = min(ssthresh, FlightSize + MSS)', () => {
  const h = newRenoFlight();
  dupAck(h, 7);
  h.send({ seq: R, ack: L + M, flags: '.' });
  h.recv();
  h.send({ seq: R, ack: L + 12 * M, flags: '.' }); // "recover" was SND.MAX at the third duplicate: 12 segments.
  // Two segments (12, 13) still out: cwnd = min(6, 2 + 1) = 3 segments: one new one.
  assert.equal(h.conn!.cc.cwnd, 3 * M);
  assert.deepEqual(h.recv(), [seg(14)]);
  h.send({ seq: R, ack: L + 15 * M, flags: '.' });
  assert.equal(
    h.conn!.cc.cwnd,
    3 * M + 2 * M,
    'slow start again below ssthresh (6 segments): three acknowledged, at most two counted (L = 2)',
  );
});

test('RFC 6582 §4.1: duplicate ACKs for data sent before a timeout do not start a fast retransmit ("recover" = SND.MAX)', () => {
  const h = newRenoFlight();
  h.nextTimer(); // The RTO: segment 0 again, cwnd one segment.
  assert.deepEqual(h.recv(), [seg(0)]);
  h.send({ seq: R, ack: L + M, flags: '.' }); // Slow start: two segments.
  assert.deepEqual(h.recv(), [seg(1), seg(2)]);
  for (let i = 0; i < 3; i++) h.send({ seq: R, ack: L + M, flags: '.' });
  assert.equal(h.tcp.counters.fastRetransmits, 0, 'the duplicates are for data sent before the timeout');
  assert.deepEqual(h.recv(), [seg(3), seg(4)], 'limited transmit for the first two; the third resends nothing');
});

test('RFC 5681 §2: an ACK is a duplicate only without data, without FIN, with the window unchanged and data outstanding', () => {
  const withData = newRenoFlight();
  for (let i = 0; i < 3; i++) withData.send({ seq: R + i * 10, ack: L, flags: '.', payload: 10 });
  assert.equal(withData.tcp.counters.dupAcks, 0, 'ACKs carrying data');
  const windows = newRenoFlight();
  for (let i = 0; i < 3; i++) windows.send({ seq: R, ack: L, flags: '.', window: 50_000 + i });
  assert.equal(windows.tcp.counters.dupAcks, 0, 'each changes the window');
  const zero = newRenoFlight();
  for (let i = 0; i < 3; i++) zero.send({ seq: R, ack: L, flags: '.', window: 0 });
  assert.equal(zero.tcp.counters.dupAcks, 0, 'a zero window is no sign of loss');
  const fin = newRenoFlight();
  fin.send({ seq: R, ack: L, flags: 'F.' });
  assert.equal(fin.tcp.counters.dupAcks, 0, 'a FIN');
  const idle = new SegmentHarness();
  idle.established();
  for (let i = 0; i < 3; i++) idle.send({ seq: R, ack: L, flags: '.' });
  assert.equal(idle.tcp.counters.dupAcks, 0, 'nothing outstanding');
  const dup = newRenoFlight();
  for (let i = 0; i < 2; i++) dup.send({ seq: R, ack: L, flags: '.' });
  assert.equal(dup.tcp.counters.dupAcks, 2, 'and these are');
  assert.equal(withData.tcp.counters.fastRetransmits + windows.tcp.counters.fastRetransmits + zero.tcp.counters.fastRetransmits, 0);
});
