/**
 * Assembles one IPv4 host from its parts, in the order packets climb:
 * device → Ethernet → ARP / IPv4 → ICMP / UDP. Each layer takes the one
 * below as a constructor argument; this is the one place they meet.
 * The stack is poll-driven: `poll(now)` does all due work, `pollAtNs()`
 * says when it next needs a poll without new input.
 */
import { earlier, type Clock, type NetDevice, type Random } from '../devices/index.ts';
import { Arp, type ArpOptions } from './arp.ts';
import { Ethernet } from './ethernet.ts';
import { Icmp, type IcmpOptions } from './icmp.ts';
import { Ipv4, type Ipv4Config } from './ipv4.ts';
import type { ReassemblyOptions } from './reassembly.ts';
import { Udp } from './udp.ts';
import { Tcp, type TcpConfig } from './tcp/index.ts';

export interface StackOptions {
  readonly device: NetDevice;
  readonly clock: Clock;
  readonly random: Random;
  readonly ipv4: Ipv4Config;
  readonly arp?: ArpOptions;
  readonly icmp?: IcmpOptions;
  readonly reassembly?: ReassemblyOptions;
  /** Defaults for every TCP connection of this stack. */
  readonly tcp?: TcpConfig;
  /** Frames read per poll at most (default 256), so one busy device cannot starve timers. */
  readonly rxBudget?: number;
}

export class Stack {
  readonly device: NetDevice;
  readonly clock: Clock;
  readonly ethernet: Ethernet;
  readonly arp: Arp;
  readonly ipv4: Ipv4;
  readonly icmp: Icmp;
  readonly udp: Udp;
  readonly tcp: Tcp;
  private readonly rxBudget: number;

  constructor(o: StackOptions) {
    this.device = o.device;
    this.clock = o.clock;
    this.ethernet = new Ethernet(o.device);
    this.arp = new Arp(this.ethernet, o.clock, o.arp);
    this.ipv4 = new Ipv4(this.ethernet, this.arp, o.clock, o.random, o.ipv4, o.reassembly);
    this.icmp = new Icmp(this.ipv4, o.clock, o.icmp);
    this.udp = new Udp(this.ipv4, o.random, this.icmp);
    this.tcp = new Tcp(this.ipv4, o.clock, o.random, o.tcp);
    this.rxBudget = o.rxBudget ?? 256;
  }

  /** Brings the interface up: announces the address with a gratuitous ARP. */
  start(): void {
    this.arp.announce();
  }

  poll(nowNs: bigint): boolean {
    let did = this.ethernet.poll(this.rxBudget) > 0;
    if (this.arp.poll(nowNs)) did = true;
    if (this.ipv4.poll(nowNs)) did = true;
    if (this.tcp.poll(nowNs)) did = true;
    return did;
  }

  pollAtNs(): bigint | undefined {
    return earlier(earlier(this.device.readyAtNs(), this.arp.pollAtNs()), earlier(this.ipv4.pollAtNs(), this.tcp.pollAtNs()));
  }

  /** Every drop counter in the stack, as `layer.reason` → count (non-zero only). */
  drops(): Record<string, number> {
    const out: Record<string, number> = {};
    const add = (layer: string, c: Record<string, number>): void => {
      for (const [k, v] of Object.entries(c)) if (v) out[`${layer}.${k}`] = v;
    };
    add('ethernet', this.ethernet.drops);
    add('arp', this.arp.drops);
    add('ipv4', this.ipv4.allDrops());
    add('icmp', this.icmp.drops);
    add('udp', this.udp.drops);
    add('tcp', this.tcp.drops);
    return out;
  }
}

export function createStack(o: StackOptions): Stack {
  return new Stack(o);
}
