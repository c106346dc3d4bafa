/**
 * D-SACK (RFC 2883) segment by segment: the receiver reports a duplicate segment in the first SACK block of the ACK
 * it sends, once; the sender takes such a block as news of a duplicate, not of data SACKed (RFC 2883 §4.2), undoes
 * a recovery whose every resend came back duplicated (RFC 3708's use of it), and widens RACK's reordering window
 * (RFC 8985 §6.2 step 4). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535;
const SACK = { sackPermitted: true };

// ------------------------------------------------------------------ receiver

test('RFC 2883 §4 (1): a segment wholly below RCV.NXT is reported in a D-SACK block on the ACK it gets', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 }); // A resend of what already arrived.
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 200, window: W, len: 0, sack: [R, R + 100] }]);
  assert.equal(h.received.length, 200, 'the duplicate is not delivered again');
});

test('RFC 2883 §4 (2): a segment partly below RCV.NXT: the old part is reported, the new part taken, the ACK goes at once', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 200 }); // 100 old octets, 100 new.
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 300, window: W, len: 0, sack: [R + 100, R + 200] }]);
  assert.equal(h.received.length, 300);
});

test('RFC 2883 §4: the D-SACK block comes first, then the blocks of out-of-order data, within the three beside timestamps', () => {
  const h = new SegmentHarness();
  h.established({}, { ...SACK, ts: [5, 0] }, { ts: [6, 0] });
  h.send({ seq: R, ack: L, flags: '.', payload: 100, ts: [7, 0] });
  for (const k of [2, 4, 6]) h.send({ seq: R + k * 100, ack: L, flags: '.', payload: 100, ts: [7, 0] });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100, ts: [7, 0] });
  assert.deepEqual(h.recv().at(-1)?.sack, [R, R + 100, R + 600, R + 700, R + 400, R + 500]);
});

test('RFC 2883 §4: a duplicate is reported once; the next ACK carries only the SACK blocks', () => {
  const h = new SegmentHarness();
  h.established({}, SACK);
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 200, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 400, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(
    h.recv().map((s) => s.sack),
    [
      [R, R + 100, R + 200, R + 300],
      [R + 400, R + 500, R + 200, R + 300],
    ],
  );
});

test('RFC 2883: without SACK negotiated a duplicate gets a plain ACK', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 100, window: W, len: 0 }]);
});

// -------------------------------------------------------------------- sender

const M = 1460;

/** A passive open with SACK and no timestamps; ten segments out, then 20 ms pass (the least RTT RACK measures). */
function tenOut(): { h: SegmentHarness; c: NonNullable<SegmentHarness['conn']>; L: number } {
  const h = new SegmentHarness();
  h.listen({});
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, sackPermitted: true });
  const L = h.recv()[0]!.seq + 1;
  h.send({ seq: R, ack: L, flags: '.' });
  const c = h.conn!;
  c.noDelay = true;
  c.write(new Uint8Array(10 * M));
  assert.equal(h.recv().length, 10);
  h.advance(20n * MS);
  return { h, c, L };
}

/** Segment 0 is late: 1-5 are SACKed, a recovery starts and resends segment 0; then the original arrives. */
function spuriousRecovery(): { h: SegmentHarness; c: NonNullable<SegmentHarness['conn']>; L: number; before: number; ssthresh: number } {
  const { h, c, L } = tenOut();
  const before = c.cc.cwnd,
    ssthresh = c.cc.ssthresh;
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + (k + 1) * M] });
  assert.equal(h.tcp.counters.fastRetransmits, 1);
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, M]],
    'segment 0 resent',
  );
  h.send({ seq: R, ack: L + 10 * M, flags: '.' }); // The original: everything is acknowledged, the recovery ends.
  assert.ok(c.cc.cwnd < before, 'the window stays reduced: nothing tells yet that the resend was not needed');
  return { h, c, L, before, ssthresh };
}

test('RFC 2883 §5, RFC 3708: the resend of a fast recovery reported back as a duplicate undoes the recovery, after it ended', () => {
  const { h, c, L, before, ssthresh } = spuriousRecovery();
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L, L + M] }); // The resend arrived too: a D-SACK for it.
  assert.equal(h.tcp.counters.spuriousRecoveries, 1);
  assert.equal(c.cc.cwnd, before, 'the window as it was before the recovery');
  assert.equal(c.cc.ssthresh, ssthresh);
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L, L + M] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 1, 'undone once');
});

test('RFC 2883 §4.2: a D-SACK for data that was not resent (a duplicate the network made) undoes nothing and SACKs nothing', () => {
  const { h, c, L } = spuriousRecovery();
  const reduced = c.cc.cwnd;
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L + 7 * M, L + 8 * M] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 0);
  assert.equal(c.cc.cwnd, reduced);
  // A later round trip: a first block inside the second is a D-SACK too (RFC 2883 §4.2), and a second round trip
  // with one widens RACK's window again, to three quarters of the least RTT (20 ms).
  c.write(new Uint8Array(4 * M));
  const base = h.recv()[0]!.seq;
  h.advance(20n * MS);
  h.send({ seq: R, ack: base, flags: '.', sack: [base + M, base + 2 * M, base + M, base + 3 * M] });
  assert.deepEqual(h.recv(), [], 'two segments SACKed above a hole: not yet lost');
  assert.equal(h.nextTimer(), 15n * MS, "RACK's timer: three quarters of the least RTT");
  assert.equal(h.recv()[0]?.seq, base, 'then the hole is resent');
});

test('RFC 3708: a recovery with two resends is undone only when both came back as duplicates', () => {
  const { h, c, L } = tenOut();
  const before = c.cc.cwnd;
  // Segments 0 and 2 late: 1, 3, 4, 5, 6 SACKed.
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  for (let k = 4; k <= 7; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + 3 * M, L + k * M, L + M, L + 2 * M] });
  const resent = h.recv().map((s) => s.seq);
  assert.deepEqual(resent.slice(0, 2), [L, L + 2 * M], 'both holes resent');
  h.send({ seq: R, ack: L + 10 * M, flags: '.' });
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L, L + M] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 0, 'one of two resends reported back: not yet');
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L + 2 * M, L + 3 * M] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 1);
  assert.equal(c.cc.cwnd, before);
});

test("RFC 8985 §6.2 step 4: a D-SACK widens RACK's reordering window from a quarter of the least RTT to a half", () => {
  const { h, c, L } = spuriousRecovery();
  h.send({ seq: R, ack: L + 10 * M, flags: '.', sack: [L, L + M] }); // Undone: the path reorders (RACK.reordering_seen).
  c.write(new Uint8Array(10 * M));
  const base = h.recv()[0]!.seq;
  h.advance(20n * MS);
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: base, flags: '.', sack: [base + M, base + (k + 1) * M] });
  assert.equal(h.tcp.counters.fastRetransmits, 1, 'five SACKed above a hole: within the reordering window');
  assert.equal(h.nextTimer(), 10n * MS, "RACK's timer: half the least RTT (20 ms), not a quarter");
  assert.equal(h.tcp.counters.fastRetransmits, 2);
});

for (const [how, withSack] of [
  ['a plain full ACK', false],
  ['a full ACK with SACK blocks', true],
] as const)
  test(`RFC 3708: a recovery whose resend was D-SACKed before its full ACK is undone to the window it had (${how})`, () => {
    const { h, c, L } = tenOut();
    const before = c.cc.cwnd,
      ssthresh = c.cc.ssthresh;
    for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + (k + 1) * M] });
    assert.equal(h.tcp.counters.fastRetransmits, 1);
    assert.deepEqual(
      h.recv().map((s) => [s.seq, s.len]),
      [[L, M]],
      'segment 0 resent',
    );
    // The original of segment 0, then its resend: a partial ACK (6-9 still out) with a D-SACK for the resend.
    h.send({ seq: R, ack: L + 6 * M, flags: '.', sack: [L, L + M] });
    assert.equal(h.tcp.counters.spuriousRecoveries, 0, 'still in the recovery: not yet undone');
    // The full ACK ends the recovery (with SACK blocks or without: RFC 6675's end, or RFC 6582's deflation).
    h.send({ seq: R, ack: L + 10 * M, flags: '.', ...(withSack ? { sack: [L, L + M] } : {}) });
    assert.equal(h.tcp.counters.spuriousRecoveries, 1);
    assert.equal(c.cc.ssthresh, ssthresh);
    assert.equal(c.cc.cwnd, before, 'the window as it was before the recovery (not the restored ssthresh, nor one segment)');
  });
