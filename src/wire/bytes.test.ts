/**
 * Big-endian field access (network byte order, RFC 1700 "Data Notations"):
 * each reader and writer at an offset, with the high bit set, touching only
 * its own bytes; MAC comparison byte by byte; the shared constants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BROADCAST_MAC, EMPTY, macEquals, put16, put32, u16, u32, ZERO_MAC } from './bytes.ts';

test('u16 and u32 read big-endian at an offset; u32 is unsigned with the high bit set', () => {
  const b = Uint8Array.of(0x00, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x01);
  assert.equal(u16(b, 1), 0xfedc);
  assert.equal(u16(b, 5), 0x7601);
  assert.equal(u32(b, 1), 0xfedcba98);
  assert.equal(u32(b, 3), 0xba987601);
  assert.equal(u32(Uint8Array.of(0x12, 0x34, 0x56, 0x78), 0), 0x12345678);
  assert.equal(u32(Uint8Array.of(0x80, 0, 0, 0), 0), 0x80000000);
  assert.equal(u32(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0), 0xffffffff);
});

test('put16 and put32 write big-endian at an offset and touch no other byte', () => {
  const b = new Uint8Array(8).fill(0xaa);
  put16(b, 1, 0xfedc);
  assert.deepEqual([...b], [0xaa, 0xfe, 0xdc, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  put32(b, 3, 0x89abcdef);
  assert.deepEqual([...b], [0xaa, 0xfe, 0xdc, 0x89, 0xab, 0xcd, 0xef, 0xaa]);
  put32(b, 3, 0x01020304);
  assert.deepEqual([...b.subarray(3, 7)], [1, 2, 3, 4]);
  put16(b, 0, 0x0102);
  assert.deepEqual([...b.subarray(0, 3)], [1, 2, 0xdc]);
});

test('put writes the low 16 / 32 bits of a wider value', () => {
  const b = new Uint8Array(4);
  put16(b, 0, 0x12345);
  assert.deepEqual([...b.subarray(0, 2)], [0x23, 0x45]);
  put32(b, 0, 0x1_8765_4321);
  assert.deepEqual([...b], [0x87, 0x65, 0x43, 0x21]);
});

test('readers invert writers for every value', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(4), (a, c, at) => {
      const b = new Uint8Array(10);
      put16(b, at, a);
      assert.equal(u16(b, at), a);
      put32(b, at + 2, c);
      assert.equal(u32(b, at + 2), c);
      assert.equal(u16(b, at), a);
    }),
  );
});

test('macEquals compares exactly six bytes at the offset: a difference in any one of them is seen', () => {
  const mac = Uint8Array.of(2, 0, 0x5e, 0x10, 0x20, 0x30);
  const b = Uint8Array.of(9, 2, 0, 0x5e, 0x10, 0x20, 0x30, 9);
  assert.equal(macEquals(b, 1, mac), true);
  assert.equal(macEquals(b, 0, mac), false);
  for (let i = 0; i < 6; i++) {
    const c = b.slice();
    c[1 + i]! ^= 0x80;
    assert.equal(macEquals(c, 1, mac), false, `byte ${i}`);
  }
  const trailing = b.slice();
  trailing[7] = 0;
  assert.equal(macEquals(trailing, 1, mac), true, 'the byte after the address is not compared');
});

test('the shared constants: the empty array, the broadcast and the zero MAC', () => {
  assert.equal(EMPTY.length, 0);
  assert.deepEqual([...BROADCAST_MAC], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...ZERO_MAC], [0, 0, 0, 0, 0, 0]);
});
