/**
 * The receive window by itself: the scale offered (RFC 7323 §2.3: the least
 * that covers the buffer, at most 14), the window field (scaled, at most
 * 65535, never moving the right edge back: RFC 9293 §3.8.6.2.2), when an
 * update is worth a segment (receiver SWS avoidance), and the auto-tuning
 * (the bound doubles in a round trip the peer fills half of it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from './bytes.ts';
import { ReceiveWindow } from './window.ts';

const MS = 1_000_000n;

test('RFC 7323 §2.3: the scale offered is the least shift that lets 65535 << shift cover the buffer, at most 14', () => {
  const shift = (capacity: number, scaling = true): number => new ReceiveWindow(new ByteQueue(capacity, 16), scaling).shift;
  assert.equal(shift(65535), 0);
  assert.equal(shift(65536), 1);
  assert.equal(shift(131070), 1);
  assert.equal(shift(131071), 2);
  assert.equal(shift(4 * 1024 * 1024), 7);
  assert.equal(shift(65535 * 2 ** 14), 14);
  assert.equal(shift(2 ** 31), 14, 'a larger buffer is covered as far as 14 allows');
  assert.equal(shift(4 * 1024 * 1024, false), 0, 'no scaling: no shift');
});

test('the window starts at 64 KiB or the whole buffer if smaller; the SYN field is the buffer, at most 65535', () => {
  const big = new ReceiveWindow(new ByteQueue(4 << 20, 16), true);
  assert.deepEqual([big.limit, big.size(), big.synField()], [65536, 65536, 65535]);
  const small = new ReceiveWindow(new ByteQueue(3000, 16), true);
  assert.deepEqual([small.limit, small.size(), small.synField()], [3000, 3000, 3000]);
});

test('size is the bound less what the application has not taken, never below zero', () => {
  const q = new ByteQueue(3000, 16);
  const w = new ReceiveWindow(q, false);
  q.push(new Uint8Array(1000));
  assert.equal(w.size(), 2000);
  q.push(new Uint8Array(2000));
  assert.equal(w.size(), 0);
  w.limit = 1000; // A bound below what is queued.
  assert.equal(w.size(), 0);
});

test('RFC 7323 §2.3: the window field is the size shifted right by the scale, at most 65535', () => {
  const q = new ByteQueue(1 << 20, 16);
  const w = new ReceiveWindow(q, true); // Shift 5.
  assert.equal(w.shift, 5);
  assert.equal(w.field(0), 2048, '65536 >> 5');
  w.limit = 1 << 22;
  assert.equal(w.field(0), 65535, 'capped at the 16-bit field');
  const u = new ReceiveWindow(new ByteQueue(1 << 20, 16), false);
  assert.equal(u.field(0), 65535, 'unscaled, 65536 does not fit');
});

test('RFC 9293 §3.8.6.2.2: the right edge once advertised never moves back; it moves on when the window allows', () => {
  const q = new ByteQueue(100_000, 16);
  const w = new ReceiveWindow(q, false);
  assert.equal(w.field(1000), 65535); // Edge 66535.
  q.push(new Uint8Array(40_000));
  assert.equal(w.field(21_000), 45_535, 'size 25536 would pull the edge back to 46536: the old edge holds');
  q.drop(40_000);
  assert.equal(w.field(41_000), 65_535, 'the edge moves on to 106535');
  q.push(new Uint8Array(100));
  assert.equal(w.field(41_000), 65_535, 'held at the edge');
  assert.equal(w.field(41_100), 65_436, 'RCV.NXT moved with the data: the window is what is free');
});

test('the first window field is what is free, wherever RCV.NXT lies in the sequence space (no edge was advertised before it)', () => {
  // RCV.NXT in the half of the space before 0: an edge taken to be 0 before the first advertisement held the window
  // open up to 0, capped at 65535 << 7 (8 MiB, twice the buffer), so the peer sent what the buffer could not hold.
  for (const rcvNxt of [0, 1000, 0x7fff_0000, 0x8000_0001, 0xc000_0000, 0xffff_f000]) {
    const w = new ReceiveWindow(new ByteQueue(4 << 20, 16), true);
    assert.equal(w.field(rcvNxt), 512, `RCV.NXT ${rcvNxt.toString(16)}: 64 KiB >> 7`);
    assert.equal(new ReceiveWindow(new ByteQueue(4 << 20, 16), true).updateWorthSending(rcvNxt, 1460), true, 'nothing advertised yet');
  }
});

test('RFC 9293 §3.8.6.2.2: an update is worth sending once the edge can move by min(bound / 2, MSS)', () => {
  const q = new ByteQueue(100_000, 16);
  const w = new ReceiveWindow(q, false);
  q.push(new Uint8Array(10_000));
  w.field(10_000); // Edge 10000 + 55536 = 65536.
  assert.equal(w.updateWorthSending(10_000, 1460), false);
  q.drop(1459);
  assert.equal(w.updateWorthSending(10_000, 1460), false, 'one MSS less one octet');
  q.drop(1);
  assert.equal(w.updateWorthSending(10_000, 1460), true, 'one MSS');
  const s = new ReceiveWindow(new ByteQueue(2000, 16), false);
  s.field(0); // Edge 2000.
  (s as unknown as { recvQ: ByteQueue }).recvQ.push(new Uint8Array(1500));
  s.field(1500); // Edge 2000, size 500.
  (s as unknown as { recvQ: ByteQueue }).recvQ.drop(999);
  assert.equal(s.updateWorthSending(1500, 1460), false, 'a 2000-byte bound: half of it, 1000, is the step');
  (s as unknown as { recvQ: ByteQueue }).recvQ.drop(1);
  assert.equal(s.updateWorthSending(1500, 1460), true);
});

test('a cookie connection starts unscaled, its edge where the SYN-ACK put it', () => {
  const w = new ReceiveWindow(new ByteQueue(4 << 20, 16), true);
  w.startUnscaled(5000);
  assert.equal(w.shift, 0);
  assert.equal(w.field(5000), 65535);
  assert.equal(w.updateWorthSending(5000, 1460), false, 'the edge is 5000 + 65535 already');
});

test("auto-tuning (Linux's tcp_rcv_space_adjust): once an interval (SRTT, or 100 ms before one) in which more came than in any before, the bound is 2 × what came + 16 segments, plus twice that times the growth", () => {
  const q = new ByteQueue(1 << 20, 16);
  const w = new ReceiveWindow(q, true);
  w.tune(40_000, 50n * MS, 0, 1460);
  assert.equal(w.limit, 65536, 'within the first 100 ms');
  w.tune(0, 100n * MS, 0, 1460);
  // 2 × 40000 + 16 × 1460 = 103360, grown by 2 × 103360 × (40000 - 14600) / 14600 (the first against ten segments).
  assert.equal(w.limit, Math.ceil(103_360 + (2 * 103_360 * 25_400) / 14_600));
  w.tune(30_000, 200n * MS, 20_000_000, 1460);
  assert.equal(w.limit, 462_997, 'less came than the best interval (40000): unchanged');
  w.tune(80_000, 220n * MS, 20_000_000, 1460);
  assert.equal(w.limit, 550_080, 'twice the best: (160000 + 23360) × 3, as a sender in slow start needs');
  w.tune(100_000, 240n * MS, 20_000_000, 1460);
  assert.equal(w.limit, 550_080, '(200000 + 23360) × 1.5 is less: the bound never shrinks');
  w.tune(10_000, 250n * MS, 20_000_000, 1460);
  assert.equal(w.limit, 550_080, '10 ms of SRTT not yet passed');
  const capped = new ReceiveWindow(new ByteQueue(100_000, 16), true);
  capped.tune(60_000, 200n * MS, 0, 1460);
  assert.equal(capped.limit, 100_000, 'never beyond the buffer');
  capped.tune(1_000_000, 400n * MS, 0, 1460);
  assert.equal(capped.limit, 100_000);
});
