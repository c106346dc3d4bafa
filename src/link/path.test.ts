import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../sim/random.ts';
import { ImpairedPath } from './fault.ts';

const MS = 1_000_000n;
const frame = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

test('a clean path passes copies byte-exact, in order, at once', () => {
  const p = new ImpairedPath({}, new SeededRandom(1));
  const a = Uint8Array.from({ length: 60 }, (_, i) => i);
  p.push(a, 0n);
  a[0] = 99; // The path holds its own copy.
  const out = p.popDue(0n)!;
  assert.deepEqual(
    [...out],
    Array.from({ length: 60 }, (_, i) => i),
  );
  assert.equal(p.popDue(0n), undefined);
  assert.deepEqual(p.counters, { frames: 1, dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, overflow: 0, queueDrops: 0 });
});

test('a rate-limited link sends one frame after another: 1250-byte frames at 1 Mbit/s leave every 10 ms, then the delay', () => {
  const p = new ImpairedPath({ rateBitsPerSec: 1e6, delayNs: 5n * MS }, new SeededRandom(1));
  for (let i = 0; i < 5; i++) p.push(frame(1250, i), 0n);
  const due: bigint[] = [];
  for (let t = 0n; t <= 100n * MS; t += MS) for (let f = p.popDue(t); f; f = p.popDue(t)) due.push(t / MS);
  assert.deepEqual(due, [15n, 25n, 35n, 45n, 55n]);
  // An idle link starts the next frame when it arrives, not where the last one ended.
  p.push(frame(125), 200n * MS);
  assert.equal(p.nextDueNs(), 200n * MS + MS + 5n * MS);
});

test('the link queue holds queueFrames waiting frames; more are dropped and counted, and room comes back as frames leave', () => {
  const p = new ImpairedPath({ rateBitsPerSec: 1e6, queueFrames: 3 }, new SeededRandom(1));
  for (let i = 0; i < 5; i++) p.push(frame(1250), 0n);
  assert.equal(p.counters.queueDrops, 2);
  assert.equal(p.size, 3);
  p.push(frame(1250), 10n * MS); // The first has left: room for one.
  assert.equal(p.counters.queueDrops, 2);
  p.push(frame(1250), 10n * MS);
  assert.equal(p.counters.queueDrops, 3);
});

test('the same seed gives the same faults; the counts follow the probabilities', () => {
  const run = (seed: number): { counts: unknown; out: string[] } => {
    const p = new ImpairedPath(
      { loss: 0.1, duplicate: 0.05, corrupt: 0.02, reorder: 0.1, reorderDelayNs: 3n * MS, jitterNs: MS, maxHeld: 20_000 },
      new SeededRandom(seed),
    );
    for (let i = 0; i < 10_000; i++) p.push(frame(100, i & 0xff), BigInt(i) * 100_000n);
    const out: string[] = [];
    for (let f = p.popDue(10n ** 15n); f; f = p.popDue(10n ** 15n)) out.push(Buffer.from(f).toString('hex', 0, 4));
    return { counts: { ...p.counters }, out };
  };
  const a = run(7),
    b = run(7),
    c = run(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.out, c.out);
  const k = a.counts as { dropped: number; duplicated: number; corrupted: number; reordered: number };
  // 10,000 frames: within about four standard deviations of each expectation.
  assert.ok(Math.abs(k.dropped - 1000) < 120, `dropped ${k.dropped}`);
  assert.ok(Math.abs(k.duplicated - 450) < 90, `duplicated ${k.duplicated}`);
  assert.ok(Math.abs(k.corrupted - 190) < 60, `corrupted ${k.corrupted}`);
  assert.ok(Math.abs(k.reordered - 950) < 120, `reordered ${k.reordered}`);
  assert.equal(a.out.length, 10_000 - k.dropped + k.duplicated);
});
