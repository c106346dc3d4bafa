import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.ts';
import { SeededRandom } from './random.ts';

test('timers fire in time order, ties in insertion order', () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.at(20n, () => seen.push('b'));
  s.at(10n, () => seen.push('a'));
  s.at(20n, () => seen.push('c'));
  assert.equal(s.run(), 'idle');
  assert.deepEqual(seen, ['a', 'b', 'c']);
  assert.equal(s.clock.monotonicNs(), 20n);
});

test('untilNs advances the clock even when nothing is scheduled', () => {
  const s = new Scheduler();
  assert.equal(s.run({ untilNs: 5_000n }), 'time');
  assert.equal(s.clock.monotonicNs(), 5_000n);
  s.at(9_000n, () => {});
  assert.equal(s.run({ untilNs: 7_000n }), 'time');
  assert.equal(s.clock.monotonicNs(), 7_000n);
});

test('a node that keeps working without time passing is reported as a livelock', () => {
  const s = new Scheduler();
  s.add({ poll: () => true, pollAtNs: () => undefined });
  assert.throws(() => s.run(), /livelock/);
});

test("maxSteps bounds each run, not the scheduler's life: many short runs are not a loop (issue 21)", () => {
  const s = new Scheduler();
  let ticks = 0;
  // A node with work every microsecond: each short run takes a few steps.
  let due = 1_000n;
  s.add({
    poll: (now) => {
      if (now < due) return false;
      ticks++;
      due = now + 1_000n;
      return true;
    },
    pollAtNs: () => due,
  });
  for (let i = 1; i <= 200; i++) assert.equal(s.run({ untilNs: BigInt(i) * 5_000n, maxSteps: 10 }), 'time');
  assert.ok(s.steps > 10, `lifetime steps (${s.steps}) went past one run's bound without failing`);
  assert.equal(ticks, 1_000);
});

test('a single run that needs more than maxSteps still fails loudly', () => {
  const s = new Scheduler();
  let due = 1n;
  s.add({
    poll: (now) => {
      if (now < due) return false;
      due = now + 1n;
      return true;
    },
    pollAtNs: () => due,
  });
  assert.throws(() => s.run({ maxSteps: 50 }), /exceeded 50 steps/);
});

test('seeded random is reproducible and spreads across the range', () => {
  const a = new SeededRandom(7),
    b = new SeededRandom(7),
    c = new SeededRandom(8);
  const xs = Array.from({ length: 1000 }, () => a.u32());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.u32()),
  );
  assert.notDeepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => c.u32()),
  );
  const high = xs.filter((x) => x >= 0x80000000).length;
  assert.ok(high > 400 && high < 600, `${high} of 1000 in the upper half`);
});

test('a timer set by a timer for the same instant runs at that instant; after() counts from now', () => {
  const s = new Scheduler();
  const at: bigint[] = [];
  s.at(10n, () => s.at(10n, () => at.push(s.clock.monotonicNs())));
  s.at(30n, () => s.after(5n, () => at.push(s.clock.monotonicNs())));
  assert.equal(s.run(), 'idle');
  assert.deepEqual(at, [10n, 35n]);
});

test("run's ends: 'until' as soon as it holds; 'idle' when untilNs is already reached or the last timer fell on it", () => {
  const s = new Scheduler();
  let fired = false;
  s.at(10n, () => {
    fired = true;
  });
  s.at(50n, () => {});
  assert.equal(s.run({ until: () => fired }), 'until');
  assert.equal(s.clock.monotonicNs(), 10n);
  const t = new Scheduler();
  t.clock.advanceTo(100n);
  assert.equal(t.run({ untilNs: 50n }), 'idle', 'a limit already passed, nothing scheduled');
  assert.equal(t.run({ untilNs: 100n }), 'idle', 'a limit reached, nothing scheduled');
  assert.equal(t.clock.monotonicNs(), 100n);
  const u = new Scheduler();
  u.at(10n, () => {});
  assert.equal(u.run({ untilNs: 10n }), 'idle', 'the last timer at the limit ran, nothing is left');
});

test('at untilNs the nodes are polled once more; a deadline that brings no work is stepped past', () => {
  const s = new Scheduler();
  const polls: bigint[] = [];
  s.add({
    poll: (now) => {
      polls.push(now);
      return false;
    },
    pollAtNs: () => 100n,
  });
  assert.equal(s.run({ untilNs: 50n }), 'time');
  assert.deepEqual(polls, [0n, 50n]);
  const t = new Scheduler();
  let n = 0;
  t.add({
    poll: () => {
      n++;
      return false;
    },
    pollAtNs: () => 0n,
  });
  assert.equal(t.run({ untilNs: 5n, maxSteps: 100 }), 'time');
  assert.equal(t.clock.monotonicNs(), 5n);
  assert.equal(n, 7, 'polled at 0, 1, 2, 3, 4 and 5, and once more at 5');
});

test('maxSteps: a run of exactly that many steps (one per instant with work) passes, one more fails', () => {
  const mk = (): Scheduler => {
    const s = new Scheduler();
    for (let t = 1n; t <= 5n; t++) s.at(t, () => {});
    return s;
  };
  assert.equal(mk().run({ maxSteps: 6 }), 'idle');
  assert.throws(() => mk().run({ maxSteps: 5 }), /^Error: simulation exceeded 5 steps; raise maxSteps or look for a loop$/);
});
