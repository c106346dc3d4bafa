/**
 * Fuzz targets for the wire codecs (src/wire): each check/parse never throws
 * on any bytes, a parsed length stays within the buffer, and where the codec
 * has an encoder, parse → emit → parse gives the same repr.
 */
import assert from 'node:assert/strict';
import { CAPTURED } from '../../test/fixtures/captured.ts';
import { ArpView, emitArp, parseArp } from '../../src/wire/arp.ts';
import { EthernetView, emitEthernet, ethernetHeaderLen, parseEthernet } from '../../src/wire/ethernet.ts';
import { emitIcmpv4, icmpv4Len, Icmpv4View, parseIcmpv4 } from '../../src/wire/icmpv4.ts';
import { emitIpv4, Ipv4View, parseIpv4 } from '../../src/wire/ipv4.ts';
import { emitUdp, parseUdp, UdpView } from '../../src/wire/udp.ts';
import { emitTcp, emptyTcpOptions, parseTcpOptions, tcpHeaderLen, TcpView, type TcpRepr } from '../../src/wire/tcp.ts';
import { decodeDns, encodeDns, isDecodeError, makeQuery, TYPE } from '../../src/wire/dns.ts';
import { DHCP, decodeDhcp, encodeDhcp, encodeOpt, OPT } from '../../src/wire/dhcp.ts';
import type { Target } from './target.ts';

const SRC = 0x0a000001;
const DST = 0x0a000002;
const frames = Object.values(CAPTURED) as Uint8Array[];
/** The IPv4 datagrams in the captured frames (their Ethernet header cut). */
const datagrams = frames.filter((f) => f[12] === 8 && f[13] === 0).map((f) => f.subarray(14));
const ipPayloads = datagrams.map((d) => d.subarray((d[0]! & 15) * 4));

const ethernet: Target = {
  name: 'ethernet',
  maxLen: 2000,
  seeds: () => frames,
  run(b) {
    const v = new EthernetView();
    if (v.check(b) !== 'ok') return;
    assert.ok(v.headerLen <= b.length, 'header within the frame');
    const r = parseEthernet(v);
    assert.equal(v.payload().length, b.length - v.headerLen);
    const out = new Uint8Array(ethernetHeaderLen(r));
    emitEthernet(r, out);
    const w = new EthernetView();
    assert.equal(w.check(out), 'ok');
    assert.deepEqual(parseEthernet(w), r, 'parse → emit → parse');
  },
};

const arp: Target = {
  name: 'arp',
  maxLen: 64,
  seeds: () => frames.filter((f) => f[12] === 8 && f[13] === 6).map((f) => f.subarray(14)),
  run(b) {
    const v = new ArpView();
    if (v.check(b) !== 'ok') return;
    const out = new Uint8Array(28);
    emitArp(parseArp(v), out);
    assert.deepEqual(out, b.subarray(0, 28), 'every field of a checked ARP packet is emitted back as it was');
  },
};

const ipv4: Target = {
  name: 'ipv4',
  maxLen: 2000,
  seeds: () => datagrams,
  run(b) {
    for (const verify of [true, false]) {
      const v = new Ipv4View();
      if (v.check(b, verify) !== 'ok') continue;
      assert.ok(v.headerLen >= 20 && v.headerLen <= v.totalLen && v.payloadEnd <= b.length, 'lengths within the buffer');
      const r = parseIpv4(v);
      assert.equal(v.payload().length, r.payloadLen);
      const out = new Uint8Array(20 + r.payloadLen);
      emitIpv4(r, out);
      const w = new Ipv4View();
      assert.equal(w.check(out), 'ok', 'an emitted header checks, checksum included');
      assert.deepEqual(parseIpv4(w), r, 'parse → emit → parse');
    }
  },
};

const icmpv4: Target = {
  name: 'icmpv4',
  maxLen: 1600,
  seeds: () => datagrams.filter((d) => d[9] === 1 && (d[6]! & 0x1f) === 0 && d[7] === 0).map((d) => d.subarray(20)),
  run(b) {
    for (const verify of [true, false]) {
      const v = new Icmpv4View();
      if (v.check(b, verify) !== 'ok') continue;
      const r = parseIcmpv4(v);
      const out = new Uint8Array(icmpv4Len(r));
      assert.equal(emitIcmpv4(r, out), out.length);
      const w = new Icmpv4View();
      assert.equal(w.check(out), 'ok', 'an emitted message checks, checksum included');
      assert.deepEqual(parseIcmpv4(w), r, 'parse → emit → parse');
    }
  },
};

const udp: Target = {
  name: 'udp',
  maxLen: 1600,
  seeds: () => datagrams.filter((d) => d[9] === 17).map((d) => d.subarray(20)),
  run(b) {
    for (const verify of [true, false]) {
      const v = new UdpView();
      if (v.check(b, SRC, DST, verify) !== 'ok') continue;
      assert.ok(v.payloadEnd <= b.length && v.payloadOff <= v.payloadEnd, 'length within the buffer');
      const r = parseUdp(v);
      const out = new Uint8Array(8 + r.payloadLen);
      out.set(v.payload(), 8);
      emitUdp(r, SRC, DST, out);
      const w = new UdpView();
      assert.equal(w.check(out, SRC, DST), 'ok');
      assert.deepEqual(parseUdp(w), r, 'parse → emit → parse');
    }
  },
};

/** A segment with every option kind, as a seed. */
function tcpSeed(r: TcpRepr, payload = 0): Uint8Array {
  const b = new Uint8Array(tcpHeaderLen(r) + payload);
  emitTcp(r, SRC, DST, b, 0, payload);
  return b;
}

const tcp: Target = {
  name: 'tcp',
  maxLen: 1600,
  seeds: () => [
    tcpSeed({
      srcPort: 49500,
      dstPort: 80,
      seq: 1,
      ack: 0,
      flags: 2,
      window: 64240,
      mss: 1460,
      wscale: 7,
      sackPermitted: true,
      timestamps: [1, 0],
    }),
    tcpSeed({ srcPort: 49500, dstPort: 80, seq: 2, ack: 9, flags: 0x18, window: 500, timestamps: [5, 6], sack: [100, 200, 300, 400] }, 20),
    tcpSeed({ srcPort: 80, dstPort: 49500, seq: 7, ack: 9, flags: 0x11, window: 0 }),
  ],
  run(b) {
    for (const verify of [true, false]) {
      const v = new TcpView();
      if (v.check(b, SRC, DST, verify) !== 'ok') continue;
      assert.ok(v.headerLen >= 20 && v.payloadOff + v.payloadLen === b.length, 'header within the segment');
      const o = emptyTcpOptions();
      if (parseTcpOptions(v, o) !== 'ok') continue;
      assert.ok(o.sackCount <= 4 && o.wscale <= 14, 'options within their bounds');
      const r: TcpRepr = { srcPort: v.srcPort, dstPort: v.dstPort, seq: v.seq, ack: v.ack, flags: v.flags, window: v.window };
      if (o.mss) r.mss = o.mss;
      if (o.wscale >= 0) r.wscale = o.wscale;
      if (o.sackPermitted) r.sackPermitted = true;
      if (o.hasTimestamps) r.timestamps = [o.tsVal, o.tsEcr];
      if (o.sackCount) r.sack = o.sack.slice(0, 2 * o.sackCount);
      if (tcpHeaderLen(r) > 60) continue; // more options than one header holds: not something emitTcp is asked for
      const out = new Uint8Array(tcpHeaderLen(r) + v.payloadLen);
      out.set(v.payload(), tcpHeaderLen(r));
      emitTcp(r, SRC, DST, out, 0, v.payloadLen);
      const w = new TcpView();
      assert.equal(w.check(out, SRC, DST), 'ok');
      const p = emptyTcpOptions();
      assert.equal(parseTcpOptions(w, p), 'ok');
      assert.deepEqual(p, { ...o, sack: p.sack.map((x, i) => (i < 2 * o.sackCount ? o.sack[i]! : x)) }, 'options round trip');
    }
  },
};

const dns: Target = {
  name: 'dns',
  maxLen: 4096,
  seeds: () => [
    encodeDns(makeQuery(0x1234, 'www.example.com.', TYPE.A, { rd: true })),
    encodeDns(makeQuery(7, 'example.org.', TYPE.MX, { udpSize: 1232 })),
    // RFC 1035 §4.1.4: a response whose answer's name is a pointer to the question's.
    Uint8Array.from([
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0, 1, 0, 1, 0xc0, 12, 0, 1,
      0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34,
    ]),
    ...ipPayloads.filter((p) => p.length > 8).map((p) => p.subarray(8)),
  ],
  run(b) {
    const m = decodeDns(b);
    if (isDecodeError(m)) return;
    const once = encodeDns(m);
    const again = decodeDns(once);
    assert.ok(!isDecodeError(again), `a decoded message encodes to one that decodes (${JSON.stringify(again)})`);
    assert.deepEqual(encodeDns(again), once, 'decode → encode is stable');
  },
};

function dhcpSeed(type: number, extra: [number, Uint8Array][] = []): Uint8Array {
  return encodeDhcp({
    op: 1,
    xid: 0x3903f326,
    secs: 0,
    broadcast: true,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: Uint8Array.of(0x02, 0, 0, 0, 0, 0x42),
    options: new Map([[OPT.MESSAGE_TYPE, encodeOpt.u8(type)], [OPT.PARAMS, Uint8Array.of(1, 3, 6, 15)], ...extra]),
  });
}

export const DHCP_SEEDS = [
  dhcpSeed(DHCP.DISCOVER),
  dhcpSeed(DHCP.REQUEST, [
    [OPT.REQUESTED_IP, encodeOpt.u32(0x0a000064)],
    [OPT.SERVER_ID, encodeOpt.u32(0x0a000001)],
  ]),
  dhcpSeed(DHCP.RELEASE),
  dhcpSeed(DHCP.INFORM),
  dhcpSeed(DHCP.DECLINE, [[OPT.REQUESTED_IP, encodeOpt.u32(0x0a000064)]]),
];

const dhcp: Target = {
  name: 'dhcp',
  maxLen: 1500,
  seeds: () => DHCP_SEEDS,
  run(b) {
    const m = decodeDhcp(b);
    if (typeof m === 'string') return;
    const once = encodeDhcp(m);
    const again = decodeDhcp(once);
    assert.ok(typeof again !== 'string', `a decoded message encodes to one that decodes (${again})`);
    assert.deepEqual(encodeDhcp(again), once, 'decode → encode is stable');
  },
};

export const WIRE_TARGETS: Target[] = [ethernet, arp, ipv4, icmpv4, udp, tcp, dns, dhcp];
