/** A virtual clock for simulation: time moves only when the scheduler says so. */
import type { Clock } from '../devices/index.ts';

export class VirtualClock implements Clock {
  private now = 0n;
  /** Wall time at monotonic zero (default 2026-01-01T00:00:00Z), so pcaps have fixed dates. */
  readonly epochNs: bigint;

  constructor(epochNs = 1_767_225_600_000_000_000n) {
    this.epochNs = epochNs;
  }

  monotonicNs(): bigint {
    return this.now;
  }
  wallNs(): bigint {
    return this.epochNs + this.now;
  }

  /** Moves time forward to `t`; going back is a programmer error. */
  advanceTo(t: bigint): void {
    if (t < this.now) throw new RangeError(`virtual time cannot go back from ${this.now} to ${t}`);
    this.now = t;
  }
}
