/**
 * The DHCP client (RFC 2131 §4.4) message by message: the test plays the
 * server through a fake UDP socket and IPv4 layer, sets the clock, and picks
 * what the random source returns, so each retransmission time, each field the
 * client sends and each reply it refuses is checked exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Random } from '../../devices/index.ts';
import { DHCP, decodeDhcp, encodeDhcp, encodeOpt, messageType, OPT, optAddress, optText, type DhcpMessage } from '../../wire/dhcp.ts';
import type { Ipv4, Ipv4Config } from '../ipv4.ts';
import type { Udp, UdpDatagram } from '../udp.ts';
import { type ArpProber, DhcpClient, type DhcpClientOptions, type DhcpLease } from './client.ts';

const S = 1_000_000_000n;
const MS = 1_000_000n;
const ip = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const SERVER = ip(10, 0, 0, 1),
  ADDR = ip(10, 0, 0, 100),
  XID = 0x1234;
const MAC = Uint8Array.of(2, 0, 0, 0, 0, 0x11);
const u32 = (a: number): Uint8Array => encodeOpt.u32(a);

interface Sent {
  readonly dst: number;
  readonly dstPort: number;
  readonly m: DhcpMessage;
}

/**
 * A client on fake layers. `rand` is what `random.u32()` returns, in order (then 1000: no jitter, as
 * 1000 % 2001 - 1000 = 0); the first value is the xid.
 */
function harness(o: Partial<DhcpClientOptions> = {}, rand: number[] = [XID]) {
  const sent: Sent[] = [];
  const events: string[] = [];
  const configs: Ipv4Config[] = [];
  let handler: ((d: UdpDatagram) => void) | undefined;
  const socket = { closed: false };
  const udp = {
    bind: (port: number, h: (d: UdpDatagram) => void) => {
      assert.equal(port, 68);
      handler = h;
      return {
        send: (dst: number, dstPort: number, data: Uint8Array) => {
          const m = decodeDhcp(data);
          assert.ok(typeof m !== 'string', m as string);
          sent.push({ dst, dstPort, m });
          return 'ok';
        },
        close: () => {
          socket.closed = true;
        },
      };
    },
  } as unknown as Udp;
  const ipv4 = {
    config: { address: 0, prefixLen: 0, ttl: 9 } as Ipv4Config,
    configure(c: Ipv4Config) {
      this.config = c;
      configs.push(c);
    },
  };
  const clock: Clock & { now: bigint } = {
    now: 0n,
    monotonicNs: () => clock.now,
    wallNs: () => clock.now,
  };
  const random: Random = { u32: () => rand.shift() ?? 1000, fill: () => {} };
  const client = new DhcpClient({
    udp,
    ipv4: ipv4 as unknown as Ipv4,
    clock,
    random,
    mac: MAC,
    onBound: (l, renewed) => events.push(`${renewed ? 'renewed' : 'bound'} ${l.address}`),
    onLost: (r) => events.push(`lost ${r}`),
    ...o,
  });
  const deliver = (m: DhcpMessage, srcPort = 67): void => {
    const data = encodeDhcp(m);
    handler!({ src: SERVER, srcPort, dst: 0xffffffff, dstPort: 68, data, buf: data, off: 0, end: data.length });
  };
  /** Runs poll at `t` (ns) and returns whether it did something. */
  const at = (t: bigint): boolean => {
    clock.now = t;
    return client.poll(t);
  };
  return { client, sent, events, configs, ipv4, clock, deliver, at, socket };
}

/** A server reply to the client (op 2, its xid and MAC), with our server id unless `opts` says otherwise. */
function reply(type: number, o: Partial<DhcpMessage> = {}, opts: [number, Uint8Array][] = [[OPT.SERVER_ID, u32(SERVER)]]): DhcpMessage {
  return {
    op: 2,
    xid: XID,
    secs: 0,
    broadcast: false,
    ciaddr: 0,
    yiaddr: ADDR,
    siaddr: 0,
    giaddr: 0,
    chaddr: MAC,
    options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(type)], ...opts]),
    ...o,
  };
}
const ackWith = (opts: [number, Uint8Array][]): DhcpMessage => reply(DHCP.ACK, {}, [[OPT.SERVER_ID, u32(SERVER)], ...opts]);

/** Takes the client from start to BOUND with an ACK carrying `opts` (lease time 1000 s unless given). */
function bound(h: ReturnType<typeof harness>, opts: [number, Uint8Array][] = [[OPT.LEASE_TIME, u32(1000)]]): DhcpLease {
  h.client.start();
  h.deliver(reply(DHCP.OFFER));
  h.deliver(ackWith(opts));
  assert.equal(h.client.state, 'bound');
  return h.client.lease!;
}

test('DhcpClient: DISCOVER as RFC 2131 §4.4.1 says — broadcast, the client id, 1500-byte messages, the options asked for, the host name', () => {
  const h = harness({ hostname: 'box' });
  assert.equal(h.client.state, 'init');
  assert.equal(h.client.pollAtNs(), undefined);
  assert.equal(h.at(10n * S), false, 'nothing to do before start');
  h.client.start();
  assert.equal(h.client.state, 'selecting');
  assert.equal(h.sent.length, 1);
  const { dst, dstPort, m } = h.sent[0]!;
  assert.deepEqual(
    [dst, dstPort, m.op, m.xid, m.secs, m.broadcast, m.ciaddr, m.yiaddr, m.giaddr],
    [0xffffffff, 67, 1, XID, 0, true, 0, 0, 0],
  );
  assert.deepEqual([...m.chaddr], [...MAC]);
  assert.equal(messageType(m), DHCP.DISCOVER);
  assert.deepEqual([...m.options.get(OPT.CLIENT_ID)!], [1, ...MAC], 'client id: type 1 (Ethernet) and the MAC');
  assert.deepEqual([...m.options.get(OPT.MAX_SIZE)!], [0x05, 0xdc]);
  assert.deepEqual([...m.options.get(OPT.PARAMS)!], [1, 3, 6, 12, 15, 28, 51, 58, 59]);
  assert.equal(optText(m, OPT.HOSTNAME), 'box');
  assert.equal(m.options.has(OPT.REQUESTED_IP), false);
  assert.equal(h.client.counters.sent, 1);
  const anon = harness();
  anon.client.start();
  assert.equal(anon.sent[0]!.m.options.has(OPT.HOSTNAME), false, 'no host name unless given');
});

test('DhcpClient: a UDP port it cannot bind is an error that names it', () => {
  const udp = { bind: () => 'in-use' } as unknown as Udp;
  const clock: Clock = { monotonicNs: () => 0n, wallNs: () => 0n };
  assert.throws(() => new DhcpClient({ udp, ipv4: {} as Ipv4, clock, random: { u32: () => 0, fill: () => {} }, mac: MAC }), {
    message: 'DHCP client cannot bind UDP port 68: in-use',
  });
});

test('DhcpClient: DISCOVERs back off 4, 8, 16, 32, 64, 64 s with ±1 s of jitter, secs counting from the start (RFC 2131 §4.1)', () => {
  // Jitter draws: 1000 → 0, 0 → -1 s, 2000 → +1 s, 4001 → (4001 % 2001 = 2000) +1 s.
  const h = harness({}, [XID, 1000, 0, 2000, 1000, 4001, 1000]);
  h.clock.now = 5n * S;
  h.client.start();
  const times: bigint[] = [];
  for (let i = 0; i < 6; i++) {
    const next = h.client.pollAtNs()!;
    times.push((next - 5n * S) / MS);
    assert.equal(h.at(next - 1n), false, 'not a nanosecond early');
    assert.equal(h.at(next), true);
  }
  assert.deepEqual(times, [4000n, 4000n + 7000n, 11000n + 17000n, 28000n + 32000n, 60000n + 65000n, 125000n + 64000n]);
  assert.deepEqual(
    h.sent.map((s) => s.m.secs),
    [0, 4, 11, 28, 60, 125, 189],
  );
  assert.ok(h.sent.every((s) => s.m.xid === XID && messageType(s.m) === DHCP.DISCOVER));
  assert.equal(h.client.counters.sent, 7);
});

test('DhcpClient: a first retry under a second has no jitter; a delay that comes to 0 or less is the base delay', () => {
  const short = harness({ firstRetryMs: 500 }, [XID, 0, 0]);
  short.client.start();
  assert.equal(short.client.pollAtNs(), 500n * MS, 'no -1 s on a 0.5 s delay');
  short.at(500n * MS);
  assert.equal(short.client.pollAtNs(), 1500n * MS);
  const one = harness({ firstRetryMs: 1000 }, [XID, 0, 2000]);
  one.client.start();
  assert.equal(one.client.pollAtNs(), 1000n * MS, '1 s - 1 s of jitter is 0: the base delay instead');
  one.at(1000n * MS);
  assert.equal(one.client.pollAtNs(), 1000n * MS + 3000n * MS, 'jitter applies from a 1 s base on: 2 s + 1 s');
});

test('DhcpClient: secs is capped at 65535', () => {
  const h = harness({ firstRetryMs: 100_000_000 });
  h.client.start();
  h.at(h.client.pollAtNs()!);
  assert.equal(h.sent[1]!.m.secs, 65535);
});

test('DhcpClient: replies are taken only from port 67, well formed, op 2, with its xid and MAC', () => {
  const h = harness();
  h.client.start();
  h.deliver(reply(DHCP.OFFER), 68);
  h.deliver({ ...reply(DHCP.OFFER), op: 1 });
  h.deliver({ ...reply(DHCP.OFFER), xid: XID + 1 });
  h.deliver({ ...reply(DHCP.OFFER), chaddr: Uint8Array.of(2, 0, 0, 0, 0, 0x12) });
  const data = new Uint8Array(10);
  (h.client as unknown as { receive(d: UdpDatagram): void }).receive({
    src: SERVER,
    srcPort: 67,
    dst: 0,
    dstPort: 68,
    data,
    buf: data,
    off: 0,
    end: 10,
  });
  assert.deepEqual([h.client.state, h.client.counters.ignored, h.client.counters.received, h.sent.length], ['selecting', 5, 0, 1]);
  // An OFFER without an address or without a server id is counted as received, and ignored.
  h.deliver(reply(DHCP.OFFER, { yiaddr: 0 }));
  h.deliver(reply(DHCP.OFFER, {}, []));
  assert.deepEqual([h.client.state, h.client.counters.ignored, h.client.counters.received, h.sent.length], ['selecting', 7, 2, 1]);
  // An ACK or a NAK while selecting is ignored.
  h.deliver(reply(DHCP.ACK));
  h.deliver(reply(DHCP.NAK));
  assert.deepEqual([h.client.state, h.client.counters.ignored, h.client.counters.naks, h.sent.length], ['selecting', 9, 0, 1]);
});

test('DhcpClient: an OFFER is answered at once with a REQUEST naming the address and the server; four unanswered REQUESTs start over', () => {
  const h = harness({ hostname: 'box' });
  h.clock.now = 1n * S;
  h.client.start();
  h.clock.now = 2n * S;
  h.deliver(reply(DHCP.OFFER, {}, [[OPT.SERVER_ID, u32(ip(10, 0, 0, 2))]]));
  assert.equal(h.client.state, 'requesting');
  assert.equal(h.client.counters.received, 1);
  const r = h.sent[1]!;
  assert.deepEqual([r.dst, r.dstPort, r.m.ciaddr, r.m.broadcast, r.m.xid, r.m.secs], [0xffffffff, 67, 0, true, XID, 1]);
  assert.deepEqual(
    [messageType(r.m), optAddress(r.m, OPT.REQUESTED_IP), optAddress(r.m, OPT.SERVER_ID), optText(r.m, OPT.HOSTNAME)],
    [DHCP.REQUEST, ADDR, ip(10, 0, 0, 2), 'box'],
  );
  assert.equal(h.client.pollAtNs(), 6n * S, 'the REQUEST backs off from 4 s again');
  // A second OFFER is ignored.
  h.deliver(reply(DHCP.OFFER, { yiaddr: ip(10, 0, 0, 101) }));
  assert.equal(h.sent.length, 2);
  for (let i = 0; i < 3; i++) assert.equal(h.at(h.client.pollAtNs()!), true);
  assert.equal(h.sent.length, 5);
  assert.ok(h.sent.slice(1).every((s) => messageType(s.m) === DHCP.REQUEST));
  assert.equal(h.client.state, 'requesting');
  assert.equal(h.at(h.client.pollAtNs()!), true);
  assert.equal(h.client.state, 'selecting', 'after 4 REQUESTs (RFC 2131 §3.1 step 5)');
  assert.equal(messageType(h.sent[5]!.m), DHCP.DISCOVER);
  assert.equal(h.sent[5]!.m.xid, 1000, 'a new xid');
  assert.equal(h.sent[5]!.m.secs, 0, 'secs from the new start');
});

test('DhcpClient: the ACK configures the address, mask and gateway; lease times from the options or by default', () => {
  const h = harness();
  h.clock.now = 10n * S;
  const l = bound(h, [
    [OPT.LEASE_TIME, u32(1000)],
    [OPT.SUBNET_MASK, u32(0xfffffffc)],
    [OPT.ROUTER, encodeOpt.addrs([ip(10, 0, 0, 254), SERVER])],
    [OPT.DNS, encodeOpt.addrs([ip(10, 0, 0, 53)])],
    [OPT.DOMAIN, encodeOpt.text('lan')],
    [OPT.HOSTNAME, encodeOpt.text('given')],
  ]);
  assert.deepEqual(l, {
    address: ADDR,
    prefixLen: 30,
    gateway: ip(10, 0, 0, 254),
    dns: [ip(10, 0, 0, 53)],
    server: SERVER,
    leaseSeconds: 1000,
    domain: 'lan',
    hostname: 'given',
    boundAtNs: 10n * S,
    renewAtNs: 510n * S,
    rebindAtNs: 885n * S,
    expiresAtNs: 1010n * S,
  });
  assert.deepEqual(h.configs, [{ address: ADDR, prefixLen: 30, gateway: ip(10, 0, 0, 254), ttl: 9 }], 'the rest of the config kept');
  assert.deepEqual(h.events, [`bound ${ADDR}`]);
  assert.equal(h.client.pollAtNs(), 510n * S);
  assert.equal(h.client.counters.renewals, 0);

  // T1 and T2 given; T2 below T1 is raised to T1; both capped at the lease.
  const given = bound(harness(), [
    [OPT.LEASE_TIME, u32(100)],
    [OPT.RENEWAL, u32(20)],
    [OPT.REBINDING, u32(10)],
  ]);
  assert.deepEqual([given.renewAtNs, given.rebindAtNs, given.expiresAtNs], [20n * S, 20n * S, 100n * S]);
  const capped = bound(harness(), [
    [OPT.LEASE_TIME, u32(100)],
    [OPT.RENEWAL, u32(200)],
    [OPT.REBINDING, u32(300)],
  ]);
  assert.deepEqual([capped.renewAtNs, capped.rebindAtNs], [100n * S, 100n * S]);
  // No lease time: an hour.
  const none = bound(harness(), []);
  assert.deepEqual(
    [none.leaseSeconds, none.renewAtNs, none.rebindAtNs, none.expiresAtNs, none.gateway, none.dns],
    [3600, 1800n * S, 3150n * S, 3600n * S, undefined, []],
  );
  // Infinite (0xffffffff): a hundred years.
  const inf = bound(harness(), [[OPT.LEASE_TIME, u32(0xffffffff)]]);
  assert.deepEqual([inf.renewAtNs, inf.rebindAtNs, inf.expiresAtNs], [3_153_600_000n * S, 3_153_600_000n * S, 3_153_600_000n * S]);
});

test('DhcpClient: the prefix from the subnet mask: contiguous masks from /0 to /32, a /24 without one or for a mask with holes', () => {
  const prefix = (mask: number | undefined): number => bound(harness(), mask === undefined ? [] : [[OPT.SUBNET_MASK, u32(mask)]]).prefixLen;
  assert.equal(prefix(0xffffff00), 24);
  assert.equal(prefix(0xffffffff), 32);
  assert.equal(prefix(0xfffffffe), 31);
  assert.equal(prefix(0x80000000), 1);
  assert.equal(prefix(0), 0);
  assert.equal(prefix(0xffff0000), 16);
  assert.equal(prefix(0xff00ff00), 24, 'holes: not a mask');
  assert.equal(prefix(0x7fffffff), 24, 'holes: not a mask');
  assert.equal(prefix(undefined), 24);
});

test('DhcpClient: renewing at T1 unicasts to the server, rebinding at T2 broadcasts; retries at half the time left, at least 60 s', () => {
  const h = harness({}, [XID, 1000, 1000, 0x5678]);
  bound(h, [[OPT.LEASE_TIME, u32(1000)]]); // T1 500 s, T2 875 s, expiry 1000 s
  h.sent.length = 0;
  assert.equal(h.at(500n * S - 1n), false);
  assert.equal(h.at(500n * S), true);
  assert.equal(h.client.state, 'renewing');
  const r = h.sent[0]!;
  assert.deepEqual([r.dst, r.dstPort, r.m.ciaddr, r.m.broadcast, r.m.xid, r.m.secs], [SERVER, 67, ADDR, false, 0x5678, 0]);
  assert.equal(messageType(r.m), DHCP.REQUEST);
  assert.equal(r.m.options.has(OPT.REQUESTED_IP), false, 'RENEWING names its address in ciaddr only (§4.3.2)');
  assert.equal(r.m.options.has(OPT.SERVER_ID), false);
  // Half of the 375 s to T2, then half of what is left, until that is under 60 s: then 60 s, but never past T2.
  const waits: bigint[] = [];
  let t = 500n * S;
  while (h.client.state === 'renewing') {
    const next = h.client.pollAtNs()!;
    waits.push((next - t) / MS);
    t = next;
    h.at(next);
  }
  assert.deepEqual(waits, [187500n, 93750n, 60000n, 33750n], 'to 687.5 s, 781.25 s, 841.25 s, then T2 at 875 s');
  assert.equal(h.client.state, 'rebinding');
  const b = h.sent.at(-1)!;
  assert.deepEqual([b.dst, b.m.ciaddr, b.m.broadcast, b.m.xid, b.m.secs], [0xffffffff, ADDR, false, 0x5678, 375]);
  assert.equal(h.sent.length, 5);
  assert.equal(h.client.pollAtNs(), 937_500n * MS, 'rebinding: half of the 125 s left');
  h.at(937_500n * MS);
  assert.equal(h.client.state, 'rebinding');
  assert.equal(h.sent.length, 6);
  assert.equal(h.client.pollAtNs(), 997_500n * MS, 'half of 62.5 s is under 60 s: 60 s');
  h.at(997_500n * MS);
  assert.equal(h.client.pollAtNs(), 1000n * S, 'capped at expiry');
  assert.equal(h.at(1000n * S), true);
  assert.deepEqual([h.client.state, h.client.lease, h.ipv4.config.address, h.ipv4.config.gateway], ['selecting', undefined, 0, undefined]);
  assert.deepEqual(h.events, [`bound ${ADDR}`, 'lost expired']);
  assert.equal(messageType(h.sent.at(-1)!.m), DHCP.DISCOVER);
});

test('DhcpClient: an ACK while renewing or rebinding renews the lease (from the server it names, or the one before)', () => {
  const h = harness({ minRenewRetryMs: 1000 }, [XID, 1000, 1000, 0x5678, 0x5678, 0x5678]);
  bound(h, [[OPT.LEASE_TIME, u32(1000)]]);
  h.at(500n * S);
  h.deliver({ ...ackWith([[OPT.LEASE_TIME, u32(2000)]]), xid: 0x5678 });
  assert.equal(h.client.state, 'bound');
  assert.equal(h.client.lease!.expiresAtNs, 2500n * S);
  assert.equal(h.client.counters.renewals, 1);
  assert.deepEqual(h.events, [`bound ${ADDR}`, `renewed ${ADDR}`]);
  h.at(1500n * S);
  h.at(2250n * S);
  assert.equal(h.client.state, 'rebinding');
  h.deliver({ ...reply(DHCP.ACK, {}, [[OPT.LEASE_TIME, u32(100)]]), xid: 0x5678 });
  assert.equal(h.client.lease!.server, SERVER);
  h.at(2300n * S);
  h.at(2337n * S);
  h.deliver({ ...reply(DHCP.ACK, {}, []), xid: 0x5678, options: new Map([[OPT.MESSAGE_TYPE, Uint8Array.of(DHCP.ACK)]]) });
  assert.equal(h.client.lease!.server, SERVER, 'an ACK without a server id keeps the server it had');
  assert.equal(h.client.counters.renewals, 3);
  // An ACK while bound is not expected: ignored.
  const before = h.client.lease;
  h.deliver({ ...reply(DHCP.ACK, {}, [[OPT.LEASE_TIME, u32(5)]]), xid: 0x5678 });
  assert.equal(h.client.lease, before);
});

test('DhcpClient: a NAK while requesting, renewing or rebinding drops the lease and starts over; the first ACK never counts as a renewal', () => {
  for (const state of ['requesting', 'renewing', 'rebinding'] as const) {
    const logs: string[] = [];
    const h = harness({ log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) }, [XID, 1000, 1000, XID]);
    h.client.start();
    h.deliver(reply(DHCP.OFFER));
    if (state !== 'requesting') {
      h.deliver(ackWith([[OPT.LEASE_TIME, u32(1000)]]));
      h.at(500n * S);
      if (state === 'rebinding') h.at(875n * S);
    }
    assert.equal(h.client.state, state);
    const sent = h.sent.length;
    h.deliver(reply(DHCP.NAK, { yiaddr: 0 }, [[OPT.MESSAGE, encodeOpt.text('no')]]));
    assert.equal(h.client.counters.naks, 1, state);
    assert.equal(h.client.state, 'selecting');
    assert.equal(h.client.lease, undefined);
    assert.equal(messageType(h.sent[sent]!.m), DHCP.DISCOVER, 'a DISCOVER at once');
    assert.deepEqual(h.events, state === 'requesting' ? [] : [`bound ${ADDR}`, 'lost nak'], 'lost only what it had');
    assert.equal(h.ipv4.config.address, 0);
    assert.ok(logs.includes(`dhcp-nak {"state":"${state}","message":"no"}`), logs.join('\n'));
    assert.ok(logs.includes(`dhcp-discover {"state":"selecting","attempt":1,"xid":"${XID.toString(16)}"}`));
    assert.ok(logs.includes(`dhcp-request {"state":"requesting","attempt":1,"xid":"${XID.toString(16)}"}`));
  }
  const logs: string[] = [];
  const h = harness({ log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) });
  h.client.start();
  h.deliver(reply(DHCP.OFFER));
  h.deliver(reply(DHCP.NAK, { yiaddr: 0 }, []));
  assert.ok(logs.includes('dhcp-nak {"state":"requesting","message":""}'), 'a NAK without a message');
});

test('DhcpClient: with ARP, an ACK is probed first (RFC 5227): bound after the wait if no one answers, DECLINEd if someone does', () => {
  const probes: number[] = [];
  const arp: ArpProber = { probe: (a) => probes.push(a), onSender: undefined };
  const logs: string[] = [];
  const h = harness({ arp, probeWaitMs: 500, log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) }, [XID, 1000, 0x99]);
  h.clock.now = 1n * S;
  h.client.start();
  h.deliver(reply(DHCP.OFFER));
  arp.onSender!(ADDR); // Not checking yet: no conflict recorded.
  h.deliver(ackWith([[OPT.LEASE_TIME, u32(1000)]]));
  assert.equal(h.client.state, 'checking');
  assert.deepEqual(probes, [ADDR]);
  assert.ok(logs.includes(`dhcp-probe {"address":${ADDR}}`));
  assert.equal(h.client.pollAtNs(), 1n * S + 500n * MS);
  h.deliver(ackWith([[OPT.LEASE_TIME, u32(1000)]])); // A second ACK while checking: ignored.
  assert.equal(h.client.counters.ignored, 1);
  arp.onSender!(ip(10, 0, 0, 7)); // Another address: no conflict.
  assert.equal(h.at(1n * S + 500n * MS - 1n), false);
  assert.equal(h.at(1n * S + 500n * MS), true);
  assert.equal(h.client.state, 'bound');
  assert.equal(h.client.lease!.boundAtNs, 1n * S + 500n * MS);
  assert.deepEqual(h.events, [`bound ${ADDR}`], 'the first binding is not a renewal');
  arp.onSender!(ADDR); // Bound: not a conflict any more.
  assert.equal(h.client.state, 'bound');

  const c = harness({ arp, probeWaitMs: 500, log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) });
  c.client.start();
  c.deliver(reply(DHCP.OFFER));
  c.deliver(ackWith([[OPT.LEASE_TIME, u32(1000)]]));
  arp.onSender!(ADDR);
  c.sent.length = 0;
  assert.equal(c.at(500n * MS), true);
  assert.equal(c.client.state, 'init');
  assert.equal(c.client.lease, undefined);
  assert.deepEqual(c.configs, [], 'the address was never configured');
  assert.equal(c.client.counters.declines, 1);
  assert.equal(c.client.counters.sent, 3);
  const d = c.sent[0]!;
  assert.deepEqual([d.dst, d.dstPort, d.m.op, d.m.xid, d.m.broadcast, d.m.ciaddr, d.m.yiaddr], [0xffffffff, 67, 1, XID, true, 0, 0]);
  assert.deepEqual(
    [messageType(d.m), optAddress(d.m, OPT.REQUESTED_IP), optAddress(d.m, OPT.SERVER_ID), [...d.m.options.get(OPT.CLIENT_ID)!]],
    [DHCP.DECLINE, ADDR, SERVER, [1, ...MAC]],
  );
  assert.ok(logs.includes(`dhcp-decline {"address":${ADDR},"reason":"another host answered the ARP probe"}`));
  assert.equal(c.client.pollAtNs(), 10n * S + 500n * MS, 'starts over 10 s later (§3.1.5)');
  assert.equal(c.at(10n * S + 500n * MS), true);
  assert.equal(c.client.state, 'selecting');
  assert.equal(messageType(c.sent[1]!.m), DHCP.DISCOVER);
});

test('DhcpClient: an ACK without a server id, then its DECLINE names server 0', () => {
  const arp: ArpProber = { probe: () => {}, onSender: undefined };
  const h = harness({ arp });
  h.client.start();
  h.deliver(reply(DHCP.OFFER));
  h.deliver(reply(DHCP.ACK, {}, []));
  arp.onSender!(ADDR);
  h.at(1n * S);
  assert.equal(optAddress(h.sent.at(-1)!.m, OPT.SERVER_ID), 0);
});

test('DhcpClient: expiry is logged; close releases the UDP port', () => {
  const logs: string[] = [];
  const h = harness({ log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) });
  bound(h, [[OPT.LEASE_TIME, u32(10)]]);
  h.at(10n * S);
  assert.ok(logs.includes(`dhcp-expired {"address":${ADDR}}`));
  assert.equal(h.socket.closed, false);
  h.client.close();
  assert.equal(h.socket.closed, true);
});

test('DhcpClient: with ARP, only an ACK starts the probe — an OFFER or a NAK while requesting is what it is', () => {
  const arp: ArpProber = { probe: () => {}, onSender: undefined };
  const h = harness({ arp });
  h.client.start();
  h.deliver(reply(DHCP.OFFER));
  h.deliver(reply(DHCP.OFFER, { yiaddr: ip(10, 0, 0, 101) }));
  assert.equal(h.client.state, 'requesting', 'a second OFFER is ignored');
  h.deliver(reply(DHCP.NAK, { yiaddr: 0 }, []));
  assert.equal(h.client.state, 'selecting', 'a NAK starts over');
  assert.equal(h.client.counters.naks, 1);
});

test('DhcpClient: without log, onBound and onLost, a lease is bound, renewed, NAKed and lost all the same; a first ACK without a server id names server 0', () => {
  const clock: Clock & { now: bigint } = { now: 0n, monotonicNs: () => clock.now, wallNs: () => clock.now };
  let handler: ((d: UdpDatagram) => void) | undefined;
  const udp = {
    bind: (_p: number, h: (d: UdpDatagram) => void) => {
      handler = h;
      return { send: () => 'ok', close: () => {} };
    },
  } as unknown as Udp;
  const ipv4 = {
    config: { address: 0, prefixLen: 0 } as Ipv4Config,
    configure(c: Ipv4Config) {
      this.config = c;
    },
  };
  const client = new DhcpClient({ udp, ipv4: ipv4 as unknown as Ipv4, clock, random: { u32: () => XID, fill: () => {} }, mac: MAC });
  const deliver = (m: DhcpMessage): void => {
    const data = encodeDhcp(m);
    handler!({ src: SERVER, srcPort: 67, dst: 0, dstPort: 68, data, buf: data, off: 0, end: data.length });
  };
  client.start();
  deliver(reply(DHCP.OFFER));
  deliver(reply(DHCP.ACK, {}, [[OPT.LEASE_TIME, u32(100)]]));
  assert.equal(client.state, 'bound');
  assert.equal(client.lease!.server, 0, 'no server id and no lease before: 0');
  assert.equal(ipv4.config.address, ADDR);
  clock.now = 50n * S;
  client.poll(clock.now);
  deliver(reply(DHCP.NAK, { yiaddr: 0 }, []));
  assert.equal(client.state, 'selecting');
  assert.equal(ipv4.config.address, 0);
  deliver(reply(DHCP.OFFER));
  deliver(reply(DHCP.ACK, {}, [[OPT.LEASE_TIME, u32(100)]]));
  clock.now = 200n * S;
  client.poll(clock.now);
  assert.equal(client.lease, undefined, 'expired');
});

test('DhcpClient: each REBINDING retransmission is logged as the next attempt', () => {
  const logs: string[] = [];
  const h = harness({ log: (e, f) => logs.push(`${e} ${f.state} ${f.attempt}`) });
  bound(h, [[OPT.LEASE_TIME, u32(1000)]]);
  h.at(875n * S);
  h.at(h.client.pollAtNs()!);
  h.at(h.client.pollAtNs()!);
  assert.deepEqual(
    logs.filter((l) => l.includes('rebinding')),
    ['dhcp-request rebinding 1', 'dhcp-request rebinding 2', 'dhcp-request rebinding 3'],
  );
});
