/**
 * The receive path, in process: UDP frames through Ethernet → IPv4 → UDP to
 * a socket that reads only the offsets, and ICMP echo requests answered
 * (receive + transmit). Reports frames/s and how many garbage collections
 * ran during the measured loop: with no allocation per packet, none should.
 * Reference in the same run: the same frames parsed by the obvious
 * allocating code (a `subarray` per layer and a Repr object per header),
 * and the checksum against a byte-at-a-time loop.
 *
 *   node bench/rx-path.ts [FRAMES]      (default 1,000,000)
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { LinkEnd } from '../src/link/index.ts';
import { Stack, UdpSocket } from '../src/net/index.ts';
import { SeededRandom, VirtualClock } from '../src/sim/index.ts';
import { emit } from './lib.ts';
import {
  checksum,
  emitEthernet,
  emitIcmpv4,
  emitIpv4,
  emitUdp,
  EthernetView,
  ETHERTYPE_IPV4,
  Ipv4View,
  parseEthernet,
  parseIpv4,
  parseUdp,
  PROTO_ICMP,
  PROTO_UDP,
  UdpView,
} from '../src/wire/index.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 1),
  MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 2);
const A = 0x0a000001,
  B = 0x0a000002;

function udpFrame(len: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + len);
  emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: ETHERTYPE_IPV4 }, f);
  f.fill(0x5a, 42);
  emitUdp({ srcPort: 5000, dstPort: 7, payloadLen: len }, A, B, f, 34);
  emitIpv4({ src: A, dst: B, protocol: PROTO_UDP, ttl: 64, payloadLen: 8 + len }, f, 14);
  return f;
}

function echoFrame(len: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + len);
  emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: ETHERTYPE_IPV4 }, f);
  emitIcmpv4({ kind: 'echo-request', ident: 1, seq: 1, data: new Uint8Array(len).fill(7) }, f, 34);
  emitIpv4({ src: A, dst: B, protocol: PROTO_ICMP, ttl: 64, payloadLen: 8 + len }, f, 14);
  return f;
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function measure(name: string, n: number, fn: (i: number) => void): Promise<number> {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i); // warm up the JIT
  await tick();
  gcs = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  await tick();
  const rate = n / (ns / 1e9);
  process.stdout.write(`${name.padEnd(46)} ${(rate / 1e6).toFixed(2).padStart(6)} M/s  ${String(gcs).padStart(5)} GCs\n`);
  return rate;
}

const clock = new VirtualClock();
clock.advanceTo(1n);
const dev = new LinkEnd(MAC_B);
const stack = new Stack({ device: dev, clock, random: new SeededRandom(1), ipv4: { address: B, prefixLen: 24 } });
// Teach ARP the peer so that echo replies go straight out.
stack.arp.output(A, new Uint8Array(60), ETHERTYPE_IPV4);
const arpReply = new Uint8Array(42);
emitEthernet({ dst: MAC_B, src: MAC_A, ethertype: 0x0806 }, arpReply);
arpReply.set([0, 1, 8, 0, 6, 4, 0, 2, ...MAC_A, 10, 0, 0, 1, ...MAC_B, 10, 0, 0, 2], 14);
stack.ethernet.input(arpReply);
let bytes = 0;
const sock = stack.udp.bind(7, (d) => {
  bytes += d.end - d.off;
});
if (!(sock instanceof UdpSocket)) throw new Error('bind');

process.stdout.write(`rx path, ${N} frames each, engine ${process.version}\n`);
const small = udpFrame(64),
  mtu = udpFrame(1472),
  ping = echoFrame(56);
const fata64 = await measure('Fata: UDP 64 B to a socket', N, () => stack.ethernet.input(small));
const fata1472 = await measure('Fata: UDP 1472 B to a socket (checksummed)', N, () => stack.ethernet.input(mtu));
await measure('Fata: ICMP echo request in, reply out', N, () => stack.ethernet.input(ping));

// The reference: the same checks written the allocating way.
const ev = new EthernetView(),
  iv = new Ipv4View(),
  uv = new UdpView();
const naive = (f: Uint8Array): void => {
  if (ev.check(f) !== 'ok') return;
  parseEthernet(ev);
  const ipb = ev.payload();
  if (iv.check(ipb) !== 'ok') return;
  parseIpv4(iv);
  const ub = iv.payload();
  if (uv.check(ub, iv.src, iv.dst) !== 'ok') return;
  parseUdp(uv);
  bytes += uv.payload().length;
};
const ref64 = await measure('reference: allocating parse, UDP 64 B', N, () => naive(small));
const ref1472 = await measure('reference: allocating parse, UDP 1472 B', N, () => naive(mtu));

const naiveSum = (b: Uint8Array): number => {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) {
    s += (b[i]! << 8) | b[i + 1]!;
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
};
const block = new Uint8Array(1500).map((_, i) => i * 7);
let sink = 0;
const fast = await measure('checksum of 1500 B (Fata)', N, () => {
  sink ^= checksum(block);
});
const slow = await measure('checksum of 1500 B (byte loop with carries)', N, () => {
  sink ^= naiveSum(block);
});
process.stdout.write(
  `ratios: UDP 64 B ${(fata64 / ref64).toFixed(2)}x, UDP 1472 B ${(fata1472 / ref1472).toFixed(2)}x ` +
    `the allocating reference; checksum ${(fast / slow).toFixed(2)}x the byte loop (${((fast * 1500) / 1e9).toFixed(2)} GB/s)\n`,
);
emit({
  bench: 'rx-path',
  metric: 'UDP 64 B frames through the stack',
  value: fata64 / 1e6,
  unit: 'M frames/s',
  reference: ref64 / 1e6,
  referenceName: 'allocating parse',
});
emit({
  bench: 'rx-path',
  metric: 'UDP 1472 B frames through the stack',
  value: fata1472 / 1e6,
  unit: 'M frames/s',
  reference: ref1472 / 1e6,
  referenceName: 'allocating parse',
});
emit({
  bench: 'rx-path',
  metric: 'checksum of 1500 B',
  value: (fast * 1500) / 1e9,
  unit: 'GB/s',
  reference: (slow * 1500) / 1e9,
  referenceName: 'byte loop',
});
if (sink === 0.5 || bytes < 0) process.stdout.write('\n');
