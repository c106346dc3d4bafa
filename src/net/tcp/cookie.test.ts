import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../sim/random.ts';
import { SynCookies } from './cookie.ts';

const S = 1_000_000_000n;

test('a cookie checks out for its own 4-tuple within two 64 s slots, and carries the MSS', () => {
  const c = new SynCookies(new SeededRandom(1));
  const iss = c.make(100n * S, 1, 80, 2, 5000, 1460);
  assert.equal(c.check(100n * S, iss, 1, 80, 2, 5000), 1460);
  assert.equal(c.check(150n * S, iss, 1, 80, 2, 5000), 1460, 'next slot still honoured');
  assert.equal(c.check(300n * S, iss, 1, 80, 2, 5000), undefined, 'too old');
  assert.equal(c.check(100n * S, iss, 1, 80, 2, 5001), undefined, 'another port');
  assert.equal(c.check(100n * S, iss, 1, 80, 3, 5000), undefined, 'another address');
  assert.equal(c.check(100n * S, (iss ^ 1) >>> 0, 1, 80, 2, 5000), undefined, 'a flipped bit');
  assert.equal(c.check(100n * S, c.make(100n * S, 1, 80, 2, 5000, 1300), 1, 80, 2, 5000), 1220, 'MSS rounds down to the table');
  const other = new SynCookies(new SeededRandom(2));
  assert.equal(other.check(100n * S, iss, 1, 80, 2, 5000), undefined, 'another key');
});
