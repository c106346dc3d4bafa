/**
 * `fata relay`: Fata's fault injector as a link between two taps — a
 * user-space netem. Frames read from one tap go through an impaired path
 * (loss, duplication, corruption, the link's rate and queue, delay, jitter,
 * reordering; src/link/fault.ts) and are written to the other, both ways,
 * byte-exact unless a fault says otherwise. The taps' receive offload is off,
 * so each frame is one the wire would carry and the rate applies to it.
 */
import { ImpairedPath, type FaultCounters, type FaultOptions } from '../link/fault.ts';
import { SeededRandom } from '../sim/random.ts';
import { TapDevice } from '../targets/node/tap.ts';

export interface RelayOptions {
  readonly a: string;
  readonly b: string;
  readonly createA?: boolean;
  readonly createB?: boolean;
  readonly faults: FaultOptions;
  readonly seed: number;
}

export interface Relay {
  /** Counts per direction: a→b and b→a. */
  readonly counters: { readonly ab: FaultCounters; readonly ba: FaultCounters };
  /** Moves frames until `stop` is called; resolves when it has. */
  run(): Promise<void>;
  stop(): void;
}

const MAC = new Uint8Array([2, 0, 0, 0, 0, 0]); // Unused: the relay has no address of its own.
const BATCH = 512;
const now = (): bigint => process.hrtime.bigint();

/** Opens both taps (the same seed gives the same faults: a→b from `seed`, b→a from `seed + 1`). */
export function openRelay(o: RelayOptions): Relay {
  const a = TapDevice.open(o.a, { mac: MAC, create: o.createA });
  const b = TapDevice.open(o.b, { mac: MAC, create: o.createB });
  a.setReceiveOffload(false);
  b.setReceiveOffload(false);
  const ab = new ImpairedPath(o.faults, new SeededRandom(o.seed));
  const ba = new ImpairedPath(o.faults, new SeededRandom(o.seed + 1));
  const buf = new Uint8Array(Math.max(a.mtu, b.mtu) + 18 + 64);
  const rx = { checksumVerified: false };
  let stopped = false;

  /** Reads what `from` has into `path`; true when it read anything. */
  const take = (from: TapDevice, path: ImpairedPath, t: bigint): boolean => {
    let any = false;
    for (let i = 0; i < BATCH; i++) {
      const n = from.read(buf, rx);
      if (typeof n !== 'number') break;
      path.push(buf.subarray(0, n), t);
      any = true;
    }
    return any;
  };
  const give = (path: ImpairedPath, to: TapDevice, t: bigint): boolean => {
    let any = false;
    for (let f = path.popDue(t); f; f = path.popDue(t)) {
      to.write(f); // 'again' on a full tap queue is a loss on the wire, as it would be.
      any = true;
    }
    return any;
  };

  return {
    counters: { ab: ab.counters, ba: ba.counters },
    stop: () => {
      stopped = true;
      a.wake();
      b.wake();
    },
    async run(): Promise<void> {
      let spins = 0;
      while (!stopped) {
        const t = now();
        const moved = [take(a, ab, t), take(b, ba, t), give(ab, b, t), give(ba, a, t)].some(Boolean);
        if (moved && ++spins < 64) continue;
        spins = 0;
        const due = [ab.nextDueNs(), ba.nextDueNs()].filter((x): x is bigint => x !== undefined);
        const next = due.length > 0 ? due.reduce((x, y) => (x < y ? x : y)) : undefined;
        if (moved) await new Promise((r) => setImmediate(r));
        else {
          const ms = next === undefined ? 1000 : Number((next - now()) / 1_000_000n);
          if (ms > 0) await Promise.race([a.wait(ms), b.wait(ms)]);
          else await new Promise((r) => setImmediate(r));
        }
      }
      await a.close();
      await b.close();
    },
  };
}

/** One line of counts for a direction, for the console. */
export function describeCounters(dir: string, c: FaultCounters): string {
  return `dir=${dir} ${Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
}
