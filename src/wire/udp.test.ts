/**
 * The UDP codec (RFC 768) byte by byte: the header and length field at the
 * edges of their bounds, the checksum over the IPv4 pseudo-header, zero as
 * "no checksum", a computed zero sent as 0xffff, and a datagram at an offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { put16 } from './bytes.ts';
import { emitUdp, parseUdp, UDP_HEADER_LEN, UdpView } from './udp.ts';

const SRC = 0x0a000001; // 10.0.0.1
const DST = 0x0a000002; // 10.0.0.2

const view = (b: Uint8Array, verify = true): UdpView => {
  const v = UdpView.checked(b, SRC, DST, verify);
  assert.ok(v instanceof UdpView, String(v));
  return v;
};
/** Header and payload emitted into a fresh buffer. */
const datagram = (srcPort: number, dstPort: number, payload: number[], src = SRC, dst = DST): Uint8Array => {
  const out = new Uint8Array(UDP_HEADER_LEN + payload.length);
  out.set(payload, UDP_HEADER_LEN);
  assert.equal(emitUdp({ srcPort, dstPort, payloadLen: payload.length }, src, dst, out), UDP_HEADER_LEN);
  return out;
};

test('emit: ports, length, and the checksum over pseudo-header, header and data (RFC 768)', () => {
  const out = datagram(0x1234, 53, [0x68, 0x69]);
  // 0a00+0001+0a00+0002+0011+000a (pseudo) + 1234+0035+000a (header) + 6869 = 0x8efa; ~ = 0x7105.
  assert.deepEqual([...out], [0x12, 0x34, 0x00, 0x35, 0x00, 0x0a, 0x71, 0x05, 0x68, 0x69]);
  const v = view(out);
  assert.deepEqual([v.srcPort, v.dstPort, v.length, v.checksum, v.payloadOff, v.payloadEnd], [0x1234, 53, 10, 0x7105, 8, 10]);
  assert.deepEqual(parseUdp(v), { srcPort: 0x1234, dstPort: 53, payloadLen: 2 });
  assert.deepEqual([...v.payload()], [0x68, 0x69]);
});

test('emit: a checksum that computes to zero is sent as 0xffff, and verifies', () => {
  const first = datagram(1, 2, [0, 0]);
  const c = (first[6]! << 8) | first[7]!;
  // Putting the first checksum into the data makes the full sum 0xffff, so the computed checksum is zero.
  const out = datagram(1, 2, [c >>> 8, c & 0xff]);
  assert.deepEqual([...out.subarray(6, 8)], [0xff, 0xff]);
  assert.ok(view(out) instanceof UdpView);
});

test('emit at an offset, over a buffer that held other bytes, computes over its own range', () => {
  const out = new Uint8Array(3 + 10 + 2).fill(0xcc);
  out.set([0x68, 0x69], 3 + 8);
  assert.equal(emitUdp({ srcPort: 0x1234, dstPort: 53, payloadLen: 2 }, SRC, DST, out, 3), 8);
  assert.deepEqual([...out.subarray(3, 13)], [0x12, 0x34, 0x00, 0x35, 0x00, 0x0a, 0x71, 0x05, 0x68, 0x69]);
  assert.deepEqual([...out.subarray(0, 3), ...out.subarray(13)], [0xcc, 0xcc, 0xcc, 0xcc, 0xcc]);
});

test('the checksum covers the pseudo-header: another source or destination address fails it', () => {
  const out = datagram(7, 9, [1, 2, 3]);
  assert.ok(view(out) instanceof UdpView);
  assert.equal(UdpView.checked(out, SRC + 1, DST), 'checksum');
  assert.equal(UdpView.checked(out, SRC, 0x0b000002), 'checksum');
  assert.equal(UdpView.checked(out, SRC, DST, false) instanceof UdpView, true);
});

test('a corrupted datagram fails the checksum unless verification is off', () => {
  const out = datagram(7, 9, [1, 2, 3]);
  out[9]! ^= 0x40;
  assert.equal(UdpView.checked(out, SRC, DST), 'checksum');
  assert.equal(new UdpView().check(out, SRC, DST), 'checksum');
  assert.equal(view(out, false).dstPort, 9);
  assert.equal(new UdpView().check(out, SRC, DST, false), 'ok');
});

test('a zero checksum means none was sent (RFC 768): accepted whatever the data', () => {
  const out = datagram(7, 9, [1, 2, 3]);
  put16(out, 6, 0);
  out[9]! ^= 0x40;
  const v = view(out);
  assert.equal(v.checksum, 0);
  assert.deepEqual([...v.payload()], [1, 0x42, 3]);
});

test('the header is 8 bytes: 8 check, 7 are truncated', () => {
  const hdr = datagram(1, 2, []);
  const v = view(hdr);
  assert.deepEqual([v.length, v.payload().length], [8, 0]);
  assert.deepEqual(parseUdp(v), { srcPort: 1, dstPort: 2, payloadLen: 0 });
  assert.equal(UdpView.checked(hdr.subarray(0, 7), SRC, DST), 'truncated');
  assert.equal(new UdpView().check(hdr, SRC, DST, true, 0, 7), 'truncated');
});

test('the length field: below 8 or beyond the buffer is an error, up to the buffer is fine, padding after it is ignored', () => {
  const out = datagram(1, 2, [5, 6, 7, 8]);
  for (const len of [0, 7]) {
    const b = out.slice();
    put16(b, 4, len);
    assert.equal(UdpView.checked(b, SRC, DST, false), 'length', `length ${len}`);
  }
  const long = out.slice();
  put16(long, 4, 13);
  assert.equal(UdpView.checked(long, SRC, DST, false), 'length');
  const short = out.slice();
  put16(short, 4, 8);
  const h = view(short, false);
  assert.deepEqual([h.length, h.payloadEnd, h.payload().length], [8, 8, 0]);
  const padded = new Uint8Array(out.length + 6);
  padded.set(out);
  const p = view(padded);
  assert.deepEqual([p.length, p.payloadEnd, [...p.payload()]], [12, 12, [5, 6, 7, 8]]);
  assert.deepEqual(parseUdp(p), { srcPort: 1, dstPort: 2, payloadLen: 4 });
});

test('a datagram at buf[off..end) is checked and read within that range', () => {
  const d = datagram(0x8001, 0xfffe, [9, 8, 7]);
  const buf = new Uint8Array(6 + d.length + 4).fill(0x11);
  buf.set(d, 6);
  const v = new UdpView();
  assert.equal(v.check(buf, SRC, DST, true, 6, 6 + d.length), 'ok');
  assert.deepEqual([v.srcPort, v.dstPort, v.length, v.payloadOff, v.payloadEnd], [0x8001, 0xfffe, 11, 14, 17]);
  assert.deepEqual([...v.payload()], [9, 8, 7]);
  assert.equal(v.check(buf, SRC, DST, true, 6, 6 + d.length - 1), 'length');
  assert.equal(v.check(buf, SRC, DST, true, 6, 6 + 7), 'truncated');
});

test('every datagram round-trips and verifies, for any addresses (high bits set too)', () => {
  const addr = fc.integer({ min: 0, max: 0xffffffff });
  const port = fc.integer({ min: 0, max: 0xffff });
  fc.assert(
    fc.property(addr, addr, port, port, fc.uint8Array({ maxLength: 40 }), (src, dst, sp, dp, data) => {
      const out = datagram(sp, dp, [...data], src, dst);
      assert.notEqual((out[6]! << 8) | out[7]!, 0);
      const v = UdpView.checked(out, src, dst);
      assert.ok(v instanceof UdpView, String(v));
      assert.deepEqual(parseUdp(v), { srcPort: sp, dstPort: dp, payloadLen: data.length });
      assert.deepEqual(v.payload(), data);
    }),
  );
});
