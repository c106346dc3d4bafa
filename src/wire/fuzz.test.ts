/**
 * Untrusted bytes never throw: every view's `check` and every `parse` after
 * a successful check, fed arbitrary bytes and mutations (bit flips, byte
 * overwrites, truncation, extension) of captured frames. A longer run of
 * these inputs, with round trips, is `npm run fuzz` (bench/fuzz).
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { mutatedFrame, parseAll } from '../../test/fixtures/mutate.ts';

test('arbitrary bytes never make a parser throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
      parseAll(b);
    }),
    { numRuns: 3000 },
  );
});

test('mutated captured frames never make a parser throw', () => {
  fc.assert(
    fc.property(mutatedFrame, (f) => {
      parseAll(f);
    }),
    { numRuns: 3000 },
  );
});
