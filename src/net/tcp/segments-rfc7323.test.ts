/**
 * RFC 7323 segment by segment: window scaling (used only when both SYNs
 * carried the option; the window in a SYN is never scaled; shifts above 14
 * are taken as 14), timestamps (negotiated by both SYNs, echoed from
 * TS.Recent, TS.Recent updated only at Last.ACK.sent, RTT measured from the
 * echo) and PAWS (§5). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535;
const ms = (ns: bigint): number => Number(ns / MS);

// ------------------------------------------------------------ window scaling

test('RFC 7323 §2.2: a SYN with window scale gets a SYN-ACK with ours (7 for a 4 MiB buffer), its own window unscaled', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, wscale: 2 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460, wscale: 7 }]);
});

test("RFC 7323 §2.2: both offered: the peer's windows are shifted by its scale, ours by our scale", () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, { wscale: 2 }, { window: 1095 }); // 4380 bytes: three segments
  c.write(new Uint8Array(5000));
  assert.deepEqual(
    h.recv(),
    [
      { flags: '.', seq: L, ack: R, window: 512, len: 1460 },
      { flags: '.', seq: L + 1460, ack: R, window: 512, len: 1460 },
      { flags: '.', seq: L + 2920, ack: R, window: 512, len: 1460 },
    ],
    'our 64 KiB window is 512 << 7',
  );
});

test('RFC 7323 §2.2: a SYN without window scale: none in the SYN-ACK, and neither side scales', () => {
  const h = new SegmentHarness();
  h.listen({ noDelay: true });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  h.send({ seq: R, ack: L, flags: '.', window: 1460 });
  h.conn!.write(new Uint8Array(5000));
  assert.deepEqual(
    h.recv(),
    [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }],
    'window 1460 means 1460 bytes; ours is 65535, unscaled',
  );
});

test('RFC 7323 §2.2: with scaling off here, an offer from the peer is not answered and its windows are not scaled', () => {
  const h = new SegmentHarness();
  h.listen({ windowScaling: false, noDelay: true });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, wscale: 5 });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
  h.send({ seq: R, ack: L, flags: '.', window: 1460 });
  h.conn!.write(new Uint8Array(5000));
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }]);
});

test('RFC 7323 §2.2: our SYN offered scaling, the SYN-ACK did not: neither side scales (a one-sided offer is no agreement)', () => {
  const h = new SegmentHarness();
  const c = h.activeEstablished({ noDelay: true }, { window: 1460 });
  c.write(new Uint8Array(5000));
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 1460 }], 'our window 65535 unscaled, not 512');
});

test('RFC 7323 §2.2: our SYN offered scaling and the SYN-ACK did too: both scale from the ACK on', () => {
  const h = new SegmentHarness();
  const c = h.activeEstablished({ noDelay: true }, { wscale: 1, window: 65535 });
  h.send({ seq: R, ack: L, flags: '.', window: 2190 }); // 4380 bytes
  c.write(new Uint8Array(5000));
  assert.deepEqual(
    h.recv().map((s) => [s.seq - L, s.len, s.window]),
    [
      [0, 1460, 512],
      [1460, 1460, 512],
      [2920, 1460, 512],
    ],
  );
});

test('RFC 7323 §2.2: the window in a SYN-ACK is never scaled', () => {
  const h = new SegmentHarness();
  const c = h.activeEstablished({ noDelay: true }, { wscale: 2, window: 2920 });
  c.write(new Uint8Array(10_000));
  assert.deepEqual(
    h.recv().map((s) => s.len),
    [1460, 1460],
    '2920 bytes, not 11680',
  );
});

test('RFC 7323 §2.3: a shift above 14 is used as 14', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true, sendBuffer: 100_000 }, { wscale: 15 }, { window: 1 }); // 1 << 14 = 16384
  c.cc.cwnd = 1_000_000; // Out of the way: only the peer's window limits.
  c.write(new Uint8Array(40_000));
  const out = h.recv();
  assert.equal(out.length, 11);
  assert.equal(
    out.reduce((n, s) => n + s.len, 0),
    16_060,
    'eleven segments fit in 16384 bytes (32768 would take 22)',
  );
});

test('RFC 7323 §2.2: with a 64 KiB receive buffer the scale we offer is the smallest that covers it', () => {
  const h = new SegmentHarness();
  h.connect({ receiveBuffer: 65535 });
  assert.equal(h.recv()[0]?.wscale, 0);
  const h2 = new SegmentHarness();
  h2.connect({ receiveBuffer: 65536 });
  assert.equal(h2.recv()[0]?.wscale, 1);
});

// ---------------------------------------------------------------- timestamps

const TS = { ts: [1000, 0] as const };

test('RFC 7323 §3.2: a SYN with timestamps gets a SYN-ACK echoing its TSval', () => {
  const h = new SegmentHarness();
  h.listen();
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, ts: [1000, 0] });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460, ts: [h.tsNow, 1000] }]);
});

test('RFC 7323 §3.2: negotiated: every segment carries timestamps, echoing TS.Recent; data segments lose 12 bytes to them', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, TS, { ts: [1001, 0] });
  h.send({ seq: R, ack: L, flags: '.', payload: 10, ts: [1005, 0] });
  c.write(new Uint8Array(2000));
  assert.deepEqual(h.recv(), [
    { flags: '.', seq: L, ack: R + 10, window: W, len: 1448, ts: [h.tsNow, 1005] },
    { flags: 'P.', seq: L + 1448, ack: R + 10, window: W, len: 552, ts: [h.tsNow, 1005] },
  ]);
});

test('RFC 7323 §3.2: a SYN without timestamps: none on any segment', () => {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R, window: W, len: 10 }]);
});

test('RFC 7323 §3.2: our SYN offered timestamps, the SYN-ACK did not: none afterwards', () => {
  const h = new SegmentHarness();
  h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L, flags: 'S.', mss: 1460 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
});

test('RFC 7323 §3.2: timestamps in the SYN-ACK answering ours: the ACK echoes them', () => {
  const h = new SegmentHarness();
  h.synSent();
  h.send({ seq: REMOTE_ISS, ack: L, flags: 'S.', mss: 1460, ts: [777, h.tsNow] });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0, ts: [h.tsNow, 777] }]);
});

test('RFC 7323 §3.2: with timestamps off here, an offer is not answered', () => {
  const h = new SegmentHarness();
  h.listen({ timestamps: false });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460, ts: [1000, 0] });
  assert.deepEqual(h.recv(), [{ flags: 'S.', seq: LOCAL_ISS, ack: R, window: W, len: 0, mss: 1460 }]);
});

test('RFC 7323 §4.3: TS.Recent is taken only from a segment at or below Last.ACK.sent (not from out-of-order data)', () => {
  const h = new SegmentHarness();
  h.established({}, TS, { ts: [1001, 0] });
  h.send({ seq: R + 100, ack: L, flags: '.', payload: 10, ts: [1500, 0] });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0, ts: [h.tsNow, 1001] }]);
  h.send({ seq: R, ack: L, flags: '.', payload: 100, ts: [1600, 0] });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 110, window: W, len: 0, ts: [h.tsNow, 1600] }]);
});

test('RFC 7323 §4.1: the RTT is measured from the echoed timestamp (300 ms: RTO = 300 + 4 × 150 = 900 ms)', () => {
  const h = new SegmentHarness();
  const c = h.established({}, TS, { ts: [1001, 0] });
  c.write(new Uint8Array(10));
  const [seg] = h.recv();
  h.advance(300n * MS);
  h.send({ seq: R, ack: L + 10, flags: '.', ts: [1002, seg!.ts![0]] });
  c.write(new Uint8Array(10));
  h.recv();
  assert.equal(ms(h.nextTimer()), 900);
  assert.deepEqual(
    h.recv().map((s) => [s.seq, s.len]),
    [[L + 10, 10]],
  );
});

test('RFC 7323 §4.1: RTTM works with the timestamp clock past 2^31 ms (24.8 days up) before any retransmission', () => {
  const h = new SegmentHarness();
  h.clock.now = BigInt(2 ** 31 + 5000) * MS;
  const c = h.established({}, TS, { ts: [1001, 0] });
  c.write(new Uint8Array(10));
  const [seg] = h.recv();
  assert.ok(seg!.ts![0] >= 2 ** 31, 'our TSval has its top bit set');
  h.advance(300n * MS);
  h.send({ seq: R, ack: L + 10, flags: '.', ts: [1002, seg!.ts![0]] });
  c.write(new Uint8Array(10));
  h.recv();
  assert.equal(ms(h.nextTimer()), 900, 'measured: 300 + 4 × 150 ms, not the initial 1 s');
});

// ---------------------------------------------------------------------- PAWS

test('RFC 7323 §5.3 PAWS: a segment with TSval below TS.Recent is dropped and ACKed', () => {
  const h = new SegmentHarness();
  h.established({}, TS, { ts: [1001, 0] });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10, ts: [1000, 0] });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0, ts: [h.tsNow, 1001] }]);
  assert.deepEqual(h.events, [], 'the data is not delivered');
  assert.equal(h.tcp.counters.pawsDrops, 1);
});

test('RFC 7323 §5.3 PAWS: a TSval equal to TS.Recent passes', () => {
  const h = new SegmentHarness();
  h.established({}, TS, { ts: [1001, 0] });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10, ts: [1001, 0] });
  assert.deepEqual(h.events, ['data 10']);
});

test('RFC 7323 §5.3 PAWS: TSvals compare modulo 2^32: a TSval that wrapped past zero is newer', () => {
  const h = new SegmentHarness();
  h.established({}, { ts: [0xffff_fff0, 0] }, { ts: [0xffff_fff0, 0] });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10, ts: [5, 0] });
  assert.deepEqual(h.events, ['data 10']);
  h.send({ seq: R + 10, ack: L, flags: 'P.', payload: 10, ts: [0xffff_fff8, 0] });
  assert.deepEqual(h.events, ['data 10'], 'older than 5 once wrapped');
});

test('RFC 7323 §5.3 PAWS: a RST is not subject to it', () => {
  const h = new SegmentHarness();
  const c = h.established({}, TS, { ts: [1001, 0] });
  h.send({ seq: R, flags: 'R', ts: [1, 0] });
  assert.equal(c.state, 'CLOSED');
});

test('RFC 7323 §5.3 PAWS: a pure ACK with an old TSval is dropped: its acknowledgment is not taken', () => {
  const h = new SegmentHarness();
  const c = h.established({}, TS, { ts: [1001, 0] });
  c.write(new Uint8Array(10));
  h.recv();
  h.send({ seq: R, ack: L + 10, flags: '.', ts: [900, 0] });
  assert.equal(c.bufferedSend, 10, 'still unacknowledged');
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 10, ack: R, window: W, len: 0, ts: [h.tsNow, 1001] }]);
});

test('RFC 7323 §3.2: without timestamps negotiated, a TSopt on a segment is ignored (no PAWS)', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10, ts: [5, 0] });
  h.send({ seq: R + 10, ack: L, flags: 'P.', payload: 10, ts: [1, 0] });
  assert.deepEqual(h.events, ['data 10', 'data 10']);
});

test('RFC 7323 §3.2: with timestamps off here, no segment of the connection carries them, whatever the peer sends', () => {
  const h = new SegmentHarness();
  const c = h.established({ timestamps: false, noDelay: true }, TS, { ts: [1001, 0] });
  h.send({ seq: R, ack: L, flags: 'P.', payload: 10, ts: [1002, 0] });
  c.write(new Uint8Array(10));
  assert.deepEqual(h.recv(), [{ flags: 'P.', seq: L, ack: R + 10, window: W, len: 10 }]);
});

test('RFC 7323 §2.2: a window scale of 0 is an offer: the SYN-ACK answers with ours and our windows are scaled', () => {
  const h = new SegmentHarness();
  const c = h.established({ noDelay: true }, { wscale: 0 }, { window: 3000 });
  assert.deepEqual(
    h.log.slice(0, 1).map((s) => s.seg.wscale),
    [7],
    'the SYN-ACK carries our scale',
  );
  c.write(new Uint8Array(5000));
  assert.deepEqual(
    h.recv(),
    [
      { flags: '.', seq: L, ack: R, window: 512, len: 1460 },
      { flags: '.', seq: L + 1460, ack: R, window: 512, len: 1460 },
    ],
    "ours scaled by 7; the peer's 3000 taken unshifted (its scale is 0): two full segments fit",
  );
});

test('RFC 7323, RFC 2018: an active open with every option off offers none of them in its SYN', () => {
  const h = new SegmentHarness();
  h.connect({ timestamps: false, sack: false, windowScaling: false });
  assert.deepEqual(h.recv(), [{ flags: 'S', seq: LOCAL_ISS, ack: 0, window: W, len: 0, mss: 1460 }]);
});
