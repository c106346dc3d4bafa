import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checksum, fold, onesSum, pseudoHeaderSum, updateChecksum, updateChecksum32 } from './checksum.ts';
import { put16, put32, u16 } from './bytes.ts';

/** The obvious byte-pair loop with a carry fold on every step: the reference. */
function reference(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i]! << 8) | (b[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
  const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(fold(onesSum(b)), 0xddf2);
  assert.equal(checksum(b), ~0xddf2 & 0xffff);
});

test('odd lengths pad the last byte with zero', () => {
  assert.equal(checksum(Uint8Array.of(0xab)), ~0xab00 & 0xffff);
  assert.equal(checksum(Uint8Array.of(1, 2, 3)), ~(0x0102 + 0x0300) & 0xffff);
});

test('the unrolled sum equals the reference for any bytes and any range', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (b, x, y) => {
      const start = b.length ? (x % b.length) & ~1 : 0;
      const end = start + (b.length ? y % (b.length - start + 1) : 0);
      assert.equal(checksum(b, start, end), reference(b.subarray(start, end)));
    }),
    { numRuns: 500 },
  );
});

test('a buffer with its checksum inserted verifies to zero', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 200 }), (b) => {
      const c = b.slice();
      if (c.length % 2) return;
      put16(c, 2, 0);
      put16(c, 2, checksum(c));
      assert.equal(checksum(c), 0);
    }),
  );
});

test('RFC 1624 incremental update equals recomputation, for 16- and 32-bit fields', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 24, maxLength: 64 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (b0, w, d) => {
        const b = b0.subarray(0, b0.length & ~1).slice();
        put16(b, 0, 0);
        put16(b, 0, checksum(b));
        const old16 = u16(b, 4);
        const c16 = updateChecksum(u16(b, 0), old16, w);
        put16(b, 4, w);
        put16(b, 0, 0);
        const fresh16 = checksum(b);
        // 0x0000 and 0xffff are the same value in one's complement (RFC 1624 §3).
        assert.ok(c16 === fresh16 || (c16 ^ fresh16) === 0xffff, `${c16} vs ${fresh16}`);
        put16(b, 0, fresh16);
        const old32 = ((u16(b, 8) << 16) | u16(b, 10)) >>> 0;
        const c32 = updateChecksum32(fresh16, old32, d);
        put32(b, 8, d);
        put16(b, 0, 0);
        const fresh32 = checksum(b);
        assert.ok(c32 === fresh32 || (c32 ^ fresh32) === 0xffff, `${c32} vs ${fresh32}`);
      },
    ),
    { numRuns: 500 },
  );
});

test('pseudo-header sum matches summing the 12 pseudo-header bytes', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffff }),
      (s, d, p, l) => {
        const b = new Uint8Array(12);
        put32(b, 0, s);
        put32(b, 4, d);
        b[9] = p;
        put16(b, 10, l);
        assert.equal(fold(pseudoHeaderSum(s, d, p, l)), fold(onesSum(b)));
      },
    ),
  );
});
