/**
 * The receive window on the wire: auto-tuned (the bound starts at 64 KiB and
 * grows, in a round trip in which the peer sent more than in any before, as
 * Linux's tcp_rcv_space_adjust grows it, up to the receive buffer), scaled by
 * the shift we offered (RFC 7323 §2), and
 * announced without shrinking (RFC 9293 §3.8.6.2.2). See segment-harness.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, MS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  M = 1460;

/** The peer sends `n` full segments from `seq` at once; returns where it stopped. */
function burst(h: SegmentHarness, seq: number, n: number): number {
  for (let i = 0; i < n; i++) h.send({ seq: seq + i * M, ack: L, flags: '.', payload: M });
  return seq + n * M;
}

test('auto-tuning: 23 segments in a round trip grow the window offered next as Linux does: (2 × 33580 + 16 segments) × (1 + 2 × the growth over ten segments)', () => {
  const h = new SegmentHarness(); // 1 ms round trip: SRTT 1 ms, the measuring interval.
  const c = h.established({}, { wscale: 2 }); // Our shift: 7 (4 MiB buffer).
  let seq = burst(h, R, 23); // 33580 bytes, the first of them opening the measurement.
  assert.ok(
    h.recv().every((s) => s.window === 512),
    '64 KiB >> 7',
  );
  h.advance(1n * MS);
  seq = burst(h, seq, 1);
  h.advance(40n * MS);
  // 2 × 33580 + 16 × 1460 = 90520, plus 2 × 90520 × (33580 - 14600) / 14600: 325872, so that a sender in slow start,
  // which doubles what it sends each round trip, is not held back by the window we announce now for the next one.
  assert.deepEqual(
    h.recv().map((s) => [s.ack, s.window]),
    [[seq, 325872 >> 7]],
    '325872 >> 7',
  );
  assert.equal(c.receiveWindowLimit, 325872);
});

test('auto-tuning: a round trip that brings no more than the initial window (ten segments) leaves the window as it was', () => {
  const h = new SegmentHarness();
  const c = h.established({}, { wscale: 2 });
  let seq = burst(h, R, 10); // With the one after: the first opens the measurement, then 10 × 1460 = 14600 bytes.
  h.advance(1n * MS);
  seq = burst(h, seq, 1);
  h.advance(40n * MS);
  assert.equal(c.receiveWindowLimit, 65536);
  assert.ok(h.recv().every((s) => s.window === 512));
});

test('auto-tuning: never beyond the receive buffer; unscaled, the field stays at most 65535', () => {
  const h = new SegmentHarness();
  const c = h.established({ receiveBuffer: 100_000 }, { wscale: 2 }); // Our shift: 1.
  let seq = burst(h, R, 23);
  h.advance(1n * MS);
  seq = burst(h, seq, 1);
  h.advance(40n * MS);
  assert.equal(c.receiveWindowLimit, 100_000);
  assert.deepEqual(h.recv().at(-1), { flags: '.', seq: L, ack: seq, window: 50_000, len: 0 }, '100000 >> 1');
  const u = new SegmentHarness();
  const d = u.established({ receiveBuffer: 200_000 }); // The peer offered no scaling: neither side scales.
  let s2 = burst(u, R, 23);
  u.advance(1n * MS);
  s2 = burst(u, s2, 1);
  u.advance(40n * MS);
  assert.equal(d.receiveWindowLimit, 200_000, 'the whole buffer (325872 is more)');
  assert.equal(u.recv().at(-1)?.window, 65535, 'capped at the 16-bit field');
});

test('a peer whose ISN lies in the upper half of the sequence space is offered at most the 64 KiB bound while the application takes nothing', () => {
  for (const iss of [0x8000_0000, 0xc000_0000, 0xffff_0000]) {
    const h = new SegmentHarness();
    const c = h.activeEstablished({}, { seq: iss, wscale: 2 }); // Our shift: 7 (4 MiB buffer).
    c.pause(); // Nothing is taken: the window closes as data fills the 64 KiB bound, and opens no further.
    let seq = (iss + 1) >>> 0;
    for (let i = 0; i < 60; i++) {
      h.send({ seq, ack: L, flags: '.', payload: M });
      seq = (seq + M) >>> 0;
    }
    const windows = h.recv().map((s) => s.window);
    assert.ok(windows.length > 0);
    assert.ok(
      windows.every((w) => w <= 512),
      `ISN ${iss.toString(16)}: windows offered ${windows.join(',')}`,
    );
  }
});
