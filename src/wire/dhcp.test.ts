/**
 * The DHCPv4 codec byte by byte (RFC 2131 §2, RFC 2132, RFC 3396 long
 * options, option overload): every fixed field at its offset, the limits
 * of each check, and the option accessors at their edges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DHCP,
  decodeDhcp,
  type DhcpMessage,
  encodeDhcp,
  encodeOpt,
  messageType,
  OPT,
  optAddress,
  optAddresses,
  optText,
  optU32,
} from './dhcp.ts';

const CHADDR = Uint8Array.of(2, 0, 0, 0, 0, 0x42);

function message(options: [number, Uint8Array][], over: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: 1,
    xid: 0x11223344,
    secs: 0x0506,
    broadcast: true,
    ciaddr: 0x0a000001,
    yiaddr: 0x0a000002,
    siaddr: 0x0a000003,
    giaddr: 0x0a000004,
    chaddr: CHADDR,
    options: new Map(options),
    ...over,
  };
}

const u32At = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at);

test('encode: every fixed field at its RFC 2131 offset, the magic cookie, message type first, END, at least 300 bytes', () => {
  const b = encodeDhcp(
    message([
      [OPT.HOSTNAME, encodeOpt.text('fata')],
      [OPT.MESSAGE_TYPE, encodeOpt.u8(DHCP.DISCOVER)],
    ]),
  );
  assert.equal(b.length, 300);
  assert.deepEqual([...b.subarray(0, 4)], [1, 1, 6, 0], 'op, htype, hlen, hops');
  assert.equal(u32At(b, 4), 0x11223344, 'xid');
  assert.deepEqual([...b.subarray(8, 12)], [0x05, 0x06, 0x80, 0x00], 'secs, then the broadcast flag');
  assert.deepEqual(
    [12, 16, 20, 24].map((at) => u32At(b, at)),
    [0x0a000001, 0x0a000002, 0x0a000003, 0x0a000004],
  );
  assert.deepEqual([...b.subarray(28, 34)], [...CHADDR]);
  assert.equal(u32At(b, 236), 0x63825363, 'magic cookie');
  assert.deepEqual([...b.subarray(240, 243)], [OPT.MESSAGE_TYPE, 1, DHCP.DISCOVER], 'message type first');
  assert.deepEqual([...b.subarray(243, 249)], [OPT.HOSTNAME, 4, 0x66, 0x61, 0x74, 0x61]);
  assert.equal(b[249], OPT.END);
  assert.deepEqual([...encodeDhcp(message([], { broadcast: false })).subarray(10, 12)], [0, 0], 'no broadcast flag');
});

test('round trip: what is encoded decodes to the same message; a 600-byte option is split in 255s and joined again (RFC 3396)', () => {
  const long = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
  const m = message([
    [OPT.MESSAGE_TYPE, encodeOpt.u8(DHCP.REQUEST)],
    [OPT.DNS, encodeOpt.addrs([1, 2, 3])],
    [224, long],
  ]);
  const b = encodeDhcp(m);
  assert.ok(b.length > 240 + 600, `${b.length} bytes`);
  const d = decodeDhcp(b);
  assert.ok(typeof d !== 'string', String(d));
  assert.deepEqual({ ...d, options: [...d.options] }, { ...m, chaddr: m.chaddr, options: [...m.options] });
  const pieces = [];
  for (let at = 240; b[at] !== OPT.END; at += 2 + b[at + 1]!) if (b[at] === 224) pieces.push(b[at + 1]);
  assert.deepEqual(pieces, [255, 255, 90]);
});

test('decode: each malformed message says what is wrong, and nothing throws', () => {
  const good = encodeDhcp(message([[OPT.MESSAGE_TYPE, encodeOpt.u8(DHCP.DISCOVER)]]));
  const change = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = good.slice();
    f(b);
    return b;
  };
  assert.match(decodeDhcp(good.subarray(0, 239)) as string, /shorter than 240/);
  assert.equal(typeof decodeDhcp(good.subarray(0, 240)), 'object', 'the cookie and no options is a message');
  for (const op of [0, 3, 255]) assert.match(decodeDhcp(change((b) => (b[0] = op))) as string, /neither request nor reply/);
  assert.equal((decodeDhcp(change((b) => (b[0] = 2))) as DhcpMessage).op, 2);
  assert.match(decodeDhcp(change((b) => (b[1] = 6))) as string, /not Ethernet/);
  assert.match(decodeDhcp(change((b) => (b[2] = 16))) as string, /not Ethernet/);
  assert.match(decodeDhcp(change((b) => (b[239] = 0))) as string, /magic cookie/);
  // An option whose length runs past the end, by one byte and at the very end.
  const past = new Uint8Array(244);
  past.set(good.subarray(0, 240));
  past.set([OPT.HOSTNAME, 3, 0x61, 0x62], 240);
  assert.match(decodeDhcp(past) as string, /runs past/);
  past[241] = 2;
  assert.equal(optText(decodeDhcp(past) as DhcpMessage, OPT.HOSTNAME), 'ab', 'exactly to the end is fine');
  assert.match(decodeDhcp(Uint8Array.of(...good.subarray(0, 240), OPT.HOSTNAME)) as string, /runs past/, 'a code with no length');
});

test('decode: PAD is skipped, END ends the options, and what follows END is ignored', () => {
  const b = new Uint8Array(300);
  b.set(encodeDhcp(message([])).subarray(0, 240));
  b.set([OPT.PAD, OPT.PAD, OPT.MESSAGE_TYPE, 1, DHCP.OFFER, OPT.END, OPT.HOSTNAME, 200], 240);
  const d = decodeDhcp(b) as DhcpMessage;
  assert.equal(messageType(d), DHCP.OFFER);
  assert.equal(d.options.has(OPT.HOSTNAME), false);
  assert.equal(d.options.has(OPT.PAD), false);
});

test('decode: option overload (52) reads options from the file field (1), the sname field (2) or both (3), and checks them', () => {
  const base = encodeDhcp(message([])).subarray(0, 240);
  const build = (overload: number, file: number[], sname: number[]): Uint8Array => {
    const b = new Uint8Array(300);
    b.set(base);
    b.set(file, 108);
    b.set(sname, 44);
    b.set([OPT.OVERLOAD, 1, overload, OPT.END], 240);
    return b;
  };
  const inFile = [OPT.HOSTNAME, 1, 0x66, OPT.END];
  const inSname = [OPT.DOMAIN, 1, 0x73, OPT.END];
  for (const [overload, host, domain] of [
    [0, undefined, undefined],
    [1, 'f', undefined],
    [2, undefined, 's'],
    [3, 'f', 's'],
  ] as const) {
    const d = decodeDhcp(build(overload, inFile, inSname)) as DhcpMessage;
    assert.equal(optText(d, OPT.HOSTNAME), host, `overload ${overload}: file`);
    assert.equal(optText(d, OPT.DOMAIN), domain, `overload ${overload}: sname`);
  }
  // An option in the file field that runs past its 128 bytes (to 236) is refused; so in sname past 108.
  const fileTail = new Array(126).fill(OPT.PAD).concat([OPT.HOSTNAME, 5]);
  assert.match(decodeDhcp(build(1, fileTail, [])) as string, /file field/);
  const snameTail = new Array(62).fill(OPT.PAD).concat([OPT.DOMAIN, 5]);
  assert.match(decodeDhcp(build(2, [], snameTail)) as string, /sname field/);
});

test('option accessors at their edges', () => {
  const m = message([
    [OPT.MESSAGE_TYPE, Uint8Array.of(5, 5)],
    [OPT.ROUTER, Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2, 9)],
    [OPT.LEASE_TIME, Uint8Array.of(0, 0, 1)],
    [OPT.RENEWAL, encodeOpt.u32(0xffffffff)],
    [OPT.HOSTNAME, Uint8Array.of(0x61, 0x62, 0, 0)],
    [OPT.SUBNET_MASK, Uint8Array.of(255, 255, 255)],
  ]);
  assert.equal(messageType(m), undefined, 'a message type of two bytes is not one');
  assert.equal(messageType(message([[OPT.MESSAGE_TYPE, encodeOpt.u8(DHCP.ACK)]])), DHCP.ACK);
  assert.deepEqual(optAddresses(m, OPT.ROUTER), [0x0a000001, 0x0a000002], 'a trailing partial address is ignored');
  assert.equal(optAddress(m, OPT.ROUTER), 0x0a000001, 'the first');
  assert.equal(optAddress(m, OPT.SUBNET_MASK), undefined, 'three bytes are no address');
  assert.deepEqual(optAddresses(m, OPT.DNS), [], 'absent');
  assert.equal(optU32(m, OPT.LEASE_TIME), undefined, 'three bytes are no u32');
  assert.equal(optU32(m, OPT.RENEWAL), 0xffffffff, 'unsigned');
  assert.equal(optText(m, OPT.HOSTNAME), 'ab', 'trailing NULs trimmed');
  assert.equal(optText(m, OPT.DOMAIN), undefined);
  assert.deepEqual([...encodeOpt.addrs([0xc0a80001, 1])], [192, 168, 0, 1, 0, 0, 0, 1]);
  assert.deepEqual([...encodeOpt.text('é')], [0xe9], 'one octet per character');
});

test('accessors at exactly four bytes, NULs kept unless trailing; a zero-length option as the last two bytes; the broadcast flag clear', () => {
  const m = message([
    [OPT.SUBNET_MASK, Uint8Array.of(255, 255, 255, 0)],
    [OPT.DNS, Uint8Array.of(10, 0, 0, 53)],
    [OPT.HOSTNAME, Uint8Array.of(0, 0x61, 0, 0x62, 0)],
  ]);
  assert.equal(optAddress(m, OPT.SUBNET_MASK), 0xffffff00, 'four bytes are an address');
  assert.deepEqual(optAddresses(m, OPT.DNS), [0x0a000035], 'four bytes are one address');
  assert.equal(optText(m, OPT.HOSTNAME), '\0a\0b', 'only the trailing NULs are trimmed');
  const b = Uint8Array.of(...encodeDhcp(message([], { broadcast: false })).subarray(0, 240), OPT.HOSTNAME, 0);
  const d = decodeDhcp(b);
  assert.ok(typeof d !== 'string', String(d));
  assert.deepEqual([...(d.options.get(OPT.HOSTNAME) ?? [9])], [], 'code and length exactly at the end');
  assert.equal(d.broadcast, false);
});

test('encode: PAD and END entries in the options map are not written as options', () => {
  const b = encodeDhcp(
    message([
      [OPT.PAD, Uint8Array.of(1)],
      [OPT.HOSTNAME, encodeOpt.text('a')],
      [OPT.END, Uint8Array.of(2)],
    ]),
  );
  assert.deepEqual([...b.subarray(240, 246)], [OPT.HOSTNAME, 1, 0x61, OPT.END, 0, 0]);
});

test('a decoded message with zero-length options encodes (each still takes its code and length octets)', () => {
  // Found by `npm run fuzz -- --target dhcp`: 200 empty options fit a 1500-byte message, but the encoder counted
  // no octets for an empty option, sized its buffer at 300 and wrote past it (RangeError).
  const b = new Uint8Array(240 + 400 + 4 + 1);
  b.set([1, 1, 6, 0], 0);
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  b.set([OPT.MESSAGE_TYPE, 1, DHCP.DISCOVER], 240);
  for (let i = 0; i < 200; i++) b.set([100 + (i % 100), 0], 243 + 2 * i);
  b[b.length - 2] = OPT.END;
  const m = decodeDhcp(b);
  assert.ok(typeof m !== 'string', String(m));
  const out = encodeDhcp(m);
  const again = decodeDhcp(out);
  assert.ok(typeof again !== 'string', String(again));
  assert.deepEqual([...again.options], [...m.options]);
});
