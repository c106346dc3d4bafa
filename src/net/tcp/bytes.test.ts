/**
 * The byte queue under the send and receive paths: bounded by its capacity,
 * first in first out across the ring's wrap and its growth, copied out
 * exactly (peek) or lent in at most two views, emptied and given back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteQueue } from './bytes.ts';
import { fill } from './segment-harness.ts';

/** Everything in `q`, through `views`. */
function contents(q: ByteQueue): number[] {
  const out: number[] = [];
  q.views(q.length, (v) => out.push(...v));
  return out;
}

test('push takes what fits in the capacity and says how much; free and length follow', () => {
  const q = new ByteQueue(100);
  assert.deepEqual([q.length, q.free, q.capacity], [0, 100, 100]);
  assert.equal(q.push(fill(60)), 60);
  assert.deepEqual([q.length, q.free], [60, 40]);
  assert.equal(q.push(fill(60, 60)), 40, 'only the free 40');
  assert.deepEqual([q.length, q.free], [100, 0]);
  assert.equal(q.push(fill(1)), 0, 'full');
  assert.deepEqual(contents(q), [...fill(100)]);
});

test('push takes a slice [off, end) of its argument', () => {
  const q = new ByteQueue(100);
  assert.equal(q.push(fill(10), 3, 7), 4);
  assert.deepEqual(contents(q), [3, 4, 5, 6]);
  assert.equal(q.push(fill(10), 8), 2, 'to the end by default');
  assert.deepEqual(contents(q), [3, 4, 5, 6, 8, 9]);
  assert.equal(q.push(fill(10), 5, 5), 0, 'an empty slice');
  assert.equal(q.push(fill(10), 6, 4), 0, 'a backwards slice');
  assert.equal(q.length, 6);
});

test('drop removes from the front, at most what is queued; peek copies from an offset', () => {
  const q = new ByteQueue(64, 16);
  q.push(fill(40));
  q.drop(10);
  assert.equal(q.length, 30);
  const into = new Uint8Array(8).fill(0xee);
  q.peek(5, 4, into, 2);
  assert.deepEqual([...into], [0xee, 0xee, 15, 16, 17, 18, 0xee, 0xee]);
  q.peek(0, 0, into, 0);
  q.peek(0, -3, into, 0);
  assert.equal(into[0], 0xee, 'nothing copied for a length of 0 or less');
  q.drop(0);
  q.drop(-5);
  assert.equal(q.length, 30, 'dropping 0 or less drops nothing');
  q.drop(1000);
  assert.deepEqual([q.length, q.free], [0, 64]);
});

test('the ring wraps: data pushed past the end of the buffer comes out in order, in two views', () => {
  const q = new ByteQueue(16, 16);
  q.push(fill(12));
  q.drop(10);
  q.push(fill(10, 100)); // 2 left at 10-11, then 10 more: 12-15 and 0-5.
  assert.equal(q.length, 12);
  const views: number[][] = [];
  q.views(q.length, (v) => views.push([...v]));
  assert.deepEqual(views, [
    [10, 11, 100, 101, 102, 103],
    [104, 105, 106, 107, 108, 109],
  ]);
  let calls = 0;
  q.views(0, () => calls++);
  assert.equal(calls, 0, 'no view for nothing');
  const part: number[][] = [];
  q.views(3, (v) => part.push([...v]));
  assert.deepEqual(part, [[10, 11, 100]], 'a prefix within the first view is one view');
  const into = new Uint8Array(12);
  q.peek(0, 12, into, 0);
  assert.deepEqual([...into], [10, 11, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  q.peek(7, 3, into, 0);
  assert.deepEqual([...into.subarray(0, 3)], [105, 106, 107], 'a peek wholly in the wrapped part');
  q.drop(12);
  assert.equal(q.length, 0);
  q.push(fill(16, 50));
  assert.deepEqual(contents(q), [...fill(16, 50)], 'emptied, it starts over at the front: one view of 16');
});

test('the buffer grows as data comes, keeping the order of what it held across the wrap', () => {
  const q = new ByteQueue(1 << 20, 16);
  q.push(fill(12));
  q.drop(8);
  q.push(fill(10, 12)); // Wrapped in the 16-byte buffer.
  q.push(fill(30000, 22)); // Grows.
  assert.equal(q.length, 30014);
  const want = [...fill(30014, 8)];
  assert.deepEqual(contents(q), want);
});

test('release gives the memory back only while empty; the queue works again afterwards', () => {
  const q = new ByteQueue(1000);
  q.push(fill(10));
  q.release();
  assert.deepEqual(contents(q), [...fill(10)], 'not empty: kept');
  q.drop(10);
  q.release();
  assert.deepEqual([q.length, q.free], [0, 1000]);
  assert.equal(q.push(fill(700, 3)), 700);
  q.drop(100);
  assert.equal(q.push(fill(400, 9)), 400);
  assert.deepEqual(contents(q), [...fill(600, 103), ...fill(400, 9)]);
});

test('property: any sequence of pushes, drops and peeks agrees with a plain array, within the capacity', () => {
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 0, max: 1200 }) }),
    fc.record({ drop: fc.integer({ min: 0, max: 1200 }) }),
    fc.record({ release: fc.constant(true) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), fc.array(op, { maxLength: 25 }), (capacity, ops) => {
      const q = new ByteQueue(capacity, Math.min(capacity, 64));
      const model: number[] = [];
      let salt = 0;
      for (const o of ops) {
        if ('push' in o) {
          const data = fill(o.push, salt++);
          const n = q.push(data);
          assert.equal(n, Math.min(o.push, capacity - model.length));
          model.push(...data.subarray(0, n));
        } else if ('drop' in o) {
          q.drop(o.drop);
          model.splice(0, o.drop);
        } else q.release();
        assert.equal(q.length, model.length);
        assert.equal(q.free, capacity - model.length);
        assert.deepEqual(contents(q), model);
        if (model.length > 0) {
          const off = model.length >> 1;
          const into = new Uint8Array(model.length - off);
          q.peek(off, into.length, into, 0);
          assert.deepEqual([...into], model.slice(off));
        }
      }
    }),
    // The first counterexample is enough: under mutation testing every broken queue fails, and shrinking
    // each of those (thousands of runs over kilobyte arrays) only costs time.
    { numRuns: 60, endOnFailure: true },
  );
});
