/**
 * The yield loop at the heart of a running unikernel (Solo5's shape): poll
 * the stack, then yield until its next deadline or until a device has input.
 */
import type { Clock, Yield } from '../devices/index.ts';

export interface Pollable {
  poll(nowNs: bigint): boolean;
  pollAtNs(): bigint | undefined;
}

/** Longest sleep when nothing is scheduled, so that `stop` is noticed. */
const IDLE_NS = 1_000_000_000n;

export async function runLoop(node: Pollable, clock: Clock, yieldTo: Yield, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const now = clock.monotonicNs();
    node.poll(now);
    const at = node.pollAtNs();
    await yieldTo(at === undefined || at > now + IDLE_NS ? now + IDLE_NS : at);
  }
}
