/**
 * Selective acknowledgements segment by segment: negotiation (RFC 2018 §2),
 * the blocks a receiver reports for out-of-order data (RFC 2018 §4), and a
 * sender's loss recovery driven by its scoreboard (RFC 6675). See
 * segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, S, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;
const SACK = { sackPermitted: true };

// --------------------------------------------------------------- negotiation

test('RFC 2018 §2: SACK-permitted in the SYN is answered in the SYN-ACK', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, sackPermitted: true });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460, sackPermitted: true }]);
});

test('RFC 2018 §2: with SACK off here, the offer is not answered and no blocks are ever sent', () => {
  const h = new SegmentHarness();
  h.listen({ sack: false });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, sackPermitted: true });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  h.send({ seq: R, ack: L, flags: '.' });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
});

test('RFC 2018 §2: a peer that did not permit SACK gets no blocks for out-of-order data', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
});

test('RFC 2018 §2: our SYN permits SACK; a SYN-ACK without it means none', () => {
  const h = new SegmentHarness();
  h.activeEstablished();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
});

// ------------------------------------------------------------------ receiver

test('RFC 2018 §4: an out-of-order segment is reported in a SACK block on the duplicate ACK', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0, sack: [R + 100, R + 200] }]);
});

test('RFC 2018 §4: the block of the latest segment comes first, then the others, most recent first', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 300, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 500, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(
    h.recv().map((s) => s.sack),
    [
      [R + 100, R + 200],
      [R + 300, R + 400, R + 100, R + 200],
      [R + 500, R + 600, R + 300, R + 400, R + 100, R + 200],
    ],
  );
});

test('RFC 2018 §4: a segment that extends a block is reported as the merged block, first', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 500, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 200, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv().at(-1)?.sack, [R + 100, R + 300, R + 500, R + 600]);
});

test('RFC 2018 §3: at most four blocks without timestamps', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  for (const k of [1, 3, 5, 7, 9]) h.send({ seq: R + k * 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv().at(-1)?.sack, [R + 900, R + 1000, R + 700, R + 800, R + 500, R + 600, R + 300, R + 400]);
});

test('RFC 2018 §3: at most three blocks beside timestamps', () => {
  const h = new SegmentHarness();
  h.established({}, { ...SACK, ts: [5, 0] }, { ts: [6, 0] });
  for (const k of [1, 3, 5, 7]) h.send({ seq: R + k * 100, ack: L, flags: '.', payload: 100, ts: [7, 0] });
  assert.deepEqual(h.recv().at(-1), {
    flags: '.',
    seq: L,
    ack: R,
    window: W,
    len: 0,
    ts: [h.tsNow, 6],
    sack: [R + 700, R + 800, R + 500, R + 600, R + 300, R + 400],
  });
});

test('RFC 2018 §4: filling the first hole moves the ACK and drops that block; the others stay', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 300, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 200, window: W, len: 0, sack: [R + 300, R + 400] }]);
});

test('RFC 2018 §4: once every hole is filled the ACK carries no SACK option', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 200, window: W, len: 0 }]);
  assert.equal(h.received.length, 200);
});

test('RFC 2883 §4 (3): a duplicate of out-of-order data already held is reported first as a D-SACK block, then in its SACK block', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(
    h.recv().map((s) => s.sack),
    [
      [R + 100, R + 200],
      [R + 100, R + 200, R + 100, R + 200],
    ],
  );
});

// -------------------------------------------------------------------- sender

/** ESTABLISHED with SACK, NewReno-free defaults, Nagle off; `n` full segments sent and none acknowledged. */
/** `n` segments out, and `rttNs` later (the peer's ACKs come a round trip after; RACK times losses from it, RFC 8985). */
function flight(n: number, rttNs = MS): SegmentHarness {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, SACK);
  c.write(new Uint8Array(n * M));
  assert.equal(h.recv().length, n);
  h.advance(rttNs);
  return h;
}
const seg = (i: number, flags = '.') => ({ flags, seq: L + i * M, ack: R, window: W, len: M });

test('RFC 6675 §5: one duplicate ACK SACKing three segments beyond a hole (IsLost) resends the hole, only it', () => {
  const h = flight(5);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 5 * M] });
  assert.deepEqual(h.recv(), [seg(0)]);
  assert.equal(h.tcp.counters.fastRetransmits, 1);
  h.send({ seq: R, ack: L + 5 * M, flags: '.' });
  h.advance(10n * S);
  assert.deepEqual(h.recv(), [], 'nothing SACKed is ever resent');
});

test('RFC 6675 §5: below the duplicate threshold nothing is resent', () => {
  const h = flight(6);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + 4 * M, L + M, L + 2 * M] });
  assert.deepEqual(h.recv(), []);
});

test('RFC 6675 §5: the third duplicate ACK resends every hole below the highest SACKed byte, in order', () => {
  const h = flight(6);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + 4 * M, L + M, L + 2 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + 6 * M, L + M, L + 2 * M] });
  assert.deepEqual(h.recv(), [seg(0), seg(2)]);
  h.send({ seq: R, ack: L + M, flags: '.', sack: [L + 3 * M, L + 6 * M] });
  h.send({ seq: R, ack: L + 6 * M, flags: '.' });
  h.advance(10n * S);
  assert.deepEqual(h.recv(), []);
});

test('RFC 6675 §5: entering recovery halves the window (CUBIC: × 0.7), resends the hole, then new data as the pipe allows (NextSeg rule 3)', () => {
  const h = flight(10); // the initial window, all of it
  h.conn!.write(new Uint8Array(10 * M)); // waits for room in the congestion window
  assert.deepEqual(h.recv(), []);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 10 * M] });
  // cwnd = 7 segments; pipe = 0 (nine SACKed, one lost): the hole, then six new segments.
  assert.deepEqual(h.recv(), [seg(0), ...[10, 11, 12, 13, 14, 15].map((i) => seg(i))]);
});

test('RFC 8985 §6.2: one segment SACKed above two holes: RACK finds them lost by time (its reordering timer) and a recovery starts; after a timeout the resend skips what the receiver SACKed (RFC 6675 §5.1)', () => {
  const h = flight(4);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 2 * M, L + 3 * M] });
  assert.deepEqual(h.recv(), [], 'below DupThresh, and within the reordering window');
  assert.equal(h.nextTimer(), MS / 4n, 'RACK.rtt (1 ms) + a quarter of the least RTT after they left, not the tail probe at 10 ms');
  assert.deepEqual(h.recv(), [seg(0)], 'lost by time: the recovery resends the first (PRR lets one out)');
  assert.equal(h.tcp.counters.fastRetransmits, 1);
  h.nextTimer();
  assert.deepEqual(h.recv(), [seg(0)], 'the RTO resends the first segment');
  assert.equal(h.tcp.counters.timeouts, 1);
  h.send({ seq: R, ack: L + M, flags: '.', sack: [L + 2 * M, L + 3 * M] });
  // After a timeout only what went out since counts as in flight, less what is SACKed: the window of two segments
  // takes segments 1 and 3 at once.
  assert.deepEqual(h.recv(), [seg(1), seg(3, 'P.')], 'segment 2 was SACKed: not resent');
});

test('RFC 2018 §5: SACK blocks at or below SND.UNA (D-SACK) and beyond SND.MAX are ignored', () => {
  const h = flight(2);
  h.send({ seq: R, ack: L + M, flags: '.', sack: [L - 500, L, L + 5 * M, L + 6 * M] });
  h.advance(100n * MS);
  assert.deepEqual(h.recv(), []);
  h.send({ seq: R, ack: L + 2 * M, flags: '.' });
  h.advance(10n * S);
  assert.deepEqual(h.recv(), []);
});

test('RFC 8985 §7: with SACK, an unanswered tail is probed (its last segment again) after 2 SRTT, floored at 10 ms, before the RTO', () => {
  const h = flight(3, 0n);
  assert.equal(Number(h.nextTimer() / MS), 10);
  assert.deepEqual(h.recv(), [seg(2, 'P.')]);
  assert.equal(h.tcp.counters.tailProbes, 1);
  h.send({ seq: R, ack: L + 3 * M, flags: '.' });
  h.advance(10n * S);
  assert.deepEqual(h.recv(), []);
});

test('RFC 8985 §7.2: one segment out: the probe would come after the RTO (2 SRTT + 200 ms), so the RTO resends it', () => {
  const h = flight(3);
  h.send({ seq: R, ack: L + 2 * M, flags: '.' });
  assert.equal(Number(h.nextTimer() / MS), 200);
  assert.deepEqual(h.recv(), [seg(2, 'P.')]);
  assert.equal(h.tcp.counters.tailProbes, 0);
  assert.equal(h.tcp.counters.timeouts, 1);
});

test('RFC 8985 §6.2 (the idea of RACK): a resent hole still open once data sent after the resend is SACKed was lost again: resent again', () => {
  const h = flight(10);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 4 * M] }); // Three segments SACKed above the hole: recovery.
  assert.deepEqual(h.recv(), [seg(0)], 'the hole, once (cwnd 7, pipe 6 + 1)');
  h.conn!.write(new Uint8Array(5 * M));
  assert.deepEqual(h.recv(), [], 'the pipe is full');
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 9 * M] });
  assert.deepEqual(h.recv(), [10, 11, 12, 13].map((i) => seg(i)).concat([seg(14, 'P.')]), 'no hole left above HighRxt: new data');
  assert.equal(h.tcp.counters.lostRetransmits, 0, 'nothing sent after the resend is SACKed yet');
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 12 * M] });
  assert.deepEqual(h.recv(), [seg(0)], 'segment 10, sent after the resend, arrived; the resend did not');
  assert.equal(h.tcp.counters.lostRetransmits, 1);
  h.send({ seq: R, ack: L + 15 * M, flags: '.' });
  assert.equal(h.conn!.cc.cwnd, 7 * M, 'the full ACK ends recovery at ssthresh');
});

test('RFC 8985 §7.3: the tail loss probe sends a new segment when one is queued and the peer window allows it', () => {
  const h = flight(10, 0n);
  h.conn!.write(new Uint8Array(2 * M)); // Beyond the congestion window.
  assert.deepEqual(h.recv(), []);
  assert.equal(Number(h.nextTimer() / MS), 10);
  assert.deepEqual(h.recv(), [seg(10)], 'new data, not a resend (the probe may exceed cwnd)');
  assert.deepEqual([h.tcp.counters.tailProbes, h.tcp.counters.retransmits], [1, 0]);
  assert.equal(Number(h.nextTimer() / MS), 200, 'one probe only; then the RTO from the probe');
  assert.deepEqual(h.recv(), [seg(0)]);
});

test('RFC 8985 §7.2: PTO = 2 SRTT with several segments out', () => {
  const h = new SegmentHarness({ rttNs: 80n * MS }); // SRTT 80 ms, RTTVAR 40 ms: RTO 240 ms.
  const c = h.established({ noDelay: true }, SACK);
  c.write(new Uint8Array(3 * M));
  h.recv();
  assert.equal(Number(h.nextTimer() / MS), 160);
  assert.deepEqual(h.recv(), [seg(2, 'P.')]);
});

test('RFC 8985 §7.2: PTO = 2 SRTT + WCDelAckT (200 ms) with one segment out, when that is before the RTO', () => {
  const h = new SegmentHarness({ rttNs: 300n * MS }); // SRTT 300 ms, RTTVAR 150 ms: RTO 900 ms.
  const c = h.established({ noDelay: true }, SACK);
  c.write(new Uint8Array(M));
  h.recv();
  assert.equal(Number(h.nextTimer() / MS), 800);
  assert.deepEqual(h.recv(), [seg(0, 'P.')]);
  assert.deepEqual([h.tcp.counters.tailProbes, h.tcp.counters.timeouts], [1, 0]);
});

test('RFC 8985 §7: no probe without SACK: the RTO resends', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(3 * M));
  h.recv();
  assert.equal(Number(h.nextTimer() / MS), 200);
  assert.equal(h.tcp.counters.tailProbes, 0);
});

test('RFC 5827 early retransmit: two segments out, the second SACKed: one duplicate ACK resends the first', () => {
  const h = flight(2);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  assert.deepEqual(h.recv(), [seg(0)]);
  assert.equal(h.tcp.counters.fastRetransmits, 1);
});

test('RFC 5827 early retransmit: three segments out: the threshold is two duplicates (or two segments SACKed)', () => {
  const h = flight(3);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 2 * M, L + 3 * M] });
  assert.deepEqual(h.recv(), [], 'one duplicate, one segment SACKed');
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 3 * M] });
  assert.deepEqual(h.recv(), [seg(0)]);
  const two = flight(3);
  two.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 3 * M] });
  assert.deepEqual(two.recv(), [seg(0)], 'two segments SACKed by one duplicate ACK');
});

test('RFC 5827: a partial last segment counts as one out: 2 full + 100 bytes is three segments, threshold two', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, SACK);
  c.write(new Uint8Array(2 * M + 100));
  h.recv();
  h.advance(MS);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 2 * M, L + 2 * M + 100] });
  assert.deepEqual(h.recv(), [], 'one duplicate of a threshold of two');
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M + 100] });
  assert.deepEqual(h.recv(), [seg(0)]);
});

test('RFC 6675 §5: four or more segments out: three duplicate ACKs (DupThresh), each SACKing something new', () => {
  const h = flight(8);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 7 * M, L + 8 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 6 * M, L + 8 * M] });
  assert.deepEqual(h.recv(), []);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 5 * M, L + 8 * M] });
  // Segments 0-4 each have three SACKed segments above them (IsLost), so nothing is in flight: below ssthresh (5.6
  // segments), proportional rate reduction's slow-start bound (RFC 6937 §3, PRR-SSRB) lets out what this ACK
  // delivered and one more, not the whole of ssthresh at once.
  assert.deepEqual(
    h.recv(),
    [0, 1].map((i) => seg(i)),
  );
  // The next ACK delivers segment 0 (and SACKs nothing new): two more (its segment, one more), and so on up to ssthresh.
  h.send({ seq: R, ack: L + M, flags: '.', sack: [L + 5 * M, L + 8 * M] });
  assert.deepEqual(
    h.recv(),
    [2, 3].map((i) => seg(i)),
  );
});

test('RFC 6675 §5.1: the SACKed data is skipped after one or two timeouts; after a third the scoreboard is cleared (the receiver may have reneged)', () => {
  const after = (timeouts: number): number[] => {
    const h = flight(4);
    h.send({ seq: R, ack: L, flags: '.', sack: [L + 2 * M, L + 3 * M] });
    h.nextTimer(); // The tail probe: segment 3.
    for (let i = 0; i < timeouts; i++) h.nextTimer(); // Segment 0 each time.
    h.recv();
    h.send({ seq: R, ack: L + 2 * M, flags: '.' });
    return h.recv().map((s) => (s.seq - L) / M);
  };
  assert.deepEqual(after(2), [3], 'segment 2 is SACKed: skipped');
  assert.deepEqual(after(3), [2, 3], 'forgotten: resent');
});

test('RFC 8985 §7: no tail loss probe once our FIN is queued (FIN-WAIT-1): the RTO resends', () => {
  const h = flight(3, 0n);
  h.conn!.shutdown();
  assert.deepEqual(
    h.recv().map((s) => s.flags),
    ['F.'],
  );
  assert.equal(Number(h.nextTimer() / MS), 200);
  assert.equal(h.tcp.counters.tailProbes, 0);
});

test('RFC 2018 §2: SACK blocks from a peer that did not permit SACK are ignored: the resend after a timeout skips nothing', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }); // No SACK-permitted in the SYN.
  c.write(new Uint8Array(4 * M));
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 2 * M, L + 3 * M] });
  h.nextTimer();
  h.recv();
  h.send({ seq: R, ack: L + M, flags: '.' });
  assert.deepEqual(
    h.recv().map((s) => (s.seq - L) / M),
    [1, 2],
    'segment 2 resent in turn',
  );
});

test("RFC 8985 §7.3: the probe's new segment must fit the peer's window; if it does not, the last segment goes again", () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, SACK, { window: 3 * M });
  c.write(new Uint8Array(5 * M));
  assert.equal(h.recv().length, 3, 'the window holds three');
  assert.equal(Number(h.nextTimer() / MS), 10);
  assert.deepEqual(h.recv(), [seg(2)]);
});

test('RFC 8985 §7: an ACK of new data ends the probe episode: the next tail is probed again', () => {
  const h = flight(3);
  h.nextTimer();
  h.recv();
  h.send({ seq: R, ack: L + 3 * M, flags: '.' });
  h.conn!.write(new Uint8Array(3 * M));
  h.recv();
  assert.equal(Number(h.nextTimer() / MS), 10);
  assert.deepEqual(h.recv(), [seg(5, 'P.')]);
  assert.equal(h.tcp.counters.tailProbes, 2);
});

test('RFC 6675 §5: more duplicate ACKs during a SACK recovery do not start another one', () => {
  const h = flight(8);
  h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + 8 * M, L + M, L + 2 * M] });
  assert.deepEqual(h.recv(), [seg(0), seg(2)]);
  const cwnd = h.conn!.cc.cwnd;
  for (let i = 0; i < 3; i++) h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + 8 * M, L + M, L + 2 * M + i + 1] });
  assert.equal(h.tcp.counters.fastRetransmits, 1);
  assert.equal(h.conn!.cc.cwnd, cwnd, 'the window is reduced once');
});
