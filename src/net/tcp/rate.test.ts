/** Delivery-rate estimation: samples from records, the send and ACK intervals, app-limited marks, Karn for RTTs, RACK's resend rule. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateSampler } from './rate.ts';

const MS = 1e6;
const SEG = 1000;

/** Sends `n` segments of SEG octets from `seq`, one every `gapNs` from `t0`; returns the next sequence number. */
function sendRun(r: RateSampler, seq: number, n: number, t0: number, gapNs: number, firstIdle: boolean): number {
  for (let i = 0; i < n; i++) {
    r.onSend(seq, SEG, t0 + i * gapNs, firstIdle && i === 0);
    seq = (seq + SEG) >>> 0;
  }
  return seq;
}

test('a cumulative ACK samples the most recently sent record: delivered over max(send, ACK) interval, and its RTT', () => {
  const r = new RateSampler();
  // Ten segments 1 ms apart from t = 0, nothing out before: the intervals start at the first send.
  sendRun(r, 100, 10, 0, 1 * MS, true);
  assert.equal(r.records, 10);
  // All acknowledged at t = 50 ms: the newest (sent at 9 ms) is the sample's; ACK elapsed 50 ms beats send elapsed 9 ms.
  r.beginAck(50 * MS);
  r.ackCumulative(100 + 10 * SEG);
  const rs = r.finishAck(10 * SEG, 50 * MS);
  assert.equal(rs.delivered, 10 * SEG);
  assert.equal(rs.intervalNs, 50 * MS);
  assert.equal(rs.rttNs, 41 * MS);
  assert.equal(rs.priorDelivered, 0);
  assert.equal(rs.totalDelivered, 10 * SEG);
  assert.equal(r.records, 0, 'acknowledged records are dropped');
  assert.equal(r.minRttNs, 41 * MS);
});

test('a sample spans from the sampled record back to the delivery state it was sent with', () => {
  const r = new RateSampler();
  let seq = sendRun(r, 0, 4, 0, 1 * MS, true);
  r.beginAck(20 * MS);
  r.ackCumulative(2 * SEG);
  r.finishAck(2 * SEG, 20 * MS);
  // Sent after 2000 octets were delivered at 20 ms: a later ACK of it measures from there.
  seq = sendRun(r, seq, 1, 21 * MS, 0, false);
  r.beginAck(41 * MS);
  r.ackCumulative(seq);
  const rs = r.finishAck(3 * SEG, 41 * MS);
  assert.equal(rs.priorDelivered, 2 * SEG);
  assert.equal(rs.delivered, 3 * SEG);
  // Send elapsed: 21 ms - first_sent (3 ms, the record the first ACK sampled) = 18 ms; ACK elapsed 41 - 20 = 21 ms.
  assert.equal(rs.intervalNs, 21 * MS);
  assert.equal(rs.rttNs, 20 * MS);
});

test('after idle the intervals restart at the first send: a sample does not span the silence', () => {
  const r = new RateSampler();
  sendRun(r, 0, 2, 0, 0, true);
  r.beginAck(10 * MS);
  r.ackCumulative(2 * SEG);
  assert.equal(r.finishAck(2 * SEG, 10 * MS).intervalNs, 10 * MS);
  // Nothing out from 10 to 500 ms; a segment sent then and acknowledged 10 ms later measures 10 ms, not 500.
  r.onSend(2 * SEG, SEG, 500 * MS, true);
  r.beginAck(510 * MS);
  r.ackCumulative(3 * SEG);
  const rs = r.finishAck(SEG, 510 * MS);
  assert.equal(rs.totalDelivered, 3 * SEG);
  assert.equal(rs.delivered, SEG);
  assert.equal(rs.intervalNs, 10 * MS);
});

test('SACKed records are delivered once: a later cumulative ACK does not count them again, nor sample them', () => {
  const r = new RateSampler();
  sendRun(r, 0, 5, 0, 1 * MS, true);
  r.beginAck(30 * MS);
  r.ackSacked(2 * SEG, 4 * SEG); // Records 2 and 3 whole.
  let rs = r.finishAck(2 * SEG, 30 * MS);
  assert.equal(rs.rttNs, 27 * MS, 'the newest SACKed record (sent at 3 ms)');
  // The hole is filled: the cumulative ACK passes records 0-3; 0 and 1 are new, 2 and 3 were counted.
  r.beginAck(31 * MS);
  r.ackCumulative(4 * SEG);
  rs = r.finishAck(2 * SEG, 31 * MS);
  assert.equal(rs.rttNs, 30 * MS, 'sampled from record 1 (sent at 1 ms), not the already SACKed 3');
  assert.equal(r.records, 1);
});

test('a resent record gives no RTT (Karn), yet its delivery still makes a rate sample', () => {
  const r = new RateSampler();
  sendRun(r, 0, 3, 0, 1 * MS, true);
  r.onSend(0, SEG, 40 * MS, false); // Resend of the first segment.
  assert.equal(r.records, 3, 'a resend refreshes, it does not add');
  r.beginAck(41 * MS);
  r.ackCumulative(3 * SEG);
  const rs = r.finishAck(3 * SEG, 41 * MS);
  assert.equal(rs.rttNs, -1);
  assert.equal(rs.delivered, 3 * SEG);
});

test('application-limited: samples of data sent while marked say so, until what was in flight is delivered', () => {
  const r = new RateSampler();
  sendRun(r, 0, 2, 0, 0, true);
  r.onAppLimited(2 * SEG); // Nothing more to send; 2000 octets out.
  assert.equal(r.appLimitedUntil, 2 * SEG);
  r.onSend(2 * SEG, SEG, 5 * MS, false);
  r.beginAck(20 * MS);
  r.ackCumulative(2 * SEG);
  assert.equal(r.finishAck(2 * SEG, 20 * MS).appLimited, false, 'sent before the mark');
  r.beginAck(25 * MS);
  r.ackCumulative(3 * SEG);
  assert.equal(r.finishAck(SEG, 25 * MS).appLimited, true);
  assert.equal(r.appLimitedUntil, 0, 'the mark ends once delivered passes it');
});

test("RACK's rule for a resend: lost once data sent later than it (by more than the reordering window) is delivered", () => {
  const r = new RateSampler();
  sendRun(r, 0, 4, 0, 1 * MS, true);
  r.beginAck(20 * MS);
  r.ackCumulative(SEG); // Record 0 delivered; records 1.. outstanding.
  r.finishAck(SEG, 20 * MS);
  assert.equal(r.headResendLost(SEG, 2 * MS), false, 'the head was never resent');
  r.onSend(SEG, SEG, 21 * MS, false); // Resend record 1 at 21 ms.
  r.onSend(4 * SEG, SEG, 22 * MS, false); // New data at 22 ms.
  r.beginAck(42 * MS);
  r.ackSacked(4 * SEG, 5 * SEG); // The new data (sent 1 ms after the resend) arrives; the resend does not.
  r.finishAck(SEG, 42 * MS);
  assert.equal(r.headResendLost(SEG, 2 * MS), false, 'within a 2 ms reordering window');
  assert.equal(r.headResendLost(SEG, 0.5 * MS), true);
});

test('records wrap the sequence space and the ring grows past its first 16', () => {
  const r = new RateSampler();
  const start = 0xffff_ff00;
  const end = sendRun(r, start, 40, 0, 1000, true);
  assert.equal(r.records, 40);
  r.beginAck(10 * MS);
  r.ackCumulative((start + 20 * SEG) >>> 0);
  const rs = r.finishAck(20 * SEG, 10 * MS);
  assert.equal(rs.rttNs, 10 * MS - 19 * 1000);
  assert.equal(r.records, 20);
  r.beginAck(11 * MS);
  r.ackSacked((start + 30 * SEG) >>> 0, end);
  assert.equal(r.finishAck(10 * SEG, 11 * MS).rttNs, 11 * MS - 39 * 1000);
});

test('an offloaded packet is one record, split where a resend or a SACK block covers only part of it', () => {
  const r = new RateSampler();
  r.onSend(0, 8 * SEG, 0, true); // One 8-segment packet.
  assert.equal(r.records, 1);
  r.beginAck(20 * MS);
  r.ackSacked(2 * SEG, 4 * SEG); // Segments 2 and 3 arrived; 0 and 1 did not.
  assert.equal(r.finishAck(2 * SEG, 20 * MS).rttNs, 20 * MS);
  assert.equal(r.records, 3, 'before, the SACKed part, after');
  r.onSend(0, SEG, 21 * MS, false); // Segment 0 resent alone.
  assert.equal(r.records, 4);
  // Segment 1's original turns up: it was not resent, so its RTT counts, and the resent piece is not taken for it.
  r.beginAck(30 * MS);
  r.ackSacked(SEG, 2 * SEG);
  assert.equal(r.finishAck(SEG, 30 * MS).rttNs, 30 * MS);
  assert.equal(r.headResendLost(0, 1 * MS), false, 'nothing sent after the resend was delivered');
  // The SACKed part is not counted again when the cumulative ACK passes it.
  r.beginAck(41 * MS);
  r.ackCumulative(8 * SEG);
  const rs = r.finishAck(5 * SEG, 41 * MS);
  assert.equal(rs.rttNs, -1, 'the newest delivered record is the resend: no RTT from it');
  assert.equal(r.records, 0);
});
