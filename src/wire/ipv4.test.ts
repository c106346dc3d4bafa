/**
 * The IPv4 header codec (RFC 791) byte by byte: emit to exact bytes and
 * header checksum, every field at its bits, each check at the edge of its
 * bound, a datagram at an offset; and the address helpers (dotted quads,
 * prefixes, multicast, masks) at their edges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { put16 } from './bytes.ts';
import { checksum, onesSum } from './checksum.ts';
import {
  addressSum,
  emitIpv4,
  formatIpv4Address,
  IPV4_MIN_HEADER_LEN,
  type Ipv4Repr,
  Ipv4View,
  isMulticast,
  parseIpv4,
  parseIpv4Address,
  parseIpv4Cidr,
  prefixMask,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  sameSubnet,
} from './ipv4.ts';

/** The header commonly used to illustrate the checksum: 192.168.0.1 → 192.168.0.199, UDP, DF, TTL 64. */
const EXAMPLE = Uint8Array.of(
  0x45,
  0x00,
  0x00,
  0x73,
  0x00,
  0x00,
  0x40,
  0x00,
  0x40,
  0x11,
  0xb8,
  0x61,
  0xc0,
  0xa8,
  0x00,
  0x01,
  0xc0,
  0xa8,
  0x00,
  0xc7,
);
const EXAMPLE_REPR: Ipv4Repr = {
  src: 0xc0a80001,
  dst: 0xc0a800c7,
  protocol: PROTO_UDP,
  ttl: 64,
  tos: 0,
  ident: 0,
  dontFragment: true,
  moreFragments: false,
  fragOffset: 0,
  payloadLen: 0x73 - 20,
};

const view = (b: Uint8Array, verify = true): Ipv4View => {
  const v = Ipv4View.checked(b, verify);
  assert.ok(v instanceof Ipv4View, String(v));
  return v;
};
/** A header (from `r`) followed by `r.payloadLen` bytes of 0x5a. */
const datagram = (r: Ipv4Repr): Uint8Array => {
  const out = new Uint8Array(20 + r.payloadLen).fill(0x5a);
  assert.equal(emitIpv4(r, out), 20);
  return out;
};
/** `b` with byte `i` set to `x` and the header checksum redone. */
const patched = (b: Uint8Array, i: number, x: number, hl = 20): Uint8Array => {
  const c = b.slice();
  c[i] = x;
  put16(c, 10, 0);
  put16(c, 10, checksum(c, 0, hl));
  return c;
};

test('protocol numbers and the minimum header are RFC 790 / RFC 791 numbers', () => {
  assert.deepEqual([PROTO_ICMP, PROTO_TCP, PROTO_UDP, IPV4_MIN_HEADER_LEN], [1, 6, 17, 20]);
});

test('emit: the example header to its exact bytes and checksum 0xb861', () => {
  const out = new Uint8Array(20).fill(0xff);
  assert.equal(emitIpv4(EXAMPLE_REPR, out), 20);
  assert.deepEqual([...out], [...EXAMPLE]);
});

test('parse: the example header to its fields', () => {
  const b = new Uint8Array(0x73);
  b.set(EXAMPLE);
  const v = view(b);
  assert.deepEqual(parseIpv4(v), EXAMPLE_REPR);
  assert.deepEqual(
    [v.headerLen, v.totalLen, v.headerChecksum, v.payloadOff, v.payloadEnd, v.payloadLen],
    [20, 0x73, 0xb861, 20, 0x73, 0x73 - 20],
  );
  assert.equal(v.isFragment, false, 'DF alone is not a fragment');
  assert.equal(v.checksumVerified, false);
  assert.deepEqual(v.header(), EXAMPLE);
});

test('emit: every optional field defaults to zero; TOS, identification, flags and offset land at their bits', () => {
  const plain = datagram({ src: 1, dst: 2, protocol: PROTO_TCP, ttl: 1, payloadLen: 0 });
  assert.deepEqual([...plain.subarray(0, 10)], [0x45, 0, 0, 20, 0, 0, 0, 0, 1, 6]);
  const r: Ipv4Repr = {
    src: 0xfffffffe,
    dst: 0x80000001,
    protocol: 0xff,
    ttl: 0xff,
    tos: 0xb8,
    ident: 0xbeef,
    dontFragment: false,
    moreFragments: true,
    fragOffset: 0x1fff * 8,
    payloadLen: 4,
  };
  const out = datagram(r);
  assert.deepEqual([...out.subarray(0, 10)], [0x45, 0xb8, 0, 24, 0xbe, 0xef, 0x3f, 0xff, 0xff, 0xff]);
  assert.deepEqual([...out.subarray(12, 20)], [0xff, 0xff, 0xff, 0xfe, 0x80, 0, 0, 1]);
  assert.equal(checksum(out, 0, 20), 0);
  const v = view(out);
  assert.deepEqual(parseIpv4(v), r);
  assert.deepEqual([v.moreFragments, v.dontFragment, v.isFragment, v.fragOffset], [true, false, true, 65528]);
  const df = datagram({ ...r, dontFragment: true, moreFragments: false, fragOffset: 8 });
  assert.deepEqual([...df.subarray(6, 8)], [0x40, 0x01]);
  assert.deepEqual([view(df).isFragment, view(df).fragOffset], [true, 8]);
});

test('emit: the fragment offset is in 8-byte units and cannot spill into the flags', () => {
  const out = datagram({ src: 1, dst: 2, protocol: 17, ttl: 1, fragOffset: 0x10000 + 16, payloadLen: 0 });
  assert.deepEqual([...out.subarray(6, 8)], [0x00, 0x02]);
});

test('emit at an offset writes 20 bytes there and nothing else', () => {
  const out = new Uint8Array(2 + 20 + 2).fill(0xee);
  assert.equal(emitIpv4(EXAMPLE_REPR, out, 2), 20);
  assert.deepEqual([...out.subarray(2, 22)], [...EXAMPLE]);
  assert.deepEqual([...out.subarray(0, 2), ...out.subarray(22)], [0xee, 0xee, 0xee, 0xee]);
});

test('check: 20 bytes are the minimum, 19 are truncated', () => {
  const h = datagram({ src: 1, dst: 2, protocol: 17, ttl: 1, payloadLen: 0 });
  const v = view(h);
  assert.deepEqual([v.payloadLen, v.payload().length], [0, 0]);
  assert.equal(Ipv4View.checked(h.subarray(0, 19)), 'truncated');
  assert.equal(new Ipv4View().check(h, true, 0, 19), 'truncated');
});

test('check: only version 4', () => {
  const h = datagram({ src: 1, dst: 2, protocol: 17, ttl: 1, payloadLen: 0 });
  for (const vi of [0x35, 0x55, 0x65, 0x05, 0xc5]) assert.equal(Ipv4View.checked(patched(h, 0, vi)), 'version', vi.toString(16));
});

test('check: IHL below 5 is an error; the total length must cover the header and fit the buffer', () => {
  const h = datagram({ src: 1, dst: 2, protocol: 17, ttl: 1, payloadLen: 4 });
  assert.equal(Ipv4View.checked(patched(h, 0, 0x44)), 'header-length');
  assert.equal(Ipv4View.checked(patched(h, 0, 0x40), false), 'header-length');
  assert.equal(Ipv4View.checked(patched(h, 3, 19)), 'header-length');
  assert.equal(view(patched(h, 3, 20)).payloadLen, 0);
  assert.equal(Ipv4View.checked(patched(h, 3, 25)), 'total-length');
  assert.equal(view(patched(h, 3, 24)).payloadLen, 4);
  assert.equal(Ipv4View.checked(h.subarray(0, 23)), 'total-length');
  // IHL 6 needs a total length of at least 24.
  const six = new Uint8Array(24);
  six.set(h.subarray(0, 20));
  const withOpt = patched(patched(six, 0, 0x46, 24), 3, 23, 24);
  assert.equal(Ipv4View.checked(withOpt), 'header-length');
  const ok = patched(withOpt, 3, 24, 24);
  assert.deepEqual([view(ok).headerLen, view(ok).payloadLen, view(ok).header().length], [24, 0, 24]);
});

test('check: the header checksum covers the options too, and verification can be turned off', () => {
  const h = datagram({ src: 1, dst: 2, protocol: 17, ttl: 1, payloadLen: 4 });
  const bad = h.slice();
  bad[8]! ^= 1;
  assert.equal(Ipv4View.checked(bad), 'checksum');
  assert.equal(new Ipv4View().check(bad), 'checksum');
  assert.equal(view(bad, false).ttl, 0);
  const payloadChanged = h.slice();
  payloadChanged[23] = 0;
  assert.ok(view(payloadChanged) instanceof Ipv4View, 'the payload is not covered');
  const six = new Uint8Array(28);
  six.set(h);
  const opt = patched(patched(six, 0, 0x46, 24), 3, 28, 24);
  assert.ok(view(opt) instanceof Ipv4View);
  const badOpt = opt.slice();
  badOpt[21] = 1;
  assert.equal(Ipv4View.checked(badOpt), 'checksum');
});

test('a datagram at buf[off..end): checked and read within that range, padding ignored', () => {
  const d = datagram({ src: 0x0a000001, dst: 0x0a000002, protocol: 1, ttl: 9, ident: 7, payloadLen: 3 });
  const buf = new Uint8Array(5 + d.length + 6).fill(0x33);
  buf.set(d, 5);
  const v = new Ipv4View();
  assert.equal(v.check(buf, true, 5, buf.length), 'ok');
  assert.deepEqual([v.src, v.dst, v.protocol, v.ttl, v.ident, v.payloadOff, v.payloadEnd], [0x0a000001, 0x0a000002, 1, 9, 7, 25, 28]);
  assert.deepEqual([...v.payload()], [0x5a, 0x5a, 0x5a]);
  assert.deepEqual(v.header(), d.subarray(0, 20));
  assert.equal(v.check(buf, true, 5, 5 + d.length - 1), 'total-length');
  assert.equal(v.check(buf, true, 5, 5 + 19), 'truncated');
  assert.equal(addressSum(buf, 5), onesSum(d, 12, 20));
  assert.equal(addressSum(d), 0x0a00 + 0x0001 + 0x0a00 + 0x0002);
});

test('dotted-quad addresses: exactly four decimal octets 0-255, no leading zeros, nothing around them', () => {
  assert.equal(parseIpv4Address('0.0.0.0'), 0);
  assert.equal(parseIpv4Address('1.2.3.4'), 0x01020304);
  assert.equal(parseIpv4Address('192.168.100.255'), 0xc0a864ff);
  assert.equal(parseIpv4Address('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4Address('10.0.0.0'), 0x0a000000);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.256', '256.1.1.1', '1.2.3.1000', '1.02.3.4', '1.2.3.00', '00.1.2.3']) {
    assert.equal(parseIpv4Address(bad), undefined, bad);
  }
  for (const bad of [' 1.2.3.4', '1.2.3.4 ', 'x1.2.3.4', '1.2.3.4x', '1..3.4', '1.2.3.-4', '1,2,3,4', '1.2.3.4/8']) {
    assert.equal(parseIpv4Address(bad), undefined, bad);
  }
  assert.equal(formatIpv4Address(0xc0a864ff), '192.168.100.255');
  assert.equal(formatIpv4Address(0xffffffff), '255.255.255.255');
  assert.equal(formatIpv4Address(0x01020304), '1.2.3.4');
});

test('addresses round-trip through format and parse', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => {
      assert.equal(parseIpv4Address(formatIpv4Address(a)), a);
    }),
  );
});

test('CIDR prefixes: an address, one slash, a length 0-32', () => {
  assert.deepEqual(parseIpv4Cidr('10.0.0.2/24'), { address: 0x0a000002, prefixLen: 24 });
  assert.deepEqual(parseIpv4Cidr('0.0.0.0/0'), { address: 0, prefixLen: 0 });
  assert.deepEqual(parseIpv4Cidr('255.255.255.255/32'), { address: 0xffffffff, prefixLen: 32 });
  assert.deepEqual(parseIpv4Cidr('1.2.3.4/9'), { address: 0x01020304, prefixLen: 9 });
  for (const bad of [
    '10.0.0.2',
    '10.0.0.2/',
    '10.0.0.2/33',
    '10.0.0.2/100',
    '10.0.0.256/24',
    '10.0.0/24',
    '/24',
    '10.0.0.2/24/1',
    '10.0.0.2/2x',
    'a/8',
    'x/10.0.0.2/24',
    '/10.0.0.2/24',
  ]) {
    assert.equal(parseIpv4Cidr(bad), undefined, bad);
  }
});

test('multicast is exactly 224.0.0.0/4 (RFC 5771)', () => {
  for (const a of ['224.0.0.0', '224.0.0.251', '239.255.255.255']) assert.equal(isMulticast(parseIpv4Address(a)!), true, a);
  for (const a of ['223.255.255.255', '240.0.0.0', '255.255.255.255', '0.0.0.0', '10.0.0.1'])
    assert.equal(isMulticast(parseIpv4Address(a)!), false, a);
});

test('prefix masks: /0 is empty, /32 is all ones, unsigned', () => {
  assert.equal(prefixMask(0), 0);
  assert.equal(prefixMask(1), 0x80000000);
  assert.equal(prefixMask(8), 0xff000000);
  assert.equal(prefixMask(24), 0xffffff00);
  assert.equal(prefixMask(31), 0xfffffffe);
  assert.equal(prefixMask(32), 0xffffffff);
});

test('same subnet: compares the masked bits only, with the high bit set too', () => {
  assert.equal(sameSubnet(0x0a000001, 0x0a0000fe, 24), true);
  assert.equal(sameSubnet(0x0a000001, 0x0a000101, 24), false);
  assert.equal(sameSubnet(0x0a000001, 0x0a000101, 23), true);
  assert.equal(sameSubnet(0xc0a80001, 0xc0a800ff, 24), true);
  assert.equal(sameSubnet(0xc0a80001, 0x40a80001, 1), false);
  assert.equal(sameSubnet(0xc0a80001, 0x40a80001, 0), true);
  assert.equal(sameSubnet(0xc0a80001, 0xc0a80001, 32), true);
  assert.equal(sameSubnet(0xc0a80001, 0xc0a80000, 32), false);
});
