/**
 * Ethernet II framing (IEEE 802.3 §3.2.6) and the 802.1Q / 802.1ad tag
 * (IEEE 802.1Q §9.6) byte by byte: the header bounds at their edges, every
 * tag field at its bits, the group bit, broadcast, MAC keys, the payload
 * range, and emit to exact bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  emitEthernet,
  ETHERNET_HEADER_LEN,
  ethernetHeaderLen,
  type EthernetRepr,
  EthernetView,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  macKey,
  parseEthernet,
  VLAN_TAG_LEN,
} from './ethernet.ts';

const DST = Uint8Array.of(0x02, 0x11, 0x22, 0x33, 0x44, 0x55);
const SRC = Uint8Array.of(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef);

const view = (b: Uint8Array): EthernetView => {
  const v = EthernetView.checked(b);
  assert.ok(v instanceof EthernetView, String(v));
  return v;
};
/** A frame: dst, src, then `rest` (type, tag, payload). */
const frame = (dst: Uint8Array, src: Uint8Array, ...rest: number[]): Uint8Array => Uint8Array.of(...dst, ...src, ...rest);

test('EtherType and header constants are the IEEE / IANA numbers', () => {
  assert.deepEqual(
    [ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_IPV6, ETHERNET_HEADER_LEN, VLAN_TAG_LEN],
    [0x0800, 0x0806, 0x8100, 0x88a8, 0x86dd, 14, 4],
  );
});

test('untagged: 14 bytes are a header, 13 are truncated; the type is bytes 12-13 and the payload follows', () => {
  const f = frame(DST, SRC, 0x08, 0x06, 0xde, 0xad);
  const v = view(f);
  assert.deepEqual([v.tagged, v.headerLen, v.ethertype, v.payloadOff], [false, 14, ETHERTYPE_ARP, 14]);
  assert.deepEqual([...v.payload()], [0xde, 0xad]);
  assert.equal(view(f.subarray(0, 14)).payload().length, 0);
  assert.equal(EthernetView.checked(f.subarray(0, 13)), 'truncated');
  assert.equal(EthernetView.checked(new Uint8Array(0)), 'truncated');
});

test('untagged: no VLAN fields, whatever byte 14 holds', () => {
  const v = view(frame(DST, SRC, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff));
  assert.deepEqual([v.tagged, v.vid, v.pcp, v.dei], [false, -1, 0, false]);
  assert.deepEqual(parseEthernet(v), { dst: DST, src: SRC, ethertype: ETHERTYPE_IPV4 });
  assert.equal('vlan' in parseEthernet(v), false);
});

test('802.1Q and 802.1ad tags: 18 bytes are a header, 17 are truncated', () => {
  for (const tpid of [ETHERTYPE_VLAN, ETHERTYPE_QINQ]) {
    const f = frame(DST, SRC, tpid >>> 8, tpid & 0xff, 0x00, 0x05, 0x86, 0xdd, 0x60);
    const v = view(f);
    assert.deepEqual([v.tagged, v.headerLen, v.ethertype, v.vid, v.payloadOff], [true, 18, ETHERTYPE_IPV6, 5, 18]);
    assert.deepEqual([...v.payload()], [0x60]);
    assert.ok(EthernetView.checked(f.subarray(0, 18)) instanceof EthernetView);
    assert.equal(EthernetView.checked(f.subarray(0, 17)), 'truncated');
    assert.equal(EthernetView.checked(f.subarray(0, 14)), 'truncated');
  }
});

test('the tag control information: PCP is the top 3 bits, DEI the next, VID the low 12', () => {
  const cases: [number, number, number, boolean, number][] = [
    // TCI bytes, pcp, dei, vid
    [0xff, 0xff, 7, true, 0xfff],
    [0xe0, 0x00, 7, false, 0],
    [0x10, 0x00, 0, true, 0],
    [0x0f, 0xff, 0, false, 0xfff],
    [0xa1, 0x23, 5, false, 0x123],
  ];
  for (const [hi, lo, pcp, dei, vid] of cases) {
    const v = view(frame(DST, SRC, 0x81, 0x00, hi, lo, 0x08, 0x00));
    assert.deepEqual([v.pcp, v.dei, v.vid], [pcp, dei, vid], `TCI ${hi.toString(16)}${lo.toString(16)}`);
    assert.deepEqual(parseEthernet(v), { dst: DST, src: SRC, ethertype: ETHERTYPE_IPV4, vlan: { pcp, dei, vid } });
  }
});

test('a frame at buf[off..end): the bounds, fields and payload are its own', () => {
  const f = frame(DST, SRC, 0x08, 0x00, 1, 2, 3);
  const buf = new Uint8Array(4 + f.length + 4).fill(0xee);
  buf.set(f, 4);
  const v = new EthernetView();
  assert.equal(v.check(buf, 4, 4 + f.length), 'ok');
  assert.deepEqual([v.ethertype, v.payloadOff], [ETHERTYPE_IPV4, 18]);
  assert.deepEqual([...v.payload()], [1, 2, 3]);
  assert.ok(v.dstEquals(DST));
  assert.equal(v.srcKey(), 0x525400abcdef);
  assert.deepEqual(parseEthernet(v), { dst: DST, src: SRC, ethertype: ETHERTYPE_IPV4 });
  assert.equal(v.check(buf, 4, 4 + 13), 'truncated');
  const tagged = frame(DST, SRC, 0x81, 0x00, 0x00, 0x07, 0x08, 0x06);
  buf.set(tagged, 4);
  assert.equal(v.check(buf, 4, 4 + 17), 'truncated');
  assert.equal(v.check(buf, 4, 4 + 18), 'ok');
  assert.deepEqual([v.vid, v.ethertype, v.payloadOff], [7, ETHERTYPE_ARP, 22]);
});

test('a view re-pointed from a tagged frame to an untagged one drops the tag', () => {
  const v = new EthernetView();
  assert.equal(v.check(frame(DST, SRC, 0x81, 0x00, 0x20, 0x07, 0x08, 0x06)), 'ok');
  assert.equal(v.tagged, true);
  assert.equal(v.check(frame(DST, SRC, 0x08, 0x06, 0x20, 0x07)), 'ok');
  assert.deepEqual([v.tagged, v.headerLen, v.ethertype, v.vid], [false, 14, ETHERTYPE_ARP, -1]);
});

test('destination: equality, broadcast only when all six bytes are 0xff, group bit is bit 0 of the first byte', () => {
  const bc = view(frame(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), SRC, 0x08, 0x00));
  assert.deepEqual([bc.dstIsBroadcast(), bc.dstIsGroup(), bc.srcIsGroup()], [true, true, false]);
  for (let i = 0; i < 6; i++) {
    const d = new Uint8Array(6).fill(0xff);
    d[i] = 0xfe;
    assert.equal(view(frame(d, SRC, 0x08, 0x00)).dstIsBroadcast(), false, `byte ${i}`);
  }
  const mc = view(frame(Uint8Array.of(0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb), Uint8Array.of(0x03, 0, 0, 0, 0, 1), 0x08, 0x00));
  assert.deepEqual([mc.dstIsBroadcast(), mc.dstIsGroup(), mc.srcIsGroup()], [false, true, true]);
  const uc = view(frame(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0xfe, 0, 0, 0, 0, 1), 0x08, 0x00));
  assert.deepEqual([uc.dstIsBroadcast(), uc.dstIsGroup(), uc.srcIsGroup()], [false, false, false]);
  assert.equal(uc.dstEquals(Uint8Array.of(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff)), true);
  assert.equal(uc.dstEquals(DST), false);
});

test('MAC keys are the 48-bit big-endian number, exact with every bit set', () => {
  assert.equal(macKey(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 0xffffffffffff);
  assert.equal(macKey(Uint8Array.of(0x80, 0, 0, 0, 0, 0)), 0x800000000000);
  assert.equal(macKey(Uint8Array.of(0, 0x80, 0, 0, 0, 0)), 0x008000000000);
  assert.equal(macKey(Uint8Array.of(0, 0, 0x80, 0, 0, 0)), 0x000080000000);
  assert.equal(macKey(Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc)), 0x123456789abc);
  assert.equal(macKey(Uint8Array.of(9, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc), 1), 0x123456789abc);
  const v = view(frame(DST, SRC, 0x08, 0x00));
  assert.deepEqual([v.dstKey(), v.srcKey()], [0x021122334455, 0x525400abcdef]);
});

test('parse copies the addresses: the repr does not change when the frame buffer is reused', () => {
  const f = frame(DST, SRC, 0x08, 0x00);
  const r = parseEthernet(view(f));
  f.fill(0);
  assert.deepEqual([r.dst, r.src], [DST, SRC]);
});

test('emit untagged: dst, src, type; 14 bytes', () => {
  const out = new Uint8Array(16).fill(0xaa);
  const r: EthernetRepr = { dst: DST, src: SRC, ethertype: ETHERTYPE_IPV6 };
  assert.equal(emitEthernet(r, out), 14);
  assert.equal(ethernetHeaderLen(r), 14);
  assert.deepEqual([...out], [...DST, ...SRC, 0x86, 0xdd, 0xaa, 0xaa]);
});

test('emit tagged: TPID 0x8100, then PCP/DEI/VID, then the inner type; 18 bytes', () => {
  const out = new Uint8Array(18);
  const r: EthernetRepr = { dst: DST, src: SRC, ethertype: ETHERTYPE_ARP, vlan: { pcp: 7, dei: false, vid: 0xfff } };
  assert.equal(emitEthernet(r, out), 18);
  assert.equal(ethernetHeaderLen(r), 18);
  assert.deepEqual([...out.subarray(12)], [0x81, 0x00, 0xef, 0xff, 0x08, 0x06]);
  emitEthernet({ ...r, vlan: { pcp: 0, dei: true, vid: 0 } }, out);
  assert.deepEqual([...out.subarray(14, 16)], [0x10, 0x00]);
  emitEthernet({ ...r, vlan: { pcp: 1, dei: false, vid: 0x123 } }, out);
  assert.deepEqual([...out.subarray(14, 16)], [0x21, 0x23]);
});

test('emit tagged: an out-of-range PCP or VID cannot spill into the neighbouring fields', () => {
  const out = new Uint8Array(18);
  emitEthernet({ dst: DST, src: SRC, ethertype: ETHERTYPE_IPV4, vlan: { pcp: 8 + 2, dei: false, vid: 0x1000 + 5 } }, out);
  assert.deepEqual([...out.subarray(12)], [0x81, 0x00, 0x40, 0x05, 0x08, 0x00]);
});

test('emit takes six bytes of each address', () => {
  const out = new Uint8Array(14);
  emitEthernet({ dst: Uint8Array.of(...DST, 0x99), src: Uint8Array.of(...SRC, 0x99), ethertype: ETHERTYPE_IPV4 }, out);
  assert.deepEqual([...out], [...DST, ...SRC, 0x08, 0x00]);
});

test('every repr round-trips through emit and parse', () => {
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
  const type = fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ);
  const vlan = fc.record({ pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean(), vid: fc.integer({ min: 0, max: 0xfff }) });
  fc.assert(
    fc.property(mac, mac, type, fc.option(vlan, { nil: undefined }), (dst, src, ethertype, tag) => {
      const r: EthernetRepr = tag ? { dst, src, ethertype, vlan: { ...tag } } : { dst, src, ethertype };
      const out = new Uint8Array(ethernetHeaderLen(r));
      emitEthernet(r, out);
      assert.deepEqual(parseEthernet(view(out)), r);
    }),
  );
});
