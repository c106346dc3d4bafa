/**
 * RFC 9293 event processing (§3.10.7), segment by segment: in this state, this
 * segment in, exactly these segments out. The stack under test is 10.0.0.1:80
 * (ISS 10000), the test plays the peer (ISS 50000); see segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fill, LOCAL_EPHEMERAL, LOCAL_ISS, MS, REMOTE_ISS, REMOTE_PORT, S, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1; // our SND.NXT after the handshake
const R = REMOTE_ISS + 1; // our RCV.NXT after the handshake
const W = 65535; // the window we offer (4 MiB buffer, no window scaling)

// ------------------------------------------------------------------ CLOSED

test('CLOSED (§3.10.7.1): a SYN to a port nobody listens on gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
  const h = new SegmentHarness();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'R.', seq: 0, ack: R, window: 0, len: 0 }]);
});

test('CLOSED (§3.10.7.1): an ACK for no connection gets <SEQ=SEG.ACK><CTL=RST>', () => {
  const h = new SegmentHarness();
  h.send({ seq: R, ack: 12345, flags: 'P.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: 12345, ack: 0, window: 0, len: 0 }]);
});

test("CLOSED (§3.10.7.1): data and FIN without ACK are counted in the RST's ACK", () => {
  const h = new SegmentHarness();
  h.send({ seq: R, flags: 'F', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: 'R.', seq: 0, ack: R + 11, window: 0, len: 0 }]);
});

test('CLOSED (§3.10.7.1): a RST for no connection is dropped without reply', () => {
  const h = new SegmentHarness();
  h.send({ seq: R, flags: 'R' });
  h.send({ seq: R, ack: L, flags: 'R.' });
  assert.deepEqual(h.recv(), []);
});

// ------------------------------------------------------------------ LISTEN

test('LISTEN (§3.10.7.2): SYN in, SYN-ACK out with our MSS, ISS and the window unscaled', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1400 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  assert.equal(h.only()?.state, 'SYN-RECEIVED');
  assert.equal(h.only()?.mss, 1400, "the peer's MSS bounds ours");
});

test('LISTEN (§3.10.7.2): a SYN without the MSS option means 536 (RFC 9293 §3.7.1)', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S' });
  assert.equal(h.only()?.mss, 536);
});

test('LISTEN (§3.10.7.2): a RST is ignored', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.only(), undefined);
});

test('LISTEN (§3.10.7.2): an ACK gets <SEQ=SEG.ACK><CTL=RST>', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: R, ack: 777, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: 777, ack: 0, window: 0, len: 0 }]);
  assert.equal(h.only(), undefined);
});

test('LISTEN (§3.10.7.2): a SYN-ACK is an ACK, answered with <SEQ=SEG.ACK><CTL=RST>', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, ack: 4242, flags: 'S.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: 4242, ack: 0, window: 0, len: 0 }]);
});

test('LISTEN (§3.10.7.2): a segment with neither SYN, ACK nor RST is dropped', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: R, flags: 'P', payload: 5 });
  h.send({ seq: R, flags: 'F' });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.only(), undefined);
});

test('LISTEN (§3.10.7.2): data on a SYN is not acknowledged (the peer sends it again)', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, payload: 20 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
});

test('LISTEN: a full backlog answers with a SYN cookie carrying only MSS; its ACK opens the connection', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 1 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, srcPort: 1111 });
  h.recv();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, wscale: 7, sackPermitted: true, ts: [5, 0] });
  const [cookie, ...rest] = h.recv();
  assert.deepEqual(rest, []);
  assert.deepEqual({ ...cookie, seq: 0 }, { flags: 'S.', seq: 0, ack: R, window: W, len: 0, mss: 1460 }, 'RFC 4987 §3.6: no other options');
  h.send({ seq: R, ack: cookie!.seq + 1, flags: 'P.', payload: 3, dstPort: 80 });
  assert.equal(h.conn?.state, 'ESTABLISHED');
  assert.deepEqual(h.events, ['accept', 'data 3']);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: cookie!.seq + 1, ack: R + 3, window: W, len: 0 }]);
});

test('LISTEN: an ACK with a forged cookie gets RST and opens nothing', () => {
  const h = new SegmentHarness();
  h.listen({ backlog: 0 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  const [cookie] = h.recv();
  h.send({ seq: R, ack: cookie!.seq + 2, flags: '.', dstPort: 80 });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: cookie!.seq + 2, ack: 0, window: 0, len: 0 }]);
  assert.equal(h.conn, undefined);
});

// ---------------------------------------------------------------- SYN-SENT

test('SYN-SENT: the SYN offers MSS, window scaling, SACK and timestamps', () => {
  const h = new SegmentHarness();
  h.connect();
  assert.deepEqual(h.recv(), [
    {
      flags: 'S',
      seq: LOCAL_ISS,
      ack: 0,
      window: W,
      len: 0,
      mss: 1460,
      wscale: 7,
      sackPermitted: true,
      ts: [h.tsNow, 0],
    },
  ]);
});

test('SYN-SENT (§3.10.7.3): a SYN-ACK acknowledging our SYN completes the handshake: ACK out, ESTABLISHED', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L, flags: 'S.', mss: 1460, window: 5000 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  assert.equal(c.state, 'ESTABLISHED');
  assert.deepEqual(h.events, ['connect']);
});

test('SYN-SENT (§3.10.7.3): an ACK at or below ISS gets <SEQ=SEG.ACK><CTL=RST>, the connection stays', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, ack: LOCAL_ISS, flags: 'S.', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: LOCAL_ISS, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'SYN-SENT');
});

test('SYN-SENT (§3.10.7.3): an ACK beyond SND.NXT gets <SEQ=SEG.ACK><CTL=RST>', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 1, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'SYN-SENT');
});

test('SYN-SENT (§3.10.7.3): a RST with an unacceptable ACK is dropped', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L + 5, flags: 'R.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'SYN-SENT');
});

test('SYN-SENT (§3.10.7.3): RST with an acceptable ACK: connection refused, nothing sent', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: 0, ack: L, flags: 'R.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close refused']);
});

test('SYN-SENT (§3.10.7.3): a RST without ACK is dropped', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'SYN-SENT');
});

test('SYN-SENT (§3.10.7.3): an acceptable ACK without SYN is dropped', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'SYN-SENT');
});

test('SYN-SENT (§3.5 figure 8): a SYN without ACK is a simultaneous open: SYN-ACK out, SYN-RECEIVED', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  assert.equal(c.state, 'SYN-RECEIVED');
  h.send({ seq: R, ack: L, flags: '.' });
  assert.equal(c.state, 'ESTABLISHED');
  assert.deepEqual(h.recv(), []);
});

test('SYN-SENT: the SYN is resent after 1 s, 2 s, 4 s … and the connection times out after six resends', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  const gaps: bigint[] = [];
  for (let i = 0; i < 6; i++) {
    gaps.push(h.nextTimer());
    const [syn, ...rest] = h.recv();
    assert.deepEqual(rest, []);
    assert.equal(syn?.flags, 'S');
    assert.equal(syn?.seq, LOCAL_ISS);
  }
  assert.deepEqual(gaps, [1n * S, 2n * S, 4n * S, 8n * S, 16n * S, 32n * S]);
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close timeout']);
});

test('SYN-SENT: the application aborting sends nothing (no RST for an unsynchronized peer)', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  c.abort();
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
});

// ----------------------------------------------------------- SYN-RECEIVED

test('SYN-RECEIVED (§3.10.4 CLOSE): after a simultaneous open, a shutdown waits for ESTABLISHED; then the data and the FIN go, whole', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  h.recv();
  c.write(fill(10));
  c.shutdown();
  assert.deepEqual(h.recv(), [], 'nothing before our SYN is acknowledged');
  h.send({ seq: R, ack: L, flags: '.' });
  const out = h.recvSent();
  assert.deepEqual(
    out.map((s) => s.seg),
    [{ flags: 'FP.', seq: L, ack: R, window: W, len: 10 }],
  );
  assert.deepEqual([...out[0]!.payload], [...fill(10)], 'every byte, the first at SND.UNA');
  assert.equal(c.state, 'FIN-WAIT-1');
  assert.deepEqual(h.events, ['connect']);
  h.send({ seq: R, ack: L + 11, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('SYN-RECEIVED (§3.10.4 CLOSE): with nothing queued, the FIN goes once the SYN is acknowledged, and only its ACK ends FIN-WAIT-1', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  h.recv();
  c.close();
  h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R, window: W, len: 0 }]);
  assert.equal(c.state, 'FIN-WAIT-1', 'the ACK of the SYN is not the ACK of the FIN');
  h.send({ seq: R, ack: L + 1, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('SYN-RECEIVED (§3.10.7.4): the ACK of our SYN establishes the connection; nothing goes out', () => {
  const h = new SegmentHarness();
  h.synReceived();
  h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(h.conn?.state, 'ESTABLISHED');
  assert.deepEqual(h.events, ['accept', 'connect']);
});

test('SYN-RECEIVED (§3.10.7.4): an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>', () => {
  const h = new SegmentHarness();
  const c = h.synReceived();
  h.send({ seq: R, ack: L + 10, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 10, ack: 0, window: 0, len: 0 }]);
  assert.equal(c.state, 'SYN-RECEIVED');
});

test('SYN-RECEIVED: the third segment may carry data, delivered after the connection is handed over', () => {
  const h = new SegmentHarness();
  h.synReceived();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 100 });
  assert.deepEqual(h.events, ['accept', 'connect', 'data 100']);
  assert.deepEqual(h.recv(), []);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 100, window: W, len: 0 }]);
});

test('SYN-RECEIVED (§3.10.7.4): a RST at RCV.NXT ends the half-open connection; the listener stays', () => {
  const h = new SegmentHarness();
  const c = h.synReceived();
  h.send({ seq: R, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.equal(h.recv()[0]?.flags, 'S.');
});

test('SYN-RECEIVED: without an ACK the SYN-ACK is resent with backoff', () => {
  const h = new SegmentHarness();
  h.synReceived();
  assert.equal(h.nextTimer(), 1n * S);
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  assert.equal(h.nextTimer(), 2n * S);
  assert.equal(h.recv().length, 1);
});

test('SYN-RECEIVED (§3.10.7.4): a FIN on the ACK completing the handshake goes straight to CLOSE-WAIT', () => {
  const h = new SegmentHarness();
  h.synReceived();
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 1, window: W, len: 0 }]);
  assert.equal(h.conn?.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['accept', 'connect', 'end']);
});

test('SYN-RECEIVED: a segment without ACK is dropped', () => {
  const h = new SegmentHarness();
  const c = h.synReceived();
  h.send({ seq: R, flags: 'P', payload: 10 });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'SYN-RECEIVED');
});

// ----------------------------------------------------- ESTABLISHED: receive

test('ESTABLISHED: one data segment is ACKed after the delayed-ACK time (RFC 9293 §3.8.6.3), not before', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 100 });
  assert.deepEqual(h.recv(), []);
  h.advance(39n * MS);
  assert.deepEqual(h.recv(), []);
  h.advance(1n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 100, window: W, len: 0 }]);
  assert.deepEqual(h.events, ['data 100']);
});

test('ESTABLISHED: every second segment is ACKed at once (RFC 9293 §3.8.6.3, RFC 5681 §4.2)', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.', payload: 1000 });
  h.send({ seq: R + 1000, ack: L, flags: '.', payload: 1000 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 2000, window: W, len: 0 }]);
  h.advance(1n * S);
  assert.deepEqual(h.recv(), [], 'no delayed ACK follows');
});

test('ESTABLISHED: one packet of two full segments or more (coalesced by receive offload) is ACKed at once, as two segments are', () => {
  const h = new SegmentHarness();
  h.established();
  const mss = h.only()!.mss;
  h.send({ seq: R, ack: L, flags: '.', payload: 2 * mss });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 2 * mss, window: W, len: 0 }]);
  // Less than two segments' worth in one packet is one segment: the ACK waits for company.
  h.send({ seq: R + 2 * mss, ack: L, flags: '.', payload: mss + 1 });
  assert.deepEqual(h.recv(), []);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 3 * mss + 1, window: W, len: 0 }]);
});

test('ESTABLISHED: an out-of-order segment is ACKed at once with the old RCV.NXT (RFC 5681 §4.2)', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 50 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  assert.deepEqual(h.events, []);
});

test('ESTABLISHED: the segment filling the gap is ACKed at once, for everything held', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 50 });
  h.recv();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 150, window: W, len: 0 }]);
  assert.deepEqual(h.events, ['data 100', 'data 50']);
  assert.deepEqual(h.received.slice(98, 102), [98, 99, 0, 1], 'in order');
});

test('ESTABLISHED (§3.10.7.4): an old duplicate (all below RCV.NXT) is not acceptable: ACK, nothing delivered', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 100, window: W, len: 0 }]);
  assert.deepEqual(h.events, ['data 100']);
});

test('ESTABLISHED (§3.10.7.4): a segment straddling RCV.NXT is acceptable; only the new bytes are delivered', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R + 50, ack: L, flags: '.', payload: 100 });
  assert.deepEqual(h.events, ['data 100', 'data 50']);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 150, window: W, len: 0 }]);
});

test('ESTABLISHED (§3.10.7.4): a segment without ACK is dropped silently', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, flags: 'P', payload: 10 });
  h.advance(1n * S);
  assert.deepEqual(h.recv(), []);
  assert.deepEqual(h.events, []);
});

test('ESTABLISHED (§3.10.7.4): an ACK of data never sent is answered with an ACK and the segment dropped', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  assert.deepEqual(h.events, []);
});

test('ESTABLISHED: FIN in order: ACK at once, CLOSE-WAIT, end of data for the application', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, ack: L, flags: 'FP.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 11, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['data 10', 'end']);
});

test('ESTABLISHED: a FIN beyond a gap waits for the gap; the ACK that fills it covers the FIN', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 10, ack: L, flags: 'F.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  assert.equal(c.state, 'ESTABLISHED');
  h.send({ seq: R, ack: L, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 21, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['data 10', 'data 10', 'end']);
});

test('ESTABLISHED (§3.10.7.4): RST at RCV.NXT resets the connection; nothing is sent', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close reset']);
  h.send({ seq: R, ack: L, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L, ack: 0, window: 0, len: 0 }], 'the connection is gone');
});

test('ESTABLISHED: a duplicate ACK with no data out draws no reply', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: '.' });
  h.send({ seq: R, ack: L, flags: '.' });
  h.advance(1n * S);
  assert.deepEqual(h.recv(), []);
});

// -------------------------------------- ESTABLISHED: the acceptability test edges

/** An established connection with a 1000-byte window (RCV.WND = 1000, the right edge at R + 1000). */
function small(): SegmentHarness {
  const h = new SegmentHarness();
  h.established({ receiveBuffer: 1000 });
  return h;
}
const ACK_SMALL = { flags: '.', seq: L, ack: R, window: 1000, len: 0 };

test('§3.10.7.4 edge: a zero-length segment at RCV.NXT + RCV.WND - 1 is acceptable (no reply)', () => {
  const h = small();
  h.send({ seq: R + 999, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), []);
});

test('§3.10.7.4 edge: a zero-length segment at RCV.NXT + RCV.WND is not acceptable: ACK', () => {
  const h = small();
  h.send({ seq: R + 1000, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
});

test('§3.10.7.4 edge: a zero-length segment at RCV.NXT - 1 is not acceptable: ACK', () => {
  const h = small();
  h.send({ seq: R - 1, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
});

test('§3.10.7.4 edge: one byte at RCV.NXT + RCV.WND - 1 is acceptable and kept out of order', () => {
  const h = small();
  h.send({ seq: R + 999, ack: L, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
  h.send({ seq: R, ack: L, flags: '.', payload: 999 });
  assert.deepEqual(h.recv(), [{ ...ACK_SMALL, ack: R + 1000 }]);
  assert.equal(h.received.length, 1000);
});

test('§3.10.7.4 edge: one byte at RCV.NXT + RCV.WND is not acceptable and not kept', () => {
  const h = small();
  h.send({ seq: R + 1000, ack: L, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
  h.send({ seq: R, ack: L, flags: '.', payload: 1000 });
  assert.equal(h.received.length, 1000);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ ...ACK_SMALL, ack: R + 1000 }], 'the byte beyond the window was dropped');
});

test('§3.10.7.4 edge: a segment whose first byte is the last in the window is trimmed to that byte', () => {
  const h = small();
  h.send({ seq: R + 999, ack: L, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
  h.send({ seq: R, ack: L, flags: '.', payload: 999 });
  assert.deepEqual(h.recv(), [{ ...ACK_SMALL, ack: R + 1000 }]);
});

test('§3.10.7.4 edge: a segment whose last byte is RCV.NXT is acceptable; the old byte is trimmed', () => {
  const h = small();
  h.send({ seq: R - 1, ack: L, flags: '.', payload: 2 });
  assert.deepEqual(h.events, ['data 1']);
});

test('§3.10.7.4 edge: a segment whose last byte is RCV.NXT - 1 is not acceptable: ACK', () => {
  const h = small();
  h.send({ seq: R - 2, ack: L, flags: '.', payload: 2 });
  assert.deepEqual(h.recv(), [ACK_SMALL]);
  assert.deepEqual(h.events, []);
});

test("§3.10.7.4 edge: a segment covering more than the window delivers the window's worth, FIN dropped with the rest", () => {
  const h = small();
  h.conn!.pause();
  h.send({ seq: R, ack: L, flags: 'F.', payload: 1500 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ ...ACK_SMALL, ack: R + 1000, window: 0 }]);
  assert.equal(h.conn!.state, 'ESTABLISHED', 'the FIN lay beyond the window');
});

/** RCV.WND = 0: the application paused and the 1000-byte buffer is full. */
function zeroWindow(): SegmentHarness {
  const h = small();
  h.conn!.pause();
  h.send({ seq: R, ack: L, flags: '.', payload: 1000 });
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ ...ACK_SMALL, ack: R + 1000, window: 0 }]);
  return h;
}
const ACK_ZERO = { flags: '.', seq: L, ack: R + 1000, window: 0, len: 0 };

test('§3.10.7.4 zero window: a zero-length segment at RCV.NXT is acceptable (no reply)', () => {
  const h = zeroWindow();
  h.send({ seq: R + 1000, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), []);
});

test('§3.10.7.4 zero window: a zero-length segment at RCV.NXT + 1 is not acceptable: ACK', () => {
  const h = zeroWindow();
  h.send({ seq: R + 1001, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [ACK_ZERO]);
});

test('§3.10.7.4 zero window: a data segment at RCV.NXT is not acceptable: ACK with the window still zero', () => {
  const h = zeroWindow();
  h.send({ seq: R + 1000, ack: L, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [ACK_ZERO]);
});

test('§3.10.7.4 zero window: the ACK field of an unacceptable data segment is still processed', () => {
  const h = zeroWindow();
  h.conn!.write(new Uint8Array(100));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 1000, window: 0, len: 100 }]);
  h.send({ seq: R + 1000, ack: L + 100, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [{ ...ACK_ZERO, seq: L + 100 }]);
  assert.equal(h.conn!.bufferedSend, 0, 'our data is acknowledged');
});

test('zero window: the application reading opens it with a window update (RFC 9293 §3.8.6.2.2)', () => {
  const h = zeroWindow();
  h.conn!.resume();
  assert.deepEqual(h.recv(), [{ ...ACK_ZERO, window: 1000 }]);
  assert.equal(h.received.length, 1000);
});

// ----------------------------------------------------- ESTABLISHED: send

test("ESTABLISHED: a write goes out at once with PSH, the peer's ACK stops the retransmission timer", () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(100));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 100 }]);
  h.send({ seq: R, ack: L + 100, flags: '.' });
  h.advance(10n * S);
  assert.deepEqual(h.recv(), []);
});

test('ESTABLISHED: writes larger than the MSS go out in MSS-sized segments; Nagle holds the short tail until an ACK', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R, window: W, len: 1460 },
    { flags: '.', seq: L + 1460, ack: R, window: W, len: 1460 },
  ]);
  h.send({ seq: R, ack: L + 2920, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 2920, ack: R, window: W, len: 80 }]);
});

test('ESTABLISHED: with noDelay the short tail follows at once, PSH on the last segment', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R, window: W, len: 1460 },
    { flags: '.', seq: L + 1460, ack: R, window: W, len: 1460 },
    { flags: 'P.', seq: L + 2920, ack: R, window: W, len: 80 },
  ]);
});

test("ESTABLISHED: the peer's window bounds what goes out; a window update releases the rest", () => {
  const h = new SegmentHarness();
  const c = h.established({}, {}, { window: 1000 });
  c.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1000 }]);
  h.send({ seq: R, ack: L + 1000, flags: '.', window: 3000 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1000, ack: R, window: W, len: 1460 }]);
  h.send({ seq: R, ack: L + 2460, flags: '.', window: 3000 });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 2460, ack: R, window: W, len: 540 }]);
});

test('ESTABLISHED (RFC 1122 §4.2.3.4): a segment cut short by the window waits while data is in flight', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, {}, { window: 2000 });
  c.write(new Uint8Array(3000));
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }], 'not a 540-byte sliver');
  h.send({ seq: R, ack: L + 1460, flags: '.', window: 2000 });
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L + 1460, ack: R, window: W, len: 1460 },
    { flags: 'P.', seq: L + 2920, ack: R, window: W, len: 80 },
  ]);
});

test('ESTABLISHED: Nagle (§3.8.6.2.1) holds a small segment while data is unacknowledged', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 10 }]);
  h.send({ seq: R, ack: L + 10, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 10, ack: R, window: W, len: 10 }]);
});

test('ESTABLISHED: with noDelay, small segments go out at once', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(10));
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [
    { flags: 'P.', seq: L, ack: R, window: W, len: 10 },
    { flags: 'P.', seq: L + 10, ack: R, window: W, len: 10 },
  ]);
});

test('ESTABLISHED: data the peer sent is ACKed on our data segment, and no delayed ACK follows', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10 });
  c.write(new Uint8Array(5));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 10, window: W, len: 5 }]);
  h.advance(1n * MS * 100n);
  assert.deepEqual(h.recv(), []);
});

test('ESTABLISHED (RFC 6298 §5): an unacknowledged segment is resent after the RTO, then after twice that', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(100));
  h.recv();
  const first = h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 100 }]);
  const second = h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 100 }]);
  assert.equal(second, 2n * first, `backoff: ${first} then ${second}`);
});

test('ESTABLISHED (RFC 5681 §3.2): the third duplicate ACK resends the first unacknowledged segment', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true });
  c.write(new Uint8Array(5 * 1460));
  assert.equal(h.recv().length, 5);
  h.send({ seq: R, ack: L, flags: '.' });
  h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [], 'limited transmit has no new data to send');
  h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }]);
});

test('ESTABLISHED (RFC 9293 §3.10.5): abort sends <SEQ=SND.NXT><CTL=RST>', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  h.recv();
  c.abort();
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 10, ack: 0, window: 0, len: 0 }]);
  assert.deepEqual(h.events, ['close reset']);
});

test('ESTABLISHED: after too many resends the connection gives up with RST (RFC 9293 §3.8.3 R2)', () => {
  const h = new SegmentHarness();
  const c = h.established({ maxRetries: 3 });
  c.write(new Uint8Array(10));
  h.recv();
  for (let i = 0; i < 3; i++) {
    h.nextTimer();
    assert.equal(h.recv().length, 1);
  }
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 10, ack: 0, window: 0, len: 0 }]);
  assert.deepEqual(h.events, ['close timeout']);
});

// -------------------------------------------------------------- FIN-WAIT-1

test('FIN-WAIT-1: shutdown sends FIN after the queued data', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  c.shutdown();
  assert.deepEqual(h.recv(), [
    { flags: 'P.', seq: L, ack: R, window: W, len: 10 },
    { flags: 'F.', seq: L + 10, ack: R, window: W, len: 0 },
  ]);
  assert.equal(c.state, 'FIN-WAIT-1');
});

test('FIN-WAIT-1: the ACK of our FIN moves to FIN-WAIT-2; nothing is sent', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('FIN-WAIT-1: an ACK short of our FIN keeps FIN-WAIT-1', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, ack: L, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'FIN-WAIT-1');
});

test("FIN-WAIT-1: the peer's FIN before its ACK of ours: ACK, CLOSING", () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSING');
});

test('FIN-WAIT-1: FIN with the ACK of ours: ACK, TIME-WAIT', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, ack: L + 1, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(h.events, ['end', 'close undefined']);
});

test('FIN-WAIT-1: data from the peer is still received after our shutdown (half-close)', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, ack: L + 1, flags: 'P.', payload: 10 });
  assert.deepEqual(h.events, ['data 10']);
  h.advance(40n * MS);
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 10, window: W, len: 0 }]);
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('FIN-WAIT-1: an unacknowledged FIN is resent after the RTO (200 ms, the floor, after a 1 ms handshake)', () => {
  const h = new SegmentHarness();
  h.finWait1();
  assert.equal(h.nextTimer(), 200n * MS);
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R, window: W, len: 0 }]);
});

test('FIN-WAIT-1: RST at RCV.NXT resets', () => {
  const h = new SegmentHarness();
  const c = h.finWait1();
  h.send({ seq: R, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close reset']);
});

// -------------------------------------------------------------- FIN-WAIT-2

test('FIN-WAIT-2: data is received and ACKed', () => {
  const h = new SegmentHarness();
  const c = h.finWait2();
  h.send({ seq: R, ack: L + 1, flags: '.', payload: 10 });
  h.send({ seq: R + 10, ack: L + 1, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 20, window: W, len: 0 }]);
  assert.equal(c.state, 'FIN-WAIT-2');
});

test("FIN-WAIT-2: the peer's FIN is ACKed at once; TIME-WAIT", () => {
  const h = new SegmentHarness();
  const c = h.finWait2();
  h.send({ seq: R, ack: L + 1, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(h.events, ['end', 'close undefined']);
});

test('FIN-WAIT-2: an out-of-window segment gets an ACK', () => {
  const h = new SegmentHarness();
  h.finWait2();
  h.send({ seq: R + 100_000, ack: L + 1, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R, window: W, len: 0 }]);
});

test('FIN-WAIT-2: RST at RCV.NXT resets', () => {
  const h = new SegmentHarness();
  const c = h.finWait2();
  h.send({ seq: R, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
});

// -------------------------------------------------------------- CLOSE-WAIT

test("CLOSE-WAIT: we may still send; the peer's ACK is processed", () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 1, window: W, len: 10 }]);
  h.send({ seq: R + 1, ack: L + 10, flags: '.' });
  assert.equal(c.bufferedSend, 0);
  assert.deepEqual(h.recv(), []);
});

test('CLOSE-WAIT: a retransmitted FIN is ACKed again', () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, [], 'no second end');
});

test('CLOSE-WAIT: close sends FIN and moves to LAST-ACK', () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  c.close();
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'LAST-ACK');
});

test('CLOSE-WAIT: RST at RCV.NXT resets', () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  h.send({ seq: R + 1, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close reset']);
});

// --------------------------------------------------------------- CLOSING

test('CLOSING: the ACK of our FIN moves to TIME-WAIT; nothing is sent', () => {
  const h = new SegmentHarness();
  const c = h.closing();
  h.send({ seq: R + 1, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(h.events, ['close undefined']);
});

test('CLOSING: a retransmitted FIN is ACKed again', () => {
  const h = new SegmentHarness();
  const c = h.closing();
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSING');
});

test('CLOSING: our unacknowledged FIN is resent after the RTO', () => {
  const h = new SegmentHarness();
  h.closing();
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R + 1, window: W, len: 0 }]);
});

// -------------------------------------------------------------- LAST-ACK

test('LAST-ACK: the ACK of our FIN closes the connection; nothing is sent', () => {
  const h = new SegmentHarness();
  const c = h.lastAck();
  h.send({ seq: R + 1, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close undefined']);
  assert.equal(h.tcp.connectionCount, 0);
});

test('LAST-ACK: an ACK short of our FIN keeps LAST-ACK', () => {
  const h = new SegmentHarness();
  const c = h.lastAck();
  h.send({ seq: R + 1, ack: L, flags: '.' });
  assert.equal(c.state, 'LAST-ACK');
  assert.deepEqual(h.recv(), []);
});

test('LAST-ACK: a retransmitted FIN is ACKed again', () => {
  const h = new SegmentHarness();
  h.lastAck();
  h.send({ seq: R, ack: L, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
});

test('LAST-ACK: our FIN is resent after the RTO', () => {
  const h = new SegmentHarness();
  h.lastAck();
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'F.', seq: L, ack: R + 1, window: W, len: 0 }]);
});

test('LAST-ACK: RST at RCV.NXT closes', () => {
  const h = new SegmentHarness();
  const c = h.lastAck();
  h.send({ seq: R + 1, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.recv(), []);
});

// ------------------------------------------------------------- TIME-WAIT

test('TIME-WAIT: a retransmitted FIN is ACKed again and restarts the 2 MSL timer (§3.10.7.4)', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.advance(30n * S);
  h.send({ seq: R, ack: L + 1, flags: 'F.' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  h.advance(59n * S);
  assert.equal(c.state, 'TIME-WAIT', 'restarted');
  h.advance(1n * S);
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.recv(), []);
});

test('TIME-WAIT: lasts 2 MSL (60 s), then the connection is gone and its segments get RST', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.advance(60n * S - 1n);
  assert.equal(c.state, 'TIME-WAIT');
  assert.equal(h.tcp.connectionCount, 1);
  h.advance(1n);
  assert.equal(c.state, 'CLOSED');
  assert.equal(h.tcp.connectionCount, 0);
  assert.deepEqual(h.recv(), []);
  h.send({ seq: R + 1, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), [{ flags: 'R', seq: L + 1, ack: 0, window: 0, len: 0 }]);
});

test('TIME-WAIT: its length is configurable', () => {
  const h = new SegmentHarness();
  const c = h.timeWait({ timeWaitNs: 2n * S });
  h.advance(2n * S);
  assert.equal(c.state, 'CLOSED');
});

test('TIME-WAIT: a duplicate ACK draws no reply', () => {
  const h = new SegmentHarness();
  h.timeWait();
  h.send({ seq: R + 1, ack: L + 1, flags: '.' });
  assert.deepEqual(h.recv(), []);
});

test('TIME-WAIT: an out-of-window segment gets an ACK', () => {
  const h = new SegmentHarness();
  h.timeWait();
  h.send({ seq: R + 1 + 100_000, ack: L + 1, flags: '.', payload: 1 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
});

test('TIME-WAIT (§3.10.7.4): RST at RCV.NXT closes it early, the application hears nothing more', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.send({ seq: R + 1, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.recv(), []);
  assert.deepEqual(h.events, []);
});

test("TIME-WAIT: the active closer's simultaneous close through CLOSING ends in TIME-WAIT too", () => {
  const h = new SegmentHarness();
  const c = h.closing();
  h.send({ seq: R + 1, ack: L + 1, flags: '.' });
  assert.equal(c.state, 'TIME-WAIT');
  h.advance(60n * S);
  assert.equal(c.state, 'CLOSED');
});

test('active close: the port of an active open is its ephemeral port', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  assert.equal(c.localPort, LOCAL_EPHEMERAL);
  assert.equal(c.remotePort, REMOTE_PORT);
});

// ------------------------------------------------------------ more of ESTABLISHED

test('ESTABLISHED (§3.10.7.4, SND.WL1/SND.WL2): a reordered older ACK does not shrink the window a newer one opened', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, {}, { window: 300 });
  c.write(new Uint8Array(300));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 300 }]);
  h.send({ seq: R, ack: L + 200, flags: '.', window: 5000 }); // the newer ACK arrives first
  h.send({ seq: R, ack: L + 100, flags: '.', window: 0 }); // then the older one: its window is stale
  c.write(new Uint8Array(100));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L + 300, ack: R, window: W, len: 100 }]);
});

test('ESTABLISHED (§3.10.7.4): a window update on a pure ACK with the same SEG.ACK is taken', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, {}, { window: 0 });
  c.write(new Uint8Array(100));
  assert.deepEqual(h.recv(), []);
  h.send({ seq: R, ack: L, flags: '.', window: 100 });
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 100 }]);
});

test('SYN-SENT: data written before the handshake completes goes out right after the ACK of the SYN-ACK', () => {
  const h = new SegmentHarness();
  const c = h.synSent();
  c.write(new Uint8Array(20));
  assert.deepEqual(h.recv(), []);
  h.send({ seq: REMOTE_ISS, ack: L, flags: 'S.', mss: 1460 });
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R, window: W, len: 0 },
    { flags: 'P.', seq: L, ack: R, window: W, len: 20 },
  ]);
});

test('FIN-WAIT-1: a timeout resends the last data and the FIN together', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  c.shutdown();
  assert.equal(h.recv().length, 2);
  h.nextTimer();
  assert.deepEqual(h.recv(), [{ flags: 'FP.', seq: L, ack: R, window: W, len: 10 }]);
  h.send({ seq: R, ack: L + 11, flags: '.' });
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('TIME-WAIT (RFC 1122 §4.2.2.13, RFC 6191): a new SYN beyond RCV.NXT reopens the four-tuple at once', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.advance(1n * S);
  const NEW_ISS = REMOTE_ISS + 1_000_000;
  h.send({ seq: NEW_ISS, flags: 'S', mss: 1460 });
  assert.equal(c.state, 'CLOSED', 'the old connection is forgotten');
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: NEW_ISS + 1, window: W, len: 0, mss: 1460 }]);
});

test("TIME-WAIT: an old SYN (at or below RCV.NXT) is challenged; the peer's RST at its ACK number clears TIME-WAIT and the SYN after it opens a connection", () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.advance(1n * S);
  const OLD_ISS = (REMOTE_ISS - 1_000_000) >>> 0;
  h.send({ seq: OLD_ISS, flags: 'S', mss: 1460 });
  const [challenge, ...rest] = h.recv();
  assert.deepEqual(rest, []);
  assert.deepEqual(challenge, { flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 });
  assert.equal(c.state, 'TIME-WAIT');
  h.send({ seq: challenge!.ack, flags: 'R' }); // what a SYN-SENT peer answers an unacceptable ACK with
  assert.equal(c.state, 'CLOSED');
  h.send({ seq: OLD_ISS, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: (OLD_ISS + 1) >>> 0, window: W, len: 0, mss: 1460 }]);
});

/** TIME-WAIT with timestamps agreed; the peer's last TSval (TS.Recent) is 1002. */
function timeWaitTs(): { h: SegmentHarness; c: ReturnType<SegmentHarness['finWait1']> } {
  const h = new SegmentHarness();
  const c = h.finWait1({}, { ts: [1000, 0] });
  h.send({ seq: R, ack: L + 1, flags: '.', ts: [1001, 0] });
  h.send({ seq: R, ack: L + 1, flags: 'F.', ts: [1002, 0] });
  assert.equal(c.state, 'TIME-WAIT');
  h.recv();
  h.advance(1n * S);
  return { h, c };
}

test('TIME-WAIT (RFC 6191): with timestamps, a SYN with a newer TSval reopens the four-tuple, even below RCV.NXT', () => {
  const { h, c } = timeWaitTs();
  const OLD_ISS = (REMOTE_ISS - 1_000_000) >>> 0;
  h.send({ seq: OLD_ISS, flags: 'S', mss: 1460, ts: [1003, 0] });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(
    h.recv().map((s) => [s.flags, s.ack]),
    [['S.', (OLD_ISS + 1) >>> 0]],
  );
});

test('TIME-WAIT (RFC 6191): with timestamps, a SYN whose TSval is not newer is challenged, even beyond RCV.NXT', () => {
  const { h, c } = timeWaitTs();
  h.send({ seq: REMOTE_ISS + 1_000_000, flags: 'S', mss: 1460, ts: [1002, 0] });
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(
    h.recv().map((s) => [s.flags, s.seq, s.ack]),
    [['.', L + 1, R + 1]],
    'a challenge ACK',
  );
});

test('TIME-WAIT: a SYN-ACK, even beyond RCV.NXT, never reopens it', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.send({ seq: REMOTE_ISS + 1_000_000, ack: L + 1, flags: 'S.', mss: 1460 });
  assert.equal(c.state, 'TIME-WAIT');
  assert.deepEqual(
    h.recv().map((s) => s.flags),
    ['.'],
    'a challenge ACK',
  );
});

test('TIME-WAIT: only a retransmitted FIN restarts 2 MSL; an old data segment is ACKed but restarts nothing', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.advance(30n * S);
  h.send({ seq: R - 10, ack: L + 1, flags: '.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  h.advance(30n * S);
  assert.equal(c.state, 'CLOSED', '60 s after entering, not after the old segment');
});

test('an unacceptable segment in ESTABLISHED is ACKed and starts no TIME-WAIT timer', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R - 10, ack: L, flags: 'F.', payload: 9 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  h.advance(300n * S);
  assert.equal(c.state, 'ESTABLISHED');
});

test('ESTABLISHED: old data with a FIN exactly at RCV.NXT: the data is trimmed away and the FIN taken', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 5 });
  h.send({ seq: R, ack: L, flags: 'FP.', payload: 5 }); // The same five bytes again, and the FIN after them.
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['data 5', 'end'], 'the five bytes once');
  assert.deepEqual(h.recv().at(-1), { flags: '.', seq: L, ack: R + 6, window: W, len: 0 });
});

test('§3.10.7.4 zero window: a window update riding on an unacceptable data segment lets our queued data go at once', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 1000 }, {}, { window: 0 });
  c.pause();
  h.send({ seq: R, ack: L, flags: '.', payload: 1000, window: 0 });
  h.advance(40n * MS);
  h.recv();
  c.write(new Uint8Array(100));
  assert.deepEqual(h.recv(), [], "the peer's window is closed");
  h.send({ seq: R + 1000, ack: L, flags: '.', payload: 1, window: 5000 }); // Ours is closed: not acceptable.
  assert.deepEqual(h.recv(), [
    { flags: 'P.', seq: L, ack: R + 1000, window: 0, len: 100 },
    { flags: '.', seq: L + 100, ack: R + 1000, window: 0, len: 0 },
  ]);
});

test('CLOSE-WAIT: a pure ACK from the peer draws no reply', () => {
  const h = new SegmentHarness();
  h.closeWait();
  h.send({ seq: R + 1, ack: L, flags: '.' });
  h.advance(1n * S);
  assert.deepEqual(h.recv(), []);
});

test('ESTABLISHED: a FIN held beyond a gap is not taken while only part of the gap is filled', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 200, ack: L, flags: 'F.', payload: 100 });
  h.send({ seq: R, ack: L, flags: '.', payload: 100 });
  assert.equal(c.state, 'ESTABLISHED');
  assert.deepEqual(h.events, ['data 100']);
  assert.deepEqual(h.recv().at(-1), { flags: '.', seq: L, ack: R + 100, window: W, len: 0 });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  assert.equal(c.state, 'CLOSE-WAIT');
  assert.deepEqual(h.events, ['data 100', 'data 100', 'data 100', 'end']);
});

test('ESTABLISHED: a held segment that in-order data covers entirely is dropped, not delivered as nothing', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R, ack: L, flags: '.', payload: 200 });
  assert.deepEqual(h.events, ['data 200']);
  assert.equal(h.received.length, 200);
});

test('an abort from onData stops the delivery of what the same segment brought after it', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.hook(c, { onData: () => c.abort() });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 100 });
  h.send({ seq: R, ack: L, flags: '.', payload: 100 }); // Two chunks: this one and the one held.
  assert.deepEqual(h.events, ['data 100', 'close reset']);
});
