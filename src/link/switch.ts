/**
 * An N-port learning Ethernet switch (IEEE 802.1D forwarding, no spanning
 * tree). Each `attach` returns a fresh device plugged into a new port.
 * Unknown and group destinations flood to every other port; the table is
 * bounded and, given a clock, ages entries out.
 */
import type { Clock, MacAddress } from '../devices/index.ts';
import { macKey } from '../wire/ethernet.ts';
import { DEFAULT_QUEUE_FRAMES, LinkEnd } from './queue.ts';

export interface SwitchOptions {
  /** At most this many learned addresses (default 1024); the oldest is forgotten first. */
  readonly tableSize?: number;
  /** Forget an address not seen for this long (default 300 s, IEEE 802.1D). Needs `clock`. */
  readonly agingNs?: bigint;
  readonly clock?: Clock;
  /** Called with every frame that enters the switch (for capture). */
  readonly onFrame?: (frame: Uint8Array, port: number) => void;
}

interface Learned {
  port: number;
  seenNs: bigint;
}

export class Switch {
  private readonly ports: LinkEnd[] = [];
  private readonly table = new Map<number, Learned>();
  private readonly opts: SwitchOptions;
  forwarded = 0;
  flooded = 0;

  constructor(opts: SwitchOptions = {}) {
    this.opts = opts;
  }

  /** Plugs a new host in; returns its device. */
  attach(mac: MacAddress, mtu = 1500, queueFrames = DEFAULT_QUEUE_FRAMES): LinkEnd {
    const port = this.ports.length;
    const dev = new LinkEnd(mac, mtu, queueFrames);
    dev.peer = (f) => this.ingress(f, port);
    this.ports.push(dev);
    return dev;
  }

  get portCount(): number {
    return this.ports.length;
  }

  private ingress(frame: Uint8Array, port: number): boolean {
    this.opts.onFrame?.(frame, port);
    const now = this.opts.clock?.monotonicNs() ?? 0n;
    if ((frame[6]! & 1) === 0) this.learn(macKey(frame, 6), port, now);
    if ((frame[0]! & 1) === 0) {
      const e = this.table.get(macKey(frame, 0));
      const aging = this.opts.agingNs ?? 300_000_000_000n;
      if (e && (!this.opts.clock || now - e.seenNs <= aging)) {
        if (e.port === port) return true; // IEEE 802.1D: never send a frame back out its ingress port.
        this.forwarded++;
        return this.ports[e.port]!.inbox.push(frame);
      }
    }
    this.flooded++;
    for (let p = 0; p < this.ports.length; p++) if (p !== port) this.ports[p]!.inbox.push(frame);
    return true;
  }

  private learn(key: number, port: number, now: bigint): void {
    const e = this.table.get(key);
    if (e) {
      // Refresh recency: re-insert so that Map order is least-recently-seen first.
      this.table.delete(key);
      e.port = port;
      e.seenNs = now;
      this.table.set(key, e);
      return;
    }
    if (this.table.size >= (this.opts.tableSize ?? 1024)) {
      const oldest = this.table.keys().next().value;
      if (oldest !== undefined) this.table.delete(oldest);
    }
    this.table.set(key, { port, seenNs: now });
  }
}
