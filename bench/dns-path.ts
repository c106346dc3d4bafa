/**
 * The authoritative DNS path, in process: examples/dns-server booted as its
 * image boots (runtime boot, the direct network provider, its main with the
 * image's zones/), on a fake net device that hands it query frames and
 * counts the answer frames it writes. What is left out is only the tap's
 * read(2)/write(2) and the host's scheduling, so the rate says what the
 * server's own code costs per query, unmoved by other load on the machine
 * (one process; rates are per second of its CPU time, medians of rounds).
 *
 * The query mix is bench/dns.ts's (an A, a CNAME chain, a wildcard TXT, an
 * NXDOMAIN, a NODATA, an MX with additional data, an AAAA, in turn), each
 * from its own source port and ID as dnsperf sends them, half of them with
 * EDNS (1232) and in mixed case (0x20). Reports answers per CPU-second and the garbage
 * collections during the measured rounds; the reference, in alternate rounds,
 * spells each query's name anew (the case of its letters from a counter, as a
 * resolver using 0x20 randomization asks), so that no answer was kept for it.
 *
 *   node bench/dns-path.ts [QUERIES] [ROUNDS]   (default 200,000 × 5)
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceResult, NetDevice, RxInfo } from '../src/devices/index.ts';
import { boot, type Platform } from '../src/runtime/boot.ts';
import { directNet } from '../src/runtime/net-direct.ts';
import type { Assets } from '../src/runtime/types.ts';
import { SeededRandom, VirtualClock } from '../src/sim/index.ts';
import { emitEthernet, emitIpv4, emitUdp, encodeDns, ETHERTYPE_IPV4, makeQuery, PROTO_UDP, TYPE } from '../src/wire/index.ts';
import config from '../examples/dns-server/config.ts';
import { main } from '../examples/dns-server/main.ts';
import { emit, median } from './lib.ts';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const ROOT = new URL('..', import.meta.url).pathname;
const MAC_C = Uint8Array.of(2, 0, 0, 0, 0, 1),
  MAC_S = Uint8Array.of(2, 0, 0, 0, 0, 2);
const C = 0x0a000001,
  S = 0x0a000002;

const MIX: [string, number][] = [
  ['www.example.test', TYPE.A],
  ['alias.example.test', TYPE.A],
  ['x.wild.example.test', TYPE.TXT],
  ['nope.example.test', TYPE.A],
  ['www.example.test', TYPE.MX],
  ['example.test', TYPE.MX],
  ['www.example.test', TYPE.AAAA],
];
/** 0x20: every other letter upper case. */
const mixedCase = (s: string): string => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');

/** One Ethernet/IPv4/UDP frame to port 53 carrying `dns`. */
function frame(dns: Uint8Array, srcPort: number): Uint8Array {
  const f = new Uint8Array(42 + dns.length);
  emitEthernet({ dst: MAC_S, src: MAC_C, ethertype: ETHERTYPE_IPV4 }, f);
  f.set(dns, 42);
  emitUdp({ srcPort, dstPort: 53, payloadLen: dns.length }, C, S, f, 34);
  emitIpv4({ src: C, dst: S, protocol: PROTO_UDP, ttl: 64, payloadLen: 8 + dns.length }, f, 14);
  return f;
}

// 4 × the mix: plain, EDNS, 0x20, EDNS + 0x20; each with its own ID and port.
const frames: Uint8Array[] = [];
for (let v = 0; v < 4; v++)
  for (const [name, type] of MIX) {
    const i = frames.length;
    const q = makeQuery(0x1000 + i * 97, v & 2 ? mixedCase(name) : name, type, { rd: true, udpSize: v & 1 ? 1232 : undefined });
    frames.push(frame(encodeDns(q), 20000 + i));
  }
const arpReply = new Uint8Array(42);
emitEthernet({ dst: MAC_S, src: MAC_C, ethertype: 0x0806 }, arpReply);
arpReply.set([0, 1, 8, 0, 6, 4, 0, 2, ...MAC_C, 10, 0, 0, 1, ...MAC_S, 10, 0, 0, 2], 14);

/** The fake tap: `pending` query frames to read (the mix in turn), answers counted as written. */
class FakeTap implements NetDevice {
  readonly mac = MAC_S;
  readonly mtu = 1500;
  // As the tap's (src/targets/node/tap.ts): 10 bytes of virtio-net header room, offload on.
  readonly capabilities = { gsoMax: 65535, rxOffload: true, headroom: 10 };
  pending = 0;
  next = 0;
  /** The reference: each query's name spelled anew (its letters' case from a counter), as a 0x20 resolver asks, so that none was asked before. */
  respell = false;
  private spelling = 0;
  answers = 0;
  bytes = 0;
  first: Uint8Array[] = [];
  private arp = true;
  done: (() => void) | undefined;
  write(f: Uint8Array): DeviceResult {
    if (f.length >= 14 && f[12] === 8 && f[13] === 0) {
      this.answers++;
      this.bytes += f.length;
      if (this.first.length < frames.length) this.first.push(f.slice());
      if (this.pending === 0 && this.done) {
        const d = this.done;
        this.done = undefined;
        d();
      }
    }
    return 'ok';
  }
  read(into: Uint8Array, _rx: RxInfo): number | 'again' {
    if (this.arp) {
      this.arp = false;
      into.set(arpReply);
      return arpReply.length;
    }
    if (this.pending === 0) return 'again';
    this.pending--;
    const f = frames[this.next]!;
    this.next = (this.next + 1) % frames.length;
    into.set(f);
    if (this.respell) {
      let bits = Math.imul(++this.spelling, 0x9e3779b1);
      for (let i = 54; into[i] !== 0; i++) {
        const c = into[i]! | 0x20;
        if (c >= 0x61 && c <= 0x7a) {
          into[i] = bits & 1 ? c & ~0x20 : c;
          bits = (bits >>> 1) | (bits << 31);
        }
      }
      into[40] = into[41] = 0; // no UDP checksum (IPv4 allows it): the name changed under it
    }
    return f.length;
  }
  readyAtNs(): bigint | undefined {
    return this.pending > 0 || this.arp ? 0n : undefined;
  }
}

const dev = new FakeTap();
const clock = new VirtualClock();
clock.advanceTo(1_700_000_000_000_000_000n);
const zoneDir = join(ROOT, 'examples/dns-server/zones');
const zoneFiles = new Map(readdirSync(zoneDir).map((f) => [f, new Uint8Array(readFileSync(join(zoneDir, f)))] as const));
const zones: Assets = {
  get: (p) => zoneFiles.get(p),
  list: () => [...zoneFiles.keys()],
  variant: () => undefined,
  modifiedMs: 0,
};
let wake: (() => void) | undefined;
const platform: Platform = {
  target: 'bench',
  engine: process.version,
  console: { write: (b: Uint8Array) => void process.stderr.write(b) },
  clock,
  random: new SeededRandom(1),
  // Returns at once when frames are queued (the loop polls again), else waits for the bench to queue more.
  yield: () =>
    new Promise((r) => {
      if (dev.pending > 0) setImmediate(() => r(new Set(['service'])));
      else wake = () => r(new Set(['service']));
    }),
  nets: new Map([['service', dev]]),
  blocks: new Map(),
  assets: new Map([['zones', zones]]),
  stopRequested: new Promise(() => {}),
  sleep: () => new Promise(() => {}),
};
void boot(platform, config, main as never, ['--ipv4=10.0.0.2/24', '-l', 'warn'], directNet);

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

/**
 * Queues `n` queries and resolves when all are answered; the rate in answers
 * per second of this process's CPU time (user + system), which waiting for a
 * core on a loaded machine does not count, unlike the wall clock.
 */
async function round(n: number): Promise<number> {
  const a0 = dev.answers;
  const c0 = process.cpuUsage();
  const done = new Promise<void>((r) => {
    dev.done = r;
  });
  dev.pending = n;
  const w = wake;
  wake = undefined;
  w?.();
  await done;
  const c = process.cpuUsage(c0);
  if (dev.answers - a0 !== n) throw new Error(`${n} queries, ${dev.answers - a0} answers`);
  return n / ((c.user + c.system) / 1e6);
}

await new Promise((r) => setTimeout(r, 200)); // boot: zones parsed, port bound
await round(frames.length);
if (dev.first.length !== frames.length) throw new Error('not every query was answered');
await round(Math.min(N, 50_000)); // warm up the JIT
// Alternating: the mix as dnsperf repeats it (answers kept after the first), and every name spelled anew.
const rates: number[] = [],
  fresh: number[] = [];
let gcsKept = 0,
  gcsFresh = 0;
for (let i = 0; i < ROUNDS; i++) {
  gcs = 0;
  rates.push(await round(N));
  gcsKept += gcs;
  dev.respell = true;
  gcs = 0;
  fresh.push(await round(N));
  gcsFresh += gcs;
  dev.respell = false;
}
const rate = median(rates),
  ref = median(fresh);
process.stdout.write(
  `dns path: examples/dns-server on a fake tap, ${ROUNDS} × ${N} queries (the bench/dns.ts mix ×4: plain, EDNS, 0x20, both), engine ${process.version}\n` +
    `  repeated mix: ${(rate / 1000).toFixed(1)} k answers per CPU-second, median (${rates.map((r) => (r / 1000).toFixed(0)).join(' ')}), ${(1e6 / rate).toFixed(2)} µs each, ${(gcsKept / ROUNDS).toFixed(1)} GCs a round\n` +
    `  each name spelled anew: ${(ref / 1000).toFixed(1)} k answers per CPU-second, median (${fresh.map((r) => (r / 1000).toFixed(0)).join(' ')}), ${(1e6 / ref).toFixed(2)} µs each, ${(gcsFresh / ROUNDS).toFixed(1)} GCs a round\n` +
    `  ${(dev.bytes / dev.answers).toFixed(0)} B a frame on average; ratio ${(rate / ref).toFixed(2)}×\n`,
);
emit({
  bench: 'dns-path',
  metric: 'DNS answers in process, the mix repeated',
  value: rate / 1000,
  unit: 'k answers/CPU-s',
  reference: ref / 1000,
  referenceName: 'each name spelled anew (0x20)',
});
process.exit(0);
