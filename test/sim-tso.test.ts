/**
 * TCP segmentation offload on the simulated network: a sender behind
 * `SoftGso` (which cuts offloaded packets as the kernel does) moves data
 * byte-exact in 64 KB packets, clean and through loss, and without the
 * offload device the same stack sends plain segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type NetDevice, NO_OFFLOAD, type RxInfo } from '../src/devices/index.ts';
import { createPipe, FaultInjector, SoftGso, type FaultOptions } from '../src/link/index.ts';
import { Stack } from '../src/net/index.ts';
import { Scheduler, SeededRandom } from '../src/sim/index.ts';
import { emitIpv4 } from '../src/wire/ipv4.ts';
import { emitUdp } from '../src/wire/udp.ts';
import { ip, pattern } from './sim-helpers.ts';

/** `data` from `a` to `b` (port 9) over TCP in the simulation: how much arrived, and whether byte-exact. */
function bulkOver(a: Stack, b: Stack, sched: Scheduler, data: Uint8Array, untilNs: bigint): { got: number; same: boolean } {
  const h = createHash('sha256');
  let got = 0,
    done = false;
  b.tcp.listen(9, (c) => {
    c.events = {
      onData: (d) => {
        h.update(d);
        got += d.length;
      },
      onEnd: () => {
        done = true;
        c.shutdown();
      },
    };
  });
  const c = a.tcp.connect(ip('10.0.0.2'), 9);
  let sent = 0;
  const pump = (): void => {
    while (sent < data.length) {
      const n = c.write(data.subarray(sent, Math.min(data.length, sent + 262144)));
      sent += n;
      if (!n) return;
    }
    c.shutdown();
  };
  c.events = { onConnect: pump, onDrain: pump };
  sched.run({ until: () => done, untilNs });
  return { got, same: h.digest('hex') === createHash('sha256').update(data).digest('hex') };
}

function transfer(size: number, faults: FaultOptions, seed: number, offload: boolean) {
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(seed);
  const [pa, pb] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const lossy = new FaultInjector(pa, clock, rnd.fork(), faults, faults);
  const gso = new SoftGso(lossy);
  const a = new Stack({ device: offload ? gso : lossy, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.1'), prefixLen: 24 } });
  const b = new Stack({ device: pb, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.2'), prefixLen: 24 } });
  for (const s of [a, b]) {
    sched.add(s);
    s.start();
  }
  const data = pattern(size, 3);
  const r = bulkOver(a, b, sched, data, 600_000_000_000n);
  return { got: r.got, same: r.same, gso: gso.counters, tcp: a.tcp.counters };
}

test('offloaded TCP: byte-exact in 64 KB packets, clean and with loss and reordering', () => {
  const clean = transfer(8_000_000, { delayNs: 1_000_000n }, 1, true);
  assert.equal(clean.got, 8_000_000);
  assert.ok(clean.same);
  assert.equal(clean.gso.badPartialChecksum, 0, 'every offloaded packet carried the pseudo-header sum');
  assert.ok(clean.tcp.offloadSends > 50, `offloaded ${clean.tcp.offloadSends} packets`);
  // Our receiver ACKs every second segment, so in steady state each ACK releases two; window growth releases more.
  assert.ok(clean.gso.largest >= 10, `one packet carried the initial window at least: ${JSON.stringify(clean.gso)}`);
  const lossy = transfer(4_000_000, { loss: 0.01, reorder: 0.05, delayNs: 5_000_000n }, 2, true);
  assert.equal(lossy.got, 4_000_000);
  assert.ok(lossy.same);
  assert.ok(lossy.tcp.retransmits > 0, 'the loss was felt');
  assert.ok(lossy.tcp.offloadSends > 0);
});

test('without an offload device the stack sends plain segments', () => {
  const r = transfer(1_000_000, { delayNs: 1_000_000n }, 3, false);
  assert.ok(r.same);
  assert.equal(r.tcp.offloadSends, 0);
  assert.equal(r.gso.offloaded, 0);
});

test('receive offload: a device that vouches for a checksum is believed for that frame only, and never for reassembled datagrams', () => {
  const sched = new Scheduler();
  const frames: Uint8Array[] = [];
  let trusted = false;
  const dev = {
    mac: Uint8Array.of(2, 0, 0, 0, 0, 2),
    mtu: 1500,
    capabilities: { gsoMax: 14 + 65535, rxOffload: true, headroom: 0 },
    write: () => 'ok' as const,
    read: (into: Uint8Array, rx: RxInfo) => {
      const f = frames.shift();
      if (!f) return 'again' as const;
      into.set(f);
      rx.checksumVerified = trusted;
      return f.length;
    },
    readyAtNs: () => undefined,
  };
  const s = new Stack({ device: dev, clock: sched.clock, random: new SeededRandom(1), ipv4: { address: ip('10.0.0.2'), prefixLen: 24 } });
  const got: number[] = [];
  const sock = s.udp.bind(7, (d) => got.push(d.data.length));
  assert.ok(typeof sock !== 'string');
  // A UDP datagram from 10.0.0.1 whose checksum field is a local sender's partial sum, not a finished checksum.
  const udp = (len: number, badChecksum: boolean): Uint8Array => {
    const f = new Uint8Array(14 + 20 + 8 + len);
    f.set(dev.mac, 0);
    f.set([2, 0, 0, 0, 0, 1], 6);
    f[12] = 0x08;
    emitIpv4(
      { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 17, ttl: 64, tos: 0, ident: 1, dontFragment: true, payloadLen: 8 + len },
      f,
      14,
    );
    emitUdp({ srcPort: 9999, dstPort: 7, payloadLen: len }, ip('10.0.0.1'), ip('10.0.0.2'), f, 34);
    if (badChecksum) {
      f[40] = f[40]! ^ 0xff;
    }
    return f;
  };
  frames.push(udp(100, true));
  trusted = true;
  s.poll(0n);
  assert.deepEqual(got, [100], 'vouched for: taken without a check');
  frames.push(udp(100, true));
  trusted = false;
  s.poll(0n);
  assert.deepEqual(got, [100], 'not vouched for: the bad checksum is caught');
  assert.equal(s.drops()['udp.checksum'], 1);
  frames.push(udp(100, false));
  s.poll(0n);
  assert.deepEqual(got, [100, 100]);
  // The same bad checksum in a datagram that came in two fragments, each vouched for: reassembly drops the word.
  const whole = udp(2000, true).subarray(34);
  const frag = (off: number, end: number, more: boolean): Uint8Array => {
    const f = new Uint8Array(34 + end - off);
    f.set(dev.mac, 0);
    f.set([2, 0, 0, 0, 0, 1], 6);
    f[12] = 0x08;
    emitIpv4(
      {
        src: ip('10.0.0.1'),
        dst: ip('10.0.0.2'),
        protocol: 17,
        ttl: 64,
        tos: 0,
        ident: 2,
        moreFragments: more,
        fragOffset: off,
        payloadLen: end - off,
      },
      f,
      14,
    );
    f.set(whole.subarray(off, end), 34);
    return f;
  };
  frames.push(frag(0, 1480, true), frag(1480, whole.length, false));
  trusted = true;
  s.poll(0n);
  assert.deepEqual(got, [100, 100], 'the reassembled datagram was checked, and its checksum is bad');
  assert.equal(s.drops()['udp.checksum'], 2);
});

test('offload and a peer with a small MSS: every packet is either cut by the device or one whole segment with a full checksum', () => {
  // The peer's link has an MTU of 576, so it announces MSS 536: two of its segments (1,072 bytes) fit our
  // 1,500-byte MTU. Such a packet must still go to the device for segmentation (it carries only the
  // pseudo-header sum); written as a plain frame it would cross the wire as one oversized segment with a
  // bad checksum (a veth whose offloads are off passes it on as is).
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(9);
  const [pa, pb] = createPipe(Uint8Array.of(2, 0, 0, 0, 0, 1), Uint8Array.of(2, 0, 0, 0, 0, 2));
  const wire: Uint8Array[] = [];
  const tapped: NetDevice = {
    mac: pa.mac,
    mtu: pa.mtu,
    capabilities: NO_OFFLOAD,
    write: (f) => {
      wire.push(f.slice());
      return pa.write(f);
    },
    read: (into, rx) => pa.read(into, rx),
    readyAtNs: () => pa.readyAtNs(),
  };
  const gso = new SoftGso(tapped);
  // The peer's stack sees an MTU of 576 (so it announces MSS 536) and reads with a buffer large enough for
  // anything the 1,500-byte link carries (receive offload sizes that buffer; the peer sends nothing large).
  const small: NetDevice = {
    mac: pb.mac,
    mtu: 576,
    capabilities: { gsoMax: 14 + 65535, rxOffload: true, headroom: 0 },
    write: (f) => pb.write(f),
    read: (into, rx) => pb.read(into, rx),
    readyAtNs: () => pb.readyAtNs(),
  };
  const a = new Stack({ device: gso, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.1'), prefixLen: 24 } });
  const b = new Stack({ device: small, clock, random: rnd.fork(), ipv4: { address: ip('10.0.0.2'), prefixLen: 24 } });
  for (const s of [a, b]) {
    sched.add(s);
    s.start();
  }
  const data = pattern(200_000, 5);
  const r = bulkOver(a, b, sched, data, 60_000_000_000n);
  assert.equal(r.got, data.length);
  assert.ok(r.same, 'byte-exact');
  assert.equal(b.drops()['tcp.checksum'] ?? 0, 0, 'no segment arrived with a bad checksum');
  assert.ok(gso.counters.offloaded > 0, 'packets of two or more segments went to the device to be cut');
  const tcpData = (f: Uint8Array): number => f.length - 14 - (f[14]! & 0x0f) * 4 - (f[14 + (f[14]! & 0x0f) * 4 + 12]! >>> 4) * 4;
  const biggest = Math.max(...wire.filter((f) => f[23] === 6).map(tcpData));
  assert.ok(biggest <= 536, `a segment of ${biggest} bytes crossed the wire; the peer's MSS is 536`);
});
