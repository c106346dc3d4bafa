/** Clock, randomness and `yield` for the node target, from the host's own. */
import { getRandomValues } from 'node:crypto';
import type { Clock, NetDevice, Random, ReadySet, Yield } from '../../devices/index.ts';

/** A host net device the loop can wait on: a tap (./tap.ts) or a user-mode link's socketpair end (./frame-socket.ts). */
export interface WaitableNetDevice extends NetDevice {
  /** Resolves true when a frame is readable, false on timeout or `wake()`. */
  wait(timeoutMs: number): Promise<boolean>;
  /** Ends a `wait` in flight early. */
  wake(): void;
  /** Turns the host's receive offload on or off (a no-op where there is none). */
  setReceiveOffload(on: boolean): void;
  close(): Promise<void>;
}

export const nodeClock: Clock = {
  monotonicNs: () => process.hrtime.bigint(),
  wallNs: () => BigInt(Date.now()) * 1_000_000n,
};

/** Cryptographically strong randomness, drawn from the host 1 KiB at a time. */
export class NodeRandom implements Random {
  private readonly pool = new Uint32Array(256);
  private readonly bytes = new Uint8Array(this.pool.buffer);
  private at = 256;
  private readonly source: (into: Uint8Array) => void;

  /** `source` fills a buffer from the host (default: `node:crypto`'s `getRandomValues`). */
  constructor(source: (into: Uint8Array) => void = (into) => void getRandomValues(into)) {
    this.source = source;
  }

  u32(): number {
    if (this.at >= this.pool.length) {
      this.source(this.bytes);
      this.at = 0;
    }
    return this.pool[this.at++]!;
  }

  fill(into: Uint8Array): void {
    this.source(into);
  }
}

/**
 * `yield` over named host net devices: resolves when any has input or at the
 * deadline. Always returns to the event loop at least once, so host
 * timers and I/O run even when the stack is busy.
 */
export function tapYield(clock: Clock, devices: ReadonlyMap<string, WaitableNetDevice>): Yield {
  return async (deadlineNs: bigint): Promise<ReadySet> => {
    const now = clock.monotonicNs();
    const ms = deadlineNs > now ? Number(deadlineNs - now) / 1e6 : 0;
    const names = [...devices.keys()];
    const ready = new Set<string>();
    if (ms === 0 || names.length === 0) {
      await new Promise<void>((r) => setImmediate(r));
      if (names.length === 0 && ms > 0) await new Promise<void>((r) => setTimeout(r, ms));
      // With no wait, every device is a candidate: the caller reads them all.
      for (const n of names) ready.add(n);
    } else {
      await Promise.race(
        names.map((n) =>
          devices
            .get(n)!
            .wait(ms)
            .then((has) => {
              if (has) ready.add(n);
            }),
        ),
      );
    }
    return ready;
  };
}
