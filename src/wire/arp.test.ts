/**
 * ARP for IPv4 over Ethernet (RFC 826) byte by byte: the 28-byte packet
 * emitted to its exact bytes, each of the four fixed fields checked on its
 * own, the length bound at its edge, and a packet at an offset inside a
 * larger buffer (as the stack reads it, after the Ethernet header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, type ArpRepr, ArpView, emitArp, parseArp } from './arp.ts';

const REQ: ArpRepr = {
  operation: ARP_REQUEST,
  senderMac: Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x01),
  senderIp: 0x0a000001,
  targetMac: new Uint8Array(6),
  targetIp: 0xc0a80102,
};
const BYTES = [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 192, 168, 1, 2];

test('emit: htype 1, ptype 0x0800, hlen 6, plen 4, the operation, then sender and target MAC and IPv4', () => {
  assert.deepEqual([ARP_LEN, ARP_REQUEST, ARP_REPLY], [28, 1, 2]);
  const out = new Uint8Array(28).fill(0xff);
  assert.equal(emitArp(REQ, out), 28);
  assert.deepEqual([...out], BYTES);
});

test('parse: every field, the addresses copied out of the packet', () => {
  const b = Uint8Array.from(BYTES);
  b.set([0x02, 0, 0, 0, 0, 0x09], 18);
  const v = ArpView.checked(b);
  assert.ok(v instanceof ArpView, String(v));
  const r = parseArp(v);
  assert.deepEqual(r, { ...REQ, targetMac: Uint8Array.of(0x02, 0, 0, 0, 0, 0x09) });
  b.fill(0);
  assert.deepEqual([r.senderMac, r.targetMac], [REQ.senderMac, Uint8Array.of(0x02, 0, 0, 0, 0, 0x09)]);
});

test('check: 28 bytes at least; each of htype, ptype, hlen and plen must be Ethernet/IPv4', () => {
  const b = Uint8Array.from(BYTES);
  assert.equal(ArpView.checked(b.subarray(0, 27)), 'truncated');
  for (const [at, x] of [
    [0, 1],
    [1, 6],
    [2, 0x86],
    [3, 0xdd],
    [4, 8],
    [5, 16],
  ] as const) {
    const c = b.slice();
    c[at] = x;
    assert.equal(ArpView.checked(c), 'unsupported', `byte ${at} = ${x}`);
  }
});

test('a packet at buf[off..end): checked within that range, its addresses and offsets its own', () => {
  const buf = new Uint8Array(14 + 28 + 4).fill(0xee);
  buf.set(BYTES, 14);
  buf[14 + 7] = ARP_REPLY;
  const v = new ArpView();
  assert.equal(v.check(buf, 14, 14 + 28), 'ok');
  assert.deepEqual([v.operation, v.senderIp, v.targetIp, v.senderMacAt], [ARP_REPLY, 0x0a000001, 0xc0a80102, 22]);
  assert.deepEqual(v.senderMac(), REQ.senderMac);
  assert.deepEqual(v.targetMac(), new Uint8Array(6));
  assert.equal(v.check(buf, 14, 14 + 27), 'truncated');
  assert.equal(v.check(buf, 16, buf.length), 'unsupported');
});
