/**
 * Segmentation offload on the wire: new data goes to the device in one
 * packet of whole segments (up to what it takes, and what the windows
 * allow), which it cuts into MSS-sized segments; a short tail, the FIN and
 * retransmissions go as ordinary segments. The harness's fake device cuts
 * as a NIC does (PSH on the last segment only) and checks the packet (DF,
 * size, the pseudo-header sum left for the device, no FIN).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCAL_ISS, REMOTE_ISS, SegmentHarness } from './segment-harness.ts';

const L = LOCAL_ISS + 1,
  R = REMOTE_ISS + 1,
  W = 65535,
  M = 1460;
const seg = (i: number, flags = '.', len = M) => ({ flags, seq: L + i * M, ack: R, window: W, len });

function offloading(gsoMaxPacket = 65535, listen = {}): SegmentHarness {
  const h = new SegmentHarness({ gsoMaxPacket });
  h.established({ noDelay: true, ...listen });
  h.tcp.counters.segmentsOut = 0;
  return h;
}

test('a full initial window goes to the device as one packet of ten segments', () => {
  const h = offloading();
  h.conn!.write(new Uint8Array(10 * M));
  assert.deepEqual(h.recv(), [...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => seg(i)), seg(9, 'P.')]);
  assert.equal(h.offloaded, 1);
  assert.deepEqual([h.tcp.counters.offloadSends, h.tcp.counters.segmentsOut], [1, 10], 'one send, ten segments counted');
});

test('whole segments only: a short tail goes after the packet as an ordinary segment', () => {
  const h = offloading();
  h.conn!.write(new Uint8Array(3 * M + 620));
  assert.deepEqual(h.recv(), [seg(0), seg(1), seg(2), seg(3, 'P.', 620)]);
  assert.equal(h.offloaded, 1);
  assert.deepEqual([h.tcp.counters.offloadSends, h.tcp.counters.segmentsOut], [1, 4]);
});

test('one segment of data is never offloaded', () => {
  const h = offloading();
  h.conn!.write(new Uint8Array(M + 100));
  assert.deepEqual(h.recv(), [seg(0), seg(1, 'P.', 100)]);
  assert.equal(h.offloaded, 0);
});

test('a packet is at most what the device takes, less 80 bytes of headers, in whole segments', () => {
  const h = offloading(20 + 60 + 3 * M); // Exactly three segments fit.
  h.conn!.write(new Uint8Array(10 * M));
  assert.equal(h.recv().length, 10);
  assert.equal(h.offloaded, 3, '3 + 3 + 3 in packets, then one alone');
  const g = offloading(20 + 60 + 3 * M - 1); // One byte short: two segments a packet.
  g.conn!.write(new Uint8Array(10 * M));
  assert.equal(g.recv().length, 10);
  assert.equal(g.offloaded, 5);
});

test("a packet is at most what the windows allow: the peer's window cuts it to whole segments", () => {
  const h = new SegmentHarness({ gsoMaxPacket: 65535 });
  h.established({ noDelay: true }, {}, { window: 4 * M + 1000 });
  h.conn!.write(new Uint8Array(10 * M));
  assert.deepEqual(h.recv(), [seg(0), seg(1), seg(2), seg(3)], 'four whole segments; the 1000 left waits (sender SWS avoidance)');
  assert.equal(h.offloaded, 1);
});

test('the FIN never rides in an offloaded packet: the last segment goes alone with it', () => {
  // The window is closed while the data and the FIN are queued; it opens for all of it at once.
  const closedThenOpen = (n: number): SegmentHarness => {
    const h = new SegmentHarness({ gsoMaxPacket: 65535 });
    h.established({ noDelay: true }, {}, { window: 0 });
    h.conn!.write(new Uint8Array(n * M));
    h.conn!.shutdown();
    assert.deepEqual(h.recv(), []);
    h.send({ seq: R, ack: L, flags: '.', window: 60_000 });
    return h;
  };
  const h = closedThenOpen(5);
  assert.deepEqual(h.recv(), [seg(0), seg(1), seg(2), seg(3), seg(4, 'FP.')]);
  assert.equal(h.offloaded, 1, 'four segments in one packet');
  const two = closedThenOpen(2);
  assert.deepEqual(two.recv(), [seg(0), seg(1, 'FP.')]);
  assert.equal(two.offloaded, 0, 'one segment and the FIN: nothing to offload');
});

test('retransmissions after a timeout go as ordinary segments', () => {
  const h = offloading();
  h.conn!.write(new Uint8Array(4 * M));
  h.recv();
  h.nextTimer();
  assert.deepEqual(h.recv(), [seg(0)]);
  h.send({ seq: R, ack: L + M, flags: '.' });
  assert.deepEqual(h.recv(), [seg(1), seg(2)], 'slow start from one segment: two resent, one by one');
  assert.equal(h.offloaded, 1, 'only the first flight');
});

test('with timestamps every segment carries 12 bytes of options: the device cuts at MSS - 12', () => {
  const h = new SegmentHarness({ gsoMaxPacket: 65535 });
  h.established({ noDelay: true }, { ts: [1000, 0] }, { ts: [1001, 0] });
  h.conn!.write(new Uint8Array(3 * 1448));
  const out = h.recv();
  assert.deepEqual(
    out.map((s) => [s.seq, s.len, s.flags]),
    [
      [L, 1448, '.'],
      [L + 1448, 1448, '.'],
      [L + 2896, 1448, 'P.'],
    ],
  );
  assert.equal(h.offloaded, 1);
  assert.ok(out.every((s) => s.ts?.[1] === 1001));
});
