/**
 * Software segmentation offload (gso.ts), checked against what a NIC's TSO
 * or the kernel's GSO does with a GSO_TCPV4 packet: segments of gsoSize
 * bytes of payload, each with its own IPv4 total length, identification
 * (+1 per segment) and header checksum, TCP sequence number (+ offset, mod
 * 2^32) and full TCP checksum; PSH and FIN only on the last. Checksums are
 * verified here with a sum written for the test, not the stack's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SoftGso } from './gso.ts';
import { createPipe } from './pipe.ts';
import { drainFrames } from './queue.ts';

const mac = (n: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, n);
const SRC = [10, 0, 0, 1],
  DST = [10, 0, 0, 2];
const ACK = 0x10,
  PSH = 0x08,
  FIN = 0x01,
  URG = 0x20;

/** The one's complement sum of 16-bit words, folded, plus `extra` words. */
function sum16(b: Uint8Array, extra: number[] = []): number {
  let s = extra.reduce((a, w) => a + w, 0);
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
const pseudo = (tcpLen: number): number[] => [
  (SRC[0]! << 8) | SRC[1]!,
  (SRC[2]! << 8) | SRC[3]!,
  (DST[0]! << 8) | DST[1]!,
  (DST[2]! << 8) | DST[3]!,
  6,
  tcpLen,
];
const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
const be32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** An offloaded Ethernet/IPv4/TCP packet as the stack hands it over: the TCP checksum field holds the pseudo-header sum. */
function packet(
  payload: number,
  opts: { seq?: number; id?: number; flags?: number; tcpOptions?: number; partial?: number } = {},
): Uint8Array {
  const thl = 20 + (opts.tcpOptions ?? 0);
  const f = new Uint8Array(14 + 20 + thl + payload);
  f.set(mac(2), 0);
  f.set(mac(1), 6);
  f.set([0x08, 0x00], 12);
  const ip = 14;
  f.set([0x45, 0, (20 + thl + payload) >> 8, (20 + thl + payload) & 0xff], ip);
  const id = opts.id ?? 0x1234;
  f.set([id >> 8, id & 0xff, 0x40, 0, 64, 6, 0xde, 0xad, ...SRC, ...DST], ip + 4);
  const tcp = ip + 20;
  const seq = opts.seq ?? 0x01020304;
  f.set([0x30, 0x39, 0x00, 0x50, seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff, 0, 0, 0, 9], tcp);
  f[tcp + 12] = (thl / 4) << 4;
  f[tcp + 13] = opts.flags ?? ACK | PSH | FIN;
  f.set([0xff, 0xff], tcp + 14);
  for (let i = 20; i < thl; i++) f[tcp + i] = 1; // NOP options
  const partial = opts.partial ?? sum16(new Uint8Array(0), pseudo(thl + payload));
  f.set([partial >> 8, partial & 0xff], tcp + 16);
  for (let i = 0; i < payload; i++) f[tcp + thl + i] = (i * 7 + 3) & 0xff;
  return f;
}

test('a 2500-byte payload in 1000-byte segments: three frames as TSO cuts them', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  const g = new SoftGso(a);
  const p = packet(2500);
  assert.equal(g.write(p, 1000), 'ok');
  const segs = drainFrames(b);
  assert.deepEqual(
    segs.map((s) => s.length),
    [54 + 1000, 54 + 1000, 54 + 500],
  );
  segs.forEach((s, i) => {
    const n = s.length - 54;
    assert.deepEqual(s.subarray(0, 14), p.subarray(0, 14), 'Ethernet header copied');
    assert.equal(be16(s, 16), 40 + n, 'IPv4 total length');
    assert.equal(be16(s, 18), 0x1234 + i, 'identification +1 per segment');
    assert.deepEqual(s.subarray(20, 24), p.subarray(20, 24), 'flags, TTL, protocol');
    assert.deepEqual(s.subarray(26, 34), p.subarray(26, 34), 'addresses');
    assert.equal(sum16(s.subarray(14, 34)), 0xffff, `IPv4 header checksum of segment ${i}`);
    assert.equal(be32(s, 38), 0x01020304 + 1000 * i, 'sequence number');
    assert.deepEqual(s.subarray(42, 47), p.subarray(42, 47), 'ack number and data offset');
    assert.equal(s[47], i === 2 ? ACK | PSH | FIN : ACK, 'PSH and FIN only on the last');
    assert.deepEqual(s.subarray(48, 50), p.subarray(48, 50), 'window');
    assert.equal(sum16(s.subarray(34), pseudo(20 + n)), 0xffff, `TCP checksum of segment ${i}`);
    assert.deepEqual(s.subarray(54), p.subarray(54 + 1000 * i, 54 + 1000 * i + n), 'payload');
  });
  assert.deepEqual(g.counters, { offloaded: 1, segments: 3, largest: 3, badPartialChecksum: 0 });
});

test('sequence and identification wrap; other flags stay on every segment; TCP options are copied into each', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  const g = new SoftGso(a);
  assert.equal(g.write(packet(300, { seq: 0xffffff80, id: 0xffff, flags: ACK | URG | PSH, tcpOptions: 12 }), 200), 'ok');
  const segs = drainFrames(b);
  assert.equal(segs.length, 2);
  assert.deepEqual(
    segs.map((s) => [be32(s, 38), be16(s, 18), s[47], s.length]),
    [
      [0xffffff80, 0xffff, ACK | URG, 66 + 200],
      [0x00000048, 0x0000, ACK | URG | PSH, 66 + 100],
    ],
  );
  for (const s of segs) {
    assert.deepEqual([...s.subarray(54, 66)], new Array(12).fill(1));
    assert.equal(sum16(s.subarray(34), pseudo(32 + s.length - 66)), 0xffff);
    assert.equal(sum16(s.subarray(14, 34)), 0xffff);
  }
});

test('exact multiples and a payload of one segment; the largest packet counted in segments', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  const g = new SoftGso(a);
  assert.equal(g.write(packet(2000), 1000), 'ok');
  assert.deepEqual(
    drainFrames(b).map((s) => [s.length, s[47]]),
    [
      [1054, ACK],
      [1054, ACK | PSH | FIN],
    ],
  );
  assert.equal(g.write(packet(999), 1000), 'ok');
  assert.deepEqual(
    drainFrames(b).map((s) => [s.length, s[47]]),
    [[1053, ACK | PSH | FIN]],
  );
  assert.equal(g.write(packet(1000), 1000), 'ok');
  assert.equal(drainFrames(b).length, 1);
  assert.deepEqual(g.counters, { offloaded: 3, segments: 4, largest: 2, badPartialChecksum: 0 });
});

test('refused: not IPv4, not TCP, shorter than the headers, longer than gsoMax, a checksum field without the pseudo-header sum', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  const g = new SoftGso(a);
  const ipv6 = packet(100);
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  assert.equal(g.write(ipv6, 50), 'invalid');
  const udp = packet(100);
  udp[23] = 17;
  assert.equal(g.write(udp, 50), 'invalid');
  assert.equal(g.write(packet(0).subarray(0, 53), 50), 'invalid');
  assert.equal(g.write(packet(0), 50), 'ok', 'the 54 bytes of headers alone');
  assert.equal(drainFrames(b).length, 0, 'no payload, no segment');
  assert.equal(g.write(packet(65535 - 40 + 1), 1000), 'invalid', 'one byte past 14 + 65535');
  assert.equal(g.write(packet(100, { partial: 0x1234 }), 50), 'invalid');
  assert.equal(g.counters.badPartialChecksum, 1);
  assert.equal(g.write(packet(1500), 1465), 'invalid', 'a segment larger than the frame buffer (mtu + 18)');
  assert.equal(drainFrames(b).length, 0);
});

test('the largest packet: 14 + 65535 bytes in 1460-byte segments', () => {
  const [a, b] = createPipe(mac(1), mac(2), 1500, 100);
  const g = new SoftGso(a);
  assert.equal(g.gsoMax, 14 + 65535);
  const payload = 65535 - 40;
  assert.equal(g.write(packet(payload), 1460), 'ok');
  const segs = drainFrames(b);
  assert.equal(segs.length, Math.ceil(payload / 1460));
  assert.equal(
    segs.reduce((n, s) => n + s.length - 54, 0),
    payload,
  );
  assert.equal(segs.at(-1)!.length, 54 + (payload % 1460));
});

test("without gsoSize a frame passes as it is; the inner device's refusal is reported; the rest is the inner device's", () => {
  const [a, b] = createPipe(mac(1), mac(2), 1500, 2);
  const g = new SoftGso(a);
  const p = packet(100, { partial: 0x1234 });
  assert.equal(g.write(p), 'ok');
  assert.equal(g.write(p, 0), 'ok');
  assert.deepEqual(drainFrames(b), [p, p]);
  assert.equal(g.write(packet(300), 100), 'again', 'the third segment finds the queue full');
  assert.equal(drainFrames(b).length, 2);
  assert.equal(g.counters.segments, 3);
  assert.deepEqual(g.mac, mac(1));
  assert.equal(g.mtu, 1500);
  assert.deepEqual(g.capabilities, { gsoMax: 14 + 65535, rxOffload: false, headroom: 0 });
  b.write(packet(10));
  assert.equal(g.readyAtNs(), 0n);
  const buf = new Uint8Array(1518);
  const rx = { checksumVerified: true };
  assert.equal(g.read(buf, rx), 64);
  assert.equal(rx.checksumVerified, false);
  assert.equal(g.readyAtNs(), undefined);
  assert.equal(g.read(buf, rx), 'again');
});

test('a segment the inner device refuses makes the whole write fail, even when later ones pass', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  let n = 0;
  const flaky = Object.assign(Object.create(a) as typeof a, {
    write: (f: Uint8Array) => (++n === 2 ? 'again' : a.write(f)),
  });
  const g = new SoftGso(flaky);
  assert.equal(g.write(packet(300), 100), 'again');
  assert.deepEqual(
    drainFrames(b).map((s) => be32(s, 38) - 0x01020304),
    [0, 200],
  );
});
