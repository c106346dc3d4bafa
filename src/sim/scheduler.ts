/**
 * The deterministic scheduler: drives several stacks, links and application
 * timers on one virtual clock. Each step polls every node in a fixed order
 * until nothing moves, then jumps the clock to the earliest deadline any of
 * them reports. Same seed, same order, same bytes on the wire.
 */
import { earlier } from '../devices/index.ts';
import { VirtualClock } from './clock.ts';

/** Anything the scheduler drives: a stack, a link with timers, an app. */
export interface Pollable {
  /** Does all work due at `nowNs`; returns true when it did anything. */
  poll(nowNs: bigint): boolean;
  /** The next time it needs a poll without outside input, if any. */
  pollAtNs(): bigint | undefined;
}

interface Timer {
  atNs: bigint;
  seq: number;
  fn: () => void;
}

export interface RunLimits {
  /** Stop when virtual time would pass this. */
  readonly untilNs?: bigint;
  /** Stop when this returns true (checked after each step). */
  readonly until?: () => boolean;
  /** Safety bound on the steps of this run (default 10 million): a livelock fails loudly. */
  readonly maxSteps?: number;
}

export class Scheduler {
  readonly clock: VirtualClock;
  private readonly nodes: Pollable[] = [];
  private readonly timers: Timer[] = [];
  private seq = 0;
  /** Steps taken over the scheduler's life (each `run` is bounded by its own count, not this). */
  steps = 0;

  constructor(clock = new VirtualClock()) {
    this.clock = clock;
  }

  add(node: Pollable): void {
    this.nodes.push(node);
  }

  /** Runs `fn` when virtual time reaches `atNs` (in insertion order for equal times). */
  at(atNs: bigint, fn: () => void): void {
    const t = { atNs, seq: this.seq++, fn };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.atNs > atNs) i--;
    this.timers.splice(i, 0, t);
  }

  after(delayNs: bigint, fn: () => void): void {
    this.at(this.clock.monotonicNs() + delayNs, fn);
  }

  /** Polls everything until quiet at the current time. */
  private settle(): void {
    const now = this.clock.monotonicNs();
    for (let rounds = 0; ; rounds++) {
      let moved = false;
      while (this.timers.length > 0 && this.timers[0]!.atNs <= now) {
        this.timers.shift()!.fn();
        moved = true;
      }
      for (const n of this.nodes) if (n.poll(now)) moved = true;
      if (!moved) return;
      if (rounds > 100_000) throw new Error(`simulation livelock at t=${now}ns: nodes keep doing work without time passing`);
    }
  }

  private nextDeadline(): bigint | undefined {
    let t: bigint | undefined = this.timers[0]?.atNs;
    for (const n of this.nodes) t = earlier(t, n.pollAtNs());
    return t;
  }

  /**
   * Runs until `until` holds, virtual time reaches `untilNs` (the clock is
   * left there), or — without `untilNs` — nothing is left to do.
   */
  run(limits: RunLimits = {}): 'until' | 'time' | 'idle' {
    const maxSteps = limits.maxSteps ?? 10_000_000;
    for (let steps = 1; ; steps++) {
      this.settle();
      this.steps++;
      if (limits.until?.()) return 'until';
      if (steps > maxSteps) throw new Error(`simulation exceeded ${maxSteps} steps; raise maxSteps or look for a loop`);
      let next = this.nextDeadline();
      const now = this.clock.monotonicNs();
      if (next === undefined) {
        // Nothing scheduled: time still passes up to the limit, if one was given.
        if (limits.untilNs === undefined || limits.untilNs <= now) return 'idle';
        next = limits.untilNs + 1n;
      }
      if (next <= now) next = now + 1n; // A deadline already due that did no work: step past it.
      if (limits.untilNs !== undefined && next > limits.untilNs) {
        this.clock.advanceTo(limits.untilNs);
        this.settle();
        return 'time';
      }
      this.clock.advanceTo(next);
    }
  }
}
