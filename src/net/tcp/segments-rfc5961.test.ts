/**
 * RFC 5961 (blind in-window attacks) segment by segment: RST and SYN checks
 * (§3, §4) answered with challenge ACKs, ACK validation (§5), and the
 * challenge-ACK rate limit (§7). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, REMOTE_ISS, S, SegmentHarness, type SegOut } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535;
const CHALLENGE: SegOut = { flags: '.', seq: L, ack: R, window: W, len: 0 };

// ------------------------------------------------------------------ §3: RST

test('RFC 5961 §3.2: a RST exactly at RCV.NXT resets', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.recv(), []);
});

test('RFC 5961 §3.2: a RST in the window but not at RCV.NXT gets a challenge ACK and changes nothing', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 1, flags: 'R' });
  assert.deepEqual(h.recv(), [CHALLENGE]);
  assert.equal(c.state, 'ESTABLISHED');
  assert.equal(h.tcp.counters.challengeAcks, 1);
});

test('RFC 5961 §3.2: a RST on the last sequence number of the window gets a challenge ACK', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 1000 }); // RCV.WND = 1000
  h.send({ seq: R + 999, flags: 'R' });
  assert.deepEqual(h.recv(), [{ ...CHALLENGE, window: 1000 }]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §3.2: a RST at the right edge of the window (RCV.NXT + RCV.WND) is dropped silently', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 1000 });
  h.send({ seq: R + 1000, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §3.2: a RST far outside the window is dropped silently', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 1_000_000, flags: 'R' });
  h.send({ seq: R - 1_000_000, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §3.2: a RST just below RCV.NXT is dropped silently', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R - 1, flags: 'R' });
  assert.deepEqual(h.recv(), []);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §3.2: the peer answers the challenge ACK with a RST at its ACK number; that one resets', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 1000, ack: L, flags: 'R.' });
  const [challenge] = h.recv();
  assert.deepEqual(challenge, CHALLENGE);
  h.send({ seq: challenge!.ack, flags: 'R' });
  assert.equal(c.state, 'CLOSED');
  assert.deepEqual(h.events, ['close reset']);
});

test('RFC 5961 §3.2: a RST carrying an ACK is judged by its sequence number alone', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, ack: L + 12345, flags: 'R.' });
  assert.equal(c.state, 'CLOSED', 'RST processing comes before the ACK check');
});

test('RFC 5961 §3.2: in SYN-RECEIVED too, an in-window RST off RCV.NXT is challenged', () => {
  const h = new SegmentHarness();
  const c = h.synReceived();
  h.send({ seq: R + 5, flags: 'R' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R, window: W, len: 0 }]);
  assert.equal(c.state, 'SYN-RECEIVED');
});

test('RFC 5961 §3.2: in FIN-WAIT-2, an in-window RST off RCV.NXT is challenged', () => {
  const h = new SegmentHarness();
  const c = h.finWait2();
  h.send({ seq: R + 5, flags: 'R' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R, window: W, len: 0 }]);
  assert.equal(c.state, 'FIN-WAIT-2');
});

test('RFC 5961 §3.2: in TIME-WAIT, an in-window RST off RCV.NXT is challenged', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.send({ seq: R + 5, flags: 'R' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'TIME-WAIT');
});

// ------------------------------------------------------------------ §4: SYN

test('RFC 5961 §4.2: a SYN in ESTABLISHED, in the window, gets a challenge ACK and changes nothing', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 10, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [CHALLENGE]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §4.2: a SYN at RCV.NXT gets a challenge ACK (no reset, unlike RFC 793)', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R, flags: 'S', mss: 1460 });
  assert.deepEqual(h.recv(), [CHALLENGE]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §4.2: a SYN outside the window is ACKed too, whatever its sequence number', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 1_000_000, flags: 'S', mss: 1460 });
  h.send({ seq: REMOTE_ISS, flags: 'S', mss: 1460 }); // the original SYN again
  assert.deepEqual(h.recv(), [CHALLENGE, CHALLENGE]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §4.2: a SYN-ACK in ESTABLISHED gets a challenge ACK', () => {
  const h = new SegmentHarness();
  const c = h.established();
  h.send({ seq: R + 10, ack: L, flags: 'S.', mss: 1460 });
  assert.deepEqual(h.recv(), [CHALLENGE]);
  assert.equal(c.state, 'ESTABLISHED');
});

test('RFC 5961 §4.2: a SYN in CLOSE-WAIT gets a challenge ACK', () => {
  const h = new SegmentHarness();
  const c = h.closeWait();
  h.send({ seq: R + 1, flags: 'S' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'CLOSE-WAIT');
});

test('RFC 5961 §4.2: a SYN in TIME-WAIT gets a challenge ACK', () => {
  const h = new SegmentHarness();
  const c = h.timeWait();
  h.send({ seq: R + 1, flags: 'S' });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 1, ack: R + 1, window: W, len: 0 }]);
  assert.equal(c.state, 'TIME-WAIT');
});

test('RFC 5961 §4.2: a SYN with data in ESTABLISHED delivers nothing', () => {
  const h = new SegmentHarness();
  h.established();
  h.send({ seq: R, ack: L, flags: 'S.', payload: 10 });
  assert.deepEqual(h.recv(), [CHALLENGE]);
  assert.deepEqual(h.events, []);
});

// ------------------------------------------------------------------ §5: ACK

/** ESTABLISHED with 100 bytes of ours acknowledged: SND.UNA = L + 100, the peer's window 64000. */
function sent(): SegmentHarness {
  const h = new SegmentHarness();
  const c = h.established();
  c.write(new Uint8Array(100));
  h.recv();
  h.send({ seq: R, ack: L + 100, flags: '.' });
  return h;
}

test('RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND (65535 at least) is dropped with a challenge ACK', () => {
  const h = sent();
  h.send({ seq: R, ack: L + 100 - 65536, flags: 'P.', payload: 10 });
  assert.deepEqual(h.recv(), [{ ...CHALLENGE, seq: L + 100 }]);
  assert.deepEqual(h.events, [], 'its data is dropped');
});

test('RFC 5961 §5.2: an ACK exactly SND.UNA - MAX.SND.WND is acceptable: its data is taken', () => {
  const h = sent();
  h.send({ seq: R, ack: L + 100 - 65535, flags: 'P.', payload: 10 });
  assert.deepEqual(h.events, ['data 10']);
});

test('RFC 5961 §5.2: an ACK beyond SND.NXT (SND.MAX) is dropped with an ACK', () => {
  const h = sent();
  h.send({ seq: R, ack: L + 101, flags: 'P.', payload: 10 });
  assert.deepEqual(h.recv(), [{ ...CHALLENGE, seq: L + 100 }]);
  assert.deepEqual(h.events, []);
});

test('RFC 5961 §5.2: an ACK equal to SND.NXT is acceptable', () => {
  const h = sent();
  h.send({ seq: R, ack: L + 100, flags: 'P.', payload: 10 });
  assert.deepEqual(h.events, ['data 10']);
  assert.deepEqual(h.recv(), []);
});

test('RFC 5961 §5.2: the bound follows a scaled window larger than 64 KiB', () => {
  const h = new SegmentHarness();
  const c = h.established({}, { wscale: 4 }, { window: 12500 }); // 200000 bytes
  c.write(new Uint8Array(100));
  h.recv();
  h.send({ seq: R, ack: L + 100, flags: '.', window: 12500 });
  h.send({ seq: R, ack: L + 100 - 150_000, flags: 'P.', payload: 10 });
  assert.deepEqual(h.events, ['data 10'], 'within SND.UNA - 200000');
  h.recv();
  h.send({ seq: R + 10, ack: L + 100 - 200_001, flags: 'P.', payload: 10 });
  assert.deepEqual(h.recv(), [{ flags: '.', seq: L + 100, ack: R + 10, window: 512, len: 0 }]);
  assert.deepEqual(h.events, ['data 10']);
});

// ----------------------------------------------------------- §7: rate limit

test('RFC 5961 §7: at most 1000 challenge ACKs a second for the whole layer; the next second allows more', () => {
  const h = new SegmentHarness();
  h.established();
  for (let i = 0; i < 1200; i++) h.send({ seq: R + 1 + i, flags: 'R' });
  assert.equal(h.recv().length, 1000);
  assert.equal(h.tcp.challengesLimited, 200);
  h.advance(1n * S);
  h.send({ seq: R + 1, flags: 'R' });
  assert.deepEqual(h.recv(), [CHALLENGE]);
});
