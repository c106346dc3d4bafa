/**
 * Every codec against frames captured from the Linux kernel and from Fata
 * (test/fixtures/captured.ts): parse, check the RFC fields, emit, and get
 * the same bytes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPTURED } from '../../test/fixtures/captured.ts';
import { formatMac } from '../devices/index.ts';
import { ArpView, emitArp, parseArp, ARP_REQUEST, ARP_REPLY } from './arp.ts';
import { emitEthernet, EthernetView, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet } from './ethernet.ts';
import { emitIcmpv4, Icmpv4View, parseIcmpv4 } from './icmpv4.ts';
import { emitIpv4, formatIpv4Address, Ipv4View, parseIpv4, parseIpv4Address, parseIpv4Cidr, PROTO_ICMP, PROTO_UDP } from './ipv4.ts';
import { emitUdp, parseUdp, UdpView } from './udp.ts';
import { put16 } from './bytes.ts';
import { checksum } from './checksum.ts';

const eth = (f: Uint8Array): EthernetView => {
  const v = EthernetView.checked(f);
  assert.ok(v instanceof EthernetView);
  return v;
};
const ipv4Of = (f: Uint8Array): Ipv4View => {
  const v = Ipv4View.checked(eth(f).payload());
  assert.ok(v instanceof Ipv4View, String(v));
  return v;
};

test('Ethernet: parse and re-emit captured headers; an IPv6 frame keeps its type', () => {
  for (const f of Object.values(CAPTURED)) {
    const r = parseEthernet(eth(f));
    const out = new Uint8Array(14);
    emitEthernet(r, out);
    assert.deepEqual(out, f.subarray(0, 14));
  }
  assert.equal(eth(CAPTURED.ipv6RouterSolicitation).ethertype, ETHERTYPE_IPV6);
  assert.ok(eth(CAPTURED.kernelArpRequest).dstIsBroadcast());
  assert.equal(eth(CAPTURED.kernelArpRequest).ethertype, ETHERTYPE_ARP);
});

test('Ethernet: an 802.1Q tag is parsed and emitted', () => {
  const f = new Uint8Array(64);
  const n = emitEthernet(
    {
      dst: Uint8Array.of(2, 0, 0, 0, 0, 2),
      src: Uint8Array.of(2, 0, 0, 0, 0, 1),
      ethertype: ETHERTYPE_IPV4,
      vlan: { pcp: 5, dei: true, vid: 100 },
    },
    f,
  );
  assert.equal(n, 18);
  const v = eth(f);
  assert.deepEqual([v.tagged, v.pcp, v.dei, v.vid, v.ethertype, v.headerLen], [true, 5, true, 100, ETHERTYPE_IPV4, 18]);
  assert.equal(EthernetView.checked(f.subarray(0, 16)), 'truncated');
  assert.equal(EthernetView.checked(f.subarray(0, 13)), 'truncated');
});

test('ARP: the kernel request and Fata reply parse to RFC 826 fields and re-emit byte-exact', () => {
  const req = ArpView.checked(eth(CAPTURED.kernelArpRequest).payload());
  assert.ok(req instanceof ArpView);
  const r = parseArp(req);
  assert.equal(r.operation, ARP_REQUEST);
  assert.equal(formatIpv4Address(r.senderIp), '10.0.0.1');
  assert.equal(formatIpv4Address(r.targetIp), '10.0.0.2');
  const rep = ArpView.checked(eth(CAPTURED.fataArpReply).payload());
  assert.ok(rep instanceof ArpView);
  const p = parseArp(rep);
  assert.equal(p.operation, ARP_REPLY);
  assert.equal(formatMac(p.senderMac), '02:00:00:00:00:02');
  for (const f of [CAPTURED.kernelArpRequest, CAPTURED.fataArpReply]) {
    const v = ArpView.checked(eth(f).payload()) as ArpView;
    const out = new Uint8Array(28);
    emitArp(parseArp(v), out);
    assert.deepEqual(out, f.subarray(14, 42));
  }
  assert.equal(ArpView.checked(new Uint8Array(27)), 'truncated');
  assert.equal(ArpView.checked(Uint8Array.of(0, 6, 8, 0, 6, 4, 0, 1, ...new Uint8Array(20))), 'unsupported');
});

test('IPv4 + ICMP: the kernel echo request and Fata reply round-trip; checksums verify', () => {
  for (const f of [CAPTURED.kernelEchoRequest, CAPTURED.fataEchoReply]) {
    const v = ipv4Of(f);
    assert.equal(v.protocol, PROTO_ICMP);
    const r = parseIpv4(v);
    const hdr = new Uint8Array(20);
    emitIpv4(r, hdr);
    assert.deepEqual(hdr, v.header());
    const icmp = Icmpv4View.checked(v.payload());
    assert.ok(icmp instanceof Icmpv4View);
    const ir = parseIcmpv4(icmp);
    const out = new Uint8Array(v.payloadLen);
    emitIcmpv4(ir, out);
    assert.deepEqual(out, v.payload());
  }
  const req = parseIcmpv4(Icmpv4View.checked(ipv4Of(CAPTURED.kernelEchoRequest).payload()) as Icmpv4View);
  const rep = parseIcmpv4(Icmpv4View.checked(ipv4Of(CAPTURED.fataEchoReply).payload()) as Icmpv4View);
  assert.equal(req.kind, 'echo-request');
  assert.equal(rep.kind, 'echo-reply');
  if (req.kind === 'echo-request' && rep.kind === 'echo-reply') {
    assert.deepEqual([rep.ident, rep.seq, rep.data], [req.ident, req.seq, req.data]);
  }
});

test('IPv4 fragments: offsets, MF, identification as captured', () => {
  const a = ipv4Of(CAPTURED.kernelEchoFragment0),
    b = ipv4Of(CAPTURED.kernelEchoFragment1);
  assert.deepEqual([a.fragOffset, a.moreFragments, a.isFragment], [0, true, true]);
  assert.deepEqual([b.fragOffset, b.moreFragments, b.isFragment], [1480, false, true]);
  assert.equal(a.ident, b.ident);
  const c = ipv4Of(CAPTURED.fataReplyFragment0),
    d = ipv4Of(CAPTURED.fataReplyFragment1);
  assert.equal(a.payloadLen + b.payloadLen, c.payloadLen + d.payloadLen);
  for (const v of [a, b, c, d]) {
    const hdr = new Uint8Array(20);
    emitIpv4(parseIpv4(v), hdr);
    assert.deepEqual(hdr, v.header());
  }
});

test('UDP: captured datagrams verify with the pseudo-header and re-emit byte-exact', () => {
  for (const f of [CAPTURED.kernelUdp, CAPTURED.fataUdp]) {
    const ip = ipv4Of(f);
    assert.equal(ip.protocol, PROTO_UDP);
    const u = UdpView.checked(ip.payload(), ip.src, ip.dst);
    assert.ok(u instanceof UdpView, String(u));
    assert.equal(new TextDecoder().decode(u.payload()), 'hi\n');
    const out = ip.payload().slice();
    emitUdp(parseUdp(u), ip.src, ip.dst, out);
    assert.deepEqual(out, ip.payload());
    const bad = ip.payload().slice();
    bad[9]! ^= 1;
    assert.equal(UdpView.checked(bad, ip.src, ip.dst), 'checksum');
  }
});

test('IPv4 checks: version, IHL, total length, checksum, padding allowed', () => {
  const f = ipv4Of(CAPTURED.kernelEchoRequest).buf.slice();
  const padded = new Uint8Array(f.length + 10);
  padded.set(f);
  assert.ok(Ipv4View.checked(padded) instanceof Ipv4View, 'Ethernet padding after the datagram is ignored');
  assert.equal(Ipv4View.checked(f.subarray(0, 19)), 'truncated');
  assert.equal(Ipv4View.checked(f.subarray(0, f.length - 1)), 'total-length');
  const bad = f.slice();
  bad[8]! ^= 1;
  assert.equal(Ipv4View.checked(bad), 'checksum');
  const v6 = f.slice();
  v6[0] = 0x65;
  assert.equal(Ipv4View.checked(v6), 'version');
  const ihl = f.slice();
  ihl[0] = 0x44;
  assert.equal(Ipv4View.checked(ihl), 'header-length');
});

test('IPv4 options are skipped: IHL 6 moves the payload by 4 bytes', () => {
  const hdr = new Uint8Array(24 + 4);
  emitIpv4({ src: 1, dst: 2, protocol: 17, ttl: 1, payloadLen: 8 }, hdr);
  // Rebuild as IHL=6 with a NOP-padded option word.
  const withOpt = new Uint8Array(32);
  withOpt.set(hdr.subarray(0, 20));
  withOpt[0] = 0x46;
  withOpt[3] = 32;
  withOpt.set([1, 1, 1, 0], 20);
  withOpt.fill(0xaa, 24);
  put16(withOpt, 10, 0);
  put16(withOpt, 10, checksum(withOpt, 0, 24));
  const v = Ipv4View.checked(withOpt);
  assert.ok(v instanceof Ipv4View, String(v));
  assert.equal(v.headerLen, 24);
  assert.deepEqual([...v.payload()], new Array(8).fill(0xaa));
});

test('address and prefix parsing', () => {
  assert.equal(parseIpv4Address('10.0.0.2'), 0x0a000002);
  assert.equal(parseIpv4Address('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.0.0', '256.0.0.1', '01.2.3.4', 'a.b.c.d', '1.2.3.4 ']) assert.equal(parseIpv4Address(bad), undefined, bad);
  assert.deepEqual(parseIpv4Cidr('10.0.0.2/24'), { address: 0x0a000002, prefixLen: 24 });
  assert.equal(parseIpv4Cidr('10.0.0.2/33'), undefined);
  assert.equal(formatIpv4Address(0xc0a80101), '192.168.1.1');
});
