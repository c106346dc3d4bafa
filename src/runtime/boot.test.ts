/**
 * boot's end: once main returns, the network loop stops at once (the
 * platform's `wake` ends the yield in flight), not at the loop's next
 * deadline (up to a second later: a second added to every run that exits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReadySet } from '../devices/index.ts';
import { boot, type NetProvider, type Platform } from './boot.ts';
import { runLoop } from './loop.ts';
import { net, service } from './config.ts';

test("main returns: the loop, waiting on a yield that only a wake ends, stops and boot returns main's code", {
  timeout: 10_000,
}, async () => {
  let wakeUp: (() => void) | undefined;
  let yields = 0;
  const platform: Platform = {
    target: 'test',
    engine: 'test',
    console: { write: () => {} },
    clock: { monotonicNs: () => 0n, wallNs: () => 0n },
    random: {
      fill: (b) => {
        b.fill(4);
      },
      u32: () => 4,
    },
    // A device wait with nothing coming and a deadline that never comes: only `wake` ends it.
    yield: () => {
      yields++;
      return new Promise<ReadySet>((r) => {
        wakeUp = () => r(new Set());
      });
    },
    nets: new Map(),
    blocks: new Map(),
    assets: new Map(),
    stopRequested: new Promise<void>(() => {}),
    wake: () => wakeUp?.(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  const provider: NetProvider = {
    mode: 'direct',
    start: (p) => ({ stacks: new Map(), run: (stop) => runLoop({ poll: () => false, pollAtNs: () => undefined }, p.clock, p.yield, stop) }),
  };
  const config = service({ name: 'waker', main: './main.ts', devices: { service: net({ dhcp: false }) }, params: {} });
  const code = await boot(platform, config, () => 7, [], provider);
  assert.equal(code, 7);
  assert.equal(yields, 1, 'the loop was waiting when main returned');
});
