/**
 * What the layer counts, segment by segment (the counters the stack's
 * telemetry reads): segments in, out of order, retransmissions and their
 * bytes, timeouts; and Karn's algorithm seen from outside (RFC 6298 §3: a
 * retransmitted segment's ACK never measures the RTT). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, S, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  M = 1460;

test('segmentsIn counts every segment a connection takes; outOfOrder those beyond RCV.NXT', () => {
  const h = new SegmentHarness();
  h.established();
  const k = h.tcp.counters;
  const [inBefore, oooBefore] = [k.segmentsIn, k.outOfOrder];
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 300, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual([k.segmentsIn - inBefore, k.outOfOrder - oooBefore], [3, 2]);
});

test('an RTO resend counts one retransmission and its bytes, each time; a timeout each time', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(1000));
  h.recv();
  const k = h.tcp.counters;
  h.nextTimer();
  assert.deepEqual([k.retransmits, k.bytesRetransmitted, k.timeouts], [1, 1000, 1]);
  h.nextTimer();
  assert.deepEqual([k.retransmits, k.bytesRetransmitted, k.timeouts], [2, 2000, 2]);
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [
      [L, 1000],
      [L, 1000],
    ],
  );
});

test('a resent SYN counts a retransmission of no data bytes', () => {
  const h = new SegmentHarness();
  h.synSent();
  h.nextTimer();
  const k = h.tcp.counters;
  assert.deepEqual([k.retransmits, k.bytesRetransmitted, k.timeouts], [1, 0, 1]);
});

test('zero-window probes: the first octet is new data; the same octet probed again counts as resent', () => {
  const h = new SegmentHarness();
  const c = h.established({}, {}, { window: 0 });
  c.write(new Uint8Array(100));
  const k = h.tcp.counters;
  h.nextTimer();
  assert.deepEqual([k.retransmits, k.bytesRetransmitted], [0, 0]);
  h.nextTimer();
  h.nextTimer();
  assert.deepEqual([k.retransmits, k.bytesRetransmitted], [2, 2]);
  assert.equal(h.recv().length, 3);
});

test('a SACK hole resent counts its bytes', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, { sackPermitted: true });
  c.write(new Uint8Array(4 * M));
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 4 * M] });
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, M]],
  );
  assert.deepEqual([h.tcp.counters.retransmits, h.tcp.counters.bytesRetransmitted], [1, M]);
});

test("Karn's algorithm (RFC 6298 §3): the ACK of a resent segment does not measure the RTT", () => {
  const h = new SegmentHarness(); // SRTT 1 ms from the handshake.
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(100));
  h.recv();
  h.nextTimer(); // Resent at 200 ms.
  h.advance(3n * S);
  h.send({ seq: R, ack: L + 100, flags: '.' });
  assert.equal(c.srttNs, 1_000_000, 'neither 200 ms nor 3.2 s: no sample');
  c.write(new Uint8Array(100));
  h.recv();
  h.advance(50n * MS);
  h.send({ seq: R, ack: L + 200, flags: '.' });
  assert.equal(c.srttNs, 0.875 * 1_000_000 + 0.125 * 50_000_000, 'the next new segment is timed again');
});

test('RFC 5681: the FIN is not counted as data acknowledged: slow start grows by the data only', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(100));
  c.shutdown();
  h.recv();
  const before = c.cc.cwnd;
  h.send({ seq: R, ack: L + 101, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
  assert.equal(c.cc.cwnd, before + 100);
});

test('RFC 6298 §5.1: a new segment sent while the timer runs does not restart it', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(100));
  h.advance(150n * MS);
  c.write(new Uint8Array(100));
  h.recv();
  assert.equal(Number(h.nextTimer() / MS), 50, 'the RTO of the first segment, 200 ms after it');
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, 200]],
    'both resent as one segment',
  );
});

test("after a timeout, the go-back resends count as retransmissions and are not timed (Karn's algorithm)", () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(3 * M));
  h.recv();
  h.nextTimer(); // Segment 0 again; cwnd one segment.
  h.recv();
  h.send({ seq: R, ack: L + M, flags: '.' });
  assert.deepEqual(
    h.recv().map((s) => s.seq),
    [L + M, L + 2 * M],
    'segments 1 and 2 again',
  );
  assert.deepEqual([h.tcp.counters.retransmits, h.tcp.counters.bytesRetransmitted], [3, 3 * M]);
  const srtt = c.srttNs;
  h.advance(2n * S);
  h.send({ seq: R, ack: L + 3 * M, flags: '.' });
  assert.equal(c.srttNs, srtt, 'no sample from resent segments');
});
