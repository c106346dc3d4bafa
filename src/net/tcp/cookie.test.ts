import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Random } from '../../devices/index.ts';
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

/** A Random that hands out `words` in turn (the cookie key is the first four). */
const words = (...w: number[]): Random => {
  let i = 0;
  return { u32: () => w[i++ % w.length]!, fill: () => {} };
};
/** The key 00 01 02 … 0f of the SipHash paper's test vectors, as four little-endian words. */
const PAPER_KEY = [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c];
const LA = 0x0a000001,
  RA = 0x0a000002;

test('RFC 4987 §3.6: ISS = 5-bit 64 s slot | 2-bit MSS index | 25 bits of SipHash-2-4 over the 4-tuple and the slot', () => {
  // Expected values from a reference SipHash-2-4 (checked against the paper's vectors: 00..0e → a129ca6149be45e5)
  // over the 16-byte message LA, RA, lp << 16 | rp, slot, little-endian.
  const c = new SynCookies(words(...PAPER_KEY));
  assert.equal(c.make(100n * S, LA, 80, RA, 49500, 1460), 0x0e8fe793, 'slot 1, MSS index 3, hash 0x08fe793');
  assert.equal(c.make(2000n * S, LA, 80, RA, 49500, 1460), 0xffd55f5f, 'slot 31');
  assert.equal(c.check(2000n * S, 0xffd55f5f, LA, 80, RA, 49500), 1460);
});

test('RFC 4987 §3.6: the MSS is encoded as the largest table entry (536, 1220, 1440, 1460) not above the offer', () => {
  const c = new SynCookies(new SeededRandom(3));
  const mssOf = (offer: number): number | undefined => c.check(10n * S, c.make(10n * S, LA, 80, RA, 5000, offer), LA, 80, RA, 5000);
  assert.deepEqual(
    [0, 536, 1219, 1220, 1439, 1440, 1459, 1460, 9000].map(mssOf),
    [536, 536, 536, 1220, 1220, 1440, 1440, 1460, 1460],
    'no option (0) means 536 (RFC 9293 §3.7.1)',
  );
  assert.equal((c.make(10n * S, LA, 80, RA, 5000, 1440) >>> 25) & 3, 2, 'the index sits in bits 25-26');
  assert.equal(c.make(10n * S, LA, 80, RA, 5000, 1440) >>> 27, 0, 'slot 0 in the top five bits');
});

test('RFC 4987 §3.6: a cookie is honoured in its own 64 s slot and the next, across the 5-bit wrap', () => {
  const c = new SynCookies(new SeededRandom(4));
  const ok = (madeAt: bigint, at: bigint): boolean => c.check(at, c.make(madeAt, LA, 80, RA, 5000, 1460), LA, 80, RA, 5000) === 1460;
  assert.equal(ok(64n * S - 1n, 64n * S - 1n), true, 'its own slot');
  assert.equal(ok(64n * S - 1n, 64n * S), true, 'the next slot');
  assert.equal(ok(64n * S - 1n, 128n * S - 1n), true, 'the end of the next slot');
  assert.equal(ok(64n * S - 1n, 128n * S), false, 'two slots on');
  assert.equal(ok(64n * S, 64n * S - 1n), false, 'a slot in the future');
  assert.equal(ok(31n * 64n * S, 32n * 64n * S), true, 'slot 31, then slot 0');
  assert.equal(ok(31n * 64n * S, 33n * 64n * S), false, 'slot 31, then slot 1');
  assert.equal(ok(100n * 64n * S, 100n * 64n * S + 10n * S), true, 'slot numbers are the time modulo 32 slots');
});

test('RFC 4987 §3.6: the hash covers each of the four-tuple: local address and port, remote address and port', () => {
  const c = new SynCookies(new SeededRandom(5));
  const iss = c.make(10n * S, LA, 80, RA, 5000, 1460);
  assert.equal(c.check(10n * S, iss, LA, 80, RA, 5000), 1460);
  assert.equal(c.check(10n * S, iss, LA + 1, 80, RA, 5000), undefined, 'local address');
  assert.equal(c.check(10n * S, iss, LA, 81, RA, 5000), undefined, 'local port');
  assert.equal(c.check(10n * S, iss, LA, 5000, RA, 80), undefined, 'the ports swapped');
  assert.equal(c.check(10n * S, iss, RA, 80, LA, 5000), undefined, 'the addresses swapped');
  assert.equal(c.check(10n * S, (iss ^ (1 << 24)) >>> 0, LA, 80, RA, 5000), undefined, 'the top hash bit');
  assert.equal(c.check(10n * S, (iss ^ (1 << 25)) >>> 0, LA, 80, RA, 5000), 1440, 'the MSS bits are not hashed: they only pick the MSS');
});
