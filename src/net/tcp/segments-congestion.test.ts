/**
 * The congestion window on the wire, segment by segment: the initial window
 * (RFC 6928), slow start and congestion avoidance as the ACKs come (RFC 5681,
 * RFC 9438 CUBIC), NewReno fast recovery without SACK (RFC 6582), limited
 * transmit (RFC 3042) and early retransmit (RFC 5827). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
