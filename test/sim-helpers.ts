/** Builds small simulated networks of Fata stacks for tests, and moves bulk data across them. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FaultInjector, type FaultOptions, PcapWriter, Switch } from '../src/link/index.ts';
import { Stack, type TcpConfig, type TcpConnection } from '../src/net/index.ts';
import type { NetDevice } from '../src/devices/index.ts';
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
/**
 * `link`: what each device's sending side adds, such as a rate and a queue (a real link's bottleneck).
 * `opts.capture: false` records nothing (long transfers); `opts.device` wraps host `i`'s device (e.g. SoftGso).
 */
export function simNet(
  n: number,
  seed: number,
  faults: FaultOptions = {},
  mtu = 1500,
  link: FaultOptions = {},
  opts: { capture?: boolean; device?: (dev: NetDevice, i: number) => NetDevice } = {},
): SimNet {
  const sched = new Scheduler();
  const clock = sched.clock;
  const rnd = new SeededRandom(seed);
  const pcap = new PcapWriter();
  const sw = new Switch(opts.capture === false ? { clock } : { clock, onFrame: (f) => pcap.record(f, clock.monotonicNs()) });
  const stacks: Stack[] = [];
  const injectors: FaultInjector[] = [];
  for (let i = 0; i < n; i++) {
    const mac = Uint8Array.of(0x02, 0, 0, 0, 0, i + 1);
    const port = sw.attach(mac, mtu);
    const dev = new FaultInjector(port, clock, rnd.fork(), faults, { ...faults, ...link });
    injectors.push(dev);
    const s = new Stack({
      device: opts.device ? opts.device(dev, i) : dev,
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

/** The netsim tables' bottleneck: each sender's link runs at 100 Mbit/s with a queue of 1000 frames (netem's default limit). */
export const NETSIM_LINK: FaultOptions = { rateBitsPerSec: 100e6, queueFrames: 1000, maxHeld: 100_000 };

/**
 * The link a netsim row's sender gets: NETSIM_LINK, and corruption only where a frame arrives, not also where it
 * leaves. A frame with two flipped bits can pass the Internet checksum (a 1 cleared and a 0 set in the same column of
 * the 16-bit sum cancel), and TCP then delivers it; with both ends corrupting, one BBR segment in the table's 10 MB
 * came through that way (0x73 read as 0x71, its twin flip elsewhere in the segment). One flip per frame is always caught.
 */
export function linkFor(faults: FaultOptions): FaultOptions {
  return faults.corrupt ? { ...NETSIM_LINK, corrupt: 0 } : NETSIM_LINK;
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

export interface Transfer {
  /** Every byte arrived, in order, and the sink saw the end. */
  ok: boolean;
  /** Virtual seconds from the connect to both ends done (or the limit). */
  seconds: number;
  /** Virtual seconds from the connect until the sink had received the last byte (NaN if it never did). */
  lastByteS: number;
  received: number;
  /** The sending connection (its counters, its controller). */
  conn: TcpConnection;
}

/**
 * Host 10.0.0.1 sends `size` bytes of `pattern(size, salt)` to a sink on 10.0.0.2:9, then closes; what arrived
 * is checked byte for byte. `watch` runs at every scheduler step (to sample a queue, say); `limitS` bounds the run.
 */
export function bulkTransfer(
  net: SimNet,
  size: number,
  cfg: TcpConfig = {},
  o: { salt?: number; limitS?: bigint; watch?: () => void } = {},
): Transfer {
  const [a, b] = net.stacks as [Stack, Stack];
  const data = pattern(size, o.salt ?? 3);
  const want = createHash('sha256').update(data).digest('hex');
  const got = createHash('sha256');
  let received = 0,
    lastByteNs: bigint | undefined,
    serverDone = false,
    clientClosed = false;
  const l = b.tcp.listen(
    9,
    (c) => {
      c.events = {
        onData: (d) => {
          got.update(d);
          received += d.length;
          if (received === size) lastByteNs = net.sched.clock.monotonicNs();
        },
        onEnd: () => {
          serverDone = true;
          c.close();
        },
      };
    },
    cfg,
  );
  assert.ok(typeof l !== 'string');
  const c = a.tcp.connect(ip('10.0.0.2'), 9, cfg);
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const n = c.write(data.subarray(sent, Math.min(size, sent + 65536)));
      sent += n;
      if (n === 0) return;
    }
    c.shutdown();
  };
  c.events = {
    onConnect: pump,
    onDrain: pump,
    onClose: () => {
      clientClosed = true;
    },
  };
  const t0 = net.sched.clock.monotonicNs();
  net.sched.run({
    until: () => {
      o.watch?.();
      return serverDone && clientClosed;
    },
    untilNs: t0 + (o.limitS ?? 600n) * 1_000_000_000n,
  });
  return {
    ok: serverDone && received === size && got.digest('hex') === want,
    seconds: Number(net.sched.clock.monotonicNs() - t0) / 1e9,
    lastByteS: lastByteNs === undefined ? Number.NaN : Number(lastByteNs - t0) / 1e9,
    received,
    conn: c,
  };
}
