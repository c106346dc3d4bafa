/**
 * The ICMPv4 codec (RFC 792, RFC 1191) byte by byte: every message kind
 * emitted to its exact bytes and checksum, parsed back to its fields, the
 * 8-byte header bound at its edge, the checksum check and its opt-out, and
 * a message at an offset inside a larger buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checksum } from './checksum.ts';
import {
  emitIcmpv4,
  EXCEEDED_TTL,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
  icmpv4Len,
  type Icmpv4Repr,
  Icmpv4View,
  parseIcmpv4,
  UNREACH_FRAG_NEEDED,
  UNREACH_PORT,
} from './icmpv4.ts';

const view = (b: Uint8Array, verify = true): Icmpv4View => {
  const v = Icmpv4View.checked(b, verify);
  assert.ok(v instanceof Icmpv4View, String(v));
  return v;
};
const emit = (r: Icmpv4Repr): Uint8Array => {
  const out = new Uint8Array(icmpv4Len(r));
  assert.equal(emitIcmpv4(r, out), out.length);
  return out;
};
const abcd = Uint8Array.of(0x61, 0x62, 0x63, 0x64);

test('ICMP constants are the RFC 792 / RFC 1191 numbers', () => {
  assert.deepEqual(
    [ICMP_ECHO_REPLY, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, UNREACH_PORT, UNREACH_FRAG_NEEDED, EXCEEDED_TTL],
    [0, 3, 8, 11, 3, 4, 0],
  );
  assert.equal(ICMP_HEADER_LEN, 8);
});

test('echo request: type 8, code 0, identifier, sequence, data, checksum over all (RFC 792)', () => {
  const out = emit({ kind: 'echo-request', ident: 0x1234, seq: 0x0001, data: abcd });
  // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xdefb; ~ = 0x2104.
  assert.deepEqual([...out], [8, 0, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64]);
  assert.deepEqual(parseIcmpv4(view(out)), { kind: 'echo-request', ident: 0x1234, seq: 1, data: abcd });
});

test('echo reply: type 0; identifier and sequence with their high bits set survive emit and parse', () => {
  const out = emit({ kind: 'echo-reply', ident: 0xfedc, seq: 0xba98, data: new Uint8Array(0) });
  // 0x0000 + 0xfedc + 0xba98 = 0x1b974 -> 0xb975; ~ = 0x468a.
  assert.deepEqual([...out], [0, 0, 0x46, 0x8a, 0xfe, 0xdc, 0xba, 0x98]);
  const v = view(out);
  assert.deepEqual([v.type, v.code, v.ident, v.seq, v.rest], [0, 0, 0xfedc, 0xba98, 0xfedcba98]);
  assert.deepEqual(parseIcmpv4(v), { kind: 'echo-reply', ident: 0xfedc, seq: 0xba98, data: new Uint8Array(0) });
});

test('destination unreachable: the first 16 bits of the second word are unused (zero), the next-hop MTU is the low 16 (RFC 1191)', () => {
  const out = emit({ kind: 'dest-unreachable', code: UNREACH_FRAG_NEEDED, nextHopMtu: 0x10000 + 1500, data: abcd });
  assert.deepEqual([...out.subarray(0, 2)], [3, 4]);
  assert.deepEqual([...out.subarray(4, 8)], [0, 0, 0x05, 0xdc]);
  assert.equal(checksum(out), 0);
  assert.deepEqual(parseIcmpv4(view(out)), { kind: 'dest-unreachable', code: 4, nextHopMtu: 1500, data: abcd });
  const port = emit({ kind: 'dest-unreachable', code: UNREACH_PORT, nextHopMtu: 0, data: abcd });
  assert.deepEqual([...port.subarray(0, 2)], [3, 3]);
  assert.deepEqual([...port.subarray(4, 8)], [0, 0, 0, 0]);
});

test('time exceeded: type 11, its code, the second word zero', () => {
  const out = emit({ kind: 'time-exceeded', code: 1, data: abcd });
  assert.deepEqual([...out.subarray(0, 2)], [11, 1]);
  assert.deepEqual([...out.subarray(4)], [0, 0, 0, 0, ...abcd]);
  assert.equal(checksum(out), 0);
  assert.deepEqual(parseIcmpv4(view(out)), { kind: 'time-exceeded', code: 1, data: abcd });
});

test('other types are kept opaque: type, code and the whole second word (high bit set) round-trip', () => {
  const out = emit({ kind: 'other', type: 13, code: 7, rest: 0x89abcdef, data: abcd });
  assert.deepEqual([...out.subarray(0, 2)], [13, 7]);
  assert.deepEqual([...out.subarray(4, 8)], [0x89, 0xab, 0xcd, 0xef]);
  assert.equal(checksum(out), 0);
  assert.deepEqual(parseIcmpv4(view(out)), { kind: 'other', type: 13, code: 7, rest: 0x89abcdef, data: abcd });
});

test('emit overwrites whatever the buffer held, writes only its own bytes, at an offset', () => {
  const r: Icmpv4Repr = { kind: 'echo-request', ident: 0x1234, seq: 1, data: abcd };
  const buf = new Uint8Array(3 + 12 + 2).fill(0xff);
  assert.equal(emitIcmpv4(r, buf, 3), 12);
  assert.deepEqual([...buf.subarray(3, 15)], [...emit(r)]);
  assert.deepEqual([...buf.subarray(0, 3), ...buf.subarray(15)], [0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(icmpv4Len(r), 12);
});

test('the 8-byte header is the minimum: 8 bytes check, 7 are truncated', () => {
  const hdr = emit({ kind: 'echo-request', ident: 1, seq: 2, data: new Uint8Array(0) });
  assert.equal(view(hdr).data().length, 0);
  assert.equal(Icmpv4View.checked(hdr.subarray(0, 7)), 'truncated');
  assert.equal(Icmpv4View.checked(new Uint8Array(0), false), 'truncated');
  const v = new Icmpv4View();
  assert.equal(v.check(hdr, true, 0, 7), 'truncated');
});

test('a corrupted message fails the checksum unless verification is off', () => {
  const out = emit({ kind: 'echo-request', ident: 0x1234, seq: 1, data: abcd });
  out[out.length - 1]! ^= 0x01;
  assert.equal(Icmpv4View.checked(out), 'checksum');
  assert.equal(new Icmpv4View().check(out), 'checksum');
  const v = view(out, false);
  assert.equal(v.seq, 1);
  assert.equal(new Icmpv4View().check(out, false), 'ok');
});

test('a view at buf[off..end) reads its own fields and data, and checks only that range', () => {
  const msg = emit({ kind: 'echo-reply', ident: 0x0102, seq: 0x0304, data: abcd });
  const buf = new Uint8Array(5 + msg.length + 3).fill(0x77);
  buf.set(msg, 5);
  const v = new Icmpv4View();
  assert.equal(v.check(buf, true, 5, 5 + msg.length), 'ok');
  assert.deepEqual([v.type, v.code, v.ident, v.seq, v.rest], [0, 0, 0x0102, 0x0304, 0x01020304]);
  assert.deepEqual([...v.data()], [...abcd]);
  assert.equal(v.check(buf, true, 5, 5 + msg.length - 1), 'checksum');
  assert.equal(v.check(buf, true, 5, 5 + ICMP_HEADER_LEN - 1), 'truncated');
});

test('parse copies the data: the repr does not change when the buffer is reused', () => {
  const out = emit({ kind: 'echo-request', ident: 1, seq: 2, data: abcd });
  const r = parseIcmpv4(view(out));
  out.fill(0, ICMP_HEADER_LEN);
  assert.deepEqual(r.data, abcd);
});

test('every repr round-trips through emit and parse', () => {
  const data = fc.uint8Array({ maxLength: 64 });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const u8 = fc.integer({ min: 0, max: 0xff });
  const repr: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
    fc.record({ kind: fc.constantFrom('echo-request' as const, 'echo-reply' as const), ident: u16, seq: u16, data }),
    fc.record({ kind: fc.constant('dest-unreachable' as const), code: u8, nextHopMtu: u16, data }),
    fc.record({ kind: fc.constant('time-exceeded' as const), code: u8, data }),
    fc.record({
      kind: fc.constant('other' as const),
      type: u8.filter((t) => ![0, 3, 8, 11].includes(t)),
      code: u8,
      rest: fc.integer({ min: 0, max: 0xffffffff }),
      data,
    }),
  );
  fc.assert(
    fc.property(repr, (r) => {
      const out = emit(r);
      assert.equal(checksum(out), 0);
      assert.deepEqual(parseIcmpv4(view(out)), { ...r });
    }),
  );
});
