/**
 * Loss recovery where the sequence space wraps and where duplicate ACKs
 * carry no loss signal, segment by segment (see segment-harness.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;

/** A passive open whose own ISS is `iss`. */
function establishedAt(iss: number, opts: { sack?: boolean } = {}, sackPermitted = false): SegmentHarness {
  const h = new SegmentHarness();
  h.random.value = iss;
  h.listen(opts);
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, ...(sackPermitted ? { sackPermitted: true } : {}) });
  assert.equal(h.recv()[0]?.seq, iss >>> 0);
  h.advance(1n * MS);
  h.send({ seq: R, ack: (iss + 1) >>> 0, flags: '.' });
  return h;
}

for (const iss of [0x07070707, 0x90000000, 0xfffffff0]) {
  test(`RFC 6582 §3.2: "recover" starts at the ISS, so the third duplicate ACK resends at once (ISS 0x${iss.toString(16)})`, () => {
    const h = establishedAt(iss, { sack: false });
    const L = (iss + 1) >>> 0;
    const c = h.only()!;
    c.noDelay = true;
    c.write(new Uint8Array(5 * M));
    assert.equal(h.recv().length, 5);
    for (let i = 0; i < 3; i++) h.send({ seq: R, ack: L, flags: '.' });
    assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: M }], 'fast retransmit, no timeout needed');
  });
}

test('RFC 6675 §2: with SACK, duplicate ACKs that SACK nothing new (a duplicated segment) resend nothing', () => {
  const h = establishedAt(0x07070707, {}, true);
  const L = 0x07070708;
  const c = h.only()!;
  c.noDelay = true;
  c.write(new Uint8Array(5 * M));
  assert.equal(h.recv().length, 5);
  for (let i = 0; i < 4; i++) h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [], 'no loss signalled: nothing resent');
  // The same duplicates with blocks above a hole are a loss signal.
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 2 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 3 * M] });
  h.send({ seq: R, ack: L, flags: '.', sack: [L + M, L + 4 * M] });
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L, M]],
    'the hole is resent',
  );
});

/** SACK and timestamps on; ten segments of D octets out, each with its TSval. */
function reorderFlight(): { h: SegmentHarness; c: NonNullable<SegmentHarness['conn']>; L: number; ts: number[] } {
  const h = new SegmentHarness();
  h.listen({});
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, sackPermitted: true, ts: [1000, 0] });
  const synAck = h.recv()[0]!;
  h.advance(1n * MS);
  const L = synAck.seq + 1;
  h.send({ seq: R, ack: L, flags: '.', ts: [1001, synAck.ts![0]] });
  const c = h.conn!;
  c.noDelay = true;
  c.write(new Uint8Array(10 * D));
  const sent = h.recv();
  assert.equal(sent.length, 10);
  h.advance(20n * MS);
  return { h, c, L, ts: sent.map((s) => s.ts![0]) };
}
const D = 1448; // 1460 less the 12 octets of the timestamps option.

test('RFC 3522, RFC 4015: a fast recovery that the original segment proves spurious (its TSval echoed) is undone, and the path counts as reordering: a later hole with five segments SACKed above it is lost only by time (RACK, RFC 8985 §6.2)', () => {
  const { h, c, L, ts } = reorderFlight();
  const before = c.cc.cwnd;
  // Segment 0 is late; 1-5 arrive and are SACKed: the threshold (3 segments) starts a recovery.
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + D, L + (k + 1) * D], ts: [1002, ts[0]! - 1] });
  assert.equal(h.tcp.counters.fastRetransmits, 1);
  assert.ok(c.cc.cwnd < before, 'the window was reduced');
  assert.equal(h.recv()[0]?.seq, L, 'segment 0 resent');
  // The original arrives: everything up to segment 6 is acknowledged, echoing segment 0's own TSval.
  h.advance(1n * MS);
  h.send({ seq: R, ack: L + 6 * D, flags: '.', ts: [1003, ts[0]!] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 1);
  assert.ok(c.cc.cwnd >= before, `the reduction undone (${c.cc.cwnd} vs ${before})`);
  // Next time the path reorders by five segments it is not taken for a loss.
  c.write(new Uint8Array(10 * D));
  const next = h.recv();
  h.advance(20n * MS);
  const base = next[0]!.seq;
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: base, flags: '.', sack: [base + D, base + (k + 1) * D], ts: [1004, ts[0]!] });
  assert.equal(h.tcp.counters.fastRetransmits, 1, 'five SACKed above a hole: within the reordering window (RFC 8985 §6.2)');
  assert.equal(h.nextTimer(), 5n * MS, "a quarter of the least RTT later RACK's timer finds it lost");
  assert.equal(h.tcp.counters.fastRetransmits, 2);
});

test('RFC 3522: when the resend is what fills the hole (its TSval echoed), the recovery stands', () => {
  const { h, c, L, ts } = reorderFlight();
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + D, L + (k + 1) * D], ts: [1002, ts[0]! - 1] });
  const resend = h.recv()[0]!;
  assert.equal(resend.seq, L);
  const reduced = c.cc.ssthresh;
  h.advance(20n * MS);
  h.send({ seq: R, ack: L + 6 * D, flags: '.', ts: [1003, resend.ts![0]] });
  assert.equal(h.tcp.counters.spuriousRecoveries, 0);
  assert.equal(c.cc.ssthresh, reduced, 'a real loss: the reduction stays');
});

test('RFC 6937: in a SACK recovery, what is sent follows proportional rate reduction, ACK by ACK', () => {
  const { h, c, L, ts } = reorderFlight();
  // A flight of 20 segments with 10 more queued: its first segment is lost, the rest are SACKed one per ACK.
  h.send({ seq: R, ack: L + 10 * D, flags: '.', ts: [1002, ts[9]!] });
  c.cc.cwnd = 20 * D;
  const base = L + 10 * D;
  c.write(new Uint8Array(30 * D));
  assert.equal(h.recv().length, 20);
  h.advance(20n * MS);
  const ssthresh = 0.7 * 20 * D; // CUBIC's beta on the window when the recovery begins.
  const recoverFs = 22 * D; // The 20 and the two limited-transmit segments before the threshold.
  let delivered = 0,
    out = 0,
    sentNew = 0;
  const branches = new Set<string>();
  const perAck: number[] = [];
  for (let k = 1; k <= 16; k++) {
    h.send({ seq: R, ack: base, flags: '.', sack: [base + D, base + (k + 1) * D], ts: [1003, ts[9]!] });
    const sent = h.recv();
    if (k < 3) {
      assert.equal(sent.length, 1, `duplicate ${k}: limited transmit (RFC 3042), one new segment`);
      continue;
    }
    if (k === 3) assert.equal(sent[0]?.seq, base, 'the ACK that starts the recovery sends the fast retransmit at once');
    // The RFC's algorithm in segments: pipe = what is out, less the k SACKed and the lost first one, plus its resend.
    delivered += D;
    const pipe = (22 + sentNew - k - 1 + (out > 0 ? 1 : 0)) * D;
    let sndcnt: number;
    if (pipe > ssthresh) {
      sndcnt = Math.ceil((delivered * ssthresh) / recoverFs) - out * D;
      branches.add('proportional');
    } else {
      sndcnt = Math.min(ssthresh - pipe, Math.max(delivered - out * D, D) + D);
      branches.add('slow-start reduction bound');
    }
    if (out === 0 && sndcnt < D) sndcnt = D;
    const allowed = Math.max(0, Math.floor(sndcnt / D));
    perAck.push(sent.length);
    assert.equal(
      sent.length,
      allowed,
      `ACK ${k} (pipe ${pipe / D} segments): sent ${sent.length}, PRR allows ${allowed}; per ACK so far ${perAck}`,
    );
    sentNew += sent.filter((s) => s.seq !== base).length;
    out += sent.length;
  }
  assert.equal(branches.size, 2, 'both of its rules were used');
  assert.ok(perAck.includes(0) && perAck.filter((n) => n > 0).length >= perAck.length / 2, `spread over the ACKs: ${perAck}`);
});

for (const iss of [0x07070707, 0x90000000, 0xfffffff0]) {
  test(`RFC 8985 §6.2: one segment SACKed above a hole is a loss only a reordering window after RACK.rtt, wherever the ISS lies (ISS 0x${iss.toString(16)})`, () => {
    const h = establishedAt(iss, {}, true);
    const L = (iss + 1) >>> 0;
    const c = h.only()!;
    c.noDelay = true;
    c.write(new Uint8Array(5 * M));
    assert.equal(h.recv().length, 5);
    h.advance(4n * MS);
    h.send({ seq: R, ack: L, flags: '.', sack: [(L + M) >>> 0, (L + 2 * M) >>> 0] });
    assert.deepEqual(h.recv(), [], 'not yet: the hole may be reordering');
    assert.equal(h.tcp.counters.fastRetransmits, 0);
    // RACK.rtt and the least RTT are 4 ms: lost a quarter of it later (at most SRTT, 1 ms from the handshake).
    assert.equal(h.nextTimer(), MS);
    assert.deepEqual(
      h.recv().map((s) => [s.seq, s.len]),
      [[L, M]],
      'the hole, resent by the reordering timer',
    );
    assert.equal(h.tcp.counters.fastRetransmits, 1);
  });
}

test('RFC 6675 with SACK: once the path has reordered, three duplicate ACKs are no NewReno fast retransmit (RFC 6582 is for connections without SACK)', () => {
  const { h, c, L, ts } = reorderFlight();
  for (let k = 1; k <= 5; k++) h.send({ seq: R, ack: L, flags: '.', sack: [L + D, L + (k + 1) * D], ts: [1002, ts[0]! - 1] });
  h.advance(1n * MS);
  h.send({ seq: R, ack: L + 10 * D, flags: '.', ts: [1003, ts[0]!] }); // The original: the recovery was spurious.
  assert.equal(h.tcp.counters.spuriousRecoveries, 1);
  c.write(new Uint8Array(D));
  h.recv();
  h.advance(20n * MS);
  h.send({ seq: R, ack: L + 11 * D, flags: '.', ts: [1004, ts[0]!] }); // SND.UNA now past 'recover'.
  c.write(new Uint8Array(10 * D));
  const next = h.recv();
  assert.equal(next.length, 10);
  h.advance(20n * MS);
  const base = L + 11 * D;
  for (let k = 1; k <= 3; k++) h.send({ seq: R, ack: base, flags: '.', sack: [base + D, base + (k + 1) * D], ts: [1005, ts[0]!] });
  assert.equal(h.tcp.counters.fastRetransmits, 1, 'no second recovery from the count: the reordering window decides');
  assert.deepEqual(
    h.recv().filter((s) => s.seq === base),
    [],
    'the hole is not resent yet',
  );
});
