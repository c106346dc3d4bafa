/**
 * SeededRandom is xoshiro128** (Blackman and Vigna) seeded through
 * splitmix32: the stream for a seed is fixed on every engine, so a
 * simulation recorded with a seed replays byte for byte. The expected
 * numbers were computed with an independent Python transcription of the
 * reference C code (it gives the published 11520, 0, 5927040, 70819200 …
 * for the state {1, 2, 3, 4}).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from './random.ts';
import { VirtualClock } from './clock.ts';

test('the stream of a seed is fixed: seeds 0, 1, 7 and 2^32 - 1', () => {
  const first4 = (seed: number): number[] => {
    const r = new SeededRandom(seed);
    return [r.u32(), r.u32(), r.u32(), r.u32()];
  };
  assert.deepEqual(first4(0), [3809008728, 1133695204, 53579671, 2891528803]);
  assert.deepEqual(first4(1), [2442144158, 3238099751, 3819917871, 2104621829]);
  assert.deepEqual(first4(7), [1004282400, 2200021487, 1928073449, 741806228]);
  assert.deepEqual(first4(0xffffffff), [835879718, 1921286648, 2356205009, 1885780724]);
  assert.deepEqual(first4(-1), first4(0xffffffff), 'a seed is taken as 32 bits');
  assert.deepEqual(first4(2 ** 32 + 7), first4(7));
});

test('fill: each u32 little-endian, a short tail from the low bytes of one more', () => {
  const b = new Uint8Array(5);
  new SeededRandom(7).fill(b);
  // 1004282400 = 0x3bdc2220; 2200021487 = 0x8321a9ef.
  assert.deepEqual([...b], [0x20, 0x22, 0xdc, 0x3b, 0xef]);
  for (const n of [0, 1, 2, 3, 4, 6, 7, 8]) {
    const got = new Uint8Array(n + 1).fill(0xaa);
    new SeededRandom(7).fill(got.subarray(0, n));
    const want = [0x20, 0x22, 0xdc, 0x3b, 0xef, 0xa9, 0x21, 0x83].slice(0, n);
    assert.deepEqual([...got.subarray(0, n)], want, `${n} bytes`);
    assert.equal(got[n], 0xaa, `nothing past ${n} bytes`);
  }
  const r = new SeededRandom(7);
  r.fill(new Uint8Array(5));
  assert.equal(r.u32(), 1928073449, 'five bytes took two numbers');
  const q = new SeededRandom(7);
  q.fill(new Uint8Array(4));
  assert.equal(q.u32(), 2200021487, 'four bytes took one');
});

test('fork: a stream seeded with the next number of its parent', () => {
  const parent = new SeededRandom(7);
  const child = parent.fork();
  assert.deepEqual([child.u32(), child.u32()], [1714094865, 2147416145]);
  assert.equal(parent.u32(), 2200021487, 'the parent moved on by one');
});

test('virtual clock: starts at 0, wall time from 2026-01-01, never goes back', () => {
  const c = new VirtualClock();
  assert.equal(c.monotonicNs(), 0n);
  assert.equal(c.wallNs(), BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n);
  c.advanceTo(5n);
  c.advanceTo(5n);
  assert.equal(c.monotonicNs(), 5n);
  assert.equal(c.wallNs(), BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + 5n);
  assert.throws(
    () => c.advanceTo(4n),
    (e: Error) => e instanceof RangeError && e.message === 'virtual time cannot go back from 5 to 4',
  );
  assert.equal(c.monotonicNs(), 5n);
  const d = new VirtualClock(1000n);
  d.advanceTo(1n);
  assert.equal(d.wallNs(), 1001n);
});
