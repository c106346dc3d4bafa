/** Builds small simulated networks of Fata stacks for tests. */
import { FaultInjector, type FaultOptions, PcapWriter, Switch } from '../src/link/index.ts';
import { Stack } from '../src/net/index.ts';
import { Scheduler, SeededRandom } from '../src/sim/index.ts';
import { parseIpv4Address } from '../src/wire/index.ts';

export function ip(text: string): number {
  const a = parseIpv4Address(text);
  if (a === undefined) throw new Error(`bad test address ${text}`);
  return a;
}

export interface SimNet {
  sched: Scheduler;
  sw: Switch;
  pcap: PcapWriter;
  stacks: Stack[];
  faults: FaultInjector[];
}

/**
 * `n` hosts 10.0.0.1.. on one switch, each behind a fault injector with
 * `faults` in both directions, all randomness from `seed`. The switch
 * records every frame that enters it into `pcap`.
 */
/** `link`: what each device's sending side adds, such as a rate and a queue (a real link's bottleneck). */
export function simNet(n: number, seed: number, faults: FaultOptions = {}, mtu = 1500, link: FaultOptions = {}): SimNet {
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(seed);
  const pcap = new PcapWriter();
  const sw = new Switch({ clock, onFrame: (f) => pcap.record(f, clock.monotonicNs()) });
  const stacks: Stack[] = [];
  const injectors: FaultInjector[] = [];
  for (let i = 0; i < n; i++) {
    const mac = Uint8Array.of(0x02, 0, 0, 0, 0, i + 1);
    const port = sw.attach(mac, mtu);
    const dev = new FaultInjector(port, clock, rnd.fork(), faults, { ...faults, ...link });
    injectors.push(dev);
    const s = new Stack({
      device: dev,
      clock,
      random: rnd.fork(),
      ipv4: { address: ip(`10.0.0.${i + 1}`), prefixLen: 24 },
    });
    stacks.push(s);
    sched.add(s);
  }
  for (const s of stacks) s.start();
  return { sched, sw, pcap, stacks, faults: injectors };
}

export function pattern(len: number, salt = 0): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + salt + (i >>> 8)) & 0xff;
  return b;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
