/**
 * The in-memory link devices at their edges: NetDevice's size rules
 * (14 ≤ frame ≤ mtu + 18, a read buffer of mtu + 18), the counters each
 * keeps, the learning switch's IEEE 802.1D rules (no learning from group
 * sources, never back out of the ingress port, aging at exactly the limit,
 * least-recently-seen eviction), the pcap file's exact bytes (libpcap's
 * nanosecond format), and the fault injector's decisions driven by a
 * scripted random source, so each one is checked exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceResult, NetDevice, Random, RxInfo } from '../devices/index.ts';
import { VirtualClock } from '../sim/clock.ts';
import { FaultInjector, ImpairedPath } from './fault.ts';
import { PcapDevice, PcapWriter } from './pcap.ts';
import { createPipe } from './pipe.ts';
import { drainFrames, FrameQueue, frameSizeOk, LinkEnd, readFrom } from './queue.ts';
import { Switch } from './switch.ts';

const mac = (n: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, n);
const frame = (dst: Uint8Array, src: Uint8Array, tag = 0, len = 60): Uint8Array => {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([0x88, 0xb5, tag].slice(0, len - 12), 12);
  return f;
};
const tags = (d: NetDevice): number[] => drainFrames(d).map((f) => f[14]!);

/** A Random that returns the numbers it was given, in order, and counts the calls. */
class Scripted implements Random {
  calls = 0;
  private readonly xs: number[];
  constructor(xs: number[]) {
    this.xs = xs;
  }
  u32(): number {
    const x = this.xs[this.calls++];
    assert.ok(x !== undefined, 'the path drew more random numbers than scripted');
    return x;
  }
  fill(): void {
    throw new Error('not used');
  }
}

test('frame sizes: 14 to mtu + 18 bytes; a read buffer of at least mtu + 18', () => {
  assert.equal(frameSizeOk(new Uint8Array(14), 1500), true);
  assert.equal(frameSizeOk(new Uint8Array(13), 1500), false);
  assert.equal(frameSizeOk(new Uint8Array(1518), 1500), true);
  assert.equal(frameSizeOk(new Uint8Array(1519), 1500), false);
  assert.equal(frameSizeOk(new Uint8Array(9018), 9000), true);
  const q = new FrameQueue();
  q.push(new Uint8Array(20));
  assert.equal(readFrom(q, new Uint8Array(1518), 1500), 20);
  assert.throws(
    () => readFrom(q, new Uint8Array(1517), 1500),
    (e: Error) => e instanceof RangeError && e.message === 'read buffer of 1517 bytes is too small: it needs mtu + 18 = 1518',
  );
  assert.equal(readFrom(q, new Uint8Array(9018), 9000), 'again');
});

test('a link end: its own copy of the MAC, counts, an unplugged cable, a full peer, readiness', () => {
  assert.throws(
    () => new LinkEnd(new Uint8Array(5)),
    (e: Error) => e instanceof RangeError && e.message === 'a MAC address has exactly 6 bytes',
  );
  const m = mac(1);
  const d = new LinkEnd(m);
  m[5] = 9;
  assert.deepEqual(d.mac, mac(1));
  assert.equal(d.write(frame(mac(2), mac(1))), 'ok', 'no peer: the frame is lost, as on an unplugged cable');
  assert.equal(d.txFrames, 1);
  assert.equal(d.write(new Uint8Array(13)), 'invalid');
  assert.equal(d.txFrames, 1);
  d.peer = () => false;
  assert.equal(d.write(frame(mac(2), mac(1))), 'again');
  assert.equal(d.txFrames, 2);
  assert.equal(d.readyAtNs(), undefined);
  d.inbox.push(frame(mac(1), mac(2), 5));
  assert.equal(d.readyAtNs(), 0n);
  const rx: RxInfo = { checksumVerified: true };
  const buf = new Uint8Array(1518);
  assert.equal(d.read(buf, rx), 60);
  assert.equal(rx.checksumVerified, false);
  assert.equal(d.rxFrames, 1);
  assert.equal(d.read(buf, rx), 'again');
  assert.equal(d.rxFrames, 1);
  assert.equal(d.readyAtNs(), undefined);
  const q = new FrameQueue(1);
  assert.equal(q.push(new Uint8Array(14)), true);
  assert.equal(q.push(new Uint8Array(14)), false);
  assert.equal(q.push(new Uint8Array(14)), false);
  assert.equal(q.dropped, 2);
});

test('a long queue keeps order through many pushes and shifts', () => {
  const q = new FrameQueue(10_000);
  const out: number[] = [];
  for (let i = 0; i < 500; i++) {
    q.push(Uint8Array.of(i & 0xff, i >> 8));
    if (i % 3 === 0) out.push(...[q.shift()!].map((f) => f[0]! | (f[1]! << 8)));
  }
  for (let f = q.shift(); f; f = q.shift()) out.push(f[0]! | (f[1]! << 8));
  assert.deepEqual(
    out,
    Array.from({ length: 500 }, (_, i) => i),
  );
  assert.equal(q.length, 0);
});

test('drainFrames: independent copies, in a buffer as large as a receive-offload device needs', () => {
  const [a, b] = createPipe(mac(1), mac(2));
  a.write(frame(mac(2), mac(1), 1));
  a.write(frame(mac(2), mac(1), 2, 100));
  const got = drainFrames(b);
  assert.deepEqual(
    got.map((f) => [f[14], f.length]),
    [
      [1, 60],
      [2, 100],
    ],
  );
  const big: NetDevice = {
    mac: mac(3),
    mtu: 1500,
    capabilities: { gsoMax: 65549, rxOffload: true, headroom: 0 },
    sent: false,
    read(into: Uint8Array): number | 'again' {
      if (this.sent || into.length < 65549) return 'again';
      this.sent = true;
      into.fill(7, 0, 30000);
      return 30000;
    },
    write: (): DeviceResult => 'ok',
    readyAtNs: () => undefined,
  } as NetDevice & { sent: boolean };
  assert.deepEqual(
    drainFrames(big).map((f) => f.length),
    [30000],
  );
});

test('switch: counts, no learning from a group source, never back out of the ingress port, the host that moved', () => {
  const sw = new Switch();
  const [h0, h1, h2] = [sw.attach(mac(1)), sw.attach(mac(2)), sw.attach(mac(3))];
  assert.equal(sw.portCount, 3);
  assert.equal(h0.write(frame(mac(2), mac(1), 1)), 'ok', 'flooded');
  assert.deepEqual([tags(h1), tags(h2)], [[1], [1]]);
  assert.deepEqual([sw.flooded, sw.forwarded], [1, 0]);
  assert.equal(h1.write(frame(mac(1), mac(2), 2)), 'ok');
  assert.deepEqual([tags(h0), tags(h2)], [[2], []]);
  assert.deepEqual([sw.flooded, sw.forwarded], [1, 1]);
  assert.equal(h0.write(frame(mac(1), mac(1), 3)), 'ok');
  assert.deepEqual([tags(h0), tags(h1), tags(h2)], [[], [], []], 'to its own port: dropped');
  assert.deepEqual([sw.flooded, sw.forwarded], [1, 1]);
  const group = Uint8Array.of(3, 0, 0, 0, 0, 9);
  h2.write(frame(mac(1), group, 4));
  tags(h0);
  h0.write(frame(group, mac(1), 5));
  assert.deepEqual([tags(h1), tags(h2)], [[5], [5]], 'a group address is never learned: flooded');
  h2.write(frame(mac(9), mac(1), 6)); // mac(1) moved to port 2
  tags(h0);
  tags(h1);
  h1.write(frame(mac(1), mac(2), 7));
  assert.deepEqual([tags(h0), tags(h2)], [[], [7]]);
});

test('switch aging: forwarded at exactly agingNs since last seen, flooded one nanosecond later', () => {
  const clock = new VirtualClock();
  const sw = new Switch({ clock, agingNs: 1000n });
  const [h0, h1, h2] = [sw.attach(mac(1)), sw.attach(mac(2)), sw.attach(mac(3))];
  clock.advanceTo(5000n);
  h1.write(frame(mac(9), mac(2)));
  tags(h0);
  tags(h2);
  clock.advanceTo(6000n);
  h0.write(frame(mac(2), mac(1), 1));
  assert.deepEqual([tags(h1), tags(h2)], [[1], []]);
  clock.advanceTo(6001n);
  h0.write(frame(mac(2), mac(1), 2));
  assert.deepEqual([tags(h1), tags(h2)], [[2], [2]]);
});

test('switch table: the least recently seen address is forgotten first; 1024 by default', () => {
  const sw = new Switch({ tableSize: 3 });
  const [h0, h1, h2, h3] = [sw.attach(mac(1)), sw.attach(mac(2)), sw.attach(mac(3)), sw.attach(mac(4))];
  const clear = (): void => {
    for (const h of [h0, h1, h2, h3]) tags(h);
  };
  h0.write(frame(mac(9), mac(1)));
  h1.write(frame(mac(9), mac(2)));
  h0.write(frame(mac(9), mac(1))); // seen again: now newer than mac(2)
  h2.write(frame(mac(9), mac(3))); // the table is full
  clear();
  h3.write(frame(mac(1), mac(4), 1)); // mac(4) learned: mac(2), the least recently seen, goes
  assert.deepEqual([tags(h0), tags(h1), tags(h2)], [[1], [], []], 'mac(1) kept');
  h3.write(frame(mac(2), mac(4), 2));
  assert.deepEqual([tags(h0), tags(h1), tags(h2)], [[2], [2], [2]], 'mac(2) forgotten');

  const one = new Switch({ tableSize: 1 });
  const [g0, g1, g2] = [one.attach(mac(1)), one.attach(mac(2)), one.attach(mac(3))];
  g0.write(frame(mac(9), mac(1)));
  for (const h of [g0, g1, g2]) tags(h);
  g2.write(frame(mac(1), Uint8Array.of(3, 0, 0, 0, 0, 9), 8)); // a group source takes no place in a table of one
  assert.deepEqual([tags(g0), tags(g1)], [[8], []], 'mac(1) still known');

  const big = new Switch();
  const p = [big.attach(mac(1)), big.attach(mac(2)), big.attach(mac(3))];
  for (let i = 0; i < 1025; i++) p[0]!.write(frame(mac(9), Uint8Array.of(2, 1, 0, 0, i >> 8, i & 0xff)));
  for (const h of p) tags(h);
  p[1]!.write(frame(Uint8Array.of(2, 1, 0, 0, 0, 2), mac(2), 3)); // learning mac(2) forgets the next oldest, number 1
  assert.deepEqual([tags(p[0]!), tags(p[2]!)], [[3], []], 'the 1024 newest are known');
  p[1]!.write(frame(Uint8Array.of(2, 1, 0, 0, 0, 0), mac(2), 4));
  assert.deepEqual([tags(p[0]!), tags(p[2]!)], [[4], [4]], 'the first of 1025 was forgotten');
});

test('pcap: the global header and each record header, byte for byte', () => {
  const w = new PcapWriter();
  assert.deepEqual([...w.bytes()], [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]);
  const f = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
  w.record(f, 3_000_000_007n);
  f[0] = 99;
  w.record(f.subarray(0, 14), -5n);
  assert.equal(w.frames, 2);
  const b = w.bytes();
  assert.equal(b.length, 24 + 2 * (16 + 14));
  assert.deepEqual([...b.subarray(24, 40)], [3, 0, 0, 0, 7, 0, 0, 0, 14, 0, 0, 0, 14, 0, 0, 0]);
  assert.equal(b[40], 1, 'the frame as it was when recorded');
  assert.deepEqual([...b.subarray(54, 62)], [0, 0, 0, 0, 0, 0, 0, 0], 'a time before zero is written as zero');
  const huge = new PcapWriter();
  huge.record(new Uint8Array(262145), 0n);
  const h = huge.bytes();
  assert.equal(h.length, 24 + 16 + 262144, 'cut at the snap length');
  assert.deepEqual([...h.subarray(32, 40)], [0, 0, 4, 0, 1, 0, 4, 0], 'included 262144 of 262145');
});

test('pcap device: records what was sent (if accepted) and what was read, at the clock time; the rest is the inner device', () => {
  const clock = new VirtualClock();
  const w = new PcapWriter();
  const [a, b] = createPipe(mac(1), mac(2));
  const d = new PcapDevice(a, w, clock);
  assert.deepEqual(d.mac, mac(1));
  assert.equal(d.mtu, 1500);
  assert.equal(d.capabilities, a.capabilities);
  clock.advanceTo(2_000_000_000n);
  assert.equal(d.write(frame(mac(2), mac(1), 1)), 'ok');
  assert.equal(d.write(new Uint8Array(13)), 'invalid');
  assert.equal(w.frames, 1, 'a refused frame is not recorded');
  b.write(frame(mac(1), mac(2), 2, 64));
  assert.equal(d.readyAtNs(), 0n);
  clock.advanceTo(2_500_000_000n);
  assert.equal(d.read(new Uint8Array(1518), { checksumVerified: false }), 64);
  assert.equal(d.read(new Uint8Array(1518), { checksumVerified: false }), 'again');
  assert.equal(w.frames, 2);
  const bytes = w.bytes();
  const second = 24 + 16 + 60;
  assert.deepEqual([...bytes.subarray(second, second + 16)], [2, 0, 0, 0, 0x00, 0x65, 0xcd, 0x1d, 64, 0, 0, 0, 64, 0, 0, 0]);
  assert.equal(bytes[second + 16 + 14], 2);
});

test('fault paths draw no random number for an impairment that is off, and compare with < p', () => {
  const r = new Scripted([]);
  const p = new ImpairedPath({ loss: 0, duplicate: 0, corrupt: 0, reorder: 0 }, r);
  p.push(new Uint8Array(20), 0n);
  p.push(new Uint8Array(20), 0n);
  assert.equal(r.calls, 0);
  assert.equal(p.size, 2);
  const q = new ImpairedPath({ loss: 0.5 }, new Scripted([0x80000000, 0x7fffffff]));
  q.push(new Uint8Array(20), 0n);
  q.push(new Uint8Array(20), 0n);
  assert.deepEqual([q.size, q.counters.dropped, q.counters.frames], [1, 1, 2], 'exactly p is not below p');
});

test('fault paths: the bit a corruption flips, jitter and reorder delays added, the hold limit', () => {
  const c = new ImpairedPath({ corrupt: 1 }, new Scripted([0, 20 * 8 + 11]));
  c.push(new Uint8Array(20), 0n);
  const f = c.popDue(0n)!;
  assert.deepEqual([f[1], f.reduce((n, x) => n + x, 0)], [8, 8], 'bit 11: byte 1, bit 3');
  assert.equal(c.counters.corrupted, 1);
  const e = new ImpairedPath({ corrupt: 1 }, new Scripted([0]));
  e.push(new Uint8Array(0), 0n);
  assert.equal(e.counters.corrupted, 0, 'an empty frame has no bit to flip');
  const j = new ImpairedPath({ delayNs: 100n, jitterNs: 10n, reorder: 1, reorderDelayNs: 5000n }, new Scripted([17, 0]));
  j.push(new Uint8Array(20), 1000n);
  assert.equal(j.nextDueNs(), 1000n + 100n + 7n + 5000n);
  assert.equal(j.popDue(6106n), undefined);
  assert.ok(j.popDue(6107n));
  assert.equal(j.counters.reordered, 1);
  const d = new ImpairedPath({ reorder: 1 }, new Scripted([0]));
  d.push(new Uint8Array(20), 0n);
  assert.equal(d.nextDueNs(), 1_000_000n, 'reordered by 1 ms by default');
  const h = new ImpairedPath({ maxHeld: 2, delayNs: 10n }, new Scripted([]));
  for (let i = 0; i < 3; i++) h.push(Uint8Array.of(i), 0n);
  assert.deepEqual([h.size, h.counters.overflow], [2, 1]);
  assert.deepEqual([h.popDue(10n)?.[0], h.popDue(10n)?.[0], h.popDue(10n)], [0, 1, undefined], 'equal due times keep arrival order');
});

test('fault injector: size rules, egress at once without delay, inner errors passed up, a small buffer refused, no checksum vouched for', () => {
  const clock = new VirtualClock();
  const [a, b] = createPipe(mac(1), mac(2));
  const f = new FaultInjector(a, clock, new Scripted([]), {});
  assert.equal(f.write(new Uint8Array(13)), 'invalid');
  assert.equal(f.write(new Uint8Array(1519)), 'invalid');
  assert.equal(f.write(frame(mac(2), mac(1), 1, 14)), 'ok');
  assert.equal(f.write(frame(mac(2), mac(1), 2, 1518)), 'ok');
  assert.deepEqual(
    drainFrames(b).map((x) => x.length),
    [14, 1518],
  );
  b.write(frame(mac(1), mac(2), 3, 100));
  assert.throws(() => f.read(new Uint8Array(99), { checksumVerified: false }), /read buffer of 99 bytes is too small: it needs mtu \+ 18/);
  b.write(frame(mac(1), mac(2), 4, 100));
  const rx: RxInfo = { checksumVerified: true };
  const into = new Uint8Array(100);
  assert.equal(f.read(into, rx), 100, 'a buffer exactly the frame');
  assert.equal(into[14], 4);
  assert.equal(rx.checksumVerified, false);
  const broken: NetDevice = {
    mac: mac(5),
    mtu: 1500,
    capabilities: a.capabilities,
    read: () => 'unspecified',
    write: (): DeviceResult => 'ok',
    readyAtNs: () => undefined,
  };
  assert.equal(new FaultInjector(broken, clock, new Scripted([]), {}).read(new Uint8Array(1518), rx), 'unspecified');
  assert.deepEqual(f.mac, mac(1));
  assert.equal(f.mtu, 1500);
});
